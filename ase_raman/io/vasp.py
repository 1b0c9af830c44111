"""VASP dielectric outputs: OUTCAR and vasprun.xml of LEPSILON / LCALCEPS runs.

Which tensor is read
--------------------
*OUTCAR.* A LEPSILON run prints several 3x3 blocks that look alike:

1. ``HEAD OF MICROSCOPIC STATIC DIELECTRIC TENSOR (INDEPENDENT PARTICLE, excluding Hartree
   and local field effects)``: the independent-particle (no local fields) head. Not eps_inf.
2. ``MACROSCOPIC STATIC DIELECTRIC TENSOR (including local field effects in DFT)``:
   the electronic eps_inf with local-field effects, the quantity whose derivative gives
   Raman tensors. VASP prints it (at least) twice per ionic step: once when the linear
   response converges and again in the final summary; the copies agree in complete files.
3. ``MACROSCOPIC STATIC DIELECTRIC TENSOR IONIC CONTRIBUTION``: the ionic (phonon)
   part of eps_0 (IBRION = 7/8). Not wanted for Raman (it is not electronic).

We take block 2, matching the **whole header line** (so neither 1 nor 3 can match), and
of each ionic step the **last** copy: the final summary is the one the run finished
with, and the first copy of a file can be damaged (ramannoodle's ``invalid_eps_OUTCAR``
has two fixed-width numbers fused into ``5.704647-0.000011`` in its first block only).
Numbers are read with a float pattern, not ``str.split``, so fused Fortran fields are
split correctly anyway.

A file without VASP's closing ``General timing and accounting`` section is refused as
truncated (:class:`InputFileError`) even if an earlier copy of the tensor is complete:
the tensor of an interrupted run is not the one the run would have printed.

Ionic steps: each eps block belongs to the ionic step of the last
``POSITION  TOTAL-FORCE (eV/Angst)`` table before it. If every step has a tensor, one
frame per step is returned; otherwise one frame, the last tensor with its own step's
structure.

*vasprun.xml.* ``<varray name="epsilon">`` (eps_inf with local fields, identical to the
OUTCAR block 2). ``epsilon_rpa`` is the independent-particle tensor (block 1) and
``epsilon_ion`` the ionic part: both ignored. The structure paired with a tensor is the
``<structure>`` of the same ``<calculation>`` (equal to ``finalpos`` for a single-point
LEPSILON run), falling back to ``finalpos``.

Units: positions and cells in Angstrom; polarizability ``alpha = V (eps - 1) / (4 pi)``
in Angstrom^3 with V the cell volume.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from ..errors import InputFileError, MissingDataError
from ._common import (
    Index,
    ReferenceFormat,
    attach_epsilon,
    check_file,
    decompressed,
    one_line,
    open_binary,
    open_text,
    select,
)

EPS_HEADER = "MACROSCOPIC STATIC DIELECTRIC TENSOR (including local field effects in DFT)"
FOOTER = "General timing and accounting"
_STEP_RE = re.compile(r"^\s*POSITION\s+TOTAL-FORCE \(eV/Angst\)\s*$")
_FLOAT_RE = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+)(?:[eEdD][-+]?\d+)?")


def _floats(line: str) -> list[float]:
    return [float(x.replace("d", "e").replace("D", "e")) for x in _FLOAT_RE.findall(line)]


def outcar_dielectric_blocks(path: str | os.PathLike) -> list[tuple[int, int, np.ndarray]]:
    """All ``MACROSCOPIC ... (including local field effects in DFT)`` blocks of an OUTCAR.

    Returns ``(line_number, ionic_step, eps)`` triples (1-based line of the header,
    0-based ionic step, raw 3x3 eps). Raises :class:`InputFileError` when the file ends
    inside a block or before VASP's closing timing section.
    """
    p = check_file(path)
    blocks: list[tuple[int, int, np.ndarray]] = []
    step = -1
    complete = False
    with open_text(p) as fh:
        lines = iter(enumerate(fh, start=1))
        for lineno, line in lines:
            if _STEP_RE.match(line):
                step += 1
            elif FOOTER in line:
                complete = True
            elif line.strip() == EPS_HEADER:
                rows: list[list[float]] = []
                for _, row in lines:
                    if not rows and set(row.strip()) == {"-"}:
                        continue  # the dashes under the header
                    rows.append(_floats(row))
                    if len(rows) == 3:
                        break
                if len(rows) < 3:
                    raise InputFileError(
                        f"{p}: file ends inside the dielectric block of line {lineno}"
                        " (truncated OUTCAR); copy the complete OUTCAR of the finished run"
                    )
                if any(len(r) != 3 for r in rows):
                    raise InputFileError(
                        f"{p}: dielectric block of line {lineno} does not hold 3x3 numbers"
                        " (corrupted file?); rerun or copy the OUTCAR again"
                    )
                blocks.append((lineno, max(step, 0), np.array(rows)))
    if not blocks:
        extra = "" if complete else " (and the file ends before VASP's timing section)"
        raise MissingDataError(
            f"{p}: no '{EPS_HEADER}' block{extra}; run VASP with LEPSILON = .TRUE. or"
            " LCALCEPS = .TRUE. to get eps_inf"
        )
    if not complete:
        raise InputFileError(
            f"{p}: file ends before VASP's '{FOOTER}' section (truncated or still running);"
            " use the OUTCAR of a finished run"
        )
    return blocks


def _per_step(blocks: list[tuple[int, int, np.ndarray]]) -> dict[int, tuple[int, np.ndarray]]:
    out: dict[int, tuple[int, np.ndarray]] = {}
    for lineno, step, eps in blocks:
        out[step] = (lineno, eps)  # later copies of the same step win
    return out


def _pair_with_structures(
    p: Path, by_step: dict[int, tuple[int, np.ndarray]], images: list[Atoms], n_steps: int
) -> list[Atoms]:
    """One frame per ionic step if each has a tensor, else the last tensor's step only."""
    consistent = len(images) == max(n_steps, 1)
    if consistent and set(by_step) == set(range(len(images))):
        chosen = sorted(by_step)
    else:
        chosen = [max(by_step)]
    frames = []
    for step in chosen:
        atoms = images[step] if consistent else images[-1]
        lineno, eps = by_step[step]
        frames.append(attach_epsilon(atoms, eps, f"{p}:{lineno}"))
    return frames


def read_outcar(path: str | os.PathLike, index: Index = ":") -> list[Atoms]:
    """Frames with eps_inf and alpha (Angstrom^3) from a VASP LEPSILON/LCALCEPS OUTCAR.

    See the module docstring for which block is read and how ionic steps are handled.
    """
    p = Path(path)
    blocks = outcar_dielectric_blocks(p)
    n_steps = 0
    with open_text(p) as fh:
        for line in fh:
            if _STEP_RE.match(line):
                n_steps += 1
    try:
        with decompressed(p) as plain:
            images = ase.io.read(plain, index=":", format="vasp-out")
    except Exception as exc:  # ASE raises ParseError, IndexError, ValueError, ...
        raise InputFileError(
            f"{p}: the structure cannot be read from this OUTCAR ({type(exc).__name__}:"
            f" {one_line(exc)}); check that the file is a complete, unedited OUTCAR"
        ) from exc
    if not images:
        raise InputFileError(f"{p}: no structure found in this OUTCAR; is it complete?")
    frames = _pair_with_structures(p, _per_step(blocks), list(images), n_steps)
    return select(frames, index, p)


# ----------------------------------------------------------------------------- vasprun.xml


def _varray(elem: ET.Element, where: str) -> np.ndarray:
    try:
        rows = [[float(x) for x in v.text.split()] for v in elem.findall("v")]  # type: ignore[union-attr]
        arr = np.array(rows, dtype=float)
    except (ValueError, AttributeError):
        name = elem.get("name")
        raise InputFileError(f"{where}: <varray name={name!r}> has bad numbers") from None
    return arr


def _species(root: ET.Element, p: Path) -> list[str]:
    rcs = root.findall("atominfo/array[@name='atoms']/set/rc")
    if not rcs:
        raise MissingDataError(f"{p}: no <atominfo> atom list; is this a complete vasprun.xml?")
    symbols = []
    for rc in rcs:
        cs = rc.findall("c")
        label = (cs[0].text or "").strip() if cs else ""
        sym = re.split(r"[_\d.]", label)[0].capitalize()
        if sym not in chemical_symbols[1:]:
            raise InputFileError(f"{p}: unknown element {label!r} in <atominfo>")
        symbols.append(sym)
    return symbols


def _structure(elem: ET.Element, symbols: list[str], where: str) -> Atoms:
    basis = elem.find("crystal/varray[@name='basis']")
    pos = elem.find("varray[@name='positions']")
    if basis is None or pos is None:
        raise InputFileError(f"{where}: <structure> lacks basis or positions; file damaged?")
    cell = _varray(basis, where)
    frac = _varray(pos, where)
    if cell.shape != (3, 3) or frac.shape != (len(symbols), 3):
        raise InputFileError(
            f"{where}: <structure> has cell {cell.shape} / positions {frac.shape}, expected"
            f" (3, 3) / ({len(symbols)}, 3)"
        )
    return Atoms(symbols=symbols, scaled_positions=frac, cell=cell, pbc=True)


def read_vasprun(path: str | os.PathLike, index: Index = ":") -> list[Atoms]:
    """Frames with eps_inf (``<varray name="epsilon">``) and alpha (Angstrom^3) from vasprun.xml.

    One frame per ``<calculation>`` if each has an ``epsilon`` varray, else one frame
    (the last tensor, with the structure of its calculation).
    """
    p = check_file(path)
    try:
        with open_binary(p) as fh:
            root = ET.parse(fh).getroot()
    except ET.ParseError as exc:
        raise InputFileError(
            f"{p}: not complete XML ({one_line(exc)}): truncated, or not a vasprun.xml;"
            " use the vasprun.xml of a finished run"
        ) from None
    if root.tag != "modeling":
        raise InputFileError(f"{p}: XML root is <{root.tag}>, not <modeling>: not a vasprun.xml")
    calcs = root.findall("calculation")
    found: list[tuple[int, ET.Element, ET.Element]] = []
    for i, calc in enumerate(calcs):
        eps = [v for v in calc.iter("varray") if v.get("name") == "epsilon"]
        if eps:
            found.append((i, calc, eps[-1]))
    if not found:
        raise MissingDataError(
            f"{p}: no <varray name=\"epsilon\"> (eps_inf); run VASP with LEPSILON = .TRUE. or"
            " LCALCEPS = .TRUE. (epsilon_rpa is not eps_inf and is not used)"
        )
    symbols = _species(root, p)
    if len(found) != len(calcs):
        found = found[-1:]
    frames = []
    for i, calc, eps_elem in found:
        where = f"{p}:calculation[{i}]"
        struct = calc.find("structure")
        if struct is None:
            struct = root.find("structure[@name='finalpos']")
        if struct is None:
            raise MissingDataError(f"{where}: no <structure> for the dielectric tensor")
        atoms = _structure(struct, symbols, where)
        eps = _varray(eps_elem, where)
        if eps.shape != (3, 3):
            raise InputFileError(f"{where}: epsilon varray has shape {eps.shape}, not (3, 3)")
        frames.append(attach_epsilon(atoms, eps, where))
    return select(frames, index, p)


OUTCAR = ReferenceFormat(
    "vasp-out", "VASP OUTCAR of a LEPSILON / LCALCEPS run",
    by_name=lambda name: "outcar" in name,
    by_content=lambda head: head.lstrip().startswith("vasp."),
    read_reference=lambda path, index=":", *options: read_outcar(path, index))

VASPRUN = ReferenceFormat(
    "vasp-xml", "VASP vasprun.xml with <varray name='epsilon'>",
    by_name=lambda name: "vasprun" in name and name.endswith(".xml"),
    by_content=lambda head: "<modeling" in head and head.lstrip().startswith("<?xml"),
    read_reference=lambda path, index=":", *options: read_vasprun(path, index))
