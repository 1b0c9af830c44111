"""``ase-raman predict``: alpha for every selected frame of a trajectory.

Frames are read and predicted in chunks, so the trajectory never sits in memory.
Output: an extxyz file with ``polarizability`` (9 numbers, row-major, Angstrom^3) in
each frame's comment line. The file appears only when every frame is done.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from pathlib import Path

from ase import Atoms

from ..errors import UsageError

HELP = "predict the polarizability of every selected frame of a trajectory"

#: Frames predicted together (one featomic batch pipeline call).
CHUNK_FRAMES = 64


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL.npz", help="model file from `ase-raman fit`")
    parser.add_argument("trajectory", metavar="TRAJ", help="trajectory in any format ASE reads")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="output file (.xyz/.extxyz)")
    parser.add_argument("--index", default=None, metavar="START:STOP:STEP",
                        help="frames to use (default: all)")
    parser.add_argument("--format", default=None, help="trajectory format (default: guessed)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


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


def _iter_input(path: str, index: slice, fmt: str | None) -> Iterator[Atoms]:
    import ase.io

    from ..errors import InputFileError
    from ._common import slice_to_ase

    if not Path(path).is_file():
        raise InputFileError(f"{path}: trajectory file not found")
    try:
        yield from ase.io.iread(path, index=slice_to_ase(index), format=fmt)
    except (ValueError, KeyError, IndexError, StopIteration) as exc:
        raise InputFileError(f"{path}: cannot read trajectory ({exc})") from None


def run(args: argparse.Namespace) -> int:
    import ase.io
    import numpy as np

    from ..atomic_write import atomic_output
    from ..models.registry import load_model
    from ._common import parse_index

    output = Path(args.output)
    if output.suffix not in (".xyz", ".extxyz"):
        raise UsageError(f"-o {output}: write predictions to an .xyz/.extxyz file")
    model = load_model(args.model)
    index = parse_index(args.index)
    n_done = 0
    with atomic_output(output) as tmp:
        for chunk in chunked(_iter_input(args.trajectory, index, args.format), CHUNK_FRAMES):
            alphas = model.predict(chunk)
            for atoms, alpha in zip(chunk, alphas, strict=True):
                atoms.calc = None
                atoms.info["polarizability"] = np.asarray(alpha).reshape(9)
            ase.io.write(tmp, chunk, format="extxyz", append=n_done > 0)
            n_done += len(chunk)
        if n_done == 0:
            raise UsageError(f"{args.trajectory}: no frame selected by --index {args.index}")
    if not args.quiet:
        print(f"predicted {n_done} frames; written to {output}")
    return 0
