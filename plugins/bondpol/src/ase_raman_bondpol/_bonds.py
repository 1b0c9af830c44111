"""Bond lists: every bond once, with its length (Angstrom) and unit vector."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list


@dataclass
class Bonds:
    """The bonds of one structure (each once): atoms ``i``, ``j``, length ``r``, unit ``u``."""

    i: np.ndarray  # (B,) int
    j: np.ndarray  # (B,) int
    r: np.ndarray  # (B,) Angstrom
    u: np.ndarray  # (B, 3) unit vectors from i to j

    @property
    def projectors(self) -> np.ndarray:
        """``u u^T`` per bond, shape (B, 3, 3)."""
        return self.u[:, :, None] * self.u[:, None, :]


def find_bonds(atoms: Atoms, cutoff) -> Bonds:
    """Bonds shorter than ``cutoff`` (per-atom radii array or ASE pair dict, Angstrom).

    ``ase.neighborlist.neighbor_list`` returns every bond twice (i->j and j->i, also
    for periodic images); keeping ``i < j`` and, for ``i == j`` (an atom and its own
    image), one of the two opposite offsets, counts each bond exactly once.
    """
    i, j, d, vec, shift = neighbor_list("ijdDS", atoms, cutoff)
    keep = i < j
    same = i == j
    if np.any(same):
        s = shift[same]
        # lexicographically positive shift: first non-zero component > 0
        first = np.argmax(s != 0, axis=1)
        keep[same] = s[np.arange(len(s)), first] > 0
    i, j, d, vec = i[keep], j[keep], d[keep], vec[keep]
    return Bonds(i=i, j=j, r=d, u=vec / d[:, None])


def pair_key(symbol_a: str, symbol_b: str) -> str:
    """Canonical name of an element pair: symbols in alphabetical order, e.g. ``"Ag-I"``."""
    return "-".join(sorted((symbol_a, symbol_b)))
