"""Benchmark: rank 20,000 candidate compositions with ``ase-raman prescreen`` (2 cores).

Needs the prescreen plugin (``pip install -e plugins/prescreen``). In one process:

* ``fit_s``: ``prescreen fit`` on OBELiX ``train.csv`` (the shared data folder when
  present, else the plugin's 160-row test subset), grid ``full`` (``--quick``: grid
  ``quick``), 1 thread, model family and feature set chosen by grouped CV (``auto``,
  as ``prescreen fit`` does by default: LightGBM on composition / composition +
  structure, random forest on the cell features); ``model_family`` and
  ``feature_set`` say which one ranks;
* ``compositions_per_s``: ``prescreen predict`` from a CSV of 20,000 distinct candidate
  formulas (OBELiX compositions with random partial substitutions) to ``ranked.csv``:
  formula parsing (cached per distinct formula), cached per-element featurisation,
  the model (LightGBM: 5 boosters, row blocks over ``threads`` Python threads, one
  LightGBM thread each; forest: numpy walk over its tree arrays), ranking and
  writing, end to end (goal >= 1,000). The candidates have formulas only: a model on
  structure or cell features sees them with those features missing (the speed is what
  this measures);
* ``baseline_compositions_per_s``: the same features through matminer's own
  featurisers, one composition at a time, no per-element cache (on 500 of the
  formulas); ``ratio`` = compositions_per_s / baseline_compositions_per_s (the
  baseline covers featurisation only, so the ratio understates the featurisation
  speed-up);
* ``featurize_per_s``: the cached featurisation alone, on the 20,000 formulas;
* ``compositions_per_cpu_s``: the same ranking per second of this process's CPU time, and
  ``load_average_1min``: the machine's load when it ended (on a shared machine the wall
  time also counts the time other processes held the cores);
* ``peak_rss_mb``: the process's peak resident memory.

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

REPO = Path(__file__).resolve().parents[1]
SHARED_TRAIN = REPO.parent / "shared" / "data" / "obelix" / "train.csv"
SUBSET_TRAIN = REPO / "plugins" / "prescreen" / "tests" / "data" / "obelix_train_subset.csv"


def candidate_formulas(base: list[str], n: int, seed: int = 0) -> list[str]:
    """``n`` distinct formulas: a base composition with one element partly replaced."""
    import numpy as np
    from ase_raman_prescreen.formula import parse_formula

    rng = np.random.default_rng(seed)
    parsed = [parse_formula(f) for f in base]
    pool = sorted({s for p in parsed for s in p})
    out: set[str] = set()
    while len(out) < n:
        amounts = dict(parsed[rng.integers(len(parsed))])
        old = list(amounts)[rng.integers(len(amounts))]
        new = pool[rng.integers(len(pool))]
        x = float(rng.uniform(0.05, 0.95)) * amounts[old]
        amounts[old] -= x
        amounts[new] = amounts.get(new, 0.0) + x
        out.add("".join(f"{s}{v:.3f}" for s, v in amounts.items() if v > 1e-9))
    return sorted(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--quick", action="store_true", help="grid 'quick' for the fit")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    from ase_raman_prescreen.features import CompositionFeaturizer, matminer_features
    from ase_raman_prescreen.model import usable_cpus
    from ase_raman_prescreen.table import Columns
    from ase_raman_prescreen.workflow import fit_from_table, predict_and_rank

    train = SHARED_TRAIN if SHARED_TRAIN.is_file() else SUBSET_TRAIN
    with open(train, newline="") as fh:
        base = [r["True Composition"] for r in csv.DictReader(fh)]
    formulas = candidate_formulas(base, args.n)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = tmp / "prescreen.model"
        t0 = time.perf_counter()
        fitted = fit_from_table(train, model, Columns(), use_structure=True,
                       grid="quick" if args.quick else "full", threads=1,
                       log=lambda *a: None)
        fit_s = time.perf_counter() - t0
        cands = tmp / "candidates.csv"
        with open(cands, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["formula"])
            w.writerows([f] for f in formulas)
        t0, c0 = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(io.StringIO()):  # the missing-structure note
            ranked = predict_and_rank(model, [str(cands)], tmp / "ranked.csv", Columns())
        rank_s, rank_cpu_s = time.perf_counter() - t0, time.process_time() - c0
        assert len(ranked) == len(formulas)
    from ase_raman_prescreen.formula import parse_formula

    parse_formula.cache_clear()
    t0 = time.perf_counter()
    CompositionFeaturizer().featurize_many(formulas)
    feat_s = time.perf_counter() - t0
    n_base = min(500, len(formulas))
    parse_formula.cache_clear()
    t0 = time.perf_counter()
    matminer_features(formulas[:n_base])
    base_s = time.perf_counter() - t0
    per_s = len(formulas) / rank_s
    baseline = n_base / base_s
    print(json.dumps({
        "n_compositions": len(formulas),
        "train": train.name,
        "grid": "quick" if args.quick else "full",
        "model_family": fitted.targets["log10_sigma"].family,
        "feature_set": fitted.feature_set,
        "cores": os.environ.get("OMP_NUM_THREADS"),
        "threads": usable_cpus(),
        "compositions_per_s": round(per_s, 1),
        "featurize_per_s": round(len(formulas) / feat_s, 1),
        "baseline_compositions_per_s": round(baseline, 1),
        "ratio": round(per_s / baseline, 2),
        "fit_s": round(fit_s, 2),
        "rank_s": round(rank_s, 2),
        "compositions_per_cpu_s": round(len(formulas) / rank_cpu_s, 1),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))


if __name__ == "__main__":
    sys.exit(main())
