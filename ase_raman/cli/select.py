"""``ase-raman select``: pick the snapshots worth a DFPT calculation.

Writes into the output folder one ``POSCAR-NNNN`` per pick (VASP, direct coordinates),
``selected.xyz`` with all picks (extxyz, ``source_frame`` in each comment line) and
``index.csv`` (``rank,frame,file,uncertainty_A3``). Compute them with DFPT, then read the
results back with ``ase_raman.io.read_reference`` (OUTCAR / vasprun.xml / ph.x).
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import UsageError
from ._common import add_frame_reading_options
from ._types import POSITIVE_INT

HELP = ("select the trajectory frames most worth a DFPT calculation (fps, uncertainty, mixed, "
        "variance)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trajectory", metavar="TRAJ", help="pool of candidate frames")
    parser.add_argument("--n", type=POSITIVE_INT, required=True, help="number of frames to select")
    parser.add_argument("--model", default=None, metavar="MODEL.npz",
                        help="model whose uncertainty guides the choice")
    parser.add_argument("--strategy", default=None,
                        choices=["fps", "uncertainty", "mixed", "variance"],
                        help="default: uncertainty with --model, else fps; variance: "
                             "batch-greedy posterior-variance reduction (lambda-soap model)")
    parser.add_argument("--known", nargs="+", default=[], metavar="FILE",
                        help="frames already labelled (e.g. the training set of earlier "
                             "rounds): picks keep away from them (fps) or count them as "
                             "learned (variance)")
    parser.add_argument("--index", default=None, metavar="START:STOP:STEP")
    parser.add_argument("--every", type=POSITIVE_INT, default=1, help="keep every K-th frame")
    parser.add_argument("--format", default=None, help="trajectory format")
    add_frame_reading_options(parser)
    parser.add_argument("-o", "--output", required=True, metavar="DIR")


def run(args: argparse.Namespace) -> int:
    import ase.io

    from ..io import iter_frames
    from ..models.registry import load_model
    from ..models.selection import select_frames
    from ._common import frame_reading_options, parse_index

    out = Path(args.output)
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"-o {out}: folder exists and is not empty; choose a new folder")
    model = load_model(args.model) if args.model else None
    strategy = args.strategy or ("uncertainty" if model is not None else "fps")
    reading = frame_reading_options(args)
    frames = list(iter_frames(args.trajectory, format=args.format,
                              index=parse_index(args.index), every=args.every, **reading))
    known = [atoms for path in args.known for atoms in iter_frames(path, **reading)]
    picked, uncertainty = select_frames(frames, args.n, strategy=strategy, model=model,
                                        known=known)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        rows = []
        for rank, i in enumerate(picked):
            atoms = frames[i].copy()
            atoms.calc = None
            atoms.info = {"source_frame": i}
            name = f"POSCAR-{rank:04d}"
            ase.io.write(tmp / name, atoms, format="vasp", direct=True, sort=True)
            ase.io.write(tmp / "selected.xyz", atoms, format="extxyz", append=rank > 0)
            rows.append({"rank": rank, "frame": i, "file": name,
                         "uncertainty_A3": "" if uncertainty is None else
                         f"{uncertainty[i]:.6g}"})
        with open(tmp / "index.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"selected {len(picked)} of {len(frames)} frames ({strategy}); written to {out}")
    return 0
