"""``ase-raman screen``: structures -> MD (any registered calculator) -> ranked table."""

from __future__ import annotations

import argparse

HELP = ("screen solid electrolytes: structures -> ordered supercell -> relax -> MD at "
        "several temperatures with alpha recorded -> D, E_a, sigma(300 K), Raman, ranking")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..parallel.cli import add_scheduler_argument

    parser.add_argument("inputs", nargs="+",
                        help="CIF/POSCAR files, folders of them, or a YAML manifest")
    parser.add_argument("-o", "--out", required=True, help="output folder")
    parser.add_argument("--calculator", default=None,
                        help="force calculator (ase-raman calculators; default chgnet)")
    parser.add_argument("--calc-kwargs", default=None, help="JSON keyword arguments for it")
    parser.add_argument("--temperatures", default=None,
                        help="comma-separated K (default 800,1100)")
    parser.add_argument("--ps", type=float, default=None,
                        help="production length per temperature, ps (default 20)")
    parser.add_argument("--equilibration-ps", type=float, default=None,
                        help="equilibration length, ps (default 2)")
    parser.add_argument("--timestep", type=float, default=None, help="MD timestep, fs (2)")
    parser.add_argument("--every", type=int, default=None,
                        help="record alpha and positions every N steps (10)")
    parser.add_argument("--relax-steps", type=int, default=None, help="FIRE steps (100)")
    parser.add_argument("--min-image", type=float, default=None,
                        help="minimum image distance of the supercell, Angstrom (8)")
    parser.add_argument("--fixed-cell", action="store_true", default=None,
                        help="keep the experimental cell (default: NPT to the potential's "
                             "density)")
    parser.add_argument("--seed", type=int, default=None, help="ordering and MD seed (0)")
    parser.add_argument("--alpha", default=None,
                        help="'did' (dipole-induced-dipole plugin, default) or MODEL.npz")
    parser.add_argument("--did-polarizabilities", default=None,
                        help="JSON {symbol: Angstrom^3} over the built-in table")
    parser.add_argument("--cutoff", type=float, default=None,
                        help="central-peak cutoff, cm^-1 (50)")
    parser.add_argument("--weights", default=None,
                        help="JSON score weights {log10_sigma, esw_V, Ea_eV, sigma_e}")
    parser.add_argument("--analyse-only", action="store_true",
                        help="no MD: analyse what the stores hold now (partial runs too)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny settings for tests: 0.1 ps, 0.02 ps equilibration, 3 "
                             "relax steps, 600 and 900 K, min image 6 Angstrom, every 2")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_scheduler_argument(parser)


_QUICK = {"ps": 0.1, "equilibration_ps": 0.02, "relax_steps": 3, "temperatures": (600, 900),
          "min_image_A": 6.0, "every": 2}


def _json_arg(text: str | None, name: str) -> dict | None:
    """The JSON object of option ``name``, or None when the option was not given."""
    from ._common import parse_json_option

    return None if text is None else parse_json_option(text, name)


def settings_from_args(args: argparse.Namespace, manifest: dict):
    """ScreenSettings: defaults < --quick < manifest 'settings' < command-line options."""
    from dataclasses import fields

    from ..errors import UsageError
    from ..screen import ScreenSettings

    known = {f.name for f in fields(ScreenSettings)}
    values: dict = dict(_QUICK) if args.quick else {}
    unknown = sorted(set(manifest) - known)
    if unknown:
        raise UsageError(f"manifest settings: unknown key(s) {', '.join(unknown)}; known: "
                         f"{', '.join(sorted(known))}")
    values.update(manifest)
    cli = {"calculator": args.calculator, "ps": args.ps,
           "equilibration_ps": args.equilibration_ps, "timestep_fs": args.timestep,
           "every": args.every, "relax_steps": args.relax_steps,
           "min_image_A": args.min_image, "fixed_cell": args.fixed_cell, "seed": args.seed,
           "alpha": args.alpha, "cutoff_cm": args.cutoff,
           "calc_kwargs": _json_arg(args.calc_kwargs, "--calc-kwargs"),
           "did_polarizabilities": _json_arg(args.did_polarizabilities,
                                             "--did-polarizabilities"),
           "weights": _json_arg(args.weights, "--weights")}
    if args.temperatures is not None:
        try:
            cli["temperatures"] = tuple(float(t) for t in args.temperatures.split(","))
        except ValueError:
            raise UsageError(f"--temperatures {args.temperatures!r}: expected numbers "
                             "like 800,1100") from None
    values.update({k: v for k, v in cli.items() if v is not None})
    if "temperatures" in values:
        values["temperatures"] = tuple(float(t) for t in values["temperatures"])
    try:
        s = ScreenSettings(**values)
    except TypeError as exc:
        raise UsageError(f"screen settings: {exc}") from None
    if not all(t > 0 for t in s.temperatures) or not s.temperatures:
        raise UsageError("--temperatures must be positive (K)")
    if not (s.ps > 0 and s.timestep_fs > 0 and s.every >= 1 and s.min_image_A > 0
            and s.equilibration_ps >= 0 and s.relax_steps >= 0):
        raise UsageError("--ps, --timestep, --min-image must be positive, --every >= 1")
    return s


def run(args: argparse.Namespace) -> int:
    import contextlib

    from ..screen import read_inputs, run_screen
    from ._common import print_json_line

    materials, manifest_settings = read_inputs(args.inputs)
    settings = settings_from_args(args, manifest_settings)
    with contextlib.ExitStack() as stack:
        client = None
        if args.scheduler:
            from ..parallel._deps import require_dask
            from ..parallel.cluster import scheduler_client

            require_dask()
            client = stack.enter_context(scheduler_client(args.scheduler))
        rows = run_screen(materials, settings, args.out, client=client, quiet=args.quiet,
                          md=not args.analyse_only)
    failed = sorted({r["material"] for r in rows if r.get("status") == "failed"})
    print_json_line({"materials": len(materials), "pairs": len(rows),
                     "failed": failed, "results": f"{args.out}/results.csv"})
    return 0
