"""Structures shared by the benchmarks: alpha-AgI-like cells (bcc iodide, Ag on
tetrahedral sites, thermal noise) and a simple physical bond-polarizability label."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

from ase_raman.demo.agi import alpha_agi as _alpha_agi


def alpha_agi(repeat: tuple[int, int, int], seed: int, noise: float = 0.15) -> Atoms:
    """A thermally disordered alpha-AgI cell (see :func:`ase_raman.demo.agi.alpha_agi`)."""
    atoms = _alpha_agi(repeat, seed=seed, noise=noise)
    atoms.set_initial_charges(None)
    return atoms


def bond_polarizability_label(atoms: Atoms, cutoff: float = 3.6) -> np.ndarray:
    """alpha = sum_i a_i I + sum_bonds (b_par - b_perp) (u u^T - I/3) f(r), Angstrom^3.

    Isotropic ionic polarizabilities (Ag+ 1.7, I- 7.1 Angstrom^3) plus a bond anisotropy
    decaying with length: enough structure for a learner to fit in a timing benchmark.
    """
    iso = {"Ag": 1.7, "I": 7.1}
    alpha = np.eye(3) * sum(iso[s] for s in atoms.get_chemical_symbols())
    i, j, vec = neighbor_list("ijD", atoms, cutoff)
    r = np.linalg.norm(vec, axis=1)
    u = vec / r[:, None]
    weight = 0.5 * 1.2 * np.exp(-(r - 2.8) / 0.4)  # each pair appears twice
    alpha += np.einsum("b,bi,bj->ij", weight, u, u) - np.eye(3) * weight.sum() / 3
    return alpha
