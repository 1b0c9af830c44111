"""Dipole field tensors: open boundaries (direct sum) and periodic (Ewald, tin-foil).

Units: lengths in Angstrom, tensors in Angstrom^-3 (Gaussian units: the field of a dipole
mu at r is ``T(r) mu`` with ``T(r) = 3 r r^T / r^5 - I / r^3``).

Matrix layout: a (3N, 3N) matrix with row/column index ``3 i + a`` (atom i, Cartesian
a); block (i, j) maps the dipole of atom j to the field at atom i.

Periodic systems use the Ewald sum of the *undamped* tensor with tin-foil (conducting)
boundary conditions, i.e. no surface term: the applied field is then the macroscopic
(Maxwell) field and ``alpha = V (eps - 1) / (4 pi)`` holds exactly. With splitting
parameter beta::

    real space  T_ij += sum_n' B2(r) r r^T - B1(r) I,  r = r_j - r_i + n  (r < r_cut)
        B1 = [erfc(beta r) + 2 beta r / sqrt(pi) exp(-beta^2 r^2)] / r^3
        B2 = [3 erfc(beta r) + 2 beta r / sqrt(pi) (3 + 2 beta^2 r^2) exp(-beta^2 r^2)] / r^5
    reciprocal  T_ij -= (4 pi / V) sum_{k != 0} exp(-k^2 / 4 beta^2) / k^2 k k^T cos(k . r_ij)
    self        T_ii += 4 beta^3 / (3 sqrt(pi)) I

beta and the reciprocal cutoff follow from the real-space cutoff and a target accuracy
``eps``: ``beta = sqrt(ln(1/eps)) / r_cut`` and ``k_max = 2 beta sqrt(ln(1/eps))``. The
result does not depend on beta (tested to ~1e-7 relative), which is the convergence test
of the sum. The short-range Thole damping is added on top as a real-space correction
(:mod:`ase_raman_did.thole`).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from scipy.special import erfc


def _scatter_blocks(n_atoms: int, i: np.ndarray, j: np.ndarray,
                    blocks: np.ndarray) -> np.ndarray:
    """Sum (P, 3, 3) blocks into a (3N, 3N) matrix at atom pairs (i, j)."""
    rows = (3 * i)[:, None, None] + np.arange(3)[None, :, None]
    cols = (3 * j)[:, None, None] + np.arange(3)[None, None, :]
    flat = (rows * 3 * n_atoms + cols).reshape(-1)
    size = (3 * n_atoms) ** 2
    out = np.bincount(flat, weights=blocks.reshape(-1), minlength=size)
    return out.reshape(3 * n_atoms, 3 * n_atoms)


def bare_blocks(vec: np.ndarray) -> np.ndarray:
    """Undamped dipole field tensors ``3 r r^T / r^5 - I / r^3`` for vectors (P, 3)."""
    r2 = np.einsum("pa,pa->p", vec, vec)
    r = np.sqrt(r2)
    outer = vec[:, :, None] * vec[:, None, :]
    return 3.0 * outer / (r2 * r2 * r)[:, None, None] - np.eye(3)[None] / (r2 * r)[:, None, None]


def open_field_tensor(positions: np.ndarray) -> np.ndarray:
    """(3N, 3N) undamped dipole field tensor of N atoms in vacuum (diagonal blocks zero)."""
    n = len(positions)
    i, j = np.triu_indices(n, k=1)
    blocks = bare_blocks(positions[j] - positions[i])
    upper = _scatter_blocks(n, i, j, blocks)
    return upper + upper.T


def periodic_pairs(atoms: Atoms, cutoff: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (i, j, D) with ``D = r_j - r_i + n`` (n a lattice vector), ``0 < |D| < cutoff``.

    Same content as ``ase.neighborlist.neighbor_list("ijD", atoms, cutoff)`` for a fully
    periodic cell (both directions, an atom's own images included), computed with dense
    numpy over image shifts: several times faster for ~100-atom cells.
    """
    cell = np.asarray(atoms.cell)
    frac = np.linalg.solve(cell.T, atoms.positions.T).T
    diff = frac[None, :, :] - frac[:, None, :]  # (N, N, 3): r_j - r_i in fractions
    diff -= np.round(diff)
    base = diff @ cell
    volume = abs(np.linalg.det(cell))
    spacing = volume / np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
    n_max = np.ceil(cutoff / spacing + 0.5).astype(int)
    n = len(atoms)
    eye = np.eye(n, dtype=bool)
    out_i, out_j, out_d = [], [], []
    cut2 = cutoff * cutoff
    for n0 in range(-n_max[0], n_max[0] + 1):
        for n1 in range(-n_max[1], n_max[1] + 1):
            for n2 in range(-n_max[2], n_max[2] + 1):
                shift = np.array([n0, n1, n2], dtype=float) @ cell
                vec = base + shift
                r2 = np.einsum("ija,ija->ij", vec, vec)
                mask = r2 < cut2
                if n0 == n1 == n2 == 0:
                    mask &= ~eye
                i, j = np.nonzero(mask)
                if len(i):
                    out_i.append(i)
                    out_j.append(j)
                    out_d.append(vec[i, j])
    if not out_i:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int), np.zeros((0, 3))
    return np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_d)


def ewald_parameters(cutoff: float, accuracy: float) -> tuple[float, float]:
    """``(beta, k_max)`` (Angstrom^-1) for a real-space cutoff (Angstrom) and accuracy."""
    q = np.sqrt(np.log(1.0 / accuracy))
    beta = q / cutoff
    return beta, 2.0 * beta * q


def reciprocal_vectors(cell: np.ndarray, k_max: float) -> np.ndarray:
    """Half of the reciprocal lattice vectors with 0 < |k| <= k_max (k and -k as one)."""
    recip = 2.0 * np.pi * np.linalg.inv(cell).T  # rows b_1, b_2, b_3
    # |n_a| <= k_max |a_a| / (2 pi) bounds every lattice vector inside the sphere
    n_max = np.ceil(k_max * np.linalg.norm(cell, axis=1) / (2.0 * np.pi)).astype(int)
    grids = np.meshgrid(*[np.arange(-m, m + 1) for m in n_max], indexing="ij")
    n = np.stack([g.reshape(-1) for g in grids], axis=1)
    # half space: first non-zero integer component positive
    first = np.argmax(n != 0, axis=1)
    positive = n[np.arange(len(n)), first] > 0
    k = n[positive] @ recip
    return k[np.einsum("ka,ka->k", k, k) <= k_max**2]


def ewald_field_tensor(atoms: Atoms, cutoff: float, accuracy: float,
                       pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
                       ) -> np.ndarray:
    """(3N, 3N) Ewald-summed undamped dipole field tensor (tin-foil), Angstrom^-3.

    ``pairs`` = ``(i, j, D)`` from ``neighbor_list("ijD", atoms, r)`` with r >= cutoff may
    be passed to avoid a second neighbour search; pairs beyond ``cutoff`` are ignored.
    """
    n = len(atoms)
    cell = np.asarray(atoms.cell)
    volume = abs(np.linalg.det(cell))
    beta, k_max = ewald_parameters(cutoff, accuracy)

    # real space: every pair (and every atom with its own images) within the cutoff
    if pairs is None:
        pairs = periodic_pairs(atoms, cutoff)
    i, j, vec = pairs
    r2 = np.einsum("pa,pa->p", vec, vec)
    inside = r2 < cutoff**2
    i, j, vec, r2 = i[inside], j[inside], vec[inside], r2[inside]
    r = np.sqrt(r2)
    br = beta * r
    gauss = 2.0 * br / np.sqrt(np.pi) * np.exp(-br * br)
    e = erfc(br)
    b1 = (e + gauss) / (r2 * r)
    b2 = (3.0 * e + gauss * (3.0 + 2.0 * br * br)) / (r2 * r2 * r)
    blocks = b2[:, None, None] * vec[:, :, None] * vec[:, None, :] - b1[:, None, None] * np.eye(3)
    t = _scatter_blocks(n, i, j, blocks)

    # reciprocal space, as G G^T with G[(i, a), k] = sqrt(w_k) k_a (cos | sin)(k . r_i)
    k = reciprocal_vectors(cell, k_max)
    k2 = np.einsum("ka,ka->k", k, k)
    weight = 2.0 * np.exp(-k2 / (4.0 * beta**2)) / k2  # 2: k and -k
    phase = atoms.positions @ k.T  # (N, K)
    sw = np.sqrt(weight)
    g = np.concatenate([np.cos(phase) * sw, np.sin(phase) * sw], axis=1)  # (N, 2K)
    kk = np.concatenate([k, k], axis=0)  # (2K, 3)
    big = (g[:, None, :] * kk.T[None, :, :]).reshape(3 * n, -1)
    t -= (4.0 * np.pi / volume) * (big @ big.T)

    # self field of the screening Gaussians
    t += 4.0 * beta**3 / (3.0 * np.sqrt(np.pi)) * np.eye(3 * n)
    return t
