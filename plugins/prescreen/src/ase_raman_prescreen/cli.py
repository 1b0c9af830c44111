"""``ase-raman prescreen``: fit / predict / evaluate (a command of the core CLI through
the ``ase_raman.commands`` entry point).

This module only builds the argument parser; the heavy libraries (matminer, pymatgen,
LightGBM) are imported when a sub-command runs, so ``ase-raman --help`` stays fast.
"""

from __future__ import annotations

import argparse

from ase_raman.cli._types import NON_NEGATIVE, POSITIVE_INT, SEED, bounded, image_path

HELP = ("rank candidate conductors by composition/structure (boosted trees or random forest, "
        "trained on measured sigma)")


def _add_columns(p: argparse.ArgumentParser, targets: bool) -> None:
    g = p.add_argument_group("columns (defaults read OBELiX files as they are)")
    g.add_argument("--formula-column", metavar="NAME",
                   help="formula column (default: the first of formula, True Composition, "
                        "Reduced Composition, composition)")
    g.add_argument("--name-column", metavar="NAME",
                   help="row names (default: name or ID when present, else the formula)")
    g.add_argument("--structure-column", metavar="NAME",
                   help="column of CIF paths, relative to the table's folder (default: "
                        "structure or cif when present)")
    if targets:
        g.add_argument("--sigma-column", default="Ionic conductivity (S cm-1)", metavar="NAME",
                       help="conductivity in S/cm (default: %(default)s)")
        g.add_argument("--ea-column", metavar="NAME",
                       help="activation energy in eV: also fit an E_a model on the rows "
                            "that have one")
        g.add_argument("--censored-value", type=NON_NEGATIVE, default=1e-15, metavar="S_CM",
                       help="value used for upper bounds such as '<1E-10' (default "
                            "%(default)g S/cm, as the OBELiX authors do; 0 refuses them)")
    g.add_argument("--space-group-column", default="Space group #", metavar="NAME",
                   help="space-group number column used when a row has no CIF "
                        "(default: %(default)s)")
    g.add_argument("--lattice-columns", default="a,b,c,alpha,beta,gamma", metavar="A,B,C,AL,BE,GA",
                   help="lattice-parameter columns, A and degrees (default: %(default)s)")
    g.add_argument("--cell-formula-column", default="True Composition", metavar="NAME",
                   help="formula of the whole cell's contents, for the density "
                        "(default: %(default)s)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="prescreen_command", metavar="ACTION",
                                parser_class=type(parser))
    sub.required = True

    fit = sub.add_parser("fit", help="train on measured conductivities",
                         description="Train the ranking model on a CSV of measured "
                                     "conductivities; model family, features and "
                                     "hyperparameters by grouped CV.")
    fit.add_argument("train", metavar="TRAIN.csv")
    fit.add_argument("-o", "--output", required=True, metavar="MODEL",
                     help="model file to write (zip of JSON [+ LightGBM text])")
    fit.add_argument("--no-structure", action="store_true",
                     help="composition features only (same as --features composition)")
    fit.add_argument("--model-family", default="auto", choices=["auto", "lightgbm", "forest"],
                     help="LightGBM boosted-tree ensemble, random forest, or auto: the one "
                          "with the lower grouped-CV MAE (default: %(default)s)")
    fit.add_argument("--features", default="auto",
                     choices=["auto", "composition", "structure", "cell"],
                     help="composition: element-property statistics; structure: those + "
                          "space group, density, packing fraction; cell: element amounts "
                          "of the cell + space group + lattice parameters; auto: chosen by "
                          "grouped CV (default: %(default)s)")
    fit.add_argument("--grid", default="full", choices=["full", "quick"],
                     help="hyperparameter grid searched by CV (default: %(default)s)")
    fit.add_argument("--folds", type=bounded(int, 2, 100), default=5,
                     help="CV folds (default: %(default)s)")
    fit.add_argument("--ensemble", type=bounded(int, 1, 1000), default=5,
                     help="boosters per target (default: %(default)s)")
    fit.add_argument("--seed", type=SEED, default=0)
    fit.add_argument("--threads", type=POSITIVE_INT, default=1,
                     help="LightGBM and random-forest threads (default: %(default)s)")
    fit.add_argument("--report", metavar="DIR",
                     help="write cv.json, parity_cv.png (out-of-fold), importances.csv/.png")
    fit.add_argument("--quiet", action="store_true", help="no progress lines")
    _add_columns(fit, targets=True)
    fit.set_defaults(_prescreen=_run_fit)

    pred = sub.add_parser("predict", help="rank candidates (CSV of formulas and/or CIFs)",
                          description="Predict log10 sigma with error bars and rank.")
    pred.add_argument("model", metavar="MODEL")
    pred.add_argument("inputs", nargs="+", metavar="CANDIDATES",
                      help="CSV tables of candidates, CIF files or folders of CIF files")
    pred.add_argument("-o", "--output", required=True, metavar="RANKED.csv")
    pred.add_argument("--top", type=POSITIVE_INT, metavar="K",
                      help="with --manifest: how many candidates go to the manifest")
    pred.add_argument("--manifest", metavar="SCREEN.yaml",
                      help="write the K best candidates that have a structure as the "
                           "manifest 'ase-raman screen' reads")
    pred.add_argument("--threads", type=POSITIVE_INT, metavar="N",
                      help="LightGBM prediction threads (default: the usable CPU cores)")
    _add_columns(pred, targets=False)
    pred.set_defaults(_prescreen=_run_predict)

    ev = sub.add_parser("evaluate", help="score a model on a held-out table",
                        description="MAE/RMSE/Spearman/top-10%% recall and error-bar "
                                    "coverage on a table with measured conductivities.")
    ev.add_argument("model", metavar="MODEL")
    ev.add_argument("test", metavar="TEST.csv")
    ev.add_argument("-o", "--output", metavar="METRICS.json", help="metrics as JSON")
    ev.add_argument("--parity", type=image_path, metavar="PNG", help="parity plot")
    ev.add_argument("--predictions", metavar="CSV", help="per-row predictions")
    _add_columns(ev, targets=True)
    ev.set_defaults(_prescreen=_run_evaluate)


def run(args: argparse.Namespace) -> int:
    return int(args._prescreen(args) or 0)


def _columns(args: argparse.Namespace, model_columns: dict | None = None):
    from .table import Columns

    lattice = tuple(c.strip() for c in args.lattice_columns.split(","))
    if len(lattice) != 6:
        from ase_raman.errors import UsageError

        raise UsageError(f"--lattice-columns {args.lattice_columns}: six names")
    return Columns(
        formula=args.formula_column, sigma=getattr(args, "sigma_column", Columns.sigma),
        ea=getattr(args, "ea_column", None), structure=args.structure_column,
        name=args.name_column, space_group=args.space_group_column, lattice=lattice,
        cell_formula=args.cell_formula_column)


def _run_fit(args: argparse.Namespace) -> int:
    from .workflow import fit_from_table

    fit_from_table(args.train, args.output, _columns(args), use_structure=not args.no_structure,
                   grid=args.grid, n_folds=args.folds, n_ensemble=args.ensemble,
                   seed=args.seed, threads=args.threads, report_dir=args.report,
                   censored_value=args.censored_value or None,
                   log=(lambda *a: None) if args.quiet else print,
                   model_family=args.model_family, feature_set=args.features)
    return 0


def _run_predict(args: argparse.Namespace) -> int:
    from .workflow import predict_and_rank

    predict_and_rank(args.model, args.inputs, args.output, _columns(args), top=args.top,
                     manifest=args.manifest, threads=args.threads)
    return 0


def _run_evaluate(args: argparse.Namespace) -> int:
    from .workflow import evaluate

    metrics = evaluate(args.model, args.test, _columns(args), output=args.output,
                       parity=args.parity, predictions=args.predictions,
                       censored_value=args.censored_value or None)
    m = metrics["log10_sigma"]
    print(f"log10 sigma: n={m['n']} MAE {m['mae']:.3f} RMSE {m['rmse']:.3f} Spearman "
          f"{m['spearman']:.3f} top-10% in predicted top-20% {m['top10_in_pred_top20']:.2f} "
          f"coverage 1/2 sigma {m['coverage_1sigma']:.2f}/{m['coverage_2sigma']:.2f}")
    return 0
