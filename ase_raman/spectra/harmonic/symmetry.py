"""Raman selection rules of Gamma modes from the crystal's symmetry operations.

A degenerate set of modes spans a representation Gamma of the crystal's point group; it
is Raman-allowed when Gamma contains an irrep of the symmetric rank-2 (polarizability)
tensor, i.e. when

    n = 1/|G| sum_R chi_Gamma(R) chi_sym(R) > 0,    chi_sym(R) = (tr(R)^2 + tr(R^2)) / 2,

with ``chi_Gamma(R) = sum_k e_k . P(R) e_k`` computed directly from the (mass-weighted)
eigenvectors and the operation's action P(R) on atomic displacements (atom i -> its image
j, displacement rotated by R). No character tables are needed, so this works for every
space group spglib finds, and it does not rely on irrep labels.
"""

from __future__ import annotations

import numpy as np

from .modes import GammaModes


def symmetry_operations(modes: GammaModes, symprec: float = 1e-5
                        ) -> list[tuple[np.ndarray, np.ndarray]]:
    """(Cartesian rotation (3, 3), atom permutation (N,)) of every space-group operation.

    The permutation maps atom i to the atom j at ``R r_i + t`` (same species, modulo
    lattice vectors). Operations spglib reports but whose permutation cannot be built at
    ``10 symprec`` are skipped. Returns only the identity when spglib is unavailable.
    """
    atoms = modes.atoms
    n = len(atoms)
    identity = [(np.eye(3), np.arange(n))]
    try:
        import spglib
    except ImportError:  # pragma: no cover - spglib comes with phonopy
        return identity
    lattice = atoms.cell.array
    frac = atoms.get_scaled_positions(wrap=False)
    numbers = atoms.get_atomic_numbers()
    try:
        sym = spglib.get_symmetry((lattice, frac, numbers), symprec=symprec)
    except Exception:
        return identity
    if not sym:
        return identity
    ops = []
    a_t = lattice.T
    a_t_inv = np.linalg.inv(a_t)
    for rot, trans in zip(sym["rotations"], sym["translations"], strict=True):
        new = frac @ rot.T + trans
        diff = new[:, None, :] - frac[None, :, :]
        diff -= np.rint(diff)
        dist = np.linalg.norm(diff @ lattice, axis=2)
        dist[numbers[:, None] != numbers[None, :]] = np.inf
        perm = np.argmin(dist, axis=1)
        if np.any(dist[np.arange(n), perm] > 10 * symprec) or len(set(perm)) != n:
            continue
        ops.append((a_t @ rot @ a_t_inv, perm))
    return ops or identity


def raman_multiplicity(modes: GammaModes, bands: list[int],
                       operations: list[tuple[np.ndarray, np.ndarray]]) -> float | None:
    """Number of independent Raman tensors allowed for the set ``bands`` (0-based).

    Returns the character sum n (an integer for a symmetry-adapted set) or None when it
    is not close to an integer (the set is not closed under the operations: eigenvectors
    or structure not symmetric within the tolerance, or a degeneracy was missed).
    """
    vec = modes.eigenvectors[bands]  # (d, N, 3)
    total = 0.0
    for rot, perm in operations:
        moved = np.zeros_like(vec)
        moved[:, perm, :] = vec @ rot.T
        chi = float(np.sum(moved * vec))
        chi_sym = 0.5 * (np.trace(rot) ** 2 + np.trace(rot @ rot))
        total += chi * chi_sym
    n = total / len(operations)
    if abs(n - round(n)) > 0.1:
        return None
    return float(round(n))


def raman_allowed(modes: GammaModes, symprec: float = 1e-5
                  ) -> tuple[np.ndarray, int]:
    """Per mode: 1 (Raman-allowed by symmetry), 0 (forbidden) or -1 (unknown).

    Also returns the number of point-group operations used (1 = no symmetry found, in
    which case every mode is allowed).
    """
    ops = symmetry_operations(modes, symprec)
    allowed = np.full(modes.n_modes, -1, dtype=int)
    for bands in modes.degenerate_sets():
        n = raman_multiplicity(modes, bands, ops)
        if n is not None:
            allowed[bands] = 1 if n > 0 else 0
    return allowed, len(ops)
