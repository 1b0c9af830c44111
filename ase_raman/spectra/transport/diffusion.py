"""Diffusion coefficients from MSDs, Nernst-Einstein conductivity and the Haven ratio.

Units: times in fs at the API (windows may be given in ps where named so), lengths in
Angstrom, D in Angstrom^2/ps and cm^2/s (1 Angstrom^2/ps = 1e-4 cm^2/s), conductivity in
S/cm, temperatures in K, charges in units of the elementary charge e.

Tracer ``D = slope / 6`` of ``MSD(t)`` over a diffusive window, from a least-squares line
*with* intercept (a fit through the origin absorbs the ballistic/cage offset into the
slope). Collective ("charge") diffusion:
``D_sigma = slope / (6 N)`` of the MSD of the summed displacement of the ``N`` atoms of a
species. Nernst-Einstein: ``sigma = n q^2 D / (k_B T)``; Haven ratio
``H_R = D_tracer / D_sigma``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ...errors import UsageError
from ...units import A2_PS_TO_CM2_S, BOLTZMANN_J_K, ELEMENTARY_CHARGE_C

#: Angstrom^3 -> m^3 and Angstrom^2/ps -> m^2/s; S/m -> S/cm.
_A3_TO_M3 = 1e-30
_A2_PS_TO_M2_S = 1e-8
_S_M_TO_S_CM = 1e-2

#: Automatic window: the fit ends at this fraction of the longest lag ...
AUTO_END_FRACTION = 0.5
#: ... and starts no earlier than this fraction of it, ...
AUTO_START_FRACTION = 0.1
#: ... nor before the local log-log slope of the MSD has dropped below this (end of the
#: ballistic regime, where MSD ~ t^2).
BALLISTIC_EXPONENT = 1.5
#: Fewest MSD points a fit window must contain.
MIN_FIT_POINTS = 3


def auto_fit_window(time_fs: np.ndarray, msd: np.ndarray) -> tuple[float, float]:
    """The diffusive fit window ``(start_fs, end_fs)`` chosen by the documented rule.

    * ``end = 0.5 t_max``: beyond half the trajectory fewer than half of the time origins
      contribute and the MSD gets noisy;
    * ``start = max(0.1 t_max, t_b)``, where ``t_b`` is the first lag at which the local
      exponent ``beta(t) = ln[MSD(2t) / MSD(t)] / ln 2`` falls below 1.5, i.e. the end of
      the ballistic regime (``beta = 2``); ``t_b`` is searched over lags up to ``end``.

    If ``start`` would not leave :data:`MIN_FIT_POINTS` points before ``end``, ``end`` is
    moved out to the last lag. The fit itself keeps an intercept, so a cage plateau before
    the window only shifts the line, not its slope.
    """
    t = np.asarray(time_fs, dtype=float)
    y = np.asarray(msd, dtype=float)
    n = len(t)
    if n < MIN_FIT_POINTS + 1:
        raise UsageError(f"an MSD of {n} lags is too short to fit a diffusion coefficient")
    t_max = t[-1]
    end = AUTO_END_FRACTION * t_max
    t_b = 0.0
    half = (n - 1) // 2
    for k in range(1, half + 1):
        if y[k] <= 0 or y[2 * k] <= 0:
            continue
        beta = np.log(y[2 * k] / y[k]) / np.log(2.0)
        if beta < BALLISTIC_EXPONENT:
            t_b = t[k]
            break
    else:
        t_b = t[half]
    start = max(AUTO_START_FRACTION * t_max, t_b)
    if np.count_nonzero((t >= start - 1e-9) & (t <= end + 1e-9)) < MIN_FIT_POINTS:
        end = t_max
    return float(start), float(end)


def _window_mask(t: np.ndarray, window_fs: tuple[float, float]) -> np.ndarray:
    start, end = window_fs
    if not (end > start >= 0):
        raise UsageError(f"fit window {start / 1000:g}:{end / 1000:g} ps: need 0 <= START < END")
    if end > t[-1] * (1 + 1e-9) + 1e-9:
        raise UsageError(
            f"fit window ends at {end / 1000:g} ps, beyond the longest lag {t[-1] / 1000:g} ps"
        )
    mask = (t >= start - 1e-9) & (t <= end + 1e-9)
    if np.count_nonzero(mask) < MIN_FIT_POINTS:
        raise UsageError(
            f"fit window {start / 1000:g}:{end / 1000:g} ps holds {np.count_nonzero(mask)} MSD "
            f"points; at least {MIN_FIT_POINTS} needed (widen it)"
        )
    return mask


def linear_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Ordinary least-squares line ``y = a x + b``; returns ``(a, b, stderr of a)``.

    The standard error assumes independent residuals (it is NaN with two points).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    xm = x.mean()
    sxx = float(((x - xm) ** 2).sum())
    a = float(((x - xm) * (y - y.mean())).sum() / sxx)
    b = float(y.mean() - a * xm)
    dof = len(x) - 2
    if dof <= 0:
        return a, b, float("nan")
    resid = y - (a * x + b)
    return a, b, float(np.sqrt((resid**2).sum() / dof / sxx))


@dataclass
class DiffusionFit:
    """A diffusion coefficient from a straight line through ``MSD(t)``.

    ``D_A2_ps`` / ``D_cm2_s`` and their standard errors; ``window_ps`` the fit window;
    ``slope_A2_ps`` and ``intercept_A2`` of the line ``MSD = slope t + intercept``;
    ``error_method`` says where the error comes from: ``"blocks"`` (scatter of the slopes
    of ``n_blocks`` consecutive trajectory blocks, standard error of their mean),
    ``"blocks-scaled"`` (the same, scaled up because the window is longer than a block;
    see :func:`fit_diffusion`) or ``"ols"`` (least-squares standard error of the slope;
    it ignores the correlation of MSD points and so underestimates the true error).
    """

    D_A2_ps: float
    D_err_A2_ps: float
    window_ps: tuple[float, float]
    slope_A2_ps: float
    intercept_A2: float
    error_method: str
    n_blocks: int = 1

    @property
    def D_cm2_s(self) -> float:
        return self.D_A2_ps * A2_PS_TO_CM2_S

    @property
    def D_err_cm2_s(self) -> float:
        return self.D_err_A2_ps * A2_PS_TO_CM2_S

    def as_dict(self) -> dict:
        out = asdict(self)
        out["window_ps"] = list(self.window_ps)
        out["D_cm2_s"] = self.D_cm2_s
        out["D_err_cm2_s"] = self.D_err_cm2_s
        return out


def fit_diffusion(
    time_fs: np.ndarray,
    msd: np.ndarray,
    window_fs: tuple[float, float] | None = None,
    *,
    n_particles: int = 1,
    block_msd: np.ndarray | None = None,
    block_time_fs: np.ndarray | None = None,
    dimensions: int = 3,
) -> DiffusionFit:
    """Fit ``MSD(t) = 2 d N D t + c`` over a window; returns D with its standard error.

    ``time_fs`` (fs) and ``msd`` (Angstrom^2) as from
    :func:`~ase_raman.spectra.transport.msd.mean_squared_displacement`; ``window_fs``
    ``(start, end)`` in fs, or None for :func:`auto_fit_window`; ``n_particles`` divides
    the slope (1 for a tracer MSD, ``N`` for the collective MSD of ``N`` atoms);
    ``dimensions`` is ``d`` (3). With ``block_msd`` (``(n_blocks, L)`` MSDs of consecutive
    trajectory blocks at ``block_time_fs``), each block is fitted over the part of the
    window its lags cover (at least :data:`MIN_FIT_POINTS` points) and the error is the
    standard error of the mean of the block slopes (``"blocks"``). When the window ends
    beyond the blocks' longest lag, that error is multiplied by
    ``sqrt(window end / covered end)``, the random-walk growth of the slope error with the
    window end at fixed trajectory length (``"blocks-scaled"``; on independent random
    walkers it came out 1.0-1.4 times the true scatter). Otherwise the error is the
    least-squares standard error of the slope (``"ols"``, see :class:`DiffusionFit`).
    """
    t = np.asarray(time_fs, dtype=float)
    y = np.asarray(msd, dtype=float)
    if window_fs is None:
        window_fs = auto_fit_window(t, y)
    mask = _window_mask(t, window_fs)
    slope, intercept, slope_err = linear_fit(t[mask] / 1000.0, y[mask])  # per ps
    scale = 1.0 / (2 * dimensions * n_particles)
    method = "ols"
    n_blocks = 1
    if block_msd is not None and block_time_fs is not None and len(block_msd) >= 2:
        tb = np.asarray(block_time_fs, dtype=float)
        bmask = (tb >= window_fs[0] - 1e-9) & (tb <= window_fs[1] + 1e-9)
        if np.count_nonzero(bmask) >= MIN_FIT_POINTS:
            slopes = [linear_fit(tb[bmask] / 1000.0, b[bmask])[0] for b in block_msd]
            slope_err = float(np.std(slopes, ddof=1) / np.sqrt(len(slopes)))
            method = "blocks"
            n_blocks = len(slopes)
            covered = float(tb[bmask][-1])
            if window_fs[1] > covered * (1 + 1e-9):
                # the slope error grows like sqrt(window end) at fixed trajectory length
                slope_err *= float(np.sqrt(window_fs[1] / covered))
                method = "blocks-scaled"
    return DiffusionFit(
        D_A2_ps=slope * scale,
        D_err_A2_ps=slope_err * scale,
        window_ps=(window_fs[0] / 1000.0, window_fs[1] / 1000.0),
        slope_A2_ps=slope,
        intercept_A2=intercept,
        error_method=method,
        n_blocks=n_blocks,
    )


def nernst_einstein_conductivity(
    D_A2_ps: float, n_atoms: int, volume_A3: float, charge_e: float, temperature_K: float
) -> float:
    """``sigma = n q^2 D / (k_B T)`` in S/cm, with ``n = n_atoms / volume``.

    ``D_A2_ps`` in Angstrom^2/ps, ``volume_A3`` in Angstrom^3, ``charge_e`` in e,
    ``temperature_K`` in K. Works on arrays too (e.g. to propagate errors linearly).
    """
    if not temperature_K > 0:
        raise UsageError(f"temperature must be positive, got {temperature_K} K")
    if not volume_A3 > 0:
        raise UsageError(f"cell volume must be positive, got {volume_A3} A^3")
    n_m3 = n_atoms / (volume_A3 * _A3_TO_M3)
    q_c = charge_e * ELEMENTARY_CHARGE_C
    d_m2_s = np.asarray(D_A2_ps) * _A2_PS_TO_M2_S
    sigma_s_m = n_m3 * q_c**2 * d_m2_s / (BOLTZMANN_J_K * temperature_K)
    return sigma_s_m * _S_M_TO_S_CM


def einstein_helfand_conductivity(
    charge_slope_e2A2_ps: float, volume_A3: float, temperature_K: float, dimensions: int = 3
) -> float:
    """Conductivity (S/cm) from the slope of the charge MSD ``< |sum_i q_i dr_i(t)|^2 >``.

    ``sigma = slope / (2 d V k_B T)`` with the slope in e^2 Angstrom^2/ps, the volume in
    Angstrom^3 and T in K (the collective counterpart of the Nernst-Einstein relation).
    """
    return nernst_einstein_conductivity(
        charge_slope_e2A2_ps / (2 * dimensions), 1, volume_A3, 1.0, temperature_K
    )


def haven_ratio(
    D_tracer: float, D_tracer_err: float, D_sigma: float, D_sigma_err: float
) -> tuple[float, float]:
    """``H_R = D_tracer / D_sigma`` and its error by linear propagation of both errors."""
    if D_sigma == 0:
        return float("nan"), float("nan")
    h = D_tracer / D_sigma
    rel = np.hypot(D_tracer_err / D_tracer if D_tracer else 0.0, D_sigma_err / D_sigma)
    return float(h), float(abs(h) * rel)
