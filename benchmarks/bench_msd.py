"""Benchmark: MSD of 416 atoms x 20,000 frames (the size of a long argyrodite run).

Times, in one process on the same data (a wrapped random walk in a 20.4 Angstrom cell,
species Li192 P32 S160 I32 as in Li6PS5I):

* ``ours_s`` -- :func:`ase_raman.spectra.transport.mean_squared_displacement` from wrapped
  positions: unwrapping, centre-of-mass drift removal, tracer + collective MSD of all four
  species over all time origins (FFT, blocks of 32 atoms); ``ours_msd_only_s`` -- the FFT
  MSD alone (:func:`msd_fft` on unwrapped positions);
* ``fft_floor_s`` -- the bare FFT work: one zero-padded rfft/irfft pair per atom
  coordinate series of the same length (same padding, same 32-atom blocks, same
  contiguous-row layout). Our MSD sums the power spectra of a block before one inverse
  transform, so its FFT work is below the floor's and ``ratio_msd_only`` can be < 1;
* ``ase_s`` -- ``ase.md.analysis.DiffusionCoefficient(...).calculate()`` (one time origin,
  a Python loop over frames and atoms) on the first ``--ase-frames`` frames, scaled
  linearly to all frames (its cost is linear in frames; ``ase_measured_s`` is the raw time);
* ``direct_s`` -- the direct O(N^2) MSD loop (:func:`msd_direct`) timed on ``--direct-lags``
  lags spread over the whole range and scaled by the number of (origin, lag) pairs.

``speedup_vs_ase = ase_s / ours_s`` (goal >= 20), ``speedup_vs_direct = direct_s / ours_s``,
``ratio = ours_s / fft_floor_s`` (goal <= 2), ``peak_rss_mb`` (process peak right after our
MSD, positions included). Wall times, each the best of ``--repeats`` runs (interleaved, so
a burst of load on a shared machine hits all of them alike; the first full-size run also
pays the page faults of fresh memory); the ``*_cpu_s`` keys repeat them as process CPU
time of the same best runs. The last output line is one JSON object.

Usage: ``python benchmarks/bench_msd.py [--atoms 416] [--frames 20000] [--ase-frames 1000]
[--repeats 3]``
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time

import numpy as np
from _timing import timed
from scipy import fft as sp_fft

from ase_raman.spectra.transport import mean_squared_displacement, msd_fft
from ase_raman.spectra.transport.msd import DEFAULT_ATOM_BLOCK

CELL_A = 20.433
SPECIES = (("Li", 192), ("P", 32), ("S", 160), ("I", 32))


def _symbols(n_atoms: int) -> list[str]:
    out: list[str] = []
    for sym, count in SPECIES:
        out += [sym] * round(count * n_atoms / 416)
    return (out + ["Li"] * n_atoms)[:n_atoms]


def _data(n_frames: int, n_atoms: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    unwrapped = np.empty((n_frames, n_atoms, 3))
    unwrapped[0] = rng.uniform(0, CELL_A, (n_atoms, 3))
    unwrapped[1:] = rng.normal(0.0, 0.05, (n_frames - 1, n_atoms, 3))
    np.cumsum(unwrapped, axis=0, out=unwrapped)
    return unwrapped, np.mod(unwrapped, CELL_A)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def _fft_floor(x: np.ndarray, block: int) -> float:
    """One zero-padded rfft/irfft pair per atom coordinate series, in the fastest layout
    we know (padded C-contiguous rows, as our MSD uses; the time-major axis-0 layout was
    several times slower here), so ``ratio`` is not flattered by a slow floor."""
    n = x.shape[0]
    nfft = sp_fft.next_fast_len(2 * n, real=True)
    t0 = time.perf_counter()
    for a0 in range(0, x.shape[1], block):
        flat = x[:, a0 : a0 + block].reshape(n, -1)
        buf = np.zeros((flat.shape[1], nfft))
        buf[:, :n] = flat.T
        spec = sp_fft.rfft(buf, axis=1, overwrite_x=True)
        sp_fft.irfft(spec, n=nfft, axis=1)
    return time.perf_counter() - t0


def _ase_time(wrapped: np.ndarray, symbols: list[str], n_frames: int) -> float:
    from ase import Atoms, units
    from ase.md.analysis import DiffusionCoefficient

    # ASE's class reads positions as given: hand it unwrapped ones (fair: no unwrap cost)
    traj = [Atoms(symbols, positions=p, cell=np.eye(3) * CELL_A, pbc=True)
            for p in wrapped[:n_frames]]
    t0 = time.perf_counter()
    DiffusionCoefficient(traj, 10.0 * units.fs).calculate()
    return time.perf_counter() - t0


def _direct_time(x: np.ndarray, n_lags: int) -> tuple[float, float]:
    n = x.shape[0]
    lags = np.unique(np.linspace(1, n - 1, n_lags).astype(int))
    t0 = time.perf_counter()
    for k in lags:
        d = x[k:] - x[:-k]
        np.einsum("tai,tai->", d, d)
    elapsed = time.perf_counter() - t0
    pairs_sampled = float(np.sum(n - lags))
    pairs_total = n * (n - 1) / 2.0
    return elapsed * pairs_total / pairs_sampled, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--atoms", type=int, default=416)
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--ase-frames", type=int, default=1000,
                        help="frames given to ASE's DiffusionCoefficient (scaled to all)")
    parser.add_argument("--direct-lags", type=int, default=100,
                        help="lags timed for the direct loop (scaled to all)")
    parser.add_argument("--block", type=int, default=DEFAULT_ATOM_BLOCK)
    parser.add_argument("--repeats", type=int, default=3,
                        help="best of this many runs for ours, the floor and ASE")
    args = parser.parse_args()

    symbols = _symbols(args.atoms)
    unwrapped, wrapped = _data(args.frames, args.atoms)
    rss_data = _rss_mb()
    cell = np.eye(3) * CELL_A
    dt_fs = 100.0

    # warm-up on a small slice (imports, FFT plans)
    mean_squared_displacement(wrapped[:200], symbols, dt_fs, cells=cell)
    ase_frames = min(args.ase_frames, args.frames)
    found: dict[str, object] = {}

    def ours_run() -> None:
        found["res"] = mean_squared_displacement(wrapped, symbols, dt_fs, cells=cell,
                                                 block=args.block)

    def core_run() -> None:
        found["core"] = msd_fft(unwrapped, block=args.block)

    def ase_run() -> None:  # DiffusionCoefficient's own time, without building Atoms
        found.setdefault("ase", []).append(_ase_time(unwrapped, symbols, ase_frames))

    timings = {name: (float("inf"), float("inf")) for name in ("ours", "core", "floor", "ase")}
    runs = {"ours": ours_run, "core": core_run,
            "floor": lambda: _fft_floor(unwrapped, args.block), "ase": ase_run}
    for _ in range(args.repeats):  # interleaved
        for name, run in runs.items():
            timings[name] = min(timings[name], timed(run))
            if name == "ours":
                peak = _rss_mb()
    res, core = found["res"], found["core"]
    ours, ours_cpu = timings["ours"]
    ours_core = timings["core"][0]
    floor, floor_cpu = timings["floor"]
    ase_measured = min(found["ase"])  # DiffusionCoefficient alone
    ase_cpu = timings["ase"][1] * args.frames / ase_frames  # includes building Atoms
    ase_scaled = ase_measured * args.frames / ase_frames
    direct, direct_measured = _direct_time(unwrapped, args.direct_lags)

    # sanity: our MSD against the direct loop at a few lags (all atoms)
    check = [1, args.frames // 10, args.frames // 2]
    rel = max(abs(core[k] - np.mean(np.sum((unwrapped[k:] - unwrapped[:-k]) ** 2, axis=2)))
              / core[k] for k in check)

    print(f"ours {ours:.2f} s (MSD core {ours_core:.2f} s), FFT floor {floor:.2f} s, "
          f"ASE {ase_measured:.2f} s on {ase_frames} frames -> {ase_scaled:.1f} s, "
          f"direct {direct:.1f} s (scaled)")
    print(json.dumps({
        "benchmark": "msd",
        "n_atoms": args.atoms,
        "n_frames": args.frames,
        "atom_block": args.block,
        "ours_s": round(ours, 4),
        "ours_msd_only_s": round(ours_core, 4),
        "fft_floor_s": round(floor, 4),
        "ase_s": round(ase_scaled, 3),
        "ase_measured_s": round(ase_measured, 3),
        "ase_frames": ase_frames,
        "ase_note": (f"DiffusionCoefficient on the first {ase_frames} frames (one time "
                     f"origin), scaled x{args.frames / ase_frames:g} to {args.frames} frames"
                     if ase_frames < args.frames else "all frames"),
        "repeats": args.repeats,
        "timing_note": f"wall and CPU times are the best of {args.repeats} interleaved runs",
        "direct_s": round(direct, 3),
        "direct_measured_s": round(direct_measured, 3),
        "direct_note": f"direct O(N^2) loop timed on {args.direct_lags} lags, scaled to all",
        "speedup_vs_ase": round(ase_scaled / ours, 2),
        "speedup_vs_direct": round(direct / ours, 2),
        "ratio": round(ours / floor, 3),
        "ratio_msd_only": round(ours_core / floor, 3),
        "cpu_note": "process CPU times: robust when the machine is shared (wall times are not)",
        "ours_cpu_s": round(ours_cpu, 4),
        "fft_floor_cpu_s": round(floor_cpu, 4),
        "ase_cpu_s": round(ase_cpu, 3),
        "speedup_vs_ase_cpu": round(ase_cpu / ours_cpu, 2),
        "ratio_cpu": round(ours_cpu / floor_cpu, 3),
        "peak_rss_mb": round(peak, 1),
        "data_rss_mb": round(rss_data, 1),
        "max_rel_err_vs_direct": float(rel),
        "li_msd_last_A2": float(res.msd["Li"][-1]),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }))


if __name__ == "__main__":
    main()
