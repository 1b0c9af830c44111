"""Active learning loop: how many reference tensors does each selection strategy need?

Start from 10 random frames of a labelled pool, add 10 per round chosen by each strategy
(random, farthest-point sampling, model uncertainty, mixed, batch-greedy posterior
variance "max" and "integrated"), refit the lambda-SOAP model,
and score it on a fixed held-out set. Prints, per strategy, the held-out R^2 (lambda=0 and
lambda=2) per round and the first training-set size at which both reach the target, then
one JSON line. Featurises the pool once (``fit_features``), so it runs in a minute or two.

``--seeds K`` repeats the whole comparison with K different held-out sets and starting
frames (one random order per seed) and reports, per strategy, the mean size to reach the
target (a round that never reaches it counts as the last size + step) and how often it
was reached: one split is too noisy to compare strategies that differ by a round.

``--strategies`` picks which to run. Two more are available:

* ``fps-only``: the starting frames are farthest-point picks too (what
  ``ase-raman select --strategy fps`` does when no model exists yet).
* ``oracle``: not a strategy but a yardstick of what any selection could reach with
  this learner. It reads labels: ``--validation V`` frames are set aside from the pool,
  and each pick is, among ``--oracle-candidates C`` random frames of the rest, the one
  whose label most raises min(R^2 lambda=0, R^2 lambda=2) on those V frames (greedy,
  one frame at a time, a refit per candidate). It is scored on the same held-out set as
  the others. If even the oracle needs more than half the random count, no label-free
  strategy can halve it.

Usage: python examples/active_learning_loop.py [DATA.xyz] [--alpha-key alpha --alpha-unit
bohr3] [--rounds 10] [--target 0.9] [--seeds 5]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ase_raman.io import read_reference
from ase_raman.models.lambda_soap import LambdaSoapRidge
from ase_raman.models.metrics import frame_uncertainty, regression_metrics
from ase_raman.models.selection import (
    descriptors_from_features,
    farthest_point_sampling,
    greedy_variance_selection,
    select_indices,
)

REPO = Path(__file__).resolve().parents[1]
STRATEGIES = ("random", "fps", "uncertainty", "mixed", "variance", "integrated")
EXTRA_STRATEGIES = ("fps-only", "oracle")


def fitted(hypers: dict, features, reference: np.ndarray) -> LambdaSoapRidge:
    learner = LambdaSoapRidge(hypers=hypers, quiet=True)
    learner.fit_features(features, reference)
    return learner


def held_out_r2(learner: LambdaSoapRidge, features, reference: np.ndarray
                ) -> tuple[float, float]:
    metrics = regression_metrics(learner.predict_features(features), reference)
    return metrics["r2_lambda0"], metrics["r2_lambda2"]


def oracle_picks(hypers: dict, features, reference: np.ndarray, chosen: list[int],
                 candidates: np.ndarray, validation: np.ndarray, n: int) -> list[int]:
    """Greedy label-reading picks: each is the candidate whose label most raises
    min(R^2 lambda=0, lambda=2) on the ``validation`` frames. Indices (``chosen``,
    ``candidates``, ``validation`` and the picks) count rows of ``features`` and
    ``reference``."""
    validation_features = features.take(validation)
    picks: list[int] = []
    for _ in range(n):
        best, best_score = -1, -np.inf
        for frame in candidates:
            if frame in picks:
                continue
            trial = [*chosen, *picks, int(frame)]
            score = min(held_out_r2(fitted(hypers, features.take(trial), reference[trial]),
                                    validation_features, reference[validation]))
            if score > best_score:
                best, best_score = int(frame), score
        picks.append(best)
    return picks


def run_loop(frames, n_test: int, start: int, step: int, rounds: int, target: float,
             seed: int = 0, hypers: dict | None = None, strategies=STRATEGIES,
             n_validation: int = 50, oracle_candidates: int = 30) -> dict:
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(frames))
    test_idx, pool_idx = order[:n_test], order[n_test:]
    reference = np.array([a.info["polarizability"] for a in frames])
    model = LambdaSoapRidge(hypers=hypers)
    model.set_species(frames)
    features = model.featurizer.compute_arrays(list(frames))

    pool_features = features.take(pool_idx)
    test_features = features.take(test_idx)
    descriptors = descriptors_from_features(pool_features.lambda0,
                                            np.array([len(frames[i]) for i in pool_idx]))
    initial = list(rng.choice(len(pool_idx), size=start, replace=False))
    # the oracle's validation frames: from the pool, never its candidates nor its start
    validation = np.zeros(0, dtype=int)
    if "oracle" in strategies:
        validation = rng.choice(np.setdiff1d(np.arange(len(pool_idx)), initial),
                                size=n_validation, replace=False)
    results = {}
    for strategy in strategies:
        chosen = (farthest_point_sampling(descriptors, start) if strategy == "fps-only"
                  else list(initial))
        curve = []
        strategy_rng = np.random.default_rng(seed + 1)
        for _ in range(rounds):
            learner = fitted(model.hypers, features.take(pool_idx[chosen]),
                             reference[pool_idx[chosen]])
            curve.append((len(chosen), *held_out_r2(learner, test_features,
                                                    reference[test_idx])))
            rest = np.array([i for i in range(len(pool_idx)) if i not in set(chosen)])
            if strategy == "oracle":
                rest = np.setdiff1d(rest, validation)
                candidates = strategy_rng.choice(rest, size=min(oracle_candidates, len(rest)),
                                                 replace=False)
                new = oracle_picks(model.hypers, pool_features, reference[pool_idx], chosen,
                                   candidates, validation, step)
            elif strategy == "random":
                new = list(strategy_rng.choice(rest, size=step, replace=False))
            elif strategy in ("variance", "integrated"):
                objective = "max" if strategy == "variance" else "integrated"
                picks = greedy_variance_selection(learner, features.take(pool_idx[rest]), step,
                                                  objective=objective)
                new = [int(rest[i]) for i in picks]
            else:
                # after its farthest-point start, fps-only goes on as fps
                picker = "fps" if strategy == "fps-only" else strategy
                uncertainty = None
                if picker != "fps":
                    uncertainty = frame_uncertainty(
                        learner.predict_features_std(features.take(pool_idx[rest])))
                picks = select_indices(descriptors[rest], step, picker, uncertainty,
                                       known=descriptors[chosen])
                new = [int(rest[i]) for i in picks]
            chosen.extend(new)
        reached = next((n for n, r0, r2 in curve if min(r0, r2) >= target), None)
        results[strategy] = {"curve": curve, "n_to_target": reached}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(REPO / "tests/data/water_bulk_200.xyz"))
    parser.add_argument("--alpha-key", default="alpha")
    parser.add_argument("--alpha-unit", default="bohr3")
    parser.add_argument("--index", default=":")
    parser.add_argument("--test", type=int, default=60)
    parser.add_argument("--start", type=int, default=10)
    parser.add_argument("--step", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--target", type=float, default=0.9)
    parser.add_argument("--hypers", default=None, help="lambda-soap hypers as JSON")
    parser.add_argument("--seeds", type=int, default=1,
                        help="repeat with this many held-out sets / starting frames")
    parser.add_argument("--strategies", default=",".join(STRATEGIES),
                        help="comma separated, from "
                             f"{', '.join(STRATEGIES + EXTRA_STRATEGIES)}")
    parser.add_argument("--validation", type=int, default=50,
                        help="frames of the pool whose labels the oracle reads")
    parser.add_argument("--oracle-candidates", type=int, default=30,
                        help="random candidates the oracle tries per pick")
    args = parser.parse_args()
    strategies = tuple(s.strip() for s in args.strategies.split(",") if s.strip())
    unknown = set(strategies) - set(STRATEGIES + EXTRA_STRATEGIES)
    if unknown:
        parser.error(f"--strategies: unknown {', '.join(sorted(unknown))}; choose from "
                     f"{', '.join(STRATEGIES + EXTRA_STRATEGIES)}")
    frames = read_reference(args.data, alpha_key=args.alpha_key, alpha_unit=args.alpha_unit,
                            index=args.index)
    hypers = json.loads(args.hypers) if args.hypers else None
    runs = [run_loop(frames, args.test, args.start, args.step, args.rounds, args.target,
                     seed=seed, hypers=hypers, strategies=strategies,
                     n_validation=args.validation,
                     oracle_candidates=args.oracle_candidates)
            for seed in range(args.seeds)]
    never = args.start + args.step * args.rounds  # stands for "not reached"
    for seed, results in enumerate(runs):
        for strategy, res in results.items():
            print(f"seed {seed} {strategy:12s} n_to_R2>={args.target}: {res['n_to_target']}")
            for n, r0, r2 in res["curve"]:
                print(f"    n={n:4d}  R2(l=0)={r0:.3f}  R2(l=2)={r2:.3f}")
    if args.seeds == 1:
        print(json.dumps({s: r["n_to_target"] for s, r in runs[0].items()}))
        return
    summary = {}
    for strategy in strategies:
        sizes = [r[strategy]["n_to_target"] for r in runs]
        summary[strategy] = {
            "mean_n_to_target": float(np.mean([never if n is None else n for n in sizes])),
            "reached": sum(n is not None for n in sizes), "n_to_target": sizes}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
