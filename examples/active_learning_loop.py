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
    greedy_variance_selection,
    select_indices,
)

REPO = Path(__file__).resolve().parents[1]
STRATEGIES = ("random", "fps", "uncertainty", "mixed", "variance", "integrated")


def run_loop(frames, n_test: int, start: int, step: int, rounds: int, target: float,
             seed: int = 0, hypers: dict | None = None) -> dict:
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
    results = {}
    for strategy in STRATEGIES:
        chosen = list(initial)
        curve = []
        strategy_rng = np.random.default_rng(seed + 1)
        for _ in range(rounds):
            learner = LambdaSoapRidge(hypers=model.hypers)
            learner.fit_features(features.take(pool_idx[chosen]), reference[pool_idx[chosen]])
            metrics = regression_metrics(learner.predict_features(test_features),
                                         reference[test_idx])
            curve.append((len(chosen), metrics["r2_lambda0"], metrics["r2_lambda2"]))
            rest = np.array([i for i in range(len(pool_idx)) if i not in set(chosen)])
            if strategy == "random":
                new = list(strategy_rng.choice(rest, size=step, replace=False))
            elif strategy in ("variance", "integrated"):
                objective = "max" if strategy == "variance" else "integrated"
                picks = greedy_variance_selection(learner, features.take(pool_idx[rest]), step,
                                                  objective=objective)
                new = [int(rest[i]) for i in picks]
            else:
                uncertainty = None
                if strategy != "fps":
                    uncertainty = frame_uncertainty(
                        learner.predict_features_std(features.take(pool_idx[rest])))
                picks = select_indices(descriptors[rest], step, strategy, uncertainty,
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
    args = parser.parse_args()
    frames = read_reference(args.data, alpha_key=args.alpha_key, alpha_unit=args.alpha_unit,
                            index=args.index)
    hypers = json.loads(args.hypers) if args.hypers else None
    runs = [run_loop(frames, args.test, args.start, args.step, args.rounds, args.target,
                     seed=seed, hypers=hypers) for seed in range(args.seeds)]
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
    for strategy in STRATEGIES:
        sizes = [r[strategy]["n_to_target"] for r in runs]
        summary[strategy] = {
            "mean_n_to_target": float(np.mean([never if n is None else n for n in sizes])),
            "reached": sum(n is not None for n in sizes), "n_to_target": sizes}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
