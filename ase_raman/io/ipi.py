"""Streaming reader of i-PI xyz trajectory output (``prefix.pos_0.xyz`` and the like).

i-PI comment lines are not extxyz::

    # CELL(abcABC): 35.2 35.2 35.2 90 90 90 Step: 4 Bead: 0 positions{atomic_unit} cell{atomic_unit}

The ``{unit}`` tags give the units of the per-atom data and of the cell: ``atomic_unit``
means bohr for lengths. Positions and cell are converted to Angstrom. ``CELL(GENH)``
lines carry i-PI's 9-number cell matrix h (cell vectors as columns, row-major), used
as ``h.T``. Only position-like files (``positions``, ``x_centroid``) are frames; velocity
or force files are refused.

``atoms.info`` gets ``"step"`` (MD step) and ``"bead"``.

Also the other i-PI output: :func:`iter_ipi_extras` (a driver's JSON extras, e.g. alpha
written with ``<trajectory extra_type="polarizability">``), :func:`iter_ipi_velocities`,
and the ``<timestep>`` of an input file (:func:`ipi_timestep_fs`).
"""

from __future__ import annotations

import os
import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers
from ase.geometry import cellpar_to_cell
from ase.units import Bohr, nm

from ..errors import InputFileError, UsageError
from ..units import FS_PER_ATOMIC_TIME, VELOCITY_AU_TO_A_PER_FS
from ._common import TrajectoryFormat, check_file, open_text

#: Angstrom per i-PI length unit.
LENGTH_UNITS: dict[str, float] = {
    "atomic_unit": Bohr,
    "bohr": Bohr,
    "angstrom": 1.0,
    "nanometer": nm,
    "picometer": 0.01,
}

#: fs per i-PI time unit (used when i-PI itself is not installed).
TIME_UNITS_FS: dict[str, float] = {"femtosecond": 1.0, "picosecond": 1000.0,
                                   "atomic_unit": FS_PER_ATOMIC_TIME}

_ABC_RE = re.compile(r"CELL\(abcABC\):\s*((?:\S+\s+){5}\S+)")
_GENH_RE = re.compile(r"CELL\(GENH\):\s*((?:\S+\s+){8}\S+)")
_TAG_RE = re.compile(r"(\w+)\{(\w+)\}")
_STEP_RE = re.compile(r"Step:\s*(\d+)")
_BEAD_RE = re.compile(r"Bead:\s*(\d+)")


def is_ipi_comment(line: str) -> bool:
    """True for an i-PI xyz comment line."""
    return "CELL(abcABC)" in line or "CELL(GENH)" in line


def _length_factor(unit: str, where: str) -> float:
    try:
        return LENGTH_UNITS[unit]
    except KeyError:
        raise InputFileError(
            f"{where}: unknown i-PI length unit {unit!r}; known: {', '.join(LENGTH_UNITS)}"
        ) from None


def parse_comment(line: str, where: str) -> tuple[np.ndarray, float, dict[str, int]]:
    """Cell (Angstrom), length factor of the per-atom data, and step/bead of a comment line."""
    tags = dict(_TAG_RE.findall(line))
    quantity = next((q for q in tags if q != "cell"), None)
    if quantity is None or not (quantity.startswith("positions") or quantity == "x_centroid"):
        raise UsageError(
            f"{where}: this i-PI file holds {quantity!r}, not positions; pass the positions"
            " trajectory (e.g. prefix.pos_0.xyz)"
        )
    pos_factor = _length_factor(tags[quantity], where)
    cell_factor = _length_factor(tags.get("cell", tags[quantity]), where)
    if m := _ABC_RE.search(line):
        cell = cellpar_to_cell([float(x) for x in m.group(1).split()])
    elif m := _GENH_RE.search(line):
        cell = np.array([float(x) for x in m.group(1).split()]).reshape(3, 3).T
    else:
        raise InputFileError(f"{where}: no CELL(abcABC) or CELL(GENH) in the comment line")
    meta = {}
    if s := _STEP_RE.search(line):
        meta["step"] = int(s.group(1))
    if b := _BEAD_RE.search(line):
        meta["bead"] = int(b.group(1))
    return cell * cell_factor, pos_factor, meta


def _check_labels(symbols: list[str], drop: frozenset[str], where: str) -> list[bool]:
    """Which atoms to keep; InputFileError naming labels that are not elements."""
    bad = sorted({s for s in symbols if s not in atomic_numbers and s not in drop})
    if bad:
        raise InputFileError(
            f"{where}: atom label(s) {', '.join(bad)} are not chemical elements (i-PI cavity "
            f"photons or dummy atoms?); pass drop_labels={bad} to leave them out")
    return [s not in drop for s in symbols]


def iter_ipi_xyz(path: str | os.PathLike, drop_labels: Sequence[str] = ()) -> Iterator[Atoms]:
    """Yield the frames of an i-PI xyz positions file one at a time (Angstrom, pbc=True).

    ``drop_labels``: atom labels left out of every frame (e.g. ``["L"]``, the photon
    pseudo-atoms of i-PI cavity MD); any other non-element label is an error naming it."""
    p = check_file(path)
    drop = frozenset(drop_labels)
    with open_text(p) as fh:
        lineno = 0
        n_done = 0
        while True:
            head = fh.readline()
            if not head:
                return
            lineno += 1
            if not head.strip():
                continue
            try:
                natoms = int(head.split()[0])
            except ValueError:
                raise InputFileError(f"{p}:{lineno}: expected an atom count") from None
            comment = fh.readline()
            lineno += 1
            if not comment:
                _warn_truncated(p, n_done, lineno, 0, natoms)
                return
            cell, factor, meta = parse_comment(comment, f"{p}:{lineno}")
            symbols = []
            pos = np.empty((natoms, 3))
            for i in range(natoms):
                row = fh.readline().split()
                try:
                    pos[i] = [float(x) for x in row[1:4]]
                    symbols.append(row[0])
                except (ValueError, IndexError):
                    _warn_truncated(p, n_done, lineno, i, natoms)
                    return
            keep = _check_labels(symbols, drop, f"{p}:{lineno + 1}")
            lineno += natoms
            atoms = Atoms([s for s, k in zip(symbols, keep, strict=True) if k],
                          positions=pos[keep] * factor, cell=cell, pbc=True)
            atoms.info.update(meta)
            n_done += 1
            yield atoms


def _warn_truncated(p: Path, frame: int, lineno: int, got: int, natoms: int) -> None:
    warnings.warn(
        f"{p}: frame {frame} (line {lineno}) is incomplete ({got} of {natoms} atoms): file"
        f" truncated; stopped after {frame} complete frame(s)",
        UserWarning,
        stacklevel=3,
    )


def _first_steps(p: Path, n: int) -> list[int | None]:
    """``Step:`` of the first ``n`` frames (from the comment lines only: the atom labels,
    which may not be elements, are not looked at)."""
    steps: list[int | None] = []
    with open_text(p) as fh:
        while len(steps) < n:
            head = fh.readline()
            if not head:
                break
            if not head.strip():
                continue
            try:
                natoms = int(head.split()[0])
            except ValueError:
                break
            m = _STEP_RE.search(fh.readline())
            steps.append(int(m.group(1)) if m else None)
            for _ in range(natoms):
                fh.readline()
    return steps


def ipi_unit_factor(kind: str, unit: str, where: str) -> float:
    """User units per i-PI ``unit`` of ``kind`` (``"time"`` -> fs, ``"length"`` ->
    Angstrom): from i-PI's own tables (``ipi.utils.units``) when i-PI is installed, else
    from :data:`TIME_UNITS_FS` / :data:`LENGTH_UNITS`. InputFileError for an unknown unit."""
    target = {"time": "femtosecond", "length": "angstrom"}[kind]
    try:
        from ipi.utils.units import unit_to_internal, unit_to_user
    except ImportError:
        table = TIME_UNITS_FS if kind == "time" else LENGTH_UNITS
        if unit not in table:
            raise InputFileError(f"{where}: i-PI {kind} unit {unit!r} not understood; "
                                 f"known: {', '.join(table)}") from None
        return table[unit]
    try:
        return float(unit_to_user(kind, target, unit_to_internal(kind, unit, 1.0)))
    except (TypeError, ValueError, KeyError, IndexError):
        raise InputFileError(f"{where}: i-PI {kind} unit {unit!r} not understood") from None


def ipi_timestep_fs(input_xml: str | os.PathLike) -> float | None:
    """The MD ``<timestep>`` of an i-PI input file in fs (None when it has none).

    The file is parsed as XML, so a commented-out ``<timestep>`` is not read; the unit
    (attribute ``units``, default ``atomic_unit``) is converted by :func:`ipi_unit_factor`.
    """
    path = Path(input_xml)
    try:
        with open_text(path) as fh:
            root = ET.fromstring(fh.read())
    except ET.ParseError as exc:
        raise InputFileError(f"{path}: not well-formed XML ({exc}); pass the i-PI input "
                             "file or give the time step yourself") from None
    node = root.find(".//timestep")
    if node is None or not (node.text or "").strip():
        return None
    try:
        value = float(node.text.strip())
    except ValueError:
        raise InputFileError(f"{path}: <timestep> {node.text.strip()[:40]!r} is not a "
                             "number") from None
    return value * ipi_unit_factor("time", node.get("units", "atomic_unit"), str(path))


def ipi_interval_fs(path: str | os.PathLike) -> float | None:
    """Step difference of the first two frames x ``<timestep>`` of ``input.xml`` beside, in fs."""
    p = Path(path)
    steps = _first_steps(p, 2)
    inp = p.resolve().parent / "input.xml"
    if len(steps) < 2 or None in steps or not inp.is_file():
        return None
    try:
        dt = ipi_timestep_fs(inp)
    except InputFileError:
        return None  # an input.xml we cannot use: the caller asks for --dt-fs
    return None if dt is None else dt * (steps[1] - steps[0])


# --------------------------------------------------------------------------------------
# i-PI extras (JSON "extras" of a driver, e.g. alpha) and velocity trajectories
# --------------------------------------------------------------------------------------
_EXTRAS_HEAD = re.compile(r"#EXTRAS\w*\(([^)]*)\)#\s*Step:\s*(\d+)")


def iter_ipi_extras(path: str | os.PathLike, key: str | None = None
                    ) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(step, values)`` from an i-PI extras trajectory file.

    Each record is a ``#EXTRAS(key)# Step: N`` line followed by numbers; nine numbers
    are returned as a 3x3 array. ``key`` (e.g. ``"polarizability"``) is checked against
    the records' ``extra_type`` when given. A record cut short at the end of the file is
    dropped with a warning.
    """
    import warnings

    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"{p}: no such i-PI extras file")
    step: int | None = None
    values: list[float] = []

    def emit() -> tuple[int, np.ndarray] | None:
        if step is None:
            return None
        arr = np.array(values, dtype=float)
        return step, (arr.reshape(3, 3) if arr.size == 9 else arr)

    with open_text(p) as fh:
        for lineno, line in enumerate(fh, start=1):
            m = _EXTRAS_HEAD.search(line)
            if m:
                rec = emit()
                if rec is not None:
                    yield rec
                if key is not None and m.group(1).strip() != key:
                    raise InputFileError(
                        f"{p}:{lineno}: extras of type {m.group(1)!r}, expected {key!r}")
                step, values = int(m.group(2)), []
                continue
            if line.strip():
                try:
                    values.extend(float(x) for x in line.split())
                except ValueError:
                    raise InputFileError(f"{p}:{lineno}: not numbers: {line.strip()[:60]}")\
                        from None
    rec = emit()
    if rec is not None:
        if rec[1].size == 9 or (rec[1].size > 0 and key not in (None, "polarizability")):
            yield rec
        else:
            warnings.warn(f"{p}: the last extras record (step {rec[0]}) is incomplete; "
                          "dropped", UserWarning, stacklevel=2)


def iter_ipi_velocities(path: str | os.PathLike) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(step, velocities)`` (Angstrom/fs) from an i-PI xyz velocities file
    (``velocities{atomic_unit}`` or ``{angstrom/femtosecond}`` in the comment line)."""
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"{p}: no such i-PI velocities file")
    with open_text(p) as fh:
        while True:
            head = fh.readline()
            if not head:
                return
            if not head.strip():
                continue
            natoms = int(head.split()[0])
            comment = fh.readline()
            m = re.search(r"velocities\{([^}]*)\}", comment)
            unit = m.group(1) if m else "atomic_unit"
            factor = {"atomic_unit": VELOCITY_AU_TO_A_PER_FS,
                      "angstrom/femtosecond": 1.0}.get(unit)
            if factor is None:
                raise InputFileError(f"{p}: velocity unit {unit!r} not supported "
                                     "(use atomic_unit or angstrom/femtosecond)")
            sm = re.search(r"Step:\s*(\d+)", comment)
            rows = [fh.readline().split() for _ in range(natoms)]
            if any(len(r) < 4 for r in rows):
                return  # truncated last frame
            yield (int(sm.group(1)) if sm else -1,
                   np.array([[float(x) for x in r[1:4]] for r in rows]) * factor)


def sniff(name: str, head: list[str]) -> bool:
    """An i-PI xyz file has an i-PI comment line (``# CELL(...)``) second."""
    return len(head) > 1 and is_ipi_comment(head[1])


FORMAT = TrajectoryFormat(
    "ipi-xyz", "i-PI xyz output with {unit} tags", sniff,
    iter_frames=lambda path, drop_labels=(), **options: iter_ipi_xyz(
        path, drop_labels=drop_labels),
    frame_interval=ipi_interval_fs, drops_labels=True)
