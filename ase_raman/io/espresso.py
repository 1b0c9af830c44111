"""Quantum ESPRESSO ph.x output: eps_inf and the structure from the output header.

ASE has no ph.x reader, so this module parses what it needs:

* the structure from the first header: ``lattice parameter (alat) = ... a.u.`` (bohr),
  the ``crystal axes: (cart. coord. in units of alat)`` rows ``a(1..3)`` (of the block
  printed with the most decimals; the cell is then scaled to the printed
  ``unit-cell volume``, which has 7 digits), and the first
  ``site n. atom ... positions (alat units)`` table (species label and ``tau`` in alat
  units). Species labels such as ``Fe1`` or ``O_up`` are reduced to the element symbol.
* eps_inf from the **last** ``Dielectric constant in cartesian axis`` block. ph.x prints
  it more than once; with ``lraman`` the first block is an early evaluation that differs
  in the 4th digit (AlAs example05: 8.814742885 then 8.811591229), and the last one is
  the value written to the dynamical-matrix file.

A file without the closing ``JOB DONE.`` line is refused as truncated.

Units: lengths converted from bohr to Angstrom (``ase.units.Bohr``); polarizability
``alpha = V (eps - 1) / (4 pi)`` in Angstrom^3. Note: for a molecule in a box ph.x
itself prints a Clausius-Mossotti ``Polarizability`` (``3V/(4 pi) (eps-1)/(eps+2)``), about
2 % below this extensive, periodic-cell definition for CH4 in a 15 bohr box.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols
from ase.units import Bohr

from ..errors import InputFileError, MissingDataError
from ._common import Index, ReferenceFormat, attach_epsilon, check_file, open_text, select

EPS_HEADER = "Dielectric constant in cartesian axis"
_ALAT_RE = re.compile(r"lattice parameter \(alat\)\s*=\s*([-+0-9.eEdD]+)\s*a\.u\.")
_AXIS_RE = re.compile(r"a\((\d)\)\s*=\s*\(\s*(\S+)\s+(\S+)\s+(\S+)\s*\)")
_TAU_RE = re.compile(
    r"^\s*\d+\s+(\S+)\s+(?:[-+0-9.eE]+\s+)?tau\(\s*\d+\)\s*=\s*\(\s*(\S+)\s+(\S+)\s+(\S+)\s*\)"
)
_VOLUME_RE = re.compile(r"unit-cell volume\s*=\s*([0-9.]+)\s*\(a\.u\.\)\^3")
_ROW_RE = re.compile(r"^\s*\(\s*(\S+)\s+(\S+)\s+(\S+)\s*\)\s*$")


def _decimals(number: str) -> int:
    """Digits after the decimal point of a printed number (``0.8660`` -> 4)."""
    return len(number.partition(".")[2].rstrip())


def _match_volume(cell: np.ndarray, volume_A3: float) -> np.ndarray:
    """``cell`` scaled isotropically to the printed ``unit-cell volume`` (7 significant
    digits) when they differ only by the rounding of the printed axes (< 1e-3 relative):
    4-decimal axes (``0.8660`` for sqrt(3)/2) put the volume off by ~3e-5 otherwise."""
    current = abs(float(np.linalg.det(cell)))
    if current > 0 and abs(volume_A3 / current - 1.0) < 1e-3:
        return cell * (volume_A3 / current) ** (1.0 / 3.0)
    return cell


def _element(label: str, where: str) -> str:
    sym = re.split(r"[_\d.\-]", label)[0]
    sym = sym[:1].upper() + sym[1:].lower()
    if sym not in chemical_symbols[1:]:
        # labels like "Alx": try the first one or two letters
        for cand in (sym[:2], sym[:1]):
            if cand in chemical_symbols[1:]:
                return cand
        raise InputFileError(f"{where}: species label {label!r} is not an element symbol")
    return sym


def _axes_block(lines: list[str], i: int, where: Path) -> tuple[np.ndarray, int]:
    """The crystal axes (alat units) after the header at line ``i``, and their least
    number of decimals (the most precise block wins)."""
    rows = [_AXIS_RE.search(lines[j]) for j in range(i + 1, min(i + 4, len(lines)))]
    if len(rows) < 3 or not all(rows):
        raise InputFileError(f"{where}:{i + 1}: crystal axes block is incomplete")
    digits = min(_decimals(x) for r in rows for x in r.groups()[1:])  # type: ignore[union-attr]
    return np.array([[float(x) for x in r.groups()[1:]] for r in rows]), digits  # type: ignore[union-attr]


def _positions_block(lines: list[str], i: int, where: Path
                     ) -> tuple[list[str], list[list[float]], int]:
    """Species and positions (alat units) listed after line ``i``; the last line read."""
    species, tau = [], []
    j = i + 1
    while j < len(lines) and (m := _TAU_RE.match(lines[j])):
        species.append(_element(m.group(1), f"{where}:{j + 1}"))
        tau.append([float(x) for x in m.groups()[1:]])
        j += 1
    return species, tau, j - 1


def _epsilon_block(lines: list[str], i: int, where: Path) -> tuple[np.ndarray, int]:
    """The 3x3 dielectric tensor after the header at line ``i``; the last line read."""
    rows = []
    j = i + 1
    while j < len(lines) and len(rows) < 3:
        if lines[j].strip():
            m = _ROW_RE.match(lines[j])
            if m is None:
                break
            rows.append([float(x) for x in m.groups()])
        j += 1
    if len(rows) < 3:
        raise InputFileError(
            f"{where}: dielectric block of line {i + 1} is incomplete (truncated file?);"
            " use the output of a finished ph.x run"
        )
    return np.array(rows), j - 1


def read_ph_out(path: str | os.PathLike, index: Index = ":") -> list[Atoms]:
    """One frame (eps_inf, alpha in Angstrom^3, structure from the header) from ph.x output."""
    p = check_file(path)
    with open_text(p) as fh:
        lines = fh.read().splitlines()
    if not any("Program PHONON" in ln for ln in lines[:50]):
        raise InputFileError(f"{p}: not a ph.x output (no 'Program PHONON' line at the top)")

    alat = axes = volume = None
    axes_digits = 0
    species: list[str] = []
    tau: list[list[float]] = []
    eps_blocks: list[tuple[int, np.ndarray]] = []
    done = False
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        if alat is None and (m := _ALAT_RE.search(line)):
            alat = float(m.group(1).replace("d", "e").replace("D", "e"))
        elif volume is None and (m := _VOLUME_RE.search(line)):
            volume = float(m.group(1))
        elif "crystal axes: (cart. coord. in units of alat)" in line:
            block, digits = _axes_block(lines, i, p)
            if axes is None or digits > axes_digits:  # the most precise block
                axes, axes_digits = block, digits
            i += 3
        elif not species and "site n." in line and "positions (alat units)" in line:
            species, tau, i = _positions_block(lines, i, p)
        elif EPS_HEADER in line:
            eps, last = _epsilon_block(lines, i, p)
            eps_blocks.append((i + 1, eps))
            i = last
        elif line.strip() == "JOB DONE.":
            done = True
        i += 1

    if not eps_blocks:
        raise MissingDataError(
            f"{p}: no '{EPS_HEADER}' block; run ph.x at q = Gamma with epsil = .true."
            " (or lraman = .true.) to get eps_inf"
        )
    if not done:
        raise InputFileError(
            f"{p}: no 'JOB DONE.' line: the ph.x run was cut short or the file is truncated;"
            " use the output of a finished run"
        )
    if alat is None or axes is None or not species:
        raise MissingDataError(
            f"{p}: header lacks the lattice parameter, crystal axes or atomic positions;"
            " is this a complete ph.x output?"
        )
    scale = alat * Bohr  # Angstrom per alat unit
    cell = axes * scale
    if volume is not None:
        cell = _match_volume(cell, volume * Bohr**3)
    atoms = Atoms(
        symbols=species, positions=np.array(tau) * scale, cell=cell, pbc=True
    )
    lineno, eps = eps_blocks[-1]
    return select([attach_epsilon(atoms, eps, f"{p}:{lineno}")], index, p)


REFERENCE = ReferenceFormat(
    "espresso-ph", "Quantum ESPRESSO ph.x output with the dielectric constant",
    by_name=lambda name: False, by_content=lambda head: "Program PHONON" in head,
    read_reference=lambda path, index=":", *options: read_ph_out(path, index))
