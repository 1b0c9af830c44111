"""``ase-raman models``: list the installed learners (entry-point group ase_raman.models)."""

from __future__ import annotations

import argparse

HELP = "list the installed polarizability learners (name, distribution, version)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print a JSON list instead")


def run(args: argparse.Namespace) -> int:
    from ..models.registry import installed_learners
    from ._common import print_json_line

    learners = installed_learners()
    if args.json:
        print_json_line({"learners": [vars(info) for info in learners]})
        return 0
    print(f"{'name':<20} {'distribution':<28} {'version':<10} target")
    for info in learners:
        print(f"{info.name:<20} {info.distribution:<28} {info.version:<10} {info.target}")
    return 0
