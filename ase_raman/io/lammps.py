"""LAMMPS text dumps (``dump custom``): the streaming reader and LAMMPS unit styles.

:func:`iter_lammps_dump` streams the frames of a dump as ``ase.Atoms`` (sorted by atom
id; unwrapped coordinates when the file allows; velocities; triclinic boxes), elements
from an ``element`` column or a :data:`TypeMap`. :data:`LAMMPS_UNITS` gives the factors
of every LAMMPS ``units`` style ASE knows. The live coupling to a running LAMMPS
(:mod:`ase_raman.engines.lammps`) uses the same tables.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms, units

from ..errors import InputFileError, UsageError
from ._common import TrajectoryFormat, open_text

__all__ = ["LAMMPS_UNITS", "TypeMap", "check_lammps_columns", "iter_lammps_dump",
           "lammps_unit_factors", "parse_type_map"]

#: A LAMMPS type -> element map: {1: "O", 2: "H"} or ["O", "H"] (type 1 first).
TypeMap = Mapping[int, str] | Sequence[str]


def lammps_unit_factors(style: str) -> dict[str, float]:
    """fs per LAMMPS time unit, Angstrom per length unit, eV per energy unit and
    Angstrom/fs per velocity unit of a LAMMPS ``units`` style (the velocity unit is not
    always length/time: ``electron`` has bohr per atomic time unit and fs), from ASE's
    tables (:func:`ase.calculators.lammps.convert`), rounded to 12 significant digits
    (metal: exactly 1000 fs, not 999.9999999999999)."""
    from ase.calculators.lammps import convert

    def factor(quantity: str) -> float:
        value = convert(1.0, quantity, style, "ASE")
        value = {"time": value / units.fs, "velocity": value * units.fs}.get(quantity, value)
        return float(f"{value:.12g}")

    return {"time_fs": factor("time"), "length_A": factor("distance"),
            "energy_eV": factor("energy"), "velocity_A_fs": factor("velocity")}


def _unit_styles() -> dict[str, dict[str, float]]:
    from ase.calculators.lammps.unitconvert import UNITSETS

    return {style: lammps_unit_factors(style) for style in UNITSETS if style != "ASE"}


#: Every LAMMPS units style ASE knows (metal, real, si, cgs, electron, micro, nano) ->
#: its factors (:func:`lammps_unit_factors`). (``lj`` is reduced
#: units: no conversion exists.)
LAMMPS_UNITS: dict[str, dict[str, float]] = _unit_styles()


def parse_type_map(text: str | None) -> list[str] | dict[int, str] | None:
    """``O,H`` -> ``["O", "H"]``; ``1=O,2=H`` -> ``{1: "O", 2: "H"}`` (``None`` for none)."""
    if not text:
        return None
    from ase.data import atomic_numbers

    items = [t.strip() for t in text.split(",") if t.strip()]
    pairs = [item.partition("=") for item in items]
    try:
        if all(sep for _, sep, _ in pairs):
            mapping: list[str] | dict[int, str] = {int(k): v.strip() for k, _, v in pairs}
        elif not any(sep for _, sep, _ in pairs):
            mapping = items
        else:
            raise ValueError
    except ValueError:
        raise UsageError(f"type_map {text!r}: expected elements in type order (O,H) or "
                         "TYPE=ELEMENT pairs (1=O,2=H)") from None
    values = mapping.values() if isinstance(mapping, dict) else mapping
    bad = [v for v in values if v not in atomic_numbers]
    if not values or bad:
        raise UsageError(f"type_map {text!r}: {', '.join(bad) or 'nothing'} is not a "
                         "chemical element")
    return mapping


def _type_symbols(type_map: TypeMap) -> dict[int, str]:
    if isinstance(type_map, Mapping):
        return {int(k): str(v) for k, v in type_map.items()}
    return {i + 1: str(s) for i, s in enumerate(type_map)}


def _specorder(type_map: TypeMap) -> list[str]:
    if isinstance(type_map, Mapping):
        n = max(type_map)
        missing = [t for t in range(1, n + 1) if t not in type_map]
        if missing:
            raise UsageError(f"type_map lacks LAMMPS type(s) {missing}; give every type 1..{n}")
        return [type_map[t] for t in range(1, n + 1)]
    return list(type_map)


#: Coordinate columns of a LAMMPS dump, any one of which gives positions.
_LAMMPS_COORDS = ("x", "xs", "xu", "xsu")

#: What to tell a user whose LAMMPS dump names atoms by number only.
TYPE_MAP_HINT = ("pass type_map with the element of each LAMMPS type in order, e.g. "
                 "type_map=['O', 'H']")


def _lammps_columns(p: Path) -> list[str]:
    with open_text(p) as fh:
        for line in fh:
            if line.startswith("ITEM: ATOMS"):
                return line.split()[2:]
    raise InputFileError(f"{p}: no 'ITEM: ATOMS' line: not a LAMMPS text dump")


def check_lammps_columns(p: Path, cols: list[str], type_map: TypeMap | None) -> None:
    """One-line errors for a dump that cannot give named positions: no coordinate column,
    no type or element column, or types without ``type_map`` (``--type-map``)."""
    listed = " ".join(cols) or "none"
    if not any(c in cols for c in _LAMMPS_COORDS):
        raise InputFileError(f"{p}: the LAMMPS dump has no x, xs, xu or xsu column "
                             f"(its columns: {listed}), so no positions to read")
    if not {"type", "element", "mass"} & set(cols):
        raise InputFileError(f"{p}: the LAMMPS dump has no type or element column (its "
                             f"columns: {listed}), so the atoms cannot be named")
    if type_map is None and "element" not in cols and "mass" not in cols:
        raise UsageError(f"{p}: the LAMMPS dump names atoms by type number only; "
                         + TYPE_MAP_HINT)


# --------------------------------------------------------------------------------------
# dump custom reader
# --------------------------------------------------------------------------------------
_COORDS = {
    "unwrapped": [("xu", "yu", "zu", False, False), ("xsu", "ysu", "zsu", True, False),
                  ("x", "y", "z", False, True), ("xs", "ys", "zs", True, True)],
    "wrapped": [("x", "y", "z", False, False), ("xs", "ys", "zs", True, False)],
}
_COORDS["auto"] = _COORDS["unwrapped"] + _COORDS["wrapped"]


def _expect(line: str, item: str) -> str:
    """``line`` when it starts with ``item``, else ValueError (a damaged header)."""
    if not line.startswith(item):
        raise ValueError(f"expected {item!r}")
    return line


def _pick_coords(cols: list[str], coordinates: str, where: str):
    if coordinates not in _COORDS:
        raise UsageError(f"coordinates must be auto, unwrapped or wrapped, not {coordinates!r}")
    for cx, cy, cz, scaled, needs_image in _COORDS[coordinates]:
        if {cx, cy, cz} <= set(cols) and (not needs_image or {"ix", "iy", "iz"} <= set(cols)):
            return (cx, cy, cz), scaled, needs_image
    raise InputFileError(f"{where}: no {coordinates} coordinates among the columns {cols}")


class _Damaged(Exception):
    """A frame cut short: what is wrong with it (the stream ends there)."""


def _read_block(fh: Any, first_line: str, where: Path
                ) -> tuple[int, str, np.ndarray, list[str], list[list[str]]]:
    """One frame's text after its ``ITEM: TIMESTEP`` line: ``(step, box header, box
    bounds (3, 2 or 3), column names, atom rows)``; :class:`_Damaged` when cut short."""
    if not first_line.startswith("ITEM: TIMESTEP"):
        raise InputFileError(f"{where}: expected 'ITEM: TIMESTEP', got {first_line[:40]!r}")
    try:
        step = int(fh.readline().split()[0])
        _expect(fh.readline(), "ITEM: NUMBER OF ATOMS")
        natoms = int(fh.readline().split()[0])
        box_head = _expect(fh.readline(), "ITEM: BOX BOUNDS")
        bounds = np.array([[float(v) for v in fh.readline().split()] for _ in range(3)])
        atoms_head = _expect(fh.readline(), "ITEM: ATOMS")
    except (ValueError, IndexError):
        raise _Damaged("has an incomplete header") from None
    cols = atoms_head.split()[2:]
    rows = [fh.readline().split() for _ in range(natoms)]
    if any(len(r) != len(cols) for r in rows):
        raise _Damaged(f"(step {step}) has incomplete atom lines")
    return step, box_head, bounds, cols, rows


def _box(box_head: str, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[bool]]:
    """``(cell, origin, pbc)`` of a frame's box (a triclinic bounding box -> its cell)."""
    if "xy" in box_head.split():
        xy, xz, yz = bounds[0, 2], bounds[1, 2], bounds[2, 2]
        xlo = bounds[0, 0] - min(0.0, xy, xz, xy + xz)
        xhi = bounds[0, 1] - max(0.0, xy, xz, xy + xz)
        ylo = bounds[1, 0] - min(0.0, yz)
        yhi = bounds[1, 1] - max(0.0, yz)
        zlo, zhi = bounds[2, 0], bounds[2, 1]
    else:
        xy = xz = yz = 0.0
        (xlo, xhi), (ylo, yhi), (zlo, zhi) = bounds[:, :2]
    cell = np.array([[xhi - xlo, 0, 0], [xy, yhi - ylo, 0], [xz, yz, zhi - zlo]])
    pbc = [b.startswith("p") for b in box_head.split()[-3:]]
    return cell, np.array([xlo, ylo, zlo]), pbc


def _positions(data: dict[str, np.ndarray], cols: list[str], cell: np.ndarray,
               origin: np.ndarray, coordinates: str, where: str) -> np.ndarray:
    """Cartesian positions (dump length units) in file order, unwrapped by image flags
    when the chosen columns need them."""
    (cx, cy, cz), scaled, needs_image = _pick_coords(cols, coordinates, where)
    pos = np.stack([data[c].astype(float) for c in (cx, cy, cz)], axis=1)
    if scaled:
        pos = origin + pos @ cell
    if needs_image:
        img = np.stack([data[c].astype(int) for c in ("ix", "iy", "iz")], axis=1)
        pos = pos + img @ cell
    return pos


def _symbols(data: dict[str, np.ndarray], order: np.ndarray,
             symbols_by_type: dict[int, str] | None, where: Path) -> list[str]:
    """Elements in id order: the ``element`` column, else the types through the map."""
    if "element" in data:
        return list(data["element"][order])
    if symbols_by_type is None:
        raise UsageError(f"{where}: the LAMMPS dump names atoms by type number only; "
                         + TYPE_MAP_HINT)
    types = data["type"].astype(int)[order]
    try:
        return [symbols_by_type[t] for t in types]
    except KeyError as exc:
        raise UsageError(f"{where}: type_map lacks LAMMPS type {exc}") from None


def _frame(block: tuple, symbols_by_type: dict[int, str] | None, coordinates: str,
           u: dict[str, float], where: Path) -> Atoms:
    """The Atoms of one frame's text (:func:`_read_block`), sorted by atom id, in ASE
    units; ``info["step"]`` set."""
    step, box_head, bounds, cols, rows = block
    data = dict(zip(cols, np.array(rows, dtype=object).T, strict=True)) if rows else {}
    cell, origin, pbc = _box(box_head, bounds)
    pos = _positions(data, cols, cell, origin, coordinates, str(where))
    order = np.argsort(data["id"].astype(int)) if "id" in data else np.arange(len(rows))
    atoms = Atoms(_symbols(data, order, symbols_by_type, where),
                  positions=pos[order] * u["length_A"], cell=cell * u["length_A"], pbc=pbc)
    if {"vx", "vy", "vz"} <= set(data):
        v = np.stack([data[c].astype(float) for c in ("vx", "vy", "vz")], axis=1)
        atoms.set_velocities(v[order] * u["velocity_A_fs"] / units.fs)
    atoms.info["step"] = step
    return atoms


def iter_lammps_dump(path: str | os.PathLike, type_map: TypeMap | None = None, *,
                     coordinates: str = "auto", lammps_units: str = "metal",
                     dt_fs: float | None = None) -> Iterator[Atoms]:
    """Stream the frames of a LAMMPS ``dump custom`` text file as Atoms (sorted by id).

    Elements from an ``element`` column, else from ``type_map``. ``coordinates``:
    ``"unwrapped"`` (``xu``/``xsu``, or ``x``/``xs`` plus image flags ``ix iy iz``),
    ``"wrapped"`` (``x``/``xs``), or ``"auto"`` (unwrapped when the file allows).
    Triclinic boxes are supported. Velocities ``vx vy vz`` are converted from
    ``lammps_units`` (any style of :data:`LAMMPS_UNITS`; metal: Angstrom/ps, real:
    Angstrom/fs). ``info`` gets ``step`` and, with ``dt_fs`` (the MD timestep in fs),
    ``time_fs``. A frame cut short ends the stream with a warning naming it.
    """
    if lammps_units not in LAMMPS_UNITS:
        raise UsageError(f"lammps_units {lammps_units!r} not supported (one of "
                         f"{', '.join(LAMMPS_UNITS)})")
    u = LAMMPS_UNITS[lammps_units]
    symbols_by_type = None if type_map is None else _type_symbols(type_map)
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"{p}: no such LAMMPS dump file")
    n_done = 0
    with open_text(p) as fh:
        for line in iter(fh.readline, ""):
            if not line.strip():
                continue
            try:
                block = _read_block(fh, line, p)
            except _Damaged as exc:
                warnings.warn(f"{p}: frame {n_done} {exc}: file truncated or damaged; stopped "
                              f"after {n_done} complete frame(s)", UserWarning, stacklevel=2)
                return
            atoms = _frame(block, symbols_by_type, coordinates, u, p)
            if dt_fs is not None:
                atoms.info["time_fs"] = atoms.info["step"] * dt_fs
            n_done += 1
            yield atoms


def sniff(name: str, head: list[str]) -> bool:
    """A LAMMPS text dump starts with ``ITEM: TIMESTEP`` (or is named ``*.lammpstrj``,
    ``*.dump``)."""
    return (bool(head) and head[0].startswith("ITEM: TIMESTEP")) or name.endswith(
        (".lammpstrj", ".dump"))


def iter_frames(path: Path, type_map: TypeMap | None = None, lammps_units: str = "metal",
                **options: object) -> Iterator[Atoms]:
    """:func:`iter_lammps_dump` after one-line checks of the dump's columns."""
    check_lammps_columns(path, _lammps_columns(path), type_map)
    return iter_lammps_dump(path, type_map, lammps_units=lammps_units)


FORMAT = TrajectoryFormat(
    "lammps-dump-text", "LAMMPS text dump (dump custom)", sniff, iter_frames,
    # a dump naming atoms by mass only goes to ASE's reader, which maps masses to elements
    handles=lambda path: "mass" not in _lammps_columns(path))
