"""Ordering of partial occupancies and supercells for ``ase-raman screen`` (no MD)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.geometry import get_distances

from ase_raman.errors import InputFileError
from ase_raman.screen.structure import build_structure, minimum_image_distance


def _counts(atoms):
    symbols = atoms.get_chemical_symbols()
    return {s: symbols.count(s) for s in set(symbols)}


def test_argyrodite_ordering_keeps_composition_and_excludes_split_sites(test_data):
    # Li6PS5Cl (OBELiX 122): Li half-occupies the 48h split sites (pairs ~0.6 A apart),
    # S/Cl share 4a and 4d. One conventional cell: Li24 P4 S20 Cl4.
    built = build_structure(test_data / "obelix_122_Li6PS5Cl.cif", min_image_A=9.0, seed=0)
    assert _counts(built.atoms) == {"Li": 24, "P": 4, "S": 20, "Cl": 4}
    assert built.min_image_A >= 9.0
    assert built.n_partial_sites > 0
    li = built.atoms.positions[built.atoms.numbers == 3]
    _, d = get_distances(li, cell=built.atoms.cell, pbc=True)
    d = d[np.triu_indices(len(li), 1)]
    assert d.min() > 1.4  # never both halves of a split site


def test_ordering_is_reproducible_and_seeded(test_data):
    path = test_data / "obelix_122_Li6PS5Cl.cif"
    a = build_structure(path, 9.0, seed=3).atoms
    b = build_structure(path, 9.0, seed=3).atoms
    c = build_structure(path, 9.0, seed=4).atoms
    assert np.array_equal(a.numbers, b.numbers) and np.allclose(a.positions, b.positions)
    assert _counts(a) == _counts(c)
    assert not np.allclose(a.positions, c.positions)


def test_supercell_reaches_minimum_image_with_fewest_atoms(test_data):
    # Li3YCl6 (P-3m1, a = 11.2, c = 6.0 A): 1x1x2 is the smallest cell with >= 8 A
    built = build_structure(test_data / "obelix_ei3_Li3YCl6.cif", min_image_A=8.0)
    assert built.min_image_A >= 8.0
    assert minimum_image_distance(built.atoms.cell.array) == pytest.approx(built.min_image_A)
    counts = _counts(built.atoms)
    assert counts["Li"] * 2 == counts["Y"] * 6 == counts["Cl"]  # Li3YCl6, charge-balanced
    assert len(built.atoms) == 60


def test_unreadable_structure_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.cif"
    bad.write_text("data_x\n_cell_length_a 5\n")
    with pytest.raises(InputFileError):
        build_structure(bad)
    with pytest.raises(InputFileError, match="no such"):
        build_structure(tmp_path / "missing.cif")
