"""Benchmark: structure-level lambda-SOAP (sum before Clebsch-Gordan) vs featomic's path.

For 128- and 256-atom alpha-AgI structures at two hyper sets, in one process, on the
same 16 frames (one batch of 16), best of a few interleaved repeats:

* ``structure_ms``: our :class:`StructureSoapFeaturizer` per structure (default settings:
  one BLAS thread); ``structure_ms_blas_unlimited``: the same with BLAS left alone;
* ``featomic_ms``: :class:`LambdaSoapFeaturizer` per structure (featomic's per-atom
  ``EquivariantPowerSpectrum``, then the numpy sum over atoms);
* ``expansion_ms``: featomic's ``SphericalExpansion`` alone (the floor of both paths);
* ``mb_per_structure`` / ``featomic_mb_per_structure`` / ``expansion_mb_per_structure``:
  peak resident memory above the starting point while featurising the batch, divided by
  16, each measured in a fresh child process (memory freed by an earlier run stays
  resident and would hide the peak); Linux ``VmHWM`` after a reset through
  ``/proc/self/clear_refs``, so featomic's native allocations count;
* ``max_rel_diff``: max |ours - featomic| / max |featomic| over both lambdas;
* ``duplicate_fraction``: share of lambda = 0 / 2 features that ``drop_duplicates`` drops.

Prints one JSON line: the cases plus the worst case of each goal, ``speedup_vs_featomic``
(min; goal >= 5), ``ratio_to_expansion`` (max; goal <= 3), ``mb_per_structure`` (max;
goal <= 10) and ``max_rel_diff`` (max).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _structures import alpha_agi  # noqa: E402

from ase_raman.features.lambda_soap import (  # noqa: E402
    LambdaSoapFeaturizer,
    LambdaSoapHypers,
    duplicate_free_rows,
)
from ase_raman.features.structure_soap import StructureSoapFeaturizer  # noqa: E402

HYPER_SETS = [
    {"cutoff": 5.0, "max_radial": 6, "max_angular": 4},
    {"cutoff": 6.0, "max_radial": 8, "max_angular": 6},
]
REPEATS = {(4, 4, 2): (2, 4), (4, 4, 4): (2, 3)}  # (featomic repeats, fast repeats)
N_FRAMES = 16


def _memory_mb() -> tuple[float, float] | None:
    """(current, peak) resident memory in MB from /proc/self/status, if readable."""
    try:
        fields = {line.split(":")[0]: line.split()[1]
                  for line in Path("/proc/self/status").read_text().splitlines()
                  if line.startswith("Vm")}
        return int(fields["VmRSS"]) / 1024.0, int(fields["VmHWM"]) / 1024.0
    except (OSError, KeyError):
        return None


def peak_mb_per_structure(fn) -> float | None:
    """Peak RSS growth while running ``fn`` once, per structure (None where unsupported)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak to the current RSS
    except OSError:
        return None
    before = _memory_mb()
    fn()
    after = _memory_mb()
    if before is None or after is None:
        return None
    return round((after[1] - before[0]) / N_FRAMES, 2)


def _case_objects(repeat: tuple[int, int, int], hyper_values: dict):
    frames = [alpha_agi(repeat, seed=100 + s) for s in range(N_FRAMES)]
    hypers = LambdaSoapHypers.from_dict({**hyper_values, "species": ["Ag", "I"]})
    return frames, hypers


def _expansion_fn(featurizer: StructureSoapFeaturizer, frames):
    def expansion() -> None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*periodic boundary conditions.*")
            featurizer._expansion.compute(frames)
    return expansion


def memory_child(path: str, repeat: tuple[int, int, int], hyper_values: dict) -> None:
    """Child process: peak MB per structure of one path on one batch, printed as JSON."""
    frames, hypers = _case_objects(repeat, hyper_values)
    if path == "featomic":
        featurizer = LambdaSoapFeaturizer(hypers, batch_size=N_FRAMES)
    else:
        featurizer = StructureSoapFeaturizer(hypers, batch_size=N_FRAMES)
    featurizer.compute_arrays(frames[:1])  # warm-up on one structure
    if path == "expansion":
        fn = _expansion_fn(featurizer, frames)
    else:
        def fn() -> None:
            featurizer.compute_arrays(frames)
    print(json.dumps(peak_mb_per_structure(fn)))


def child_memory(path: str, repeat: tuple[int, int, int], hyper_values: dict) -> float | None:
    args = [sys.executable, __file__, "--memory", path, json.dumps(list(repeat)),
            json.dumps(hyper_values)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_case(repeat: tuple[int, int, int], hyper_values: dict) -> dict:
    frames, hypers = _case_objects(repeat, hyper_values)
    ours = StructureSoapFeaturizer(hypers, batch_size=N_FRAMES)
    ours_unlimited = StructureSoapFeaturizer(hypers, batch_size=N_FRAMES, blas_threads=None)
    featomic = LambdaSoapFeaturizer(hypers, batch_size=N_FRAMES)
    expansion = _expansion_fn(ours, frames)

    # warm-up (imports, caches) and the accuracy check on the same frames
    ours.compute_arrays(frames[:2])
    mine = ours.compute_arrays(frames)
    reference = featomic.compute_arrays(frames)
    max_rel = max(
        float(np.abs(a - b).max() / np.abs(b).max())
        for a, b in ((mine.lambda0, reference.lambda0), (mine.lambda2, reference.lambda2)))
    del mine, reference

    mb_ours = child_memory("structure", repeat, hyper_values)
    mb_featomic = child_memory("featomic", repeat, hyper_values)
    mb_expansion = child_memory("expansion", repeat, hyper_values)

    n_featomic, n_fast = REPEATS[repeat]
    t = {"structure": [], "unlimited": [], "featomic": [], "expansion": []}
    for i in range(n_fast):  # interleaved, so load changes hit all paths alike
        t["expansion"].append(timed(expansion))
        t["structure"].append(timed(lambda: ours.compute_arrays(frames)))
        t["unlimited"].append(timed(lambda: ours_unlimited.compute_arrays(frames)))
        if i < n_featomic:
            t["featomic"].append(timed(lambda: featomic.compute_arrays(frames)))
    best = {k: min(v) for k, v in t.items()}
    props = featomic._full_block_properties
    return {
        "atoms": len(frames[0]),
        "hypers": hyper_values,
        "n_features": {f"lambda{lam}": featomic.n_properties(lam) for lam in (0, 2)},
        "duplicate_fraction": {
            f"lambda{lam}": round(1.0 - len(duplicate_free_rows(p)) / p.shape[0], 3)
            for lam, p in props.items()},
        "structure_ms": round(1e3 * best["structure"] / N_FRAMES, 2),
        "structure_ms_blas_unlimited": round(1e3 * best["unlimited"] / N_FRAMES, 2),
        "featomic_ms": round(1e3 * best["featomic"] / N_FRAMES, 2),
        "expansion_ms": round(1e3 * best["expansion"] / N_FRAMES, 2),
        "speedup_vs_featomic": round(best["featomic"] / best["structure"], 2),
        "ratio_to_expansion": round(best["structure"] / best["expansion"], 2),
        "mb_per_structure": mb_ours,
        "featomic_mb_per_structure": mb_featomic,
        "expansion_mb_per_structure": mb_expansion,
        "max_rel_diff": max_rel,
    }


def main() -> None:
    cases = [run_case(repeat, hypers) for hypers in HYPER_SETS
             for repeat in ((4, 4, 2), (4, 4, 4))]
    memory = [c["mb_per_structure"] for c in cases if c["mb_per_structure"] is not None]
    print(json.dumps({
        "benchmark": "structure_features",
        "batch": N_FRAMES,
        "speedup_vs_featomic": min(c["speedup_vs_featomic"] for c in cases),
        "ratio_to_expansion": max(c["ratio_to_expansion"] for c in cases),
        "mb_per_structure": max(memory) if memory else None,
        "max_rel_diff": max(c["max_rel_diff"] for c in cases),
        "goals": {"speedup_vs_featomic": ">= 5", "ratio_to_expansion": "<= 3",
                  "mb_per_structure": "<= 10"},
        "cases": cases,
    }))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--memory":
        memory_child(sys.argv[2], tuple(json.loads(sys.argv[3])), json.loads(sys.argv[4]))
    else:
        main()
