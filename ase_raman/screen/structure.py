"""Structures for screening: read a CIF/POSCAR, order partial occupancies, build a supercell.

Partial occupancies (a CIF's ``_atom_site_occupancy`` < 1, or two species on one site)
are ordered by a reproducible, documented rule rather than an energy search (pymatgen's
``OrderDisorderedStructureTransformation`` enumerates Ewald energies and is far too slow
for a screening loop):

1. Every ``_atom_site`` row is expanded with the space group into its orbit; rows whose
   positions coincide (within 0.5 Angstrom) become one *site* holding the occupancies of
   all of them (e.g. S/Cl on the argyrodite 4d site). Sites with equal occupancy tables
   form a *class*.
2. The disordered cell is reduced to its primitive cell (spglib, with each class as one
   type), then repeated to a supercell whose minimum image distance (the shortest
   non-zero lattice vector) is at least ``min_image_A``, with the fewest atoms among
   diagonal repeats of the Niggli-reduced primitive cell.
3. In the supercell, each class with n sites and occupancy table {X: x, ...} receives
   round(n x) atoms of each species X (largest remainders first so the total does not
   exceed n; vacancies fill the rest). Species are placed site by site in an order drawn
   from ``numpy.random.default_rng(seed)``; a site closer than ``exclusion_A`` (default
   1.4 Angstrom) to an already occupied site is skipped while free sites remain (split
   Li sites then hold one ion, not two). Classes are handled in the CIF's row order.

The ordered composition can differ from the nominal one by the rounding (reported in
:class:`OrderedStructure`); no charge balancing is attempted.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.geometry import minkowski_reduce

from ..errors import InputFileError, UsageError

__all__ = ["OrderedStructure", "read_structure", "order_and_supercell",
           "minimum_image_distance", "build_structure"]

#: positions of different CIF rows closer than this are one site (Angstrom)
MERGE_A = 0.5


@dataclass
class OrderedStructure:
    """An ordered supercell ready for MD and what was done to get it."""

    atoms: Atoms
    repeat: tuple[int, int, int]
    min_image_A: float
    n_partial_sites: int
    nominal_formula: str
    ordered_formula: str
    notes: list[str] = field(default_factory=list)


@dataclass
class _Site:
    frac: np.ndarray              # (3,) fractional in the parent cell
    table: tuple[tuple[str, float], ...]  # ((symbol, occupancy), ...), sorted


def _cif_sites(path: Path) -> tuple[np.ndarray, list[_Site]]:
    """Cell and symmetry-expanded, merged sites of a CIF (occupancy tables kept)."""
    from ase.io.cif import parse_cif
    from ase.spacegroup import Spacegroup

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        blocks = [b for b in parse_cif(str(path)) if b.has_structure()]
    if not blocks:
        raise InputFileError(f"{path}: no crystal structure in this CIF")
    block = blocks[0]
    try:
        cell = block.get_cell().array
        sg: Spacegroup = block.get_spacegroup(True)
    except Exception as exc:  # ASE raises several kinds for a malformed block
        raise InputFileError(f"{path}: cannot read cell or space group ({exc})") from None
    labels = block.get("_atom_site_label")
    types = block.get("_atom_site_type_symbol") or labels
    xyz = [block.get(f"_atom_site_fract_{c}") for c in "xyz"]
    if labels is None or any(v is None for v in xyz):
        raise InputFileError(f"{path}: no _atom_site_fract_x/y/z loop")
    occ = block.get("_atom_site_occupancy") or [1.0] * len(labels)
    sites: list[_Site] = []
    for t, x, y, z, o in zip(types, *xyz, occ, strict=True):
        symbol = _element(str(t), path)
        try:
            o = float(o)
        except (TypeError, ValueError):
            o = 1.0
        orbit, _ = sg.equivalent_sites([[float(x), float(y), float(z)]], onduplicates="keep",
                                       symprec=1e-3)
        for f in np.asarray(orbit) % 1.0:
            hit = _find_site(sites, f, cell)
            if hit is None:
                sites.append(_Site(f, ((symbol, o),)))
            else:
                merged = dict(hit.table)
                merged[symbol] = merged.get(symbol, 0.0) + o
                hit.table = tuple(sorted(merged.items()))
    return cell, sites


def _element(type_symbol: str, path: Path) -> str:
    from ase.data import chemical_symbols

    letters = "".join(ch for ch in type_symbol if ch.isalpha())
    for n in (2, 1):
        cand = letters[:n].capitalize()
        if cand in chemical_symbols[1:]:
            return cand
    raise InputFileError(f"{path}: unknown element in atom type {type_symbol!r}")


def _find_site(sites: list[_Site], frac: np.ndarray, cell: np.ndarray) -> _Site | None:
    for s in sites:
        d = frac - s.frac
        d -= np.round(d)
        if np.linalg.norm(d @ cell) < MERGE_A:
            return s
    return None


def minimum_image_distance(cell: np.ndarray) -> float:
    """Shortest non-zero lattice vector of ``cell`` (Angstrom)."""
    reduced, _ = minkowski_reduce(np.asarray(cell, dtype=float))
    best = math.inf
    for n in product((-1, 0, 1), repeat=3):
        if any(n):
            best = min(best, float(np.linalg.norm(np.asarray(n) @ reduced)))
    return best


def _primitive(cell: np.ndarray, sites: list[_Site]) -> tuple[np.ndarray, list[_Site]]:
    """The primitive cell of the disordered structure (each occupancy table a type)."""
    import spglib

    tables = sorted({s.table for s in sites})
    types = [tables.index(s.table) + 1 for s in sites]
    frac = np.array([s.frac for s in sites])
    prim = spglib.standardize_cell((cell, frac, types), to_primitive=True,
                                   no_idealize=True, symprec=1e-2)
    if prim is None or len(prim[1]) >= len(sites):
        return cell, sites
    pcell, pfrac, ptypes = prim
    reduced, op = minkowski_reduce(np.asarray(pcell))
    # positions in the reduced basis: frac' = frac @ inv(op)
    pfrac = (np.asarray(pfrac) @ np.linalg.inv(op)) % 1.0
    return reduced, [_Site(f, tables[t - 1]) for f, t in zip(pfrac, ptypes, strict=True)]


def _best_repeat(cell: np.ndarray, n_sites: int, target: float) -> tuple[int, int, int]:
    best: tuple[int, tuple[int, int, int]] | None = None
    for rep in product(range(1, 7), repeat=3):
        if minimum_image_distance(cell * np.asarray(rep)[:, None]) >= target:
            size = n_sites * int(np.prod(rep))
            if best is None or size < best[0] or (size == best[0] and rep > best[1]):
                best = (size, rep)
    if best is None:
        raise UsageError(f"no repeat up to 6x6x6 reaches a minimum image distance of "
                         f"{target} Angstrom")
    return best[1]


def _formula(symbols: list[str]) -> str:
    return Atoms(symbols).get_chemical_formula("metal") if symbols else ""


def order_and_supercell(cell: np.ndarray, sites: list[_Site], min_image_A: float = 8.0,
                        seed: int = 0, exclusion_A: float = 1.4) -> OrderedStructure:
    """Primitive reduction, supercell and seeded site-by-site ordering (module docstring)."""
    nominal = {}
    for s in sites:
        for sym, o in s.table:
            nominal[sym] = nominal.get(sym, 0.0) + o
    candidates = [(np.asarray(cell, float), sites), _primitive(np.asarray(cell, float), sites)]
    sized = []
    for c_cell, c_sites in candidates:
        rep = _best_repeat(c_cell, len(c_sites), min_image_A)
        sized.append((len(c_sites) * int(np.prod(rep)), len(sized), rep, c_cell, c_sites))
    _, _, rep, cell, sites = min(sized, key=lambda t: t[:2])
    grid = np.array(list(product(*(range(r) for r in rep))), dtype=float)
    super_cell = cell * np.asarray(rep)[:, None]
    rng = np.random.default_rng(seed)
    classes: dict[tuple, list[np.ndarray]] = {}
    for s in sites:
        for g in grid:
            classes.setdefault(s.table, []).append((s.frac + g) / rep)
    symbols: list[str] = []
    positions: list[np.ndarray] = []
    n_partial = 0
    all_counts = _counts({t: len(f) for t, f in classes.items()})
    for table, fracs in classes.items():
        carts = np.array(fracs) @ super_cell
        n = len(carts)
        full = len(table) == 1 and table[0][1] >= 0.999
        if full:
            symbols += [table[0][0]] * n
            positions += list(carts)
            continue
        n_partial += n
        counts = all_counts[table]
        chosen = _place(carts, sum(counts.values()), positions, super_cell, rng, exclusion_A)
        labels = [sym for sym, c in counts.items() for _ in range(c)]
        rng.shuffle(labels)
        symbols += labels
        positions += [carts[i] for i in chosen]
    if not symbols:
        raise InputFileError("no atoms left after ordering")
    atoms = Atoms(symbols, positions=np.array(positions), cell=super_cell, pbc=True)
    atoms.wrap()
    order = np.argsort(atoms.numbers, kind="stable")
    atoms = atoms[order]
    ordered = _formula(atoms.get_chemical_symbols())
    nominal_formula = " ".join(f"{k}{v:g}" for k, v in sorted(nominal.items()))
    return OrderedStructure(atoms=atoms, repeat=tuple(int(r) for r in rep),
                            min_image_A=minimum_image_distance(super_cell),
                            n_partial_sites=n_partial, nominal_formula=nominal_formula,
                            ordered_formula=ordered)


def _counts(classes: dict[tuple, int]) -> dict[tuple, dict[str, int]]:
    """Atoms of each species per class of n sites: the floor of n x per class, then, per
    species, the remaining round(sum of n x) - sum of floors atoms go to the classes
    with the largest remainders that still have a free site (so the species totals
    are the nominal ones rounded, not the sum of per-class roundings)."""
    raw = {t: {sym: n * min(1.0, o) for sym, o in t} for t, n in classes.items()}
    counts = {t: {sym: int(math.floor(v + 1e-9)) for sym, v in r.items()} for t, r in raw.items()}
    species = sorted({sym for t in classes for sym, _ in t})
    for sym in species:
        total = int(round(sum(r.get(sym, 0.0) for r in raw.values())))
        have = sum(c.get(sym, 0) for c in counts.values())
        order = sorted((t for t in classes if sym in raw[t]),
                       key=lambda t: (-(raw[t][sym] - counts[t][sym]), str(t)))
        for t in order:
            if have >= total:
                break
            if sum(counts[t].values()) < classes[t]:
                counts[t][sym] += 1
                have += 1
    return counts


def _place(carts: np.ndarray, k: int, occupied: list[np.ndarray], cell: np.ndarray,
           rng: np.random.Generator, exclusion_A: float) -> list[int]:
    """k of the candidate sites, in seeded order, avoiding sites within exclusion_A."""
    from ase.geometry import get_distances

    order = rng.permutation(len(carts))
    chosen: list[int] = []
    taken = list(occupied)
    skipped: list[int] = []
    for i in order:
        if len(chosen) == k:
            break
        if taken:
            _, d = get_distances(carts[i][None], np.array(taken), cell=cell, pbc=True)
            if d.min() < exclusion_A:
                skipped.append(int(i))
                continue
        chosen.append(int(i))
        taken.append(carts[i])
    chosen += skipped[: k - len(chosen)]
    return chosen


def read_structure(path: str | Path) -> tuple[np.ndarray, list[_Site]]:
    """Cell (Angstrom) and sites of a CIF (with occupancies) or any ASE-readable file."""
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"{path}: no such structure file")
    if p.suffix.lower() == ".cif":
        return _cif_sites(p)
    from ase.io import read

    try:
        atoms = read(str(p))
    except Exception as exc:  # ASE raises many kinds for a malformed file
        raise InputFileError(f"{path}: cannot read the structure ({exc})") from None
    if not atoms.pbc.all():
        raise InputFileError(f"{path}: screening needs a periodic crystal (pbc on all axes)")
    pairs = zip(atoms.get_scaled_positions(), atoms.get_chemical_symbols(), strict=True)
    return atoms.cell.array, [_Site(f % 1.0, ((s, 1.0),)) for f, s in pairs]


def build_structure(path: str | Path, min_image_A: float = 8.0, seed: int = 0
                    ) -> OrderedStructure:
    """Read ``path``, order it and build the supercell (see the module docstring)."""
    cell, sites = read_structure(path)
    if not sites:
        raise InputFileError(f"{path}: no atoms")
    return order_and_supercell(cell, sites, min_image_A=min_image_A, seed=seed)
