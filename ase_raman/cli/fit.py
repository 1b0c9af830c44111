"""``ase-raman fit``: learn a polarizability model from reference data and save it.

The last stdout line is one JSON object with ``n_train``, ``n_test``, ``r2``,
``r2_lambda0``, ``r2_lambda2``, ``rmse_A3`` (test-set figures when --test-fraction > 0,
training-set figures otherwise, flagged by ``"metrics_on"``), plus the model path. When
the evaluated structures differ in size it adds ``r2_lambda0_per_atom`` and
``r2_lambda2_per_atom`` (alpha per atom): the whole-cell lambda=0 R^2 then mostly
measures that alpha grows with the number of atoms.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..errors import UsageError
from ._types import FRACTION, SEED

HELP = "fit a polarizability model on reference tensors and save it (.npz)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("train", nargs="+", metavar="TRAIN",
                        help="reference files (extxyz, OUTCAR, vasprun.xml, ph.x output, ...)")
    parser.add_argument("-o", "--output", required=True, metavar="MODEL.npz",
                        help="model file to write")
    parser.add_argument("--learner", default="lambda-soap",
                        help="learner name (see `ase-raman models`; default lambda-soap)")
    parser.add_argument("--alpha-key", default=None,
                        help="extxyz info key holding the polarizability (default polarizability)")
    parser.add_argument("--alpha-unit", default="A3", choices=["A3", "bohr3"],
                        help="unit of the polarizability in extxyz files (default A3)")
    parser.add_argument("--hypers", default=None, metavar="JSON",
                        help='learner hyper-parameters as JSON, e.g. \'{"cutoff": 5.0}\'')
    parser.add_argument("--test-fraction", type=FRACTION, default=0.2, metavar="F",
                        help="fraction of structures held out for testing (default 0.2)")
    parser.add_argument("--seed", type=SEED, default=0, help="random seed of the split")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if not 0.0 <= fraction < 1.0:
        raise UsageError(f"--test-fraction must be in [0, 1), got {fraction}")
    order = np.random.default_rng(seed).permutation(n)
    n_test = int(round(fraction * n))
    if n - n_test < 2:
        raise UsageError(f"only {n} structures: not enough to train with --test-fraction "
                         f"{fraction}")
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def run(args: argparse.Namespace) -> int:
    from ..models.base import reference_polarizabilities
    from ..models.metrics import per_atom, regression_metrics
    from ..models.parity import write_parity_plot
    from ..models.registry import get_learner
    from ._common import parse_json_option, print_json_line, read_reference_files

    output = Path(args.output)
    if output.suffix != ".npz":
        raise UsageError(f"-o {output}: the model file name must end in .npz")
    hypers = parse_json_option(args.hypers, "--hypers")
    learner_cls = get_learner(args.learner)

    frames = read_reference_files(args.train, args.alpha_key, args.alpha_unit)
    train_idx, test_idx = _split(len(frames), args.test_fraction, args.seed)
    train = [frames[i] for i in train_idx]
    test = [frames[i] for i in test_idx]

    model = learner_cls(hypers=hypers, quiet=args.quiet)
    model.fit(train)

    evaluated = test if test else train
    predicted = model.predict(evaluated)
    reference = reference_polarizabilities(evaluated)
    metrics = regression_metrics(predicted, reference)
    summary = {
        "n_train": len(train),
        "n_test": len(test),
        "metrics_on": "test" if test else "train",
        **{k: v for k, v in metrics.items() if k != "n"},
    }
    sizes = np.array([len(atoms) for atoms in evaluated])
    if len(np.unique(sizes)) > 1:
        intensive = regression_metrics(per_atom(predicted, sizes), per_atom(reference, sizes))
        summary["r2_lambda0_per_atom"] = intensive["r2_lambda0"]
        summary["r2_lambda2_per_atom"] = intensive["r2_lambda2"]
        if not args.quiet:
            print(f"cell sizes differ ({sizes.min()}-{sizes.max()} atoms): R^2 per atom "
                  f"lambda=0 {intensive['r2_lambda0']:.3f}, lambda=2 "
                  f"{intensive['r2_lambda2']:.3f} (whole-cell lambda=0 "
                  f"{metrics['r2_lambda0']:.3f} mostly measures size)")
    if hasattr(model, "training"):
        model.training.update({"sources": [str(p) for p in args.train], **summary})
    model.save(output)
    parity = output.with_suffix(".parity.png")
    write_parity_plot(parity, predicted, reference,
                      title=f"{args.learner}: {summary['metrics_on']} set "
                            f"({len(evaluated)} structures)", metrics=metrics)
    if not args.quiet:
        print(f"model written to {output}; parity plot {parity}")
    print_json_line({**summary, "model": str(output), "parity_png": str(parity)})
    return 0
