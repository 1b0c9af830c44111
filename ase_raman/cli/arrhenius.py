"""``ase-raman arrhenius``: activation energy and room-temperature extrapolation.

Reads the JSON summaries of ``ase-raman msd --temperature T [--charges ...]`` at several
temperatures, fits ``D = D0 exp(-E_a / k_B T)`` (and ``sigma T`` the same way when the
summaries hold conductivities) per species, and writes a JSON (see
:func:`ase_raman.spectra.transport.report.arrhenius_summary`) and an Arrhenius plot.
"""

from __future__ import annotations

import argparse
import json

from ..errors import InputFileError, UsageError
from ._types import POSITIVE, image_path

HELP = "Arrhenius fit (E_a, prefactor, extrapolation) of D and sigma from msd JSON summaries"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("summaries", nargs="+", metavar="SUMMARY.json",
                        help="JSON summaries written by 'ase-raman msd --json' (with "
                        "--temperature), one per temperature")
    parser.add_argument("--target-temperature", type=POSITIVE, default=300.0, metavar="K",
                        help="extrapolate D and sigma to this temperature (default 300 K)")
    parser.add_argument("--species", default=None,
                        help="comma-separated species to fit (default: all in the summaries)")
    parser.add_argument("-o", "--output", default=None, type=image_path, metavar="PNG",
                        help="Arrhenius plot (log D against 1000/T)")
    parser.add_argument("--json", default=None, help="fit results per species")
    parser.add_argument("--quiet", action="store_true", help="no table output")


def _read_summary(path: str) -> dict:
    try:
        with open(path) as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise InputFileError(f"{path}: not an 'ase-raman msd' JSON summary")
    return data


def run(args: argparse.Namespace) -> int:
    from ..spectra.transport.report import arrhenius_summary, plot_arrhenius, write_json

    if args.output is None and args.json is None:
        raise UsageError("nothing to write: give -o PNG and/or --json FILE")
    if not args.target_temperature > 0:
        raise UsageError(f"--target-temperature must be positive (K), got "
                         f"{args.target_temperature}")
    species = None
    if args.species:
        species = [s.strip() for s in args.species.split(",") if s.strip()]
    summaries = [(path, _read_summary(path)) for path in args.summaries]
    fits = arrhenius_summary(summaries, target_temperature_K=args.target_temperature,
                             species=species)
    if args.json:
        write_json(args.json, fits)
    if args.output:
        plot_arrhenius(args.output, fits)
    if not args.quiet:
        for sym, info in fits.items():
            line = (f"{sym}: E_a = {info['E_a_eV']:.3f} +- {info['E_a_err_eV']:.3f} eV, "
                    f"D({info['target_temperature_K']:g} K) = {info['D_target_cm2_s']:.3e} "
                    f"+- {info['D_target_err_cm2_s']:.1e} cm^2/s")
            if "sigma_target_S_cm" in info:
                line += (f", sigma({info['target_temperature_K']:g} K) = "
                         f"{info['sigma_target_S_cm']:.3e} +- "
                         f"{info['sigma_target_err_S_cm']:.1e} S/cm")
            print(line)
    return 0
