"""Streaming VASP XDATCAR reader (constant and variable cell) and its frame interval.

The file is read line by line; one frame (``natoms`` coordinate lines) is in memory at a
time. Layout (VASP 5)::

    comment line            <- ignored (argyrodite files list species in another order!)
    scale                   <- > 0: factor on the cell; < 0: -(target volume) in A^3
    a1 / a2 / a3            <- cell rows, Angstrom (times scale)
    species line            <- element symbols: the only source of species we trust
    counts line
    Direct configuration=  1
    natoms lines of fractional coordinates
    Direct configuration=  2
    ...

A variable-cell XDATCAR (NPT, ISIF = 3) repeats the 7 header lines before every
``Direct configuration=`` line; the reader takes each new cell as it comes.
``Cartesian configuration=`` frames hold positions in Angstrom (times scale).

A file cut inside a frame yields every complete frame and then emits a
:class:`UserWarning` naming the incomplete frame; damage in the header raises
:class:`ase_raman.errors.InputFileError`.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from ..errors import InputFileError
from ._common import TrajectoryFormat, check_file, open_text

_CONFIG_RE = re.compile(r"^\s*(direct|cartesian|konfig)", re.IGNORECASE)


class _Header:
    """Cell (Angstrom), species and atom count of an XDATCAR block."""

    def __init__(self, cell: np.ndarray, symbols: list[str]) -> None:
        self.cell = cell
        self.symbols = symbols
        self.natoms = len(symbols)


def _read_header(fh: TextIO, first: str, p: Path, lineno: int) -> tuple[_Header, int]:
    """Parse the 7-line header whose comment line ``first`` was already read."""
    lines = []
    for _ in range(6):
        line = fh.readline()
        if not line:
            raise InputFileError(f"{p}:{lineno}: file ends inside an XDATCAR header (truncated)")
        lines.append(line)
    where = f"{p}:{lineno}"
    try:
        scale = float(lines[0].split()[0])
        cell = np.array([[float(x) for x in ln.split()[:3]] for ln in lines[1:4]])
    except (ValueError, IndexError):
        raise InputFileError(f"{where}: bad scale or cell lines in the XDATCAR header") from None
    if cell.shape != (3, 3):
        raise InputFileError(f"{where}: the cell needs 3 rows of 3 numbers")
    if scale < 0:
        scale = (-scale / abs(np.linalg.det(cell))) ** (1.0 / 3.0)
    species = lines[4].split()
    counts_text = lines[5].split()
    if species and all(s.isdigit() for s in species):
        raise InputFileError(
            f"{where}: VASP 4 XDATCAR without an element line; insert the element symbols"
            " (as in the POSCAR) as line 6"
        )
    try:
        counts = [int(c) for c in counts_text]
    except ValueError:
        raise InputFileError(f"{where}: bad atom counts line {lines[5].strip()!r}") from None
    elems = [re.split(r"[_/.\d]", s)[0] for s in species]
    if len(elems) != len(counts) or any(e not in chemical_symbols[1:] for e in elems):
        raise InputFileError(
            f"{where}: element line {lines[4].strip()!r} does not match counts"
            f" {lines[5].strip()!r}"
        )
    symbols = [e for e, n in zip(elems, counts, strict=True) for _ in range(n)]
    return _Header(cell * scale, symbols), lineno + 6


def _coordinates(rows: list[str]) -> np.ndarray | None:
    """(n, 3) floats from n coordinate lines, or None if any line is missing or garbled."""
    if not rows or not rows[-1]:
        return None
    try:
        arr = np.array("".join(rows).split(), dtype=float)
        return arr.reshape(len(rows), -1)[:, :3].copy()
    except ValueError:
        return None


def _complete_rows(rows: list[str]) -> int:
    """How many leading lines hold at least 3 numbers (for the truncation message)."""
    for i, row in enumerate(rows):
        try:
            if len([float(x) for x in row.split()[:3]]) < 3:
                return i
        except ValueError:
            return i
    return len(rows)


def iter_xdatcar(path: str | os.PathLike) -> Iterator[Atoms]:
    """Yield the frames of an XDATCAR one at a time (positions in Angstrom, pbc=True).

    ``atoms.info["configuration"]`` holds the number after ``Direct configuration=``.
    """
    p = check_file(path)
    with open_text(p) as fh:
        first = fh.readline()
        header, lineno = _read_header(fh, first, p, 1)
        n_done = 0
        while True:
            line = fh.readline()
            if not line:
                if n_done == 0:
                    raise InputFileError(f"{p}: XDATCAR has a header but no frames")
                return
            lineno += 1
            if not line.strip():
                continue
            if not _CONFIG_RE.match(line):  # a new header: variable-cell file
                header, lineno = _read_header(fh, line, p, lineno)
                continue
            cartesian = line.lstrip().lower().startswith("cartesian")
            nums = re.findall(r"\d+", line)
            config = int(nums[-1]) if nums else n_done + 1
            start = lineno
            rows = [fh.readline() for _ in range(header.natoms)]
            coords = _coordinates(rows)
            if coords is None:
                got = _complete_rows(rows)
                warnings.warn(
                    f"{p}: frame {n_done} ('{line.strip()}' at line {start}) is"
                    f" incomplete ({got} of {header.natoms} atoms): file truncated;"
                    f" stopped after {n_done} complete frame(s)",
                    UserWarning,
                    stacklevel=2,
                )
                return
            lineno += header.natoms
            if cartesian:
                atoms = Atoms(header.symbols, positions=coords, cell=header.cell, pbc=True)
            else:
                atoms = Atoms(header.symbols, scaled_positions=coords, cell=header.cell,
                              pbc=True)
            atoms.info["configuration"] = config
            n_done += 1
            yield atoms


def _incar_values(text: str) -> dict[str, str]:
    """``TAG = value`` pairs of an INCAR (comments after ! or #, several tags per line with ;)."""
    out = {}
    for raw in text.splitlines():
        line = re.split(r"[!#]", raw)[0]
        for part in line.split(";"):
            if "=" in part:
                key, _, value = part.partition("=")
                if value.split():
                    out[key.strip().upper()] = value.split()[0]
    return out


def _outcar_values(path: Path) -> dict[str, str]:
    """POTIM and NBLOCK from the parameter echo at the top of an OUTCAR (streamed)."""
    out: dict[str, str] = {}
    pat = re.compile(r"^\s*(POTIM|NBLOCK)\s*=\s*([-+0-9.eE]+)")
    with open_text(path) as fh:
        for n, line in enumerate(fh):
            m = pat.match(line)
            if m:
                out.setdefault(m.group(1), m.group(2))
            if len(out) == 2 or n > 20000:
                break
    return out


def xdatcar_interval_fs(path: str | os.PathLike) -> float | None:
    """POTIM x NBLOCK (fs) from an ``INCAR`` or ``OUTCAR`` in the XDATCAR's folder, else None.

    NBLOCK defaults to 1 (VASP's default) when POTIM is found without it.
    """
    folder = Path(path).resolve().parent
    for name, reader in (("INCAR", lambda f: _incar_values(f.read_text(errors="replace"))),
                         ("OUTCAR", _outcar_values)):
        cand = folder / name
        if cand.is_file():
            vals = reader(cand)
            if "POTIM" in vals:
                try:
                    potim = float(vals["POTIM"])
                    nblock = int(float(vals.get("NBLOCK", "1")))
                except ValueError:
                    continue
                return potim * nblock
    return None


def sniff(name: str, head: list[str]) -> bool:
    """An XDATCAR is recognised by its name."""
    return "xdatcar" in name


FORMAT = TrajectoryFormat(
    "vasp-xdatcar", "VASP XDATCAR (constant or variable cell)", sniff,
    iter_frames=lambda path, **options: iter_xdatcar(path),
    frame_interval=xdatcar_interval_fs)
