"""``ase-raman ipi-driver``: serve forces (any ASE calculator) and alpha (our model) to i-PI."""

from __future__ import annotations

import argparse
import json
import sys

from ._types import NON_NEGATIVE, PORT

HELP = "drive an i-PI simulation: forces from an ASE calculator, alpha as i-PI extras"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model file (ase-raman fit output)")
    parser.add_argument("--template", required=True,
                        help="structure with i-PI's atoms in i-PI's order: i-PI's own xyz "
                             "(e.g. init.xyz) or any ASE format")
    parser.add_argument("--address", required=True,
                        help="i-PI <address>: host name, or socket name with --unix")
    parser.add_argument("--unix", action="store_true",
                        help="UNIX socket /tmp/ipi_ADDRESS (i-PI <ffsocket mode='unix'>)")
    parser.add_argument("--port", type=PORT, default=31415, help="TCP port (default 31415)")
    parser.add_argument("--calculator", default="emt",
                        help="force calculator: an ASE calculator name (emt, lj, morse, ...),"
                             " an entry point of group ase_raman.calculators, or "
                             "'module:callable' returning an ASE calculator (default emt)")
    parser.add_argument("--calc-kwargs", default="{}",
                        help="JSON keyword arguments for the calculator")
    parser.add_argument("--extras-key", default="polarizability",
                        help="JSON key of alpha in the extras (i-PI extra_type)")
    parser.add_argument("--wait", type=NON_NEGATIVE, default=60.0,
                        help="seconds to wait for the server to appear (default 60)")
    parser.add_argument("--verbose", action="store_true", help="log the socket protocol")


def run(args: argparse.Namespace) -> int:
    from ase.io import read

    from ..engines.calculators import make_calculator
    from ..engines.ipi import IPIPolarizabilityDriver, run_ipi_driver
    from ..errors import InputFileError, UsageError
    from ..models import load_model

    try:
        kwargs = json.loads(args.calc_kwargs)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--calc-kwargs is not JSON: {exc}") from None
    from ..io.ipi import is_ipi_comment, iter_ipi_xyz

    try:
        with open(args.template, errors="replace") as fh:
            fh.readline()
            ipi_format = is_ipi_comment(fh.readline())
        template = next(iter_ipi_xyz(args.template)) if ipi_format else read(args.template)
    except OSError as exc:
        raise InputFileError(f"{args.template}: cannot read the template ({exc})") from None
    except Exception as exc:  # ASE raises many kinds
        raise InputFileError(f"{args.template}: cannot read the template ({exc})") from None
    model = load_model(args.model)
    driver = IPIPolarizabilityDriver(template, make_calculator(args.calculator, **kwargs),
                                     model, extras_key=args.extras_key)
    n = run_ipi_driver(driver, args.address, unix=args.unix, port=args.port,
                       wait_s=args.wait, log=sys.stderr if args.verbose else None)
    print(f"ase-raman ipi-driver: {n} structures evaluated", file=sys.stderr)
    return 0
