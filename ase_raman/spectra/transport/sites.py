"""Sites of a mobile species and the jumps between them.

**Sites from the data** (:func:`find_sites`): the positions of the species over the
whole run (drift removed, wrapped into the mean cell; at most
:data:`DENSITY_MAX_FRAMES` evenly spaced frames) are histogrammed on a grid of
:data:`VOXEL_A` voxels, smoothed by a periodic Gaussian of :data:`SMOOTH_A`, and every
local maximum within :data:`MIN_SITE_SEPARATION_A` whose density is at least
:data:`SITE_DENSITY_FACTOR` times the species' mean density becomes a site. Whether
these maxima are real sites is judged by the **site contrast**: the fraction of
ion-frames inside the site cores divided by the fraction of the cell volume the cores
take. Ions that vibrate about sites give a contrast of ~10 or more; ions that diffuse
without sites fill the cell nearly evenly and give ~1-2 (the maxima are then sampling
noise). :data:`SITE_CONTRAST_MIN` (3) separates the two (synthetic calibration in the
tests; docs/mechanism.md).

**Sites from the user** (:func:`read_sites`): any structure file ASE reads; its atoms of
the given species (or all its atoms when it has none of them) are the site centres.

**Site trajectories with hysteresis** (:func:`assign_sites`): an ion belongs to a site
when it is inside the site's core (distance below the core radius, by default
:data:`CORE_FRACTION` of the shortest site-site distance, at most
:data:`CORE_RADIUS_MAX_A`); outside every core it is *in flight* and keeps its last
site. A jump is counted only when the ion enters the core of a *different* site, so a
vibration that leaves a core and comes back is not a jump.

**Short and long jumps** (optional, :mod:`.mechanism`): with a ``cage_cutoff_A``, a jump
between sites closer than it counts as intra-cage, a longer one as inter-cage (the
split of argyrodite jumps by distance, de Klerk et al., Chem. Mater. 28, 7955 (2016)).

Units: Angstrom, fs (ps in names that say so).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from ...errors import InputFileError

#: Grid spacing of the density histogram (Angstrom).
VOXEL_A = 0.2
#: Standard deviation of the Gaussian smoothing of the density (Angstrom).
SMOOTH_A = 0.3
#: Density maxima closer than this are one site (Angstrom).
MIN_SITE_SEPARATION_A = 1.0
#: A density maximum is a site candidate when at least this many times the mean density.
SITE_DENSITY_FACTOR = 4.0
#: The density is histogrammed from at most this many evenly spaced frames.
DENSITY_MAX_FRAMES = 2000
#: Site contrast (core occupancy / core volume fraction) below which there are no sites.
SITE_CONTRAST_MIN = 3.0
#: Default core radius as a fraction of the shortest site-site distance ...
CORE_FRACTION = 0.4
#: ... and its upper bound (Angstrom).
CORE_RADIUS_MAX_A = 1.0


@dataclass
class Sites:
    """Site centres ``frac`` (fractional, ``(n_sites, 3)``) in the cell ``cell`` (rows =
    lattice vectors, Angstrom), ``density_ratio`` (peak density over the species' mean
    density; NaN for user sites) and ``source`` (``"auto"`` or the file name)."""

    frac: np.ndarray
    cell: np.ndarray
    density_ratio: np.ndarray
    source: str

    @property
    def cartesian(self) -> np.ndarray:
        return self.frac @ self.cell

    def __len__(self) -> int:
        return len(self.frac)

    def nearest_distance_A(self) -> float:
        """Shortest distance between two sites (minimum image; inf for one site)."""
        if len(self) < 2:
            return float("inf")
        dist, _ = _image_tree(self).query(self.cartesian, k=2)
        return float(dist[:, 1].min())


def wrapped_fractional(positions: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Fractional coordinates in [0, 1) of ``positions`` ``(n_frames, n, 3)`` in each
    frame's cell ``(n_frames, 3, 3)``."""
    cell0 = cells[0]
    if np.all(cells == cell0) and np.all(cell0 == np.diag(np.diag(cell0))):
        frac = positions / np.diag(cell0)
    elif np.all(cells == cell0):
        frac = (positions.reshape(-1, 3) @ np.linalg.inv(cell0)).reshape(positions.shape)
    else:
        frac = np.einsum("fai,fij->faj", positions, np.linalg.inv(cells))
    return np.mod(frac, 1.0, out=frac)


def _voxel_index(frac: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """Flat index of the voxel of each wrapped fractional point ``(n, 3)`` on a grid of
    ``bins`` voxels per axis (C order)."""
    b0, b1, b2 = (int(b) for b in bins)
    i = (frac * bins).astype(np.int64)
    np.minimum(i, bins - 1, out=i)
    return (i[:, 0] * b1 + i[:, 1]) * b2 + i[:, 2]


def find_sites(frac: np.ndarray, cell: np.ndarray) -> Sites:
    """Site candidates from the density of fractional positions ``frac`` (any shape
    ``(..., 3)``, wrapped) in the mean cell ``cell``; see the module docstring."""
    lengths = np.linalg.norm(cell, axis=1)
    bins = np.maximum(8, np.ceil(lengths / VOXEL_A).astype(int))
    if frac.ndim == 3 and len(frac) > DENSITY_MAX_FRAMES:  # evenly spaced frames
        frac = frac[:: int(np.ceil(len(frac) / DENSITY_MAX_FRAMES))]
    hist = np.bincount(_voxel_index(frac.reshape(-1, 3), bins),
                       minlength=int(np.prod(bins))).reshape(bins).astype(float)
    smooth = ndimage.gaussian_filter(hist, sigma=SMOOTH_A * bins / lengths, mode="wrap")
    size = np.maximum(3, 2 * np.ceil(MIN_SITE_SEPARATION_A * bins / lengths).astype(int) + 1)
    peaks = (smooth == ndimage.maximum_filter(smooth, size=tuple(size), mode="wrap"))
    mean = smooth.mean()
    peaks &= smooth >= SITE_DENSITY_FACTOR * mean
    idx = np.argwhere(peaks)
    ratio = smooth[peaks] / mean
    order = np.argsort(-ratio)
    idx, ratio = idx[order], ratio[order]
    centres = (idx + 0.5) / bins
    keep: list[int] = []  # greedy merge of maxima closer than the separation
    for i in range(len(centres)):
        if keep:
            d = centres[keep] - centres[i]
            d -= np.rint(d)
            if np.min(np.linalg.norm(d @ cell, axis=1)) < MIN_SITE_SEPARATION_A:
                continue
        keep.append(i)
    return Sites(frac=centres[keep], cell=np.asarray(cell, float), density_ratio=ratio[keep],
                 source="auto")


def read_sites(path: str | os.PathLike, species: str, cell: np.ndarray) -> Sites:
    """Sites from a structure file (any format ASE reads): its ``species`` atoms, or all
    its atoms when it has none of them; positions are taken in fractional coordinates
    of the file's cell when it has one, else as Cartesian in ``cell``."""
    import ase.io

    if not os.path.isfile(path):  # also keeps ASE from opening a database URL
        raise InputFileError(f"{path}: no such sites file")
    try:
        atoms = ase.io.read(path)
    except Exception as exc:  # any reader failure is a file problem, in one line
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFileError(f"{path}: cannot read sites ({msg}); give a structure file "
                             "(e.g. extxyz, CIF, POSCAR) whose atoms are the sites") from None
    symbols = np.asarray(atoms.get_chemical_symbols())
    chosen = atoms[symbols == species] if np.any(symbols == species) else atoms
    if len(chosen) == 0:
        raise InputFileError(f"{path}: no sites (the file holds no atoms)")
    if atoms.cell.rank == 3:
        frac = chosen.get_scaled_positions(wrap=True)
    else:
        frac = chosen.get_positions() @ np.linalg.inv(cell)
        frac -= np.floor(frac)
    return Sites(frac=frac, cell=np.asarray(cell, float),
                 density_ratio=np.full(len(frac), np.nan), source=os.path.basename(str(path)))


def default_core_radius(sites: Sites) -> float:
    """:data:`CORE_FRACTION` of the shortest site distance, at most
    :data:`CORE_RADIUS_MAX_A` (Angstrom)."""
    return float(min(CORE_RADIUS_MAX_A, CORE_FRACTION * sites.nearest_distance_A()))


def _image_tree(sites: Sites) -> cKDTree:
    shifts = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)])
    images = (sites.frac[None, :, :] + shifts[:, None, :]).reshape(-1, 3) @ sites.cell
    return cKDTree(images)


def _perpendicular_widths(cell: np.ndarray) -> np.ndarray:
    """Distances between opposite faces of the cell (Angstrom)."""
    volume = abs(float(np.linalg.det(cell)))
    return volume / np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)


#: Voxels per core radius in the lookup grid of :func:`core_sites`.
_VOXELS_PER_RADIUS = 4


def core_sites(frac: np.ndarray, sites: Sites, core_radius_A: float,
               chunk: int = 500_000) -> np.ndarray:
    """Index of the site whose core holds each position (``frac`` ``(..., 3)``, wrapped,
    in the sites' cell), -1 outside every core.

    A grid of voxels a quarter of a core radius wide is classified once (k-d tree over
    the sites and their periodic images): voxels entirely inside one core, entirely
    outside all cores, near the boundary of one core, or near two. A position in a voxel
    of the first two kinds is answered by one look-up, one of the third by its distance
    to that core's site, one of the fourth by the tree (all exact)."""
    cell = sites.cell
    flat = frac.reshape(-1, 3)
    out = np.full(len(flat), -1, dtype=np.int32)
    if not len(sites) or not core_radius_A > 0:
        return out.reshape(frac.shape[:-1])
    widths = _perpendicular_widths(cell)
    bins = np.maximum(1, np.floor(_VOXELS_PER_RADIUS * widths / core_radius_A)).astype(int)
    grid = np.stack(np.meshgrid(*[np.arange(b) for b in bins], indexing="ij"), -1)
    centres = ((grid.reshape(-1, 3) + 0.5) / bins) @ cell
    half_diag = 0.5 * float(np.sum(np.linalg.norm(cell, axis=1) / bins))
    tree = _image_tree(sites)
    n_sites = len(sites)
    dist, idx = tree.query(centres, k=2)
    nearest = idx[:, 0] % n_sites
    # >= 0: inside that site's core; -1: outside all; -2: near the boundary of one core
    # (check against ``nearest``); -3: near two or more cores (check with the tree)
    label = np.where(dist[:, 0] + half_diag <= core_radius_A, nearest, -1).astype(np.int64)
    label[np.abs(dist[:, 0] - core_radius_A) < half_diag] = -2
    label[(label == -2) & (dist[:, 1] - half_diag <= core_radius_A)] = -3
    for a in range(0, len(flat), chunk):
        f = flat[a:a + chunk]
        vox = _voxel_index(f, bins)
        lab = label[vox]
        one = np.flatnonzero(lab == -2)
        if one.size:
            site = nearest[vox[one]]
            d = f[one] - sites.frac[site]
            d -= np.rint(d)
            d = d @ cell
            lab[one] = np.where(np.einsum("ni,ni->n", d, d) <= core_radius_A**2, site, -1)
        many = np.flatnonzero(lab == -3)
        if many.size:
            d, i = tree.query(f[many] @ cell, distance_upper_bound=core_radius_A)
            lab[many] = np.where(np.isfinite(d), i % n_sites, -1)
        out[a:a + chunk] = lab
    return out.reshape(frac.shape[:-1])


def site_contrast(core: np.ndarray, sites: Sites, core_radius_A: float) -> float:
    """Fraction of positions inside a core over the fraction of the cell volume the cores
    fill (cores taken as non-overlapping spheres)."""
    volume = abs(float(np.linalg.det(sites.cell)))
    v_frac = min(1.0, len(sites) * 4.0 / 3.0 * np.pi * core_radius_A**3 / volume)
    if v_frac <= 0:
        return float("nan")
    return float(np.mean(core >= 0) / v_frac)


@dataclass
class Jumps:
    """Jumps of the ions of one species. ``ion``, ``frame`` (the frame at which the ion
    entered the new core), ``from_site``, ``to_site``, ``length_A`` (site-to-site
    distance, minimum image) and ``midpoint_frac`` per jump; ``occupied_frames``: the
    ion-frames after each ion's first core entry (the time at risk of jumping);
    ``in_flight_frames``: ion-frames outside every core; ``residences_frames``: the
    complete residences (between two jumps of an ion); ``flights_frames``: per jump, the
    frames the ion spent outside every core between its last frame in the old core and
    its entry into the new one (excursions that return to the same site are not flights).
    """

    ion: np.ndarray
    frame: np.ndarray
    from_site: np.ndarray
    to_site: np.ndarray
    length_A: np.ndarray
    midpoint_frac: np.ndarray
    occupied_frames: int
    in_flight_frames: int
    residences_frames: np.ndarray
    flights_frames: np.ndarray


def site_trajectories(core: np.ndarray) -> np.ndarray:
    """Last visited site of every ion at every frame (``core`` ``(n_frames, n_ions)``
    from :func:`core_sites`; -1 before an ion's first core entry): the hysteresis."""
    n_frames = core.shape[0]
    seen = np.where(core >= 0, np.arange(n_frames, dtype=np.int32)[:, None], np.int32(-1))
    last = np.maximum.accumulate(seen, axis=0)
    out = np.take_along_axis(core, np.maximum(last, 0), axis=0)
    out[last < 0] = -1
    return out


def find_jumps(core: np.ndarray, sites: Sites) -> Jumps:
    """Jumps from the core occupancy ``core`` ``(n_frames, n_ions)``."""
    assigned = site_trajectories(core)
    prev, cur = assigned[:-1], assigned[1:]
    f, ion = np.nonzero((prev >= 0) & (cur != prev))
    from_site, to_site = prev[f, ion], cur[f, ion]
    d = sites.frac[to_site] - sites.frac[from_site]
    d -= np.rint(d)
    if len(sites) and len(d):
        shifts = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1)
                           for k in (-1, 0, 1)])
        cand = np.linalg.norm((d[:, None, :] + shifts[None]) @ sites.cell, axis=2)
        best = np.argmin(cand, axis=1)
        length = cand[np.arange(len(d)), best]
        d = d + shifts[best]
    else:
        length = np.zeros(0)
    mid = sites.frac[from_site] + 0.5 * d if len(d) else np.zeros((0, 3))
    n_frames = core.shape[0]
    in_core = np.where(core >= 0, np.arange(n_frames, dtype=np.int32)[:, None], np.int32(-1))
    last_core = np.maximum.accumulate(in_core, axis=0)
    flights = f - last_core[f, ion]  # frames f+1 is the entry; last core frame <= f
    order = np.lexsort((f, ion))
    ion_s, f_s = ion[order], f[order] + 1
    same = ion_s[1:] == ion_s[:-1]
    residences = (f_s[1:] - f_s[:-1])[same]
    return Jumps(ion=ion, frame=f + 1, from_site=from_site, to_site=to_site,
                 length_A=length, midpoint_frac=mid - np.floor(mid),
                 occupied_frames=int(np.count_nonzero(assigned >= 0)),
                 in_flight_frames=int(np.count_nonzero(core < 0)),
                 residences_frames=residences, flights_frames=flights)


def concerted_fraction(jumps: Jumps, cell: np.ndarray, window_frames: int,
                       distance_A: float) -> float:
    """Fraction of jumps with a jump of *another* ion of the species within
    ``window_frames`` frames and ``distance_A`` (between jump midpoints, minimum image).

    With the jumps sorted by frame, jump ``i`` is compared with jump ``i + k`` for
    ``k = 1, 2, ...`` (vectorised over ``i``) until no pair is within the window."""
    n = len(jumps.frame)
    if n < 2:
        return float("nan") if n == 0 else 0.0
    order = np.argsort(jumps.frame, kind="stable")
    frames, ions = jumps.frame[order], jumps.ion[order]
    mids = jumps.midpoint_frac[order]
    hit = np.zeros(n, dtype=bool)
    for k in range(1, n):
        near = np.flatnonzero(frames[k:] - frames[:-k] <= window_frames)
        if not near.size:
            break
        near = near[ions[near] != ions[near + k]]
        d = mids[near + k] - mids[near]
        d -= np.rint(d)
        d = d @ cell
        close = near[np.einsum("ni,ni->n", d, d) <= distance_A**2]
        hit[close] = True
        hit[close + k] = True
    return float(hit.mean())


def shuffled_jumps(jumps: Jumps, n_frames: int, seed: int = 0) -> Jumps:
    """``jumps`` with each ion's jump frames shifted by its own random circular offset
    (fixed ``seed``): the jumps of independent ions, for the chance level of
    :func:`concerted_fraction`."""
    rng = np.random.default_rng(seed)
    n_ions = int(jumps.ion.max()) + 1 if len(jumps.ion) else 0
    offset = rng.integers(0, max(n_frames, 1), size=n_ions)
    frames = (jumps.frame + offset[jumps.ion]) % max(n_frames, 1) if n_ions else jumps.frame
    return Jumps(ion=jumps.ion, frame=frames, from_site=jumps.from_site,
                 to_site=jumps.to_site, length_A=jumps.length_A,
                 midpoint_frac=jumps.midpoint_frac, occupied_frames=jumps.occupied_frames,
                 in_flight_frames=jumps.in_flight_frames,
                 residences_frames=jumps.residences_frames, flights_frames=jumps.flights_frames)
