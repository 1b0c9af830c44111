"""Sites from the host (non-mobile) sublattice: interstitial candidates and site types.

**Host positions** (:func:`host_positions`): the time-averaged positions of the atoms
that are not of the analysed species (at most :data:`HOST_MAX_FRAMES` evenly spaced
frames, each atom followed by the minimum image from its first position), as fractional
coordinates of the mean cell.

**Interstitial sites** (:func:`interstitial_sites`, ``--sites interstitial``): the
centres of the empty spheres of the host sublattice, i.e. the circumcentres of its
periodic Delaunay tetrahedra (the vertices of its Voronoi diagram). Circumcentres closer
than :data:`INTERSTITIAL_MERGE_A` are merged into one candidate (a host octahedron is
split into four tetrahedra with one common circumcentre; thermal disorder spreads such
centres slightly). Candidates closer than :data:`INTERSTITIAL_MIN_HOST_A` to a host atom
are dropped. :mod:`.mechanism` then keeps only the candidates the mobile ions visit.
For an fcc host of lattice constant ``a`` the candidates are exactly its 8 tetrahedral
(``a sqrt(3)/4`` from 4 host atoms) and 4 octahedral (``a/2`` from 6) holes per cubic
cell.

**Site types** (:func:`environment_labels`): a site is typed by its first coordination
shell of host atoms: the host atoms within :data:`SHELL_TOLERANCE` times the distance of
the nearest one; the label is ``"CN<n>-<formula>"`` (e.g. ``"CN4-I4"`` for a tetrahedral
hole of an iodide sublattice, ``"CN6-I6"`` for an octahedral one). Sites given by a file
with labels keep them (:func:`~.sites.read_sites`).

Units: Angstrom.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from scipy.spatial import Delaunay, cKDTree

#: Host positions are averaged over at most this many evenly spaced frames.
HOST_MAX_FRAMES = 200
#: Circumcentres of the host's Delaunay tetrahedra closer than this are one candidate.
INTERSTITIAL_MERGE_A = 0.5
#: Candidates closer than this to a host atom are no sites (Angstrom).
INTERSTITIAL_MIN_HOST_A = 0.8
#: First coordination shell: host atoms within this factor of the nearest host distance.
SHELL_TOLERANCE = 1.15

_SHIFTS = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)])


def host_positions(positions: np.ndarray, cells: np.ndarray, host: np.ndarray) -> np.ndarray:
    """Mean fractional positions ``(n_host, 3)`` in [0, 1) of the atoms ``host`` (indices)
    of ``positions`` ``(n_frames, n_atoms, 3)`` (Angstrom) in the mean of ``cells``
    ``(n_frames, 3, 3)``."""
    n_frames = len(positions)
    pick = np.unique(np.linspace(0, n_frames - 1, min(n_frames, HOST_MAX_FRAMES)).round()
                     .astype(int))
    inv = np.linalg.inv(cells[pick])
    frac = np.einsum("fai,fij->faj", positions[pick][:, host], inv)
    d = frac - frac[0]
    d -= np.rint(d)
    mean = frac[0] + d.mean(axis=0)
    return mean - np.floor(mean)


def _images(frac: np.ndarray, cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cartesian positions of ``frac`` and its 26 neighbouring images, and the index of
    the original atom of each."""
    images = (frac[None, :, :] + _SHIFTS[:, None, :]).reshape(-1, 3) @ cell
    return images, np.tile(np.arange(len(frac)), len(_SHIFTS))


def interstitial_sites(host_frac: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Fractional centres ``(n, 3)`` of the empty spheres of the host sublattice
    ``host_frac`` (fractional, wrapped) in ``cell`` (see the module docstring)."""
    images, _ = _images(host_frac, cell)
    tri = Delaunay(images, qhull_options="QJ")
    pts = images[tri.simplices]  # (n, 4, 3)
    a = pts[:, 1:] - pts[:, :1]
    rhs = 0.5 * np.einsum("nij,nij->ni", a, a)
    ok = np.abs(np.linalg.det(a)) > 1e-8
    centre = pts[ok, 0] + np.linalg.solve(a[ok], rhs[ok][..., None])[..., 0]
    frac = centre @ np.linalg.inv(cell)
    inside = np.all((frac >= -1e-9) & (frac < 1 - 1e-9), axis=1)
    frac = frac[inside] - np.floor(frac[inside])
    tree = cKDTree(images)
    near, _ = tree.query(frac @ cell)
    frac = frac[near >= INTERSTITIAL_MIN_HOST_A]
    keep: list[np.ndarray] = []  # greedy merge, periodic
    for f in frac:
        if keep:
            d = np.asarray(keep) - f
            d -= np.rint(d)
            if np.min(np.linalg.norm(d @ cell, axis=1)) < INTERSTITIAL_MERGE_A:
                continue
        keep.append(f)
    return np.asarray(keep).reshape(-1, 3)


def environment_labels(site_frac: np.ndarray, cell: np.ndarray, host_frac: np.ndarray,
                       host_symbols: np.ndarray) -> np.ndarray:
    """``"CN<n>-<formula>"`` per site: its first shell of host atoms (module docstring);
    ``"site"`` for every site when there are no host atoms."""
    if not len(host_frac) or not len(site_frac):
        return np.array(["site"] * len(site_frac), dtype=object)
    images, owner = _images(host_frac, cell)
    tree = cKDTree(images)
    centres = site_frac @ cell
    nearest, _ = tree.query(centres)
    labels = []
    for c, d0 in zip(centres, nearest, strict=True):
        shell = tree.query_ball_point(c, SHELL_TOLERANCE * d0 + 1e-6)
        counts = Counter(host_symbols[owner[i]] for i in shell)
        formula = "".join(f"{s}{counts[s]}" for s in sorted(counts))
        labels.append(f"CN{len(shell)}-{formula}")
    return np.asarray(labels, dtype=object)
