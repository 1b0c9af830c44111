"""Diffusion coefficients from MSDs, Nernst-Einstein conductivity and the Haven ratio.

Units: times in fs at the API (windows may be given in ps where named so), lengths in
Angstrom, D in Angstrom^2/ps and cm^2/s (1 Angstrom^2/ps = 1e-4 cm^2/s), conductivity in
S/cm, temperatures in K, charges in units of the elementary charge e.

Tracer ``D = slope / 6`` of ``MSD(t)`` over a diffusive window, from a line *with*
intercept (a fit through the origin absorbs the ballistic/cage offset into the
slope). The line is fitted by generalised least squares
(GLS) with the covariance of the MSD points of a random walk with white position noise
(:func:`msd_covariance`), the approach of Bullerjahn, von Buelow and Hummer (J. Chem.
Phys. 153, 024116 (2020)) and of kinisi (McCluskey et al., J. Open Source Softw. 9, 5984
(2024)): MSD points at neighbouring lags share almost all their displacements, and an
ordinary least-squares fit that ignores this both weights them badly and underestimates
the error of the slope. Collective ("charge") diffusion:
``D_sigma = slope / (6 N)`` of the MSD of the summed displacement of the ``N`` atoms of a
species. Nernst-Einstein: ``sigma = n q^2 D / (k_B T)``; Haven ratio
``H_R = D_tracer / D_sigma``.
"""

from __future__ import annotations

import functools
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
AUTO_START_FRACTION = 0.05
#: ... nor before the local log-log slope of the MSD has dropped below this (end of the
#: ballistic regime, where MSD ~ t^2).
BALLISTIC_EXPONENT = 1.5
#: Fewest MSD points a fit window must contain.
MIN_FIT_POINTS = 3
#: At most this many lags of the window enter the GLS fit (evenly spaced): neighbouring MSD
#: points are almost perfectly correlated, so more add cost but no information.
GLS_MAX_LAGS = 32
#: Diffusive-regime test: the slope over the late half of the window may differ from the
#: slope over the whole window by at most this many standard errors of the late slope;
#: otherwise the MSD is not a straight line there (a vibrational plateau, a cage) and the
#: difference is added to the error of the slope.
DIFFUSIVE_TEST_Z = 3.0


def auto_fit_window(time_fs: np.ndarray, msd: np.ndarray) -> tuple[float, float]:
    """The diffusive fit window ``(start_fs, end_fs)`` chosen by the documented rule.

    * ``end = 0.5 t_max``: beyond half the trajectory fewer than half of the time origins
      contribute and the MSD gets noisy;
    * ``start = max(0.05 t_max, t_b)``, where ``t_b`` is the first lag at which the local
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


@functools.lru_cache(maxsize=32)
def _overlap_sums(n_frames: int, lags: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """The three lag-by-lag sums behind :func:`msd_covariance` (cached per lag set).

    For lags ``n`` and ``m`` (frames) and origins ``tau`` and ``tau + d``, the two
    displacements share ``ov(d)`` random-walk steps and their white position noises meet
    with sign pattern ``k(d)``; ``count(d)`` pairs of origins have offset ``d``. Returns
    ``sum_d count ov^2``, ``sum_d count ov k`` and ``sum_d count k^2``, each divided by
    ``(N - n)(N - m)`` (the origins of both lags).
    """
    n_lags = len(lags)
    ww, wk, kk = (np.zeros((n_lags, n_lags)) for _ in range(3))
    for i, n in enumerate(lags):
        for j in range(i, n_lags):
            m = lags[j]
            d = np.arange(-m, n + 1)
            ov = np.maximum(0, np.minimum(n, d + m) - np.maximum(0, d)).astype(float)
            count = np.maximum(0, np.minimum(n_frames - n, n_frames - m - d) - np.maximum(0, -d))
            k = (d == n - m).astype(float) - (d == n) - (d == -m) + (d == 0)
            ww[i, j] = ww[j, i] = np.dot(count, ov * ov)
            wk[i, j] = wk[j, i] = np.dot(count, ov * k)
            kk[i, j] = kk[j, i] = np.dot(count, k * k)
    origins = n_frames - np.asarray(lags, dtype=float)
    norm = np.outer(origins, origins)
    return ww / norm, wk / norm, kk / norm


def msd_covariance(
    n_frames: int,
    lag_frames: np.ndarray,
    step_var: float,
    noise_var: float,
    n_series: int,
    dimensions: int = 3,
) -> np.ndarray:
    """Covariance (Angstrom^4) of MSD points averaged over all time origins.

    Model: ``n_series`` independent particles, each coordinate a Gaussian random walk with
    ``step_var`` (Angstrom^2) per frame plus white position noise of variance ``noise_var``
    (Angstrom^2; vibrations about the walk), so ``MSD(n) = d (step_var n + 2 noise_var)``.
    ``lag_frames`` are lags in frames of a trajectory of ``n_frames`` frames; every MSD point
    is the average over all ``n_frames - n`` origins (as :func:`~.msd.msd_fft`). For
    Gaussian displacements ``cov(a^2, b^2) = 2 cov(a, b)^2``, which summed over pairs of
    origins gives the exact covariance of the origin-averaged MSD (Bullerjahn et al.,
    J. Chem. Phys. 153, 024116 (2020)).
    """
    lags = tuple(int(k) for k in np.asarray(lag_frames))
    ww, wk, kk = _overlap_sums(int(n_frames), lags)
    per_coordinate = 2.0 * (step_var**2 * ww + 2 * step_var * noise_var * wk + noise_var**2 * kk)
    return dimensions * per_coordinate / n_series


def _gls_lags(lag_frames: np.ndarray, max_lags: int = GLS_MAX_LAGS) -> np.ndarray:
    """Indices of at most ``max_lags`` evenly spaced lags of a window."""
    n = len(lag_frames)
    if n <= max_lags:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_lags).round().astype(int))


def gls_line_fit(
    lag_frames: np.ndarray,
    msd: np.ndarray,
    n_frames: int,
    n_series: int,
    dimensions: int = 3,
    iterations: int = 3,
) -> tuple[float, float, float, float]:
    """Line ``MSD = a n + b`` (``n`` lag in frames) by GLS with :func:`msd_covariance`.

    The covariance depends on the line itself (step variance ``a / d``, noise variance
    ``b / 2d``, both clipped at zero), so the fit is iterated from the least-squares line.
    Returns ``(a, b, stderr of a, chi^2 per degree of freedom)``. The error is enlarged by
    ``sqrt(chi^2/dof)`` when the scatter about the line exceeds what the model allows
    (MSDs that are not random walks, e.g. of vibrating atoms).
    """
    x = np.asarray(lag_frames, dtype=float)
    y = np.asarray(msd, dtype=float)
    design = np.column_stack([x, np.ones_like(x)])
    coef = np.linalg.lstsq(design, y, rcond=None)[0]
    ci = None
    cov = np.full((2, 2), np.nan)
    for _ in range(iterations):
        step_var = max(coef[0], 0.0) / dimensions
        noise_var = max(coef[1], 0.0) / (2 * dimensions)
        if step_var == 0.0 and noise_var == 0.0:
            step_var = max(abs(coef[0]), np.finfo(float).tiny) / dimensions
        c = msd_covariance(n_frames, lag_frames, step_var, noise_var, n_series, dimensions)
        ci = np.linalg.pinv(c, rcond=1e-12, hermitian=True)
        fisher = design.T @ ci @ design
        cov = np.linalg.pinv(fisher)
        coef = cov @ (design.T @ ci @ y)
    resid = y - design @ coef
    dof = len(y) - 2
    chi2 = float(resid @ ci @ resid) / dof if dof > 0 else float("nan")
    err = float(np.sqrt(max(cov[0, 0], 0.0)))
    if dof > 0 and chi2 > 1.0:
        err *= float(np.sqrt(chi2))
    return float(coef[0]), float(coef[1]), err, chi2


@dataclass
class DiffusionFit:
    """A diffusion coefficient from a straight line through ``MSD(t)``.

    ``D_A2_ps`` / ``D_cm2_s`` and their standard errors; ``window_ps`` the fit window;
    ``slope_A2_ps`` and ``intercept_A2`` of the line ``MSD = slope t + intercept``;
    ``error_method`` says where the error comes from: ``"gls"`` (generalised least squares
    with the MSD covariance, :func:`gls_line_fit`; ``chi2_dof`` is the reduced chi^2 of
    that fit, and the error was enlarged by its square root when above 1; ``diffusive_z``
    and ``diffusive`` are its diffusive-regime test, see :func:`fit_diffusion`), ``"blocks"``
    (scatter of the slopes of ``n_blocks`` consecutive trajectory blocks, standard error
    of their mean),
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
    chi2_dof: float | None = None
    diffusive_z: float | None = None
    diffusive: bool | None = None

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
    n_series: int | None = None,
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

    With ``n_series`` (the number of independent particles whose MSDs were averaged:
    ``N`` for a tracer MSD, 1 for a collective or charge MSD) and ``time_fs`` the lags
    ``0, dt, 2 dt, ...`` of a trajectory of ``len(time_fs)`` frames, slope and error come
    from :func:`gls_line_fit` instead (``"gls"``; blocks are then not used). On 200
    independent 20-ps walks of 8 ions this gives an RMS scatter of ~9 % with a one-sigma
    coverage of ~75 % (the least-squares/block estimate scattered by 26 %).

    The GLS fit is followed by a **diffusive-regime test**: the window's late half is fitted
    alone and ``diffusive_z = (a_all - a_late) / err_late`` compares the two slopes in units
    of the late slope's error (on the random walks above its spread is ~1.0 and
    ``|z| > 3`` occurs in < 1 % of runs). A
    bounded MSD (ions vibrating on sites, whose slow, correlated vibrations the random-walk
    covariance does not describe) bends over in the window, and the whole-window line then
    has a positive slope with a tiny error. When ``|z| >`` :data:`DIFFUSIVE_TEST_Z`,
    ``diffusive`` is False and the error of the whole-window slope is enlarged by the
    difference, ``sqrt(err^2 + (a_all - a_late)^2)``: D then is consistent with zero for a
    plateau (whose late slope is ~0 or negative), and for a diffusive MSD that still bends
    (correlated back-jumps at short lags) the error covers the dependence on the window.
    """
    t = np.asarray(time_fs, dtype=float)
    y = np.asarray(msd, dtype=float)
    if window_fs is None:
        window_fs = auto_fit_window(t, y)
    mask = _window_mask(t, window_fs)
    scale = 1.0 / (2 * dimensions * n_particles)
    n_blocks = 1
    if n_series is not None:
        return _fit_gls(t, y, mask, window_fs, scale, n_series, dimensions)
    slope, intercept, slope_err = linear_fit(t[mask] / 1000.0, y[mask])  # per ps
    method = "ols"
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


def _fit_gls(t: np.ndarray, y: np.ndarray, mask: np.ndarray, window_fs: tuple[float, float],
             scale: float, n_series: int, dimensions: int) -> DiffusionFit:
    """:func:`fit_diffusion` by GLS over the lags ``mask`` of ``t`` (fs)."""
    if n_series < 1:
        raise UsageError(f"n_series must be >= 1, got {n_series}")
    dt = float(t[1] - t[0])
    frames = np.rint(t / dt).astype(int)
    if not np.allclose(frames * dt, t, rtol=1e-6, atol=1e-6 * dt) or frames[0] != 0:
        raise UsageError("GLS diffusion fit: lags must be 0, dt, 2 dt, ... (an MSD as "
                         "mean_squared_displacement gives)")
    lags, msd_w = frames[mask], y[mask]
    a, b, err, chi2, z, diffusive = _diffusive_gls(lags, msd_w, len(t), n_series, dimensions)
    per_ps = 1000.0 / dt
    return DiffusionFit(
        D_A2_ps=a * per_ps * scale,
        D_err_A2_ps=err * per_ps * scale,
        window_ps=(window_fs[0] / 1000.0, window_fs[1] / 1000.0),
        slope_A2_ps=a * per_ps,
        intercept_A2=b,
        error_method="gls",
        n_blocks=1,
        chi2_dof=chi2,
        diffusive_z=z,
        diffusive=diffusive,
    )


def _diffusive_gls(lags: np.ndarray, msd: np.ndarray, n_frames: int, n_series: int,
                   dimensions: int) -> tuple[float, float, float, float, float | None,
                                             bool | None]:
    """GLS line over the window ``lags`` (frames) and the diffusive-regime test of
    :func:`fit_diffusion` (the late half of the window fitted alone). Returns ``(slope,
    intercept, error, chi2_dof, z, diffusive)``; ``z`` and ``diffusive`` are None when the
    late half holds too few lags for the test."""

    def fit(sel: np.ndarray, max_lags: int) -> tuple[float, float, float, float]:
        pick = _gls_lags(lags[sel], max_lags)
        return gls_line_fit(lags[sel][pick], msd[sel][pick], n_frames, n_series, dimensions)

    a, b, err, chi2 = fit(np.ones(len(lags), dtype=bool), GLS_MAX_LAGS)
    late = lags >= 0.5 * (lags[0] + lags[-1])
    if np.count_nonzero(late) < MIN_FIT_POINTS + 1:
        return a, b, err, chi2, None, None
    a_late, _, err_late, _ = fit(late, GLS_MAX_LAGS // 2)  # half the window, half the lags
    z = float((a - a_late) / err_late)
    diffusive = bool(abs(z) <= DIFFUSIVE_TEST_Z)
    if not diffusive:
        err = float(np.hypot(err, a - a_late))
    return a, b, err, chi2, z, diffusive


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
