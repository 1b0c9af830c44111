"""``ase-raman demo``: the AgI central-peak screening, end to end (see ase_raman.demo.run)."""

from __future__ import annotations

import argparse

from ._types import SEED

HELP = ("run the AgI central-peak demo: LAMMPS MD driven by ASE, DID labels, lambda-SOAP, "
        "observer, Raman/VDOS/MSD, harmonic phonopy Raman, summary.json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="demo-output", metavar="DIR",
                        help="output folder (default demo-output)")
    parser.add_argument("--quick", action="store_true",
                        help="short runs on a 128-atom cell (about 90 s)")
    parser.add_argument("--seed", type=SEED, default=0, help="random seed (reproducible)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def run(args: argparse.Namespace) -> int:
    from ..demo.run import run_demo

    run_demo(args.out, quick=args.quick, seed=args.seed, quiet=args.quiet)
    return 0
