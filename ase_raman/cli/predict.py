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

Resumable (``.h5``): frames are written to ``OUT.h5.part`` (beside ``OUT.h5``, renamed
onto it at the end). When a run is killed or interrupted, running the same command again
resumes after the frames already in ``OUT.h5.part``; a partial file left by another input
or other options is refused (one line) and ``--restart`` removes it and starts clean.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from pathlib import Path

from ase import Atoms

from ..errors import UsageError
from ..parallel.cli import add_scheduler_argument, on_scheduler
from ._common import add_frame_reading_options
from ._types import POSITIVE, POSITIVE_INT

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
    parser.add_argument("--every", type=POSITIVE_INT, default=1, metavar="K",
                        help="keep every K-th selected frame (default 1)")
    parser.add_argument("--dt-fs", type=POSITIVE, default=None, metavar="DT",
                        help="time between consecutive frames of the input file, fs "
                             "(read from the run's files when they hold it)")
    parser.add_argument("--format", default=None, help="trajectory format (default: guessed)")
    add_frame_reading_options(parser)
    parser.add_argument("--restart", action="store_true",
                        help="(.h5) discard OUT.h5.part left by an interrupted run and start "
                        "from the first frame (default: resume after its frames)")
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
            alphas, unc = predict_frames_with_uncertainty(
                model, chunk, lambda k, n0=n_done: f"selected frame {n0 + k}")
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
    from ..io import iter_frames
    from ..models.registry import load_model
    from ..recording import predict_file_to_store
    from ._common import frame_reading_options, options_named, parse_index

    output = Path(args.output)
    if output.suffix not in (".xyz", ".extxyz", ".h5"):
        raise UsageError(f"-o {output}: write predictions to .xyz/.extxyz or .h5 (H5MD)")
    if args.every < 1:
        raise UsageError(f"--every must be a positive integer, got {args.every}")
    model = load_model(args.model)
    index = parse_index(args.index)
    reading = frame_reading_options(args)

    if output.suffix == ".h5":
        with options_named({"dt_fs": "--dt-fs", "restart=True": "--restart"}):
            n_done = predict_file_to_store(
                model, args.trajectory, output, index=args.index, every=args.every,
                dt_fs=args.dt_fs, format=args.format, type_map=args.type_map,
                drop_labels=reading["drop_labels"], lammps_units=reading["lammps_units"],
                restart=args.restart, quiet=args.quiet,
                distribute=lambda m, f: on_scheduler(args, m, f, every=args.every))
    else:
        frames = iter_frames(args.trajectory, format=args.format, index=index,
                             every=args.every, **reading)
        model, frames = on_scheduler(args, model, frames)  # Dask when --scheduler
        n_done = _write_extxyz(model, frames, output)
    if not args.quiet:
        print(f"predicted {n_done} frames; written to {output}")
    return 0
