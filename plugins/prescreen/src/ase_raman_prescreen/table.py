"""Input tables: which columns hold what, row validation, and the design matrix.

A CSV file (header row first) with one candidate or one measurement per row. The
column names are configurable (:class:`Columns`); the defaults read the OBELiX files as
they are (``True Composition``, ``Ionic conductivity (S cm-1)``, ``Space group #``,
``a`` ... ``gamma``). Every problem in a row is one :class:`~ase_raman.errors.InputFileError`
naming the file, the line and the row's ``ID``/``name`` when there is one.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ase_raman.errors import InputFileError, UsageError

from .features import CompositionFeaturizer, feature_names
from .formula import FormulaError, parse_formula
from .structure import (
    STRUCTURE_FEATURES,
    cell_block,
    cell_feature_names,
    read_cif,
    table_cell_geometry,
    table_structure_features,
)

#: formula columns tried in this order when none is named.
FORMULA_DEFAULTS = ("formula", "True Composition", "Reduced Composition", "composition")
#: columns naming a row in messages and manifests, tried in this order.
NAME_DEFAULTS = ("name", "ID", "id")
#: columns holding a CIF path, tried in this order when none is named.
STRUCTURE_DEFAULTS = ("structure", "cif")
LATTICE_DEFAULT = ("a", "b", "c", "alpha", "beta", "gamma")
#: feature sets: ``composition`` (matminer-style composition features), ``structure``
#: (those + space group, density, volume per atom, packing fraction), ``cell`` (element
#: amounts of the cell + space group + lattice parameters, the OBELiX authors' own
#: random-forest representation).
FEATURE_SETS = ("composition", "structure", "cell")


@dataclass
class Columns:
    """Which column holds what (``None``: the first default present, if any)."""

    formula: str | None = None
    sigma: str = "Ionic conductivity (S cm-1)"
    ea: str | None = None
    structure: str | None = None
    name: str | None = None
    space_group: str = "Space group #"
    lattice: tuple[str, ...] = LATTICE_DEFAULT
    cell_formula: str = "True Composition"

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass
class Table:
    """The rows of one CSV file, as strings, with where they came from."""

    path: Path
    header: list[str]
    rows: list[dict[str, str]]
    lines: list[int] = field(default_factory=list)

    def where(self, i: int, name_column: str | None) -> str:
        """``file line N (ID x)`` for row ``i`` in error messages."""
        label = f"{self.path} line {self.lines[i]}"
        if name_column and self.rows[i].get(name_column, "").strip():
            label += f" ({name_column} {self.rows[i][name_column].strip()})"
        return label

    def pick(self, wanted: str | None, defaults: Sequence[str], what: str,
             required: bool = True) -> str | None:
        """The column ``wanted`` (must exist) or the first of ``defaults`` present."""
        if wanted is not None:
            if wanted not in self.header:
                raise InputFileError(
                    f"{self.path}: no column {wanted!r} for the {what} (columns: "
                    f"{', '.join(self.header)})")
            return wanted
        for cand in defaults:
            if cand in self.header:
                return cand
        if required:
            raise InputFileError(
                f"{self.path}: no {what} column (looked for {', '.join(map(repr, defaults))}; "
                f"name it with the option for it)")
        return None


def read_table(path: str | Path) -> Table:
    """Read a CSV file with a header row (UTF-8, BOM allowed)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise InputFileError(f"{path}: empty file (a CSV table with a header row)")
            header = [h.strip() for h in header]
            rows, lines = [], []
            for values in reader:
                if not any(v.strip() for v in values):
                    continue
                if len(values) > len(header):
                    raise InputFileError(
                        f"{path} line {reader.line_num}: {len(values)} cells but "
                        f"{len(header)} column names")
                values = values + [""] * (len(header) - len(values))
                rows.append(dict(zip(header, values, strict=True)))
                lines.append(reader.line_num)
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{path}: not a UTF-8 text table ({exc.reason})") from None
    except csv.Error as exc:
        raise InputFileError(f"{path}: not a CSV table ({exc})") from None
    if not rows:
        raise InputFileError(f"{path}: no data rows")
    return Table(path, header, rows, lines)


def parse_sigma(text: str, censored_value: float | None) -> float:
    """log10 of a conductivity cell (S/cm). ``<1E-10`` (an upper bound) gives
    ``log10(censored_value)``, or an error when ``censored_value`` is None."""
    text = text.strip()
    if not text:
        raise ValueError("no conductivity")
    if text.startswith("<"):
        if censored_value is None:
            raise ValueError(f"conductivity {text!r} is only an upper bound "
                             "(give --censored-value to use such rows)")
        bound = float(text[1:])
        if not bound > 0:
            raise ValueError(f"conductivity bound {text!r} is not positive")
        return math.log10(min(censored_value, bound))
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"conductivity {text!r} S/cm is not a positive number")
    return math.log10(value)


@dataclass
class Design:
    """Features and (optionally) targets of a table's rows."""

    formulas: list[str]
    names: list[str]
    X: np.ndarray
    structures: list[str | None]
    log10_sigma: np.ndarray | None = None
    ea: np.ndarray | None = None
    groups: list[str] = field(default_factory=list)


def feature_set_name(feature_set: bool | str) -> str:
    """One of :data:`FEATURE_SETS`; ``True``/``False`` (the old ``use_structure``
    flag) mean ``structure``/``composition``."""
    if isinstance(feature_set, bool):
        return "structure" if feature_set else "composition"
    if feature_set not in FEATURE_SETS:
        raise UsageError(f"feature set {feature_set!r}: one of {', '.join(FEATURE_SETS)}")
    return feature_set


def all_feature_names(feature_set: bool | str) -> list[str]:
    """Column names of the design matrix of a feature set."""
    fs = feature_set_name(feature_set)
    if fs == "cell":
        return cell_feature_names()
    return feature_names() + (list(STRUCTURE_FEATURES) if fs == "structure" else [])


def design_from_table(table: Table, cols: Columns, featurizer: CompositionFeaturizer,
                      use_structure: bool | str, targets: bool = False,
                      censored_value: float | None = None) -> Design:
    """Validate every row and build its features (and targets when ``targets``).

    ``use_structure``: the feature set (a name of :data:`FEATURE_SETS`, or a bool as
    in :func:`feature_set_name`)."""
    fs = feature_set_name(use_structure)
    struct_col = table.pick(cols.structure, STRUCTURE_DEFAULTS, "structure (CIF path)",
                            required=False)
    formula_col = table.pick(cols.formula, FORMULA_DEFAULTS, "formula",
                             required=struct_col is None)
    name_col = table.pick(cols.name, NAME_DEFAULTS, "name", required=False)
    if targets:
        table.pick(cols.sigma, (), "conductivity")
        if cols.ea is not None:
            table.pick(cols.ea, (), "activation energy")
    has_geometry = struct_col is None and cols.space_group in table.header
    table_struct = fs == "structure" and has_geometry
    struct = np.full((len(table.rows), len(STRUCTURE_FEATURES)), np.nan)
    geometry = np.full((len(table.rows), 7), np.nan)
    cell_amounts: list[dict[str, float]] = []
    formulas, names, structures = [], [], []
    sigma = np.full(len(table.rows), np.nan) if targets else None
    ea = np.full(len(table.rows), np.nan) if targets and cols.ea else None
    seen: dict[str, int] = {}
    amounts: list[dict[str, float]] = []
    for i, row in enumerate(table.rows):
        where = table.where(i, name_col)
        formula = row[formula_col].strip() if formula_col else ""
        cif = row.get(struct_col, "").strip() if struct_col else ""
        try:
            cell = None
            if cif:
                cif_path = Path(cif) if Path(cif).is_absolute() else table.path.parent / cif
                cif_formula, struct[i], cell, geometry[i] = read_cif(cif_path)
                formula = formula or cif_formula
                structures.append(str(cif_path))
            else:
                structures.append(None)
                if table_struct:
                    struct[i] = table_structure_features(
                        row.get(cols.space_group, ""),
                        tuple(row.get(c, "") for c in cols.lattice),
                        row.get(cols.cell_formula, ""))
                elif fs == "cell" and has_geometry:
                    geometry[i] = table_cell_geometry(
                        row.get(cols.space_group, ""),
                        tuple(row.get(c, "") for c in cols.lattice))
            if not formula:
                raise FormulaError(f"no formula ({formula_col or 'no formula column'}) and "
                                   "no CIF")
            amounts.append(parse_formula(formula))
            cell_amounts.append(cell or amounts[-1])
            if targets:
                sigma[i] = parse_sigma(row[cols.sigma], censored_value)
                if ea is not None and row[cols.ea].strip():
                    value = float(row[cols.ea])
                    if not (math.isfinite(value) and value > 0):
                        raise ValueError(f"activation energy {row[cols.ea]!r} eV is not a "
                                         "positive number")
                    ea[i] = value
        except (InputFileError, ValueError, ArithmeticError) as exc:
            raise InputFileError(f"{where}: {exc}") from None
        formulas.append(formula)
        name = (row.get(name_col, "").strip() if name_col else "") or formula
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
        names.append(name)
    X = _design_matrix(fs, featurizer, amounts, struct, cell_amounts, geometry)
    groups = ["-".join(sorted(a)) for a in amounts]
    return Design(formulas, names, X, structures, sigma, ea, groups)


def _design_matrix(fs: str, featurizer: CompositionFeaturizer,
                   amounts: list[dict[str, float]], struct: np.ndarray,
                   cell_amounts: list[dict[str, float]], geometry: np.ndarray) -> np.ndarray:
    if fs == "cell":
        return cell_block(cell_amounts, geometry)
    comp = featurizer.featurize_batch(amounts)
    return np.hstack([comp, struct]) if fs == "structure" else comp


def design_from_cifs(paths: Sequence[Path], featurizer: CompositionFeaturizer,
                     use_structure: bool | str) -> Design:
    """Features of CIF files given directly (name = file stem); ``use_structure`` as in
    :func:`design_from_table`."""
    struct = np.full((len(paths), len(STRUCTURE_FEATURES)), np.nan)
    geometry = np.full((len(paths), 7), np.nan)
    formulas, names, amounts, cells = [], [], [], []
    for i, path in enumerate(paths):
        formula, struct[i], cell, geometry[i] = read_cif(path)
        try:
            amounts.append(parse_formula(formula))
        except InputFileError as exc:
            raise InputFileError(f"{path}: {exc}") from None
        cells.append(cell)
        formulas.append(formula)
        names.append(Path(path).stem)
    if len(set(names)) != len(names):
        raise UsageError("two CIF files have the same name; rename one")
    X = _design_matrix(feature_set_name(use_structure), featurizer, amounts, struct, cells,
                       geometry)
    return Design(formulas, names, X, [str(p) for p in paths],
                  groups=["-".join(sorted(a)) for a in amounts])
