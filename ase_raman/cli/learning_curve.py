"""``ase-raman learning-curve``: R^2 and RMSE on a fixed held-out set vs training-set size.

CSV columns: ``n_train``, ``repeats``, then for each metric its mean and ``_std`` over
repeats: ``r2``, ``r2_lambda0``, ``r2_lambda2``, ``r2_diagonal``, ``r2_offdiagonal``,
``rmse_A3``, ``rmse_lambda0_A3``, ``rmse_lambda2_A3``. With ``--per-atom`` the tensors
are scored per atom (for data that mix cell sizes) and the RMSE columns end in
``_per_atom`` (Angstrom^3 per atom).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from ..errors import UsageError
from ._types import OPEN_FRACTION, POSITIVE_INT, SEED, image_path

HELP = "learning curve: held-out R^2/RMSE against the number of training tensors"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", nargs="+", metavar="DATA", help="reference files")
    parser.add_argument("--sizes", default="10,20,40,80,160",
                        help="training-set sizes, comma separated (default 10,20,40,80,160)")
    parser.add_argument("--repeats", type=POSITIVE_INT, default=5, help="random subsets per size")
    parser.add_argument("--learner", default="lambda-soap", help="learner name")
    parser.add_argument("--hypers", default=None, metavar="JSON", help="learner hypers")
    parser.add_argument("--alpha-key", default=None, help="extxyz polarizability key")
    parser.add_argument("--alpha-unit", default="A3", choices=["A3", "bohr3"])
    parser.add_argument("--test-fraction", type=OPEN_FRACTION, default=0.2,
                        help="held-out fraction (default 0.2)")
    parser.add_argument("--seed", type=SEED, default=0)
    parser.add_argument("--per-atom", action="store_true",
                        help="score alpha per atom: use when the data mix cell sizes, where "
                             "the whole-cell lambda=0 R^2 mostly measures size")
    parser.add_argument("-o", "--output", required=True, metavar="curve.csv")
    parser.add_argument("--png", default=None, type=image_path, metavar="curve.png")
    parser.add_argument("--quiet", action="store_true")


def _write_png(path: Path, curve) -> None:
    from matplotlib.figure import Figure

    from ..atomic_write import atomic_output

    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    n = curve.column("n_train")
    for name, label in [("r2_lambda0", r"$\lambda=0$"), ("r2_lambda2", r"$\lambda=2$")]:
        ax.errorbar(n, curve.column(name), yerr=curve.column(f"{name}_std"), marker="o",
                    capsize=3, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("training tensors")
    per_atom = ", per atom" if curve.per_atom else ""
    ax.set_ylabel(f"held-out $R^2$ ({curve.n_test} structures{per_atom})")
    ax.legend()
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")


def run(args: argparse.Namespace) -> int:
    from ..atomic_write import atomic_output
    from ..models.learning_curve import learning_curve
    from ..models.registry import get_learner
    from ._common import (
        options_named,
        parse_json_option,
        print_json_line,
        read_reference_files,
    )

    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"--sizes {args.sizes!r}: expected integers like 10,20,40") from None
    if not 0 < args.test_fraction < 1:
        raise UsageError(f"--test-fraction must be in (0, 1), got {args.test_fraction}")
    hypers = parse_json_option(args.hypers, "--hypers")
    learner_cls = get_learner(args.learner)
    frames = read_reference_files(args.data, args.alpha_key, args.alpha_unit)
    order = np.random.default_rng(args.seed).permutation(len(frames))
    n_test = max(1, int(round(args.test_fraction * len(frames))))
    test = [frames[i] for i in order[:n_test]]
    pool = [frames[i] for i in order[n_test:]]

    with options_named({"sizes": "--sizes", "repeats": "--repeats"}):
        curve = learning_curve(lambda: learner_cls(hypers=hypers, quiet=args.quiet), pool,
                               test, sizes, repeats=args.repeats, seed=args.seed,
                               per_atom=args.per_atom)
    columns = list(curve.rows[0])
    with atomic_output(args.output) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(curve.rows)
    if args.png:
        _write_png(Path(args.png), curve)
    print_json_line({"n_test": curve.n_test, "pool": len(pool), "per_atom": curve.per_atom,
                     "rows": curve.rows})
    return 0
