"""Optional structure features: space-group number, density, volume per atom, packing
fraction; and the ``cell`` feature block.

From a CIF (:func:`cif_structure_features`, read with pymatgen; partial occupancies
count with their weight) or from table columns (:func:`table_structure_features`: a
space-group number, the six lattice parameters and the formula of the cell contents, as
in OBELiX's ``Space group #``, ``a`` ... ``gamma`` and ``True Composition``). The
packing fraction is the summed volume of atomic spheres (pymatgen atomic radii) over the
cell volume, as matminer's ``DensityFeatures`` computes it. A missing value is NaN
(the trees route it on their own).

The ``cell`` block (:func:`cell_feature_names`, :func:`cell_block`) is the
representation of the OBELiX authors' own random-forest benchmark: the amount of every
element (H .. Lr) in the formula as given (OBELiX's ``True Composition`` is the unit
cell's contents; for a CIF, its cell's contents), the space-group number and the six
lattice parameters (A, degrees).
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from ase_raman.errors import InputFileError

from .formula import parse_formula

STRUCTURE_FEATURES: tuple[str, ...] = (
    "space_group_number", "density_g_cm3", "volume_per_atom_A3", "packing_fraction",
)
#: the cell block's columns after the element amounts.
CELL_GEOMETRY: tuple[str, ...] = ("space_group_number", "a", "b", "c", "alpha", "beta", "gamma")
_AMU_PER_A3_TO_G_PER_CM3 = 1.66053906660


def cell_volume(a: float, b: float, c: float, alpha: float, beta: float,
                gamma: float) -> float:
    """Volume (A^3) of a cell with edges in A and angles in degrees."""
    ca, cb, cg = (math.cos(math.radians(v)) for v in (alpha, beta, gamma))
    arg = 1.0 - ca * ca - cb * cb - cg * cg + 2.0 * ca * cb * cg
    if not arg > 0:
        raise ValueError(f"lattice angles {alpha}, {beta}, {gamma} give no cell")
    return a * b * c * math.sqrt(arg)


def _from_cell(amounts: dict[str, float], volume: float, space_group: float) -> np.ndarray:
    from pymatgen.core import Element

    n_atoms = sum(amounts.values())
    mass = sum(float(Element(s).atomic_mass) * n for s, n in amounts.items())
    spheres = 0.0
    for s, n in amounts.items():
        r = Element(s).atomic_radius
        spheres += n * 4.0 / 3.0 * math.pi * (float(r) if r is not None else math.nan) ** 3
    return np.array([space_group, mass / volume * _AMU_PER_A3_TO_G_PER_CM3,
                     volume / n_atoms, spheres / volume])


def table_structure_features(space_group: str, lattice: tuple[str, ...],
                             cell_formula: str) -> np.ndarray:
    """Features from table cells (strings; empty ones give NaN where they are needed)."""
    sg = _space_group(space_group)
    values = [_number_or_nan(v) for v in lattice]
    if not cell_formula.strip() or any(v != v for v in values):
        return np.array([sg, math.nan, math.nan, math.nan])
    volume = cell_volume(*values)
    return _from_cell(parse_formula(cell_formula), volume, sg)


@lru_cache(maxsize=1)
def cell_elements() -> tuple[str, ...]:
    """Element symbols H .. Lr, by atomic number (the cell block's amount columns)."""
    from pymatgen.core import Element

    from .formula import MAX_Z

    return tuple(Element.from_Z(z).symbol for z in range(1, MAX_Z + 1))


def cell_feature_names() -> list[str]:
    return [f"amount {s}" for s in cell_elements()] + list(CELL_GEOMETRY)


def cell_block(amounts: list[dict[str, float]], geometry: np.ndarray) -> np.ndarray:
    """``(n, len(cell_feature_names()))``: element amounts, then ``geometry`` (the
    ``(n, 7)`` space-group numbers and lattice parameters, NaN where unknown)."""
    index = {s: i for i, s in enumerate(cell_elements())}
    out = np.zeros((len(amounts), len(index) + len(CELL_GEOMETRY)))
    for i, comp in enumerate(amounts):
        for symbol, n in comp.items():
            out[i, index[symbol]] += n
    out[:, len(index):] = geometry
    return out


def table_cell_geometry(space_group: str, lattice: tuple[str, ...]) -> np.ndarray:
    """Space-group number and lattice parameters from table cells (NaN where empty)."""
    sg = _space_group(space_group)
    return np.array([sg] + [_number_or_nan(v) for v in lattice])


def cif_structure_features(path: str | Path) -> tuple[str, np.ndarray]:
    """``(formula, features)`` of the structure in a CIF file."""
    formula, features, _, _ = read_cif(path)
    return formula, features


def read_cif(path: str | Path) -> tuple[str, np.ndarray, dict[str, float], np.ndarray]:
    """``(reduced formula, structure features, cell contents {symbol: amount},
    cell geometry (space group, a, b, c, alpha, beta, gamma))`` of a CIF file."""
    import warnings

    from pymatgen.io.cif import CifParser

    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such CIF file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parser = CifParser(path, occupancy_tolerance=1.05)
            structure = parser.parse_structures(primitive=False)[0]
    except Exception as exc:
        raise InputFileError(f"{path}: cannot read the structure ({exc})") from None
    sg = math.nan
    block = next(iter(parser.as_dict().values()), {})
    for key in ("_space_group_IT_number", "_symmetry_Int_Tables_number"):
        if key in block:
            sg = _number_or_nan(str(block[key]))
            break
    if sg != sg:
        from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

        try:
            sg = float(SpacegroupAnalyzer(structure, symprec=0.1).get_space_group_number())
        except Exception:
            sg = math.nan
    amounts = {str(el): float(n) for el, n in structure.composition.element_composition.items()}
    formula = structure.composition.reduced_formula
    geometry = np.array([sg, *structure.lattice.abc, *structure.lattice.angles], dtype=float)
    return formula, _from_cell(amounts, float(structure.volume), sg), amounts, geometry


def _space_group(text: str) -> float:
    sg = _number_or_nan(text)
    if sg == sg and not (1 <= sg <= 230 and float(sg).is_integer()):
        raise ValueError(f"space group number {text!r} is not an integer 1..230")
    return sg


def _number_or_nan(text: str) -> float:
    text = str(text).strip()
    if not text:
        return math.nan
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return value
