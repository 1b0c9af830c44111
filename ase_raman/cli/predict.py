"""``ase-raman predict``: alpha for every selected frame of a trajectory.

Frames are streamed (:func:`ase_raman.io.iter_frames`) and predicted in chunks, so a
100,000-frame XDATCAR never sits in memory. Two outputs:

* ``OUT.xyz`` / ``OUT.extxyz``: every frame with ``polarizability`` (9 numbers,
  row-major, Angstrom^3) and, for models that give one, ``polarizability_uncertainty``
  (Angstrom^3) in its comment line;
* ``OUT.h5``: our H5MD store (:mod:`ase_raman.store`) with step, time, positions, cell
  and alpha. Its time axis needs the time between consecutive frames of the input:
  read from the run's files when they hold it (XDATCAR: POTIM x NBLOCK from an INCAR or
  OUTCAR beside it; i-PI output), else ``--dt-fs`` is required.

``--index START:STOP:STEP`` selects frames, ``--every K`` keeps every K-th of them.
The output file appears only when every frame is done.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from pathlib import Path

from ase import Atoms

from ..errors import UsageError
from ..parallel.cli import add_scheduler_argument, on_scheduler
from ._common import add_frame_reading_options

HELP = "predict the polarizability of every selected frame of a trajectory (.xyz or .h5)"

#: Frames predicted together (one featurisation pipeline call).
CHUNK_FRAMES = 64


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL.npz", help="model file from `ase-raman fit`")
    parser.add_argument("trajectory", metavar="TRAJ",
                        help="XDATCAR, vasprun.xml, extxyz, LAMMPS dump, i-PI xyz, ...")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="output file: .xyz/.extxyz or .h5 (H5MD store)")
    parser.add_argument("--index", default=None, metavar="START:STOP:STEP",
                        help="frames to use (default: all)")
    parser.add_argument("--every", type=int, default=1, metavar="K",
                        help="keep every K-th selected frame (default 1)")
    parser.add_argument("--dt-fs", type=float, default=None, metavar="DT",
                        help="time between consecutive frames of the input file, fs "
                             "(read from the run's files when they hold it)")
    parser.add_argument("--format", default=None, help="trajectory format (default: guessed)")
    add_frame_reading_options(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    add_scheduler_argument(parser)  # --scheduler (Dask): ase_raman.parallel.cli


def chunked(frames: Iterable[Atoms], size: int) -> Iterator[list[Atoms]]:
    """Group an iterable of frames into lists of at most ``size``."""
    chunk: list[Atoms] = []
    for atoms in frames:
        chunk.append(atoms)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _write_extxyz(model, frames: Iterable[Atoms], output: Path) -> int:
    import ase.io
    import numpy as np

    from ..atomic_write import atomic_output
    from ..models.uncertainty import (
        predict_frames_with_uncertainty,
        uncertainty_threshold,
        warn_if_extrapolating,
    )

    n_done = 0
    uncertainties: list[float] = []
    n_atoms: list[int] = []
    with atomic_output(output) as tmp:
        for chunk in chunked(frames, CHUNK_FRAMES):
            alphas, unc = predict_frames_with_uncertainty(model, chunk)
            for k, (atoms, alpha) in enumerate(zip(chunk, alphas, strict=True)):
                atoms.calc = None
                atoms.info["polarizability"] = np.asarray(alpha).reshape(9)
                if unc is not None:
                    atoms.info["polarizability_uncertainty"] = float(unc[k])
                    uncertainties.append(float(unc[k]))
                    n_atoms.append(len(atoms))
            ase.io.write(tmp, chunk, format="extxyz", append=n_done > 0)
            n_done += len(chunk)
        if n_done == 0:
            raise UsageError("no frame selected (check --index and --every)")
    if len(uncertainties) == n_done:
        warn_if_extrapolating(np.array(uncertainties),
                              uncertainty_threshold(model, np.array(n_atoms)),
                              source=f"{output} (frame positions)")
    return n_done


def run(args: argparse.Namespace) -> int:
    from ..io import frame_interval_fs, iter_frames
    from ..models.registry import load_model
    from ..store import predict_to_store
    from ._common import frame_reading_options, parse_index

    output = Path(args.output)
    if output.suffix not in (".xyz", ".extxyz", ".h5"):
        raise UsageError(f"-o {output}: write predictions to .xyz/.extxyz or .h5 (H5MD)")
    if args.every < 1:
        raise UsageError(f"--every must be a positive integer, got {args.every}")
    model = load_model(args.model)
    index = parse_index(args.index)
    reading = frame_reading_options(args)

    if output.suffix == ".h5":
        dt_file = args.dt_fs or frame_interval_fs(args.trajectory, format=args.format)
        if dt_file is None:
            raise UsageError(f"{args.trajectory}: the time between frames is not in the run's "
                             "files; pass --dt-fs (fs between consecutive frames of the file)")
        step = index.step or 1
        frames = iter_frames(args.trajectory, format=args.format, index=index, **reading)
        model, frames = on_scheduler(args, model, frames, every=args.every)
        n_done = predict_to_store(model, frames, output, dt_fs=dt_file * step,
                                  every=args.every, engine="ase-raman predict")
    else:
        frames = iter_frames(args.trajectory, format=args.format, index=index,
                             every=args.every, **reading)
        model, frames = on_scheduler(args, model, frames)  # Dask when --scheduler
        n_done = _write_extxyz(model, frames, output)
    if not args.quiet:
        print(f"predicted {n_done} frames; written to {output}")
    return 0
