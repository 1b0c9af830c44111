"""Streaming MD trajectory readers: one ``ase.Atoms`` at a time, never the whole file.

:func:`iter_frames` dispatches on the format:

* ``"vasp-xdatcar"``: our line-by-line parser (:mod:`.xdatcar`), constant or variable cell;
* ``"ipi-xyz"``: i-PI xyz output with its ``{unit}`` tags (:mod:`.ipi`);
* ``"lammps-dump-text"``: :func:`ase_raman.engines.lammps.iter_lammps_dump` (unwrapped
  coordinates when the file has ``xu``/``xsu`` or image flags; velocities; triclinic
  boxes); dumps without an ``element`` column need ``type_map`` (a dump with only a
  ``mass`` column goes through ASE's reader, which maps masses to elements);
* ``"extxyz"``, ``"vasp-xml"`` and any other ASE format with an iterating reader:
  :func:`ase.io.iread`.

A trajectory cut inside a frame yields every complete frame, then warns
(:class:`UserWarning`) naming the frame where it stopped. Positions in Angstrom.
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import ase.io
from ase import Atoms
from ase.io.formats import ioformats

from ..errors import InputFileError, UsageError
from ._common import (
    Index,
    ase_filetype,
    check_file,
    checked_cells,
    decompressed,
    one_line,
    open_text,
    parse_index,
    plain_name,
)
from .formats import TRAJECTORY_FORMATS
from .lammps import (  # noqa: F401 (public here as before)
    TYPE_MAP_HINT,
    TypeMap,
    _lammps_columns,
    _specorder,
    check_lammps_columns,
    iter_lammps_dump,
)

__all__ = ["detect_trajectory_format", "frame_interval_fs", "iter_frames"]



def detect_trajectory_format(path: str | os.PathLike) -> str:
    """Guess the trajectory format of ``path`` from its name, then from its first lines."""
    p = check_file(path)
    name = plain_name(p)
    if "vasprun" in name and name.endswith(".xml"):
        return "vasp-xml"
    with open_text(p) as fh:
        head = [fh.readline() for _ in range(2)]
    for fmt in TRAJECTORY_FORMATS.values():
        if fmt.sniff(name, head):
            return fmt.name
    if name.endswith((".xyz", ".extxyz")):
        return "extxyz"
    return ase_filetype(p, "cannot tell the trajectory format; pass format= (vasp-xdatcar, "
                        "ipi-xyz, extxyz, vasp-xml, lammps-dump-text or another ASE format)")


def drop_atoms(frames: Iterator[Atoms], labels: frozenset[str]) -> Iterator[Atoms]:
    """The frames without the atoms whose symbol is in ``labels``."""
    for atoms in frames:
        keep = [s not in labels for s in atoms.get_chemical_symbols()]
        yield atoms if all(keep) else atoms[keep]


def _ase_frames(p: Path, fmt: str, type_map: TypeMap | None) -> Iterator[Atoms]:
    kwargs = {}
    if fmt == "lammps-dump-text":
        cols = _lammps_columns(p)
        check_lammps_columns(p, cols, type_map)
        if type_map is not None:
            kwargs["specorder"] = _specorder(type_map)
    with decompressed(p) as plain:
        yield from _checked_frames(p, ase.io.iread(plain, index=":", format=fmt, **kwargs), fmt)


def _checked_frames(p: Path, it: Iterator[Atoms], fmt: str) -> Iterator[Atoms]:
    """The frames of an ASE reader, with one-line errors; a broken frame after good ones
    ends the stream with a warning."""
    n_done = 0
    while True:
        try:
            atoms = next(it)
        except StopIteration:
            if n_done == 0:
                raise InputFileError(
                    f"{p}: ASE's {fmt} reader finds no frames in this file; check the format"
                ) from None
            return
        except Exception as exc:  # whatever ASE raises on a broken frame
            if n_done == 0:
                raise InputFileError(
                    f"{p}: cannot be read as {fmt} ({type(exc).__name__}: {one_line(exc)})"
                ) from exc
            warnings.warn(
                f"{p}: frame {n_done} cannot be read ({type(exc).__name__}: {one_line(exc)}):"
                f" file truncated or damaged; stopped after {n_done} complete frame(s)",
                UserWarning,
                stacklevel=3,
            )
            return
        n_done += 1
        yield atoms


def iter_frames(
    path: str | os.PathLike,
    format: str | None = None,
    index: Index = slice(None),
    every: int = 1,
    type_map: TypeMap | None = None,
    drop_labels: Sequence[str] = (),
    lammps_units: str = "metal",
) -> Iterator[Atoms]:
    """Yield the frames of an MD trajectory one at a time, without loading the file.

    Parameters
    ----------
    path:
        XDATCAR, i-PI xyz, extxyz, vasprun.xml, LAMMPS text dump or another ASE format.
    format:
        ``"vasp-xdatcar"``, ``"ipi-xyz"``, ``"extxyz"``, ``"vasp-xml"``,
        ``"lammps-dump-text"`` or an ASE format name; guessed when None.
    index:
        Frames to take: a non-negative int, a slice with non-negative bounds, or a string
        such as ``"100:"`` (negative positions would need the whole file first).
    every:
        Keep every ``every``-th frame of the selection (stride, >= 1).
    type_map:
        LAMMPS type -> element (``{1: "O", 2: "H"}`` or ``["O", "H"]``).
    drop_labels:
        Atom labels to leave out of every frame, e.g. ``["L"]`` for the cavity-photon
        pseudo-atoms of i-PI cavity MD (labels that are not chemical elements are refused
        otherwise, naming them).
    lammps_units:
        LAMMPS ``units`` style of a dump (metal, real, si, cgs, electron, micro, nano).
    """
    p = check_file(path)
    if not isinstance(every, int) or every < 1:
        raise UsageError(f"every must be a positive integer, got {every!r}")
    idx = parse_index(index)
    if isinstance(idx, int):
        if idx < 0:
            raise UsageError(f"index {idx}: streaming readers need a non-negative frame number")
        sel = slice(idx, idx + 1)
    else:
        sel = idx
    if any(v is not None and v < 0 for v in (sel.start, sel.stop, sel.step)):
        raise UsageError(
            f"index {index!r}: streaming readers need non-negative start/stop/step;"
            " read the frames into a list first to index from the end"
        )
    fmt = detect_trajectory_format(p) if format is None else format
    reader = TRAJECTORY_FORMATS.get(fmt)
    if reader is not None and reader.handles(p):
        frames: Iterator[Atoms] = reader.iter_frames(
            p, type_map=type_map, drop_labels=drop_labels, lammps_units=lammps_units)
    elif fmt in ioformats:
        frames = _ase_frames(p, fmt, type_map)
    else:
        raise UsageError(
            f"{p}: unknown trajectory format {fmt!r}; use vasp-xdatcar, ipi-xyz, extxyz,"
            " vasp-xml, lammps-dump-text or an ASE format name"
        )
    if drop_labels and not (reader is not None and reader.drops_labels):
        frames = drop_atoms(frames, frozenset(drop_labels))
    frames = checked_cells(frames, p)
    step = (sel.step or 1) * every
    yield from itertools.islice(frames, sel.start or 0, sel.stop, step)


def frame_interval_fs(path: str | os.PathLike, format: str | None = None) -> float | None:
    """Time between consecutive stored frames, in fs, when the run's files record it.

    * XDATCAR: POTIM x NBLOCK from an ``INCAR`` (or else ``OUTCAR``) in the same folder;
    * i-PI xyz: step difference of the first two frames x ``<timestep>`` of the
      ``input.xml`` beside it;
    * anything else, or when those files are absent: None (ask the user for it).
    """
    p = check_file(path)
    fmt = detect_trajectory_format(p) if format is None else format
    reader = TRAJECTORY_FORMATS.get(fmt)
    return None if reader is None else reader.frame_interval(p)
