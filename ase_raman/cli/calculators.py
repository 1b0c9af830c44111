"""``ase-raman calculators``: list the registered force calculators
(entry-point group ``ase_raman.calculators``)."""

from __future__ import annotations

import argparse

HELP = "list the registered MD force calculators (name, distribution, version)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print a JSON list instead")


def run(args: argparse.Namespace) -> int:
    from ..engines.calculators import installed_calculators
    from ._common import print_json_line

    calculators = installed_calculators()
    if args.json:
        print_json_line({"calculators": [vars(info) for info in calculators]})
        return 0
    print(f"{'name':<20} {'distribution':<28} {'version':<10} target")
    for info in calculators:
        print(f"{info.name:<20} {info.distribution:<28} {info.version:<10} {info.target}")
    print("(also: any ASE calculator name, e.g. emt, or 'module:callable')")
    return 0
