"""Dynamical regimes of a mobile species: local MSD exponent and non-Gaussian parameter.

* Local exponent ``beta(t) = d ln MSD / d ln t`` on log-spaced lags: 2 in the ballistic
  regime, below 1 while an ion rattles in its cage, 1 once it diffuses.
  ``ballistic_end_ps`` is the first lag where ``beta < 1.5``; ``crossover_time_ps`` is
  where the diffusive line ``MSD = 6 D t + c`` (the GLS fit) has grown as large as its
  cage offset ``c`` (``t_x = c / 6D``; 0 for a random walk, NaN without diffusion).
* Non-Gaussian parameter ``alpha_2(t) = 3 <r^4> / (5 <r^2>^2) - 1`` of the
  displacements (Rahman, Phys. Rev. 136, A405 (1964)): 0 for Gaussian motion (harmonic
  vibration, Brownian diffusion), positive when a few ions have jumped far while most
  have not (hopping); its peak time marks the hop time scale.

Units: Angstrom, fs at the API, ps in names that say so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Lags (at most) at which the local exponent and alpha_2 are evaluated (log-spaced).
N_LOG_LAGS = 40
#: Displacement samples (origins x atoms) per lag for alpha_2; origins strided above it.
ALPHA2_MAX_SAMPLES = 100_000
#: Local exponent below which the motion is no longer ballistic.
BALLISTIC_EXPONENT = 1.5


def log_lags(n_frames: int, n_points: int = N_LOG_LAGS) -> np.ndarray:
    """Distinct integer lags ``1 .. n_frames - 1``, log-spaced (frames)."""
    if n_frames < 2:
        return np.zeros(0, dtype=int)
    return np.unique(np.geomspace(1, n_frames - 1, n_points).round().astype(int))


def local_exponent(time_fs: np.ndarray, msd: np.ndarray,
                   n_points: int = N_LOG_LAGS) -> tuple[np.ndarray, np.ndarray]:
    """``(t_ps, beta)``: ``d ln MSD / d ln t`` at log-spaced lags (central differences)."""
    lags = log_lags(len(time_fs), n_points)
    t = np.asarray(time_fs, dtype=float)[lags]
    y = np.maximum(np.asarray(msd, dtype=float)[lags], np.finfo(float).tiny)
    if len(lags) < 2:
        return t / 1000.0, np.full(len(lags), np.nan)
    return t / 1000.0, np.gradient(np.log(y), np.log(t))


def non_gaussian_parameter(unwrapped: np.ndarray, lags: np.ndarray,
                           max_samples: int = ALPHA2_MAX_SAMPLES) -> np.ndarray:
    """``alpha_2`` at ``lags`` (frames) of ``unwrapped`` ``(n_frames, n_atoms, 3)``
    (Angstrom), over all time origins or evenly strided ones (at most ``max_samples``
    displacements per lag)."""
    pos = np.asarray(unwrapped, dtype=float)
    n_frames, n_atoms, _ = pos.shape
    out = np.full(len(lags), np.nan)
    for j, k in enumerate(np.asarray(lags, dtype=int)):
        n_orig = n_frames - k
        if k < 1 or n_orig < 1:
            continue
        stride = max(1, int(np.ceil(n_orig * n_atoms / max_samples)))
        d = pos[k::stride][: len(range(0, n_orig, stride))] - pos[0:n_orig:stride]
        r2 = np.einsum("oai,oai->oa", d, d)
        m2 = float(r2.mean())
        if m2 > 0:
            out[j] = 3.0 * float((r2 * r2).mean()) / (5.0 * m2 * m2) - 1.0
    return out


@dataclass
class Regimes:
    """Regimes of one species: ``time_ps`` (log-spaced lags), ``exponent`` (local MSD
    exponent there), ``alpha2`` (non-Gaussian parameter there), ``ballistic_end_ps``,
    ``crossover_time_ps`` (see the module docstring), ``min_exponent`` (the deepest
    caging), ``alpha2_peak`` and ``alpha2_peak_time_ps``."""

    time_ps: np.ndarray
    exponent: np.ndarray
    alpha2: np.ndarray
    ballistic_end_ps: float
    crossover_time_ps: float
    min_exponent: float
    alpha2_peak: float
    alpha2_peak_time_ps: float

    def as_dict(self) -> dict:
        return {
            "ballistic_end_ps": self.ballistic_end_ps,
            "crossover_time_ps": self.crossover_time_ps,
            "min_exponent": self.min_exponent,
            "alpha2_peak": self.alpha2_peak,
            "alpha2_peak_time_ps": self.alpha2_peak_time_ps,
            "time_ps": self.time_ps.tolist(),
            "msd_exponent": self.exponent.tolist(),
            "alpha2": self.alpha2.tolist(),
        }


def regimes(time_fs: np.ndarray, msd: np.ndarray, unwrapped: np.ndarray,
            slope_A2_ps: float, intercept_A2: float) -> Regimes:
    """:class:`Regimes` from an MSD (Angstrom^2 at ``time_fs``), the species' unwrapped
    positions and the diffusive line ``slope_A2_ps t + intercept_A2`` fitted to the MSD."""
    t_ps, beta = local_exponent(time_fs, msd)
    lags = log_lags(len(time_fs))
    a2 = non_gaussian_parameter(unwrapped, lags)
    below = np.flatnonzero(beta < BALLISTIC_EXPONENT)
    ballistic_end = float(t_ps[below[0]]) if below.size else float("nan")
    crossover = (max(intercept_A2, 0.0) / slope_A2_ps) if slope_A2_ps > 0 else float("nan")
    finite = np.isfinite(a2)
    if finite.any():
        i = int(np.nanargmax(a2))
        peak, peak_t = float(a2[i]), float(t_ps[i])
    else:
        peak = peak_t = float("nan")
    return Regimes(
        time_ps=t_ps, exponent=beta, alpha2=a2, ballistic_end_ps=ballistic_end,
        crossover_time_ps=float(crossover),
        min_exponent=float(np.nanmin(beta)) if np.isfinite(beta).any() else float("nan"),
        alpha2_peak=peak, alpha2_peak_time_ps=peak_t,
    )
