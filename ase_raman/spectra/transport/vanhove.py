"""Self part of the van Hove correlation function, ``G_s(r, t)``.

``G_s(r, t) = 1/N < sum_i delta(r - |r_i(tau + t) - r_i(tau)|) >`` over the ``N`` atoms of
a species and time origins ``tau``, from unwrapped positions, as a radial density in
Angstrom^-3: ``int 4 pi r^2 G_s(r, t) dr = 1`` (over all r; the histogram stops at
``r_max``). ``4 pi r^2 G_s`` (Angstrom^-1) is the probability density of the distance
travelled in time t; hops show up as peaks at the site-to-site distances.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Default cap on (origins x atoms) samples per lag; origins are strided to stay below it.
MAX_SAMPLES_PER_LAG = 2_000_000


@dataclass
class VanHove:
    """``G_s`` on a radial grid. ``r_A`` bin centres and ``edges_A`` (Angstrom),
    ``lags`` (frames), ``time_fs``, ``g_s`` ``(n_lags, n_bins)`` in Angstrom^-3, and
    ``n_samples`` (origins x atoms per lag)."""

    r_A: np.ndarray
    edges_A: np.ndarray
    lags: np.ndarray
    time_fs: np.ndarray
    g_s: np.ndarray
    n_samples: np.ndarray

    @property
    def radial_probability(self) -> np.ndarray:
        """``4 pi r^2 G_s(r, t)`` in Angstrom^-1 (integrates to 1 over r)."""
        return 4.0 * np.pi * self.r_A**2 * self.g_s


def van_hove_self(
    unwrapped: np.ndarray,
    lags: Sequence[int],
    dt_fs: float,
    *,
    r_max: float = 10.0,
    n_bins: int = 200,
    max_samples: int = MAX_SAMPLES_PER_LAG,
) -> VanHove:
    """``G_s(r, t)`` of the atoms in ``unwrapped`` (``(n_frames, n_atoms, 3)``, Angstrom).

    ``lags`` in frames (each 1 .. n_frames-1, or 0), ``dt_fs`` the frame interval (fs),
    ``r_max`` (Angstrom) and ``n_bins`` the radial histogram. All time origins are used
    unless ``origins x atoms`` exceeds ``max_samples``; then origins are taken evenly
    strided (the count used is in ``n_samples``). Displacements beyond ``r_max`` are
    counted in the normalisation but not histogrammed.
    """
    pos = np.asarray(unwrapped, dtype=float)
    n_frames, n_atoms, _ = pos.shape
    edges = np.linspace(0.0, float(r_max), int(n_bins) + 1)
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    lag_arr = np.asarray(list(lags), dtype=int)
    if np.any(lag_arr < 0) or np.any(lag_arr >= n_frames):
        raise ValueError(f"lags must lie in 0..{n_frames - 1} frames")
    g = np.zeros((len(lag_arr), len(shell)))
    counts = np.zeros(len(lag_arr), dtype=int)
    for j, k in enumerate(lag_arr):
        n_orig = n_frames - k
        stride = max(1, int(np.ceil(n_orig * n_atoms / max_samples)))
        origins = np.arange(0, n_orig, stride)
        d = pos[origins + k] - pos[origins]
        r = np.sqrt(np.einsum("oai,oai->oa", d, d)).ravel()
        hist, _ = np.histogram(r, bins=edges)
        counts[j] = r.size
        g[j] = hist / (r.size * shell)
    return VanHove(
        r_A=0.5 * (edges[1:] + edges[:-1]),
        edges_A=edges,
        lags=lag_arr,
        time_fs=lag_arr * float(dt_fs),
        g_s=g,
        n_samples=counts,
    )
