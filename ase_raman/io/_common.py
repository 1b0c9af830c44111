"""Helpers shared by the reference-data readers: file checks, tensor attachment, indexing.

Every reader returns ``ase.Atoms`` frames carrying, in ``atoms.info``:

* ``"polarizability"``: symmetrised 3x3 polarizability in Angstrom^3;
* ``"polarizability_asymmetry"``: relative asymmetry ``|A - A^T|_F / (2 |A|_F)`` of the
  raw (unsymmetrised) polarizability, a float (see :func:`ase_raman.tensors.checked_symmetric`);
* ``"dielectric_tensor"``: symmetrised 3x3 dielectric tensor (dimensionless), where the
  source has one;
* ``"source"``: ``"<path>"`` or ``"<path>:<line>"`` where the tensor was read.

Compressed files (gzip, bzip2, xz) are read transparently: :func:`open_text` recognises
them by their first bytes, :func:`plain_name` drops the ``.gz``/``.bz2``/``.xz`` suffix
before a format is guessed from the name.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from ase import Atoms
from ase.io.formats import string2index

from ..errors import InputFileError, UsageError
from ..finite import check_periodic_cell
from ..tensors import checked_symmetric, epsilon_to_alpha

T = TypeVar("T")

#: What ``index`` may be: an int, a slice, or an ASE index string (":", "-1", "::10").
Index = int | slice | str

#: Keys under which a frame may carry a dielectric tensor, in order of preference.
EPSILON_KEYS = ("dielectric_tensor", "epsilon")


#: Magic bytes -> opener of the compressed formats read transparently.
_COMPRESSED = ((b"\x1f\x8b", gzip.open), (b"BZh", bz2.open), (b"\xfd7zXZ\x00", lzma.open))

#: File-name suffixes of those formats (dropped by :func:`plain_name`).
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz")


def is_compressed(path: str | os.PathLike) -> bool:
    """True when ``path`` starts with the magic bytes of gzip, bzip2 or xz."""
    with open(path, "rb") as fh:
        head = fh.read(6)
    return any(head.startswith(magic) for magic, _ in _COMPRESSED)


def open_text(path: str | os.PathLike) -> io.TextIOBase:
    """Open ``path`` for reading text (undecodable bytes replaced), decompressing gzip,
    bzip2 and xz files on the fly (recognised by their first bytes, not their name)."""
    with open(path, "rb") as fh:
        head = fh.read(6)
    for magic, opener in _COMPRESSED:
        if head.startswith(magic):
            return opener(path, "rt", errors="replace")
    return open(path, errors="replace")


@contextlib.contextmanager
def decompressed(path: str | os.PathLike) -> Iterator[Path]:
    """``path`` itself, or for a gzip/bzip2/xz file a decompressed copy in a temporary
    folder (same name without the compression suffix), removed on exit: for readers that
    need a plain file (ASE's OUTCAR parser asks its file object for a name)."""
    p = Path(path)
    if not is_compressed(p):
        yield p
        return
    with tempfile.TemporaryDirectory(prefix="ase-raman-") as folder:
        name = p.name
        for suffix in COMPRESSION_SUFFIXES:
            name = name.removesuffix(suffix)
        plain = Path(folder) / name
        with open_binary(p) as fin, open(plain, "wb") as fout:
            shutil.copyfileobj(fin, fout)
        yield plain


def open_binary(path: str | os.PathLike) -> io.BufferedIOBase:
    """Open ``path`` for reading bytes, decompressing gzip, bzip2 and xz on the fly."""
    with open(path, "rb") as fh:
        head = fh.read(6)
    for magic, opener in _COMPRESSED:
        if head.startswith(magic):
            return opener(path, "rb")
    return open(path, "rb")


def plain_name(path: str | os.PathLike) -> str:
    """The lower-case file name of ``path`` without a compression suffix
    (``OUTCAR.gz`` -> ``outcar``), for guessing a format from the name."""
    name = Path(path).name.lower()
    for suffix in COMPRESSION_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def one_line(text: object) -> str:
    """Collapse an exception text to a single line (messages must fit one line)."""
    return " ".join(str(text).split())


def check_file(path: str | os.PathLike) -> Path:
    """Return ``path`` as a Path, or raise :class:`InputFileError` if it is not a readable file."""
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"{p}: file not found; check the path")
    if not p.is_file():
        raise InputFileError(f"{p}: is not a regular file (a folder?); pass the file itself")
    if p.stat().st_size == 0:
        raise InputFileError(f"{p}: file is empty; was the calculation run to the end?")
    return p


def ase_filetype(path: Path, unknown: str) -> str:
    """ASE's own format name for ``path`` (:func:`ase.io.formats.filetype`, no guessing),
    the last resort of the format detectors; :class:`UsageError` ``"<path>: <unknown>"``
    when ASE does not know it either."""
    try:
        from ase.io.formats import filetype

        return filetype(str(path), guess=False)
    except Exception:
        raise UsageError(f"{path}: {unknown}") from None


def parse_index(index: Index) -> int | slice:
    """Turn an ASE-style index (int, slice or string like ``":"``, ``"-1"``, ``"::2"``) into
    an int or a slice."""
    if isinstance(index, (int, np.integer)):
        return int(index)
    if isinstance(index, slice):
        return index
    if isinstance(index, str):
        try:
            if index.count(":") > 2:
                raise ValueError(index)
            value = string2index(index)
            if not isinstance(value, (int, slice)):
                raise ValueError(index)
            return value
        except (ValueError, TypeError):
            raise UsageError(
                f"index {index!r} is not understood; use e.g. ':', '-1', '0:100' or '::10'"
            ) from None
    raise UsageError(f"index must be an int, a slice or a string, got {type(index).__name__}")


def index_slice(text: str | None) -> slice:
    """``START:STOP:STEP`` (any part optional) or a single integer -> slice; ``STEP`` > 0."""
    if text is None or text in ("", ":"):
        return slice(None)
    try:
        index = parse_index(text.strip())
    except UsageError:
        raise UsageError(f"index {text!r}: expected START:STOP:STEP, e.g. 100::10") from None
    if isinstance(index, int):
        return slice(index, index + 1 if index != -1 else None)
    if index.step is not None and index.step <= 0:
        raise UsageError(f"index {text!r}: STEP must be a positive integer")
    return index


def select(items: Sequence[T], index: Index, path: Path) -> list[T]:
    """Apply ``index`` to the frames of ``path``; always return a list."""
    idx = parse_index(index)
    if isinstance(idx, slice):
        return list(items[idx])
    try:
        return [items[idx]]
    except IndexError:
        raise UsageError(
            f"{path}: index {idx} is out of range, the file holds {len(items)} frame(s)"
        ) from None


def attach_alpha(atoms: Atoms, alpha_raw: np.ndarray, where: str) -> Atoms:
    """Store a raw polarizability (Angstrom^3) symmetrised, with its asymmetry, in ``atoms.info``.

    Raises :class:`ase_raman.errors.TensorError` (naming ``where``) when the tensor is far
    from symmetric (see :func:`ase_raman.tensors.checked_symmetric`).
    """
    sym, asym = checked_symmetric(alpha_raw, where)
    atoms.info["polarizability"] = sym
    atoms.info["polarizability_asymmetry"] = asym
    return atoms


def attach_epsilon(atoms: Atoms, eps_raw: np.ndarray, where: str) -> Atoms:
    """Store a dielectric tensor and the polarizability ``V (eps - 1) / (4 pi)`` it implies.

    ``V`` is the cell volume of ``atoms`` in Angstrom^3, so the structure must be the one
    the tensor was computed for. The asymmetry stored is that of the raw polarizability.
    """
    volume = abs(float(np.linalg.det(atoms.cell.array)))
    if volume <= 0.0:
        raise InputFileError(f"{where}: the structure has no cell volume, cannot convert eps")
    eps_sym, _ = checked_symmetric(eps_raw, where)
    atoms.info["dielectric_tensor"] = eps_sym
    attach_alpha(atoms, epsilon_to_alpha(np.asarray(eps_raw, dtype=float), volume), where)
    atoms.info["source"] = where
    return atoms


@dataclass(frozen=True)
class TrajectoryFormat:
    """What a trajectory format module registers in :data:`ase_raman.io.formats.TRAJECTORY_FORMATS`.

    Every format module exposes the same four things: ``sniff`` (does a file look like
    this format? from its plain name and first two lines), ``iter_frames`` (stream the
    frames: ``iter_frames(path, type_map=..., drop_labels=..., lammps_units=...)``,
    options it does not use ignored), ``frame_interval`` (fs between stored frames when
    the run's files say it, else None) and ``handles`` (whether this reader takes a file
    of its format; False hands it to ASE's reader).
    """

    name: str
    description: str
    sniff: Callable[[str, list[str]], bool]
    iter_frames: Callable[..., Iterator[Atoms]]
    frame_interval: Callable[[Path], float | None] = lambda path: None
    handles: Callable[[Path], bool] = lambda path: True
    drops_labels: bool = False


@dataclass(frozen=True)
class ReferenceFormat:
    """What a reference-data module registers in :data:`ase_raman.io.formats.REFERENCE_FORMATS`.

    ``by_name`` recognises a file from its plain (lower-case, decompressed) name,
    ``by_content`` from its first 4096 characters, and ``read_reference(path, index,
    alpha_key, alpha_unit)`` returns frames with ``info["polarizability"]`` (Angstrom^3).
    """

    name: str
    description: str
    by_name: Callable[[str], bool]
    by_content: Callable[[str], bool]
    read_reference: Callable[..., list[Atoms]]


def checked_cells(frames: Iterable[Atoms], where: Path | str) -> Iterator[Atoms]:
    """The frames of ``where`` with their periodic cells checked, one at a time.

    * A frame with periodic boundary flags and an all-zero cell is an isolated molecule
      (extxyz writers fill ``Lattice`` with zeros for molecules, and ASE turns a
      ``Lattice`` into ``pbc=True``): periodic boundaries are switched off, with one
      warning per file.
    * A periodic axis whose cell vector is non-finite, zero, or in the plane (line) of
      the other periodic vectors cannot be a crystal: :class:`InputFileError` naming the
      frame.
    """
    warned = False
    for i, atoms in enumerate(frames):
        pbc = np.asarray(atoms.pbc, dtype=bool)
        if pbc.any():
            check_periodic_cell(atoms, f"{where}: frame {i}")
            cell = np.asarray(atoms.cell.array, dtype=float)
            periodic = cell[pbc]
            if not cell.any():
                atoms.pbc = False
                if not warned:
                    warnings.warn(
                        f"{where}: periodic boundary flags with an all-zero cell (e.g. an "
                        "extxyz Lattice of zeros): read as isolated molecules (pbc off)",
                        UserWarning, stacklevel=2)
                    warned = True
            else:
                scale = float(np.abs(periodic).max())
                rank = np.linalg.matrix_rank(periodic, tol=1e-8 * scale)
                if rank < len(periodic):
                    axes = "".join(a for a, on in zip("abc", pbc, strict=True) if on)
                    lengths = ", ".join(f"{np.linalg.norm(v):.4g}" for v in periodic)
                    raise InputFileError(
                        f"{where}: frame {i}: the cell is singular along its periodic axes "
                        f"{axes} (vector lengths {lengths} Angstrom, zero volume): give the "
                        "full cell, or switch periodic boundaries off for an isolated "
                        "molecule")
        yield atoms
