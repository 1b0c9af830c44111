"""Structures shared by the benchmarks: alpha-AgI-like cells (bcc iodide, Ag on
tetrahedral sites, thermal noise) and a simple physical bond-polarizability label."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

#: alpha-AgI lattice parameter (Angstrom) near 500 K.
AGI_LATTICE_A = 5.07
#: tetrahedral (12d) sites of the bcc cell, fractional coordinates.
_TETRAHEDRAL = np.array([
    [0.25, 0.5, 0.0], [0.75, 0.5, 0.0], [0.0, 0.25, 0.5], [0.0, 0.75, 0.5],
    [0.5, 0.0, 0.25], [0.5, 0.0, 0.75],
])


def alpha_agi(repeat: tuple[int, int, int], seed: int, noise: float = 0.15) -> Atoms:
    """An alpha-AgI cell: 2 I per bcc cell, Ag on random distinct tetrahedral sites."""
    rng = np.random.default_rng(seed)
    symbols, positions = [], []
    for i in range(repeat[0]):
        for j in range(repeat[1]):
            for k in range(repeat[2]):
                origin = np.array([i, j, k], dtype=float)
                for frac in ([0, 0, 0], [0.5, 0.5, 0.5]):
                    symbols.append("I")
                    positions.append(origin + frac)
                for frac in _TETRAHEDRAL[rng.choice(len(_TETRAHEDRAL), 2, replace=False)]:
                    symbols.append("Ag")
                    positions.append(origin + frac)
    cell = np.diag(repeat) * AGI_LATTICE_A
    atoms = Atoms(symbols, scaled_positions=np.array(positions) / repeat, cell=cell, pbc=True)
    atoms.positions += rng.normal(scale=noise, size=atoms.positions.shape)
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
