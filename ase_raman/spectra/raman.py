"""Raman spectra from a polarizability time series (eqs. S1-S3 of ``docs/theory.md``).

Method (what :func:`raman_spectrum` computes)
---------------------------------------------
1. Each series alpha(t) (n, 3, 3), Angstrom^3, sampled every ``dt_fs`` fs (the *sampling*
   interval: alpha of every 10th step of a 2 fs MD is 20 fs) is symmetrised, its mean
   removed, and split into the orthonormal lambda=0 part l0 = tr(alpha)/sqrt(3) and the
   five lambda=2 parts l2 (:func:`ase_raman.tensors.cartesian_to_spherical`). Then exactly
   ``a^2 = l0^2 / 3`` and ``gamma^2 = 3/2 |l2|^2`` for products "at tau" times "at tau+t",
   so eq. S2 needs one and eq. S3 five auto-correlations (six FFTs in all).
2. The correlations are computed by FFT (Wiener-Khinchin, zero padding to n + max_lag so
   nothing wraps around) and averaged over all time origins: lag k is divided by its
   number of origins, pooled over all series given (independent runs or segments).
3. Smoothing: a Gaussian of standard deviation ``sigma_cm`` in frequency is applied as
   the equivalent Gaussian window ``exp(-t^2 / 2 s^2)``, ``s = 1 / (2 pi c sigma)``, on the
   correlation function (exact, and the window also removes the noisy long-lag tail of
   the origin-averaged estimate). Lags beyond 8 s are dropped (window < 1e-14). An optional
   extra taper (``window``) multiplies it. The spectrum is the exact discrete-time Fourier
   transform ``S(omega) = Int C(t) exp(-i omega t) dt`` of the windowed correlation,
   sampled on a grid of spacing ``resolution_cm`` (default sigma / 8) from 0 to Nyquist.
4. The time derivative alpha-dot (eqs. S2, S3 use alpha-dot correlations):

   * ``derivative="spectral"`` (default): ``S_alphadot(omega) = omega^2 S_alpha(omega)``,
     exact for a stationary signal at every frequency up to Nyquist. The smoothing acts on
     S_alpha (even in omega, no edge at omega = 0) and omega^2 multiplies afterwards.
   * ``derivative="forward"``: alpha-dot = (alpha[k+1] - alpha[k]) / dt, whose spectrum is
     that of the true derivative times ``sinc^2(omega dt / 2)`` (-18 % at 400 cm^-1 for a
     20 fs sampling); ``"central"``: (alpha[k+1] - alpha[k-1]) / (2 dt), times
     ``sinc^2(omega dt)`` (-56 % there). Both agree with the spectral route where
     omega dt << 1 and omega >> sigma (tested). With these the smoothing acts on the
     alpha-dot spectrum, whose exact zero at omega = 0 it fills in to about
     (2 pi c sigma)^2 S_alpha(0); the 1/omega prefactor turns that into a spurious rise
     in the lowest few sigma. Use them for comparison only, not for central-peak work.
5. Intensities (arbitrary units): ``I = K(nu) (45 a^2 + 7 gamma^2) / 45`` (eq. S1),
   ``parallel = K (45 a^2 + 4 gamma^2) / 45``, ``perpendicular = K 3 gamma^2 / 45``
   (polarized back-scattering; parallel + perpendicular = intensity), with

   * ``K = (1 - nu / nu_in)^4 / nu`` (nu in cm^-1; the (omega_in - omega)^4 / omega of eq.
     S1 divided by omega_in^4), the laser ``nu_in`` from ``laser_nm`` (default 532 nm) or
     ``laser_cm``; ``prefactor=False`` sets K = 1;
   * times an optional quantum correction at ``temperature`` T (none by default, as in the
     reference paper), with x = h c nu / (k_B T):
     ``"bose"``: ``n(nu) + 1 = 1 / (1 - exp(-x))`` (the Stokes Bose-Einstein factor; the
     harmonic quantum Stokes intensity up to a constant; it turns the low-frequency
     continuum of the classical formula into a true central peak);
     ``"harmonic"``: ``x / (1 - exp(-x))`` (the harmonic quantum-correction factor of the
     correlation function, -> 1 at low frequency and for T -> infinity).

   The nu = 0 bin is kept and set to its analytic limit, never computed as 0/0: with
   the spectral derivative ``K omega^2 S_alpha = (2 pi c)^2 (1 - nu/nu_in)^4 nu S_alpha``
   -> 0 (no quantum factor or "harmonic") and with "bose" ``(n + 1) nu -> T / C2`` so
   the bin holds ``(2 pi c)^2 (T / C2) S_alpha(0)``, the top of the central peak. With a
   finite-difference derivative the bin is set to the stationary limit 0 and "bose" is
   refused (its limit needs S_alpha(0)).

Noise: the origin-averaged (unbiased) correlation estimate is not positive definite, so
where the true spectrum is ~0 (e.g. between bands of a short, clean run) values may dip
slightly below zero; they are kept, not clipped, so that integrals stay unbiased
(:func:`central_peak_metrics` counts them as 0). Longer runs or a larger sigma shrink them.

Units: ``isotropic`` and ``anisotropic`` are the alpha-dot spectra a^2, gamma^2 of eqs.
S2-S3 in Angstrom^6 fs^-1 (``Int C(t) e^{-i omega t} dt`` with C in Angstrom^6 fs^-2);
their integral over 0..Nyquist in cm^-1 is C(0) / (2 c). ``intensity``, ``parallel`` and
``perpendicular`` carry K on top (Angstrom^6 fs^-1 cm with the prefactor).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import __version__
from ..errors import TensorError, UsageError
from ..tensors import cartesian_to_spherical
from . import signal
from .signal import (
    SECOND_RADIATION_CONSTANT_CM_K,
    SPEED_OF_LIGHT_CM_PER_FS,
)

__all__ = [
    "RamanSpectrum",
    "raman_spectrum",
    "central_peak_metrics",
    "raman_weight",
    "DEFAULT_LASER_NM",
    "RAMAN_COLUMNS",
]

#: laser wavelength (nm) used when the prefactor is on and no laser is given.
DEFAULT_LASER_NM: float = 532.0
#: CSV columns of a Raman spectrum, in order.
RAMAN_COLUMNS = ("intensity", "isotropic", "anisotropic", "parallel", "perpendicular")
_DERIVATIVES = ("spectral", "forward", "central")
_QUANTUM = (None, "bose", "harmonic")


@dataclass
class RamanSpectrum:
    """An orientation-averaged Raman spectrum on a uniform grid (see the module doc).

    Arrays of shape (n_freq,): ``frequencies`` (cm^-1, from 0), ``isotropic`` (a^2, eq. S2)
    and ``anisotropic`` (gamma^2, eq. S3) of alpha-dot in Angstrom^6 fs^-1, ``intensity``
    (eq. S1), ``parallel`` and ``perpendicular`` (arbitrary units, with the prefactor and
    quantum factor recorded in ``metadata``).
    """

    frequencies: np.ndarray
    intensity: np.ndarray
    isotropic: np.ndarray
    anisotropic: np.ndarray
    parallel: np.ndarray
    perpendicular: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def depolarization_ratio(self) -> np.ndarray:
        """perpendicular / parallel = 3 gamma^2 / (45 a^2 + 4 gamma^2) per frequency.

        NaN where the parallel intensity is zero (e.g. the nu = 0 bin); 3/4 for a purely
        anisotropic (traceless) modulation, 0 for a purely isotropic one.
        """
        out = np.full_like(self.parallel, np.nan)
        np.divide(self.perpendicular, self.parallel, out=out, where=self.parallel > 0)
        return out

    def integrated_depolarization_ratio(
        self, fmin_cm: float | None = None, fmax_cm: float | None = None
    ) -> float:
        """Ratio of the integrated perpendicular to parallel intensity over [fmin, fmax]."""
        keep = self._range(fmin_cm, fmax_cm)
        par = float(np.trapezoid(self.parallel[keep], self.frequencies[keep]))
        perp = float(np.trapezoid(self.perpendicular[keep], self.frequencies[keep]))
        return perp / par if par > 0 else float("nan")

    def _range(self, fmin_cm: float | None, fmax_cm: float | None) -> np.ndarray:
        f = self.frequencies
        keep = np.ones(f.shape, bool)
        if fmin_cm is not None:
            keep &= f >= fmin_cm
        if fmax_cm is not None:
            keep &= f <= fmax_cm
        return keep

    @property
    def spacing_cm(self) -> float:
        """Grid spacing in cm^-1."""
        return float(self.frequencies[1] - self.frequencies[0])

    def columns(self) -> dict[str, np.ndarray]:
        """The CSV columns (after ``frequency_cm-1``) by name, in order."""
        return {name: getattr(self, name) for name in RAMAN_COLUMNS}

    def header_lines(self) -> list[str]:
        """Human-readable CSV header lines: units, sampling, options, provenance."""
        m = self.metadata
        lines = [
            "units: frequency_cm-1 in cm^-1; isotropic = a^2 (eq. S2) and anisotropic = "
            "gamma^2 (eq. S3) of d(alpha)/dt in Angstrom^6 fs^-1; intensity = "
            "K (45 a^2 + 7 gamma^2)/45 (eq. S1), parallel = K (45 a^2 + 4 gamma^2)/45, "
            "perpendicular = K 3 gamma^2/45 (arb. units)",
            f"K: {m.get('prefactor_formula')}; quantum correction: "
            f"{m.get('quantum_correction') or 'none'}"
            + (f" at {m.get('temperature_K')} K" if m.get("quantum_correction") else ""),
            f"sampling: dt = {m.get('dt_fs')} fs (sampling interval), "
            f"{m.get('n_samples')} samples in {m.get('n_series')} series, "
            f"Nyquist {m.get('nyquist_cm', float('nan')):.6g} cm^-1",
            f"smoothing: Gaussian sigma = {m.get('sigma_cm')} cm^-1; window = "
            f"{m.get('window')}; correlation length {m.get('max_lag_fs', float('nan')):.6g} fs;"
            f" grid spacing {m.get('resolution_cm', float('nan')):.6g} cm^-1; derivative = "
            f"{m.get('derivative')}",
            f"nu = 0 bin: {m.get('zero_frequency')}",
            f"provenance: {m.get('provenance', {})}",
        ]
        return lines

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write ``frequency_cm-1,intensity,isotropic,anisotropic,parallel,perpendicular``
        with a commented (``#``) header of units and metadata, atomically."""
        from .plotting import write_spectrum_csv

        write_spectrum_csv(path, "raman", self.frequencies, self.columns(),
                           self.header_lines(), self.metadata)

    def plot(self, ax: Any = None, polarized: bool = True, label: str | None = None,
             **kwargs: Any) -> Any:
        """Plot the intensity (and parallel/perpendicular, dashed) on ``ax``.

        Without ``ax`` a new matplotlib Figure is made (no pyplot, Agg-safe); returns ax.
        """
        from .plotting import finish_spectrum_axes, new_axes

        if ax is None:
            ax = new_axes()
        line = ax.plot(self.frequencies, self.intensity, label=label or "total", **kwargs)[0]
        if polarized:
            ax.plot(self.frequencies, self.parallel, ls="--", lw=0.8, color=line.get_color(),
                    label="parallel")
            ax.plot(self.frequencies, self.perpendicular, ls=":", lw=0.8,
                    color=line.get_color(), label="perpendicular")
        return finish_spectrum_axes(ax, "raman", self.frequencies)


def _as_series(alpha: Any) -> list[np.ndarray]:
    """One (n, 3, 3) array or a sequence of them -> list of float arrays (validated)."""
    if isinstance(alpha, np.ndarray) or (
        isinstance(alpha, Sequence) and len(alpha) and np.ndim(alpha[0]) == 2
    ):
        items = [alpha]
    elif isinstance(alpha, Sequence) and len(alpha):
        items = list(alpha)
    else:
        raise TensorError("alpha: expected an array (n, 3, 3) or a list of such arrays")
    out = []
    for i, item in enumerate(items):
        arr = np.asarray(item, dtype=float)
        where = "alpha" if len(items) == 1 else f"alpha series {i}"
        if arr.ndim != 3 or arr.shape[1:] != (3, 3):
            raise TensorError(f"{where}: expected shape (n, 3, 3), got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            bad = int(np.argmax(~np.all(np.isfinite(arr), axis=(1, 2))))
            raise TensorError(f"{where}: non-finite polarizability at sample {bad}")
        out.append(arr)
    return out


def _laser_cm(prefactor: bool, laser_nm: float | None, laser_cm: float | None) -> float | None:
    if laser_nm is not None and laser_cm is not None:
        raise UsageError("give the laser as laser_nm or laser_cm, not both")
    if not prefactor:
        if laser_nm is not None or laser_cm is not None:
            raise UsageError("a laser was given but the prefactor is switched off")
        return None
    if laser_cm is not None:
        value = float(laser_cm)
    else:
        nm = DEFAULT_LASER_NM if laser_nm is None else float(laser_nm)
        if not np.isfinite(nm) or nm <= 0:
            raise UsageError(f"laser wavelength must be positive, got {nm} nm")
        value = signal.wavelength_nm_to_cm(nm)
    if not value > 0:
        raise UsageError(f"laser wavenumber must be positive, got {value} cm^-1")
    return value


def raman_weight(
    nu_cm: np.ndarray,
    laser_cm: float | None,
    quantum_correction: str | None = None,
    temperature: float | None = None,
    on_alpha: bool = True,
) -> np.ndarray:
    """The factor turning spectra into intensities, with the nu = 0 limit made explicit.

    ``on_alpha=True``: the factor multiplying S_alpha (the spectral route), i.e.
    ``K(nu) Q(nu) omega^2`` with omega = 2 pi c nu; ``on_alpha=False``: the factor
    ``K(nu) Q(nu)`` multiplying S_alphadot (finite-difference route). ``laser_cm=None``
    means no prefactor (K = 1); otherwise K = (1 - nu / laser_cm)^4 / nu. Q is 1, the Bose
    factor n + 1 or the harmonic x / (1 - exp(-x)) (see the module doc).
    """
    nu = np.asarray(nu_cm, dtype=float)
    w2 = (2.0 * np.pi * SPEED_OF_LIGHT_CM_PER_FS) ** 2  # omega^2 = w2 nu^2
    pos = nu > 0
    # g = Q(nu) * nu, explicit at nu = 0: bose -> T / C2, harmonic and none -> 0
    g = np.zeros_like(nu)
    if quantum_correction is None:
        g = nu.copy()
    else:
        x = SECOND_RADIATION_CONSTANT_CM_K * nu[pos] / float(temperature)
        n_plus_1 = 1.0 / -np.expm1(-x)
        if quantum_correction == "bose":
            g[pos] = n_plus_1 * nu[pos]
            g[~pos] = float(temperature) / SECOND_RADIATION_CONSTANT_CM_K
        else:  # harmonic
            g[pos] = x * n_plus_1 * nu[pos]
    laser = 1.0 if laser_cm is None else (1.0 - nu / laser_cm) ** 4
    if on_alpha:
        if laser_cm is None:  # K = 1: Q omega^2 = w2 (Q nu) nu
            return w2 * g * nu
        return w2 * laser * g  # (1/nu) Q omega^2 = w2 Q nu
    if quantum_correction == "bose":
        raise ValueError("the Bose factor needs the spectral route (on_alpha=True)")
    if laser_cm is None:
        q = np.ones_like(nu)
        q[pos] = g[pos] / nu[pos]
        return q
    out = np.zeros_like(nu)  # stationary limit S_alphadot / nu -> 0 at nu = 0
    out[pos] = laser[pos] * g[pos] / nu[pos] ** 2
    return out


def raman_spectrum(
    alpha: np.ndarray | Sequence[np.ndarray],
    dt_fs: float,
    *,
    sigma_cm: float = 4.0,
    laser_nm: float | None = None,
    laser_cm: float | None = None,
    prefactor: bool = True,
    temperature: float | None = None,
    quantum_correction: str | None = None,
    window: str = "none",
    max_freq_cm: float | None = None,
    resolution_cm: float | None = None,
    derivative: str = "spectral",
    max_lag_fs: float | None = None,
    provenance: dict[str, Any] | None = None,
) -> RamanSpectrum:
    """Orientation-averaged Raman spectrum (eqs. S1-S3) of polarizability time series.

    Parameters
    ----------
    alpha : (n, 3, 3) array in Angstrom^3, or a list of such series (independent runs or
        segments, same ``dt_fs``): their origin-averaged correlations are pooled.
    dt_fs : the sampling interval in fs between consecutive alpha samples (not the MD
        step when alpha was kept every k-th step: then it is k times the step).
    sigma_cm : Gaussian smoothing, standard deviation in cm^-1 (default 4; 0 = none).
        The longest series must last at least ``1 / (c sigma)`` (8.3 ps for 4 cm^-1).
    laser_nm, laser_cm : exciting laser (default 532 nm) of the (1 - nu/nu_in)^4 / nu
        prefactor; ``prefactor=False`` switches the whole prefactor off.
    temperature, quantum_correction : ``None`` (default, classical as in the reference
        paper), ``"bose"`` or ``"harmonic"`` at ``temperature`` K (see module doc).
    window : extra taper on the correlation (``none``, ``hann``, ``blackman``,
        ``bartlett``, ``welch``) over the kept lags.
    max_freq_cm : crop the output (must not exceed Nyquist = 1 / (2 c dt)).
    resolution_cm : grid spacing in cm^-1 (default sigma / 8, or the natural resolution
        1 / (2 c T_lag) without smoothing).
    derivative : ``"spectral"`` (default), ``"forward"`` or ``"central"`` (module doc).
    max_lag_fs : cap on the correlation length (fs), e.g. with ``sigma_cm=0``.
    provenance : free-form dict recorded in the metadata (source file, model, ...).

    Raises
    ------
    ase_raman.errors.TensorError
        For bad shapes or values.
    ase_raman.errors.UsageError
        For inconsistent options or too few samples.
    """
    series = _as_series(alpha)
    _check_weighting_options(derivative, quantum_correction, temperature)
    grid = signal.SpectrumGrid.validated(dt_fs, sigma_cm, window, max_freq_cm, resolution_cm,
                                         max_lag_fs)
    nu_in = _laser_cm(prefactor, laser_nm, laser_cm)
    if nu_in is not None and grid.top_cm >= nu_in:
        raise UsageError(f"frequencies up to {grid.top_cm:.6g} cm^-1 reach the laser "
                         f"({nu_in:.6g} cm^-1): lower the maximum frequency")
    signals = _derivative_signals(series, derivative, grid.dt_fs)
    lengths = [x.shape[0] for x in signals]
    max_lag = grid.max_lag(
        max(lengths), "a series of at least {need:.0f} fs ({samples} samples at dt = {dt:g} "
        "fs), the longest has {have} ({duration:g} fs)")
    corr = _invariant_correlations(signals, max_lag)
    freqs, (spec,) = grid.spectra([corr], max_lag)
    columns = _raman_columns(freqs, spec, nu_in, quantum_correction, temperature,
                             on_alpha=derivative == "spectral")
    meta = _raman_metadata(grid, max_lag, freqs, series, max(lengths), derivative, nu_in,
                           quantum_correction, temperature, provenance)
    return RamanSpectrum(freqs, *columns, meta)


def _check_weighting_options(derivative: str, quantum_correction: str | None,
                             temperature: float | None) -> None:
    """Refuse an unknown derivative or quantum correction, or one without temperature."""
    if derivative not in _DERIVATIVES:
        raise UsageError(f"derivative must be one of {', '.join(_DERIVATIVES)}, not {derivative!r}")
    if quantum_correction not in _QUANTUM:
        raise UsageError("quantum_correction must be None, 'bose' or 'harmonic', "
                         f"not {quantum_correction!r}")
    if quantum_correction is not None:
        if temperature is None or not np.isfinite(temperature) or temperature <= 0:
            raise UsageError(f"the {quantum_correction} correction needs a temperature > 0 K")
        if quantum_correction == "bose" and derivative != "spectral":
            raise UsageError("the Bose correction needs derivative='spectral' (its nu = 0 "
                             "limit is S_alpha(0), unknown from a finite-difference alpha-dot)")


def _derivative_signals(series: list[np.ndarray], derivative: str, dt: float
                        ) -> list[np.ndarray]:
    """Per series: alpha itself (spectral derivative) or its finite-difference alpha-dot."""
    signals = []
    for arr in series:
        if derivative == "spectral":
            x = arr
        elif derivative == "forward":
            x = np.diff(arr, axis=0) / dt
        else:
            x = (arr[2:] - arr[:-2]) / (2.0 * dt)
        if x.shape[0] < 4:
            raise UsageError(f"too few samples ({arr.shape[0]}) for a spectrum: need >= 4")
        signals.append(x)
    return signals


def _invariant_correlations(signals: list[np.ndarray], max_lag: int) -> np.ndarray:
    """Origin-averaged correlations of a^2 and gamma^2 (lags 0 .. max_lag, 2 columns).

    Each series is split into the spherical parts l0 and l2 of its symmetrised tensor
    (mean removed); then a^2 = <l0 l0> / 3 and gamma^2 = 3/2 <l2 . l2>, pooled over all
    series with each lag divided by its number of origins.
    """
    sums = np.zeros((max_lag + 1, 2))
    for x in signals:
        comps = _SPHERICAL_MAP @ x.reshape(x.shape[0], 9).T
        comps -= comps.mean(axis=1, keepdims=True)
        sums += _pad_lags(signal.lag_sums(comps.T, max_lag, groups=[1, 5]), max_lag)
        del comps
    corr = sums / signal.origin_counts([x.shape[0] for x in signals], max_lag)[:, None]
    return corr * np.array([1.0 / 3.0, 1.5])


def _raman_columns(freqs: np.ndarray, spec: np.ndarray, nu_in: float | None,
                   quantum_correction: str | None, temperature: float | None,
                   on_alpha: bool) -> tuple[np.ndarray, ...]:
    """(intensity, isotropic, anisotropic, parallel, perpendicular) from the spectra.

    ``spec`` holds the a^2 and gamma^2 spectra of alpha (``on_alpha``: the derivative is
    the factor omega^2) or of alpha-dot; the intensities carry the weight K (eq. S1).
    """
    s_iso, s_aniso = spec[:, 0], spec[:, 1]
    weight = raman_weight(freqs, nu_in, quantum_correction, temperature, on_alpha=on_alpha)
    if on_alpha:
        omega2 = signal.wavenumber_to_angular(freqs) ** 2
        iso, aniso = omega2 * s_iso, omega2 * s_aniso
    else:
        iso, aniso = s_iso, s_aniso
    w_iso, w_aniso = weight * s_iso, weight * s_aniso
    intensity = w_iso + (7.0 / 45.0) * w_aniso
    parallel = w_iso + (4.0 / 45.0) * w_aniso
    perpendicular = (3.0 / 45.0) * w_aniso
    return intensity, iso, aniso, parallel, perpendicular


def _raman_metadata(grid: signal.SpectrumGrid, max_lag: int, freqs: np.ndarray,
                    series: list[np.ndarray], longest: int, derivative: str,
                    nu_in: float | None, quantum_correction: str | None,
                    temperature: float | None, provenance: dict[str, Any] | None
                    ) -> dict[str, Any]:
    """The metadata of a Raman spectrum: grid, weighting, formulas, units, provenance."""
    on_alpha = derivative == "spectral"
    if nu_in is None:
        formula = "K = 1 (prefactor off)"
    else:
        formula = f"K = (1 - nu/nu_in)^4 / nu, nu in cm^-1, nu_in = {nu_in:.6g} cm^-1"
    if quantum_correction == "bose":
        zero = ("limit (2 pi c)^2 (T/C2) S_alpha(0) of the Bose-weighted spectrum "
                "(top of the central peak)")
    elif on_alpha:
        zero = "limit 0 (omega^2 S_alpha(omega) K(omega) -> 0 without a Bose factor)"
    else:
        zero = "set to the stationary limit 0 (finite-difference derivative)"
    if grid.sigma_cm > 0:
        smoothing = ("Gaussian window exp(-t^2/2s^2) on the correlation, s = 1/(2 pi c "
                     "sigma), applied to the S_alpha spectrum" if on_alpha else
                     "Gaussian window on the alpha-dot correlation")
    else:
        smoothing = "none"
    g = grid.metadata(max_lag, freqs)
    return {
        "kind": "raman",
        "equations": "S1-S3 (docs/theory.md)",
        "dt_fs": g["dt_fs"],
        "n_samples": int(sum(a.shape[0] for a in series)),
        "n_series": len(series),
        "series_lengths": [int(a.shape[0]) for a in series],
        "duration_fs": float((longest - 1) * grid.dt_fs),
        "nyquist_cm": g["nyquist_cm"],
        "sigma_cm": g["sigma_cm"],
        "smoothing": smoothing,
        "window": g["window"],
        "max_lag": g["max_lag"],
        "max_lag_fs": g["max_lag_fs"],
        "resolution_cm": g["resolution_cm"],
        "max_freq_cm": g["max_freq_cm"],
        "derivative": derivative,
        "mean_removed": True,
        "prefactor": nu_in is not None,
        "laser_cm": nu_in,
        "laser_nm": None if nu_in is None else 1.0e7 / nu_in,
        "prefactor_formula": formula,
        "quantum_correction": quantum_correction,
        "temperature_K": None if temperature is None else float(temperature),
        "zero_frequency": zero,
        "units": {
            "frequencies": "cm^-1",
            "isotropic": "Angstrom^6 fs^-1",
            "anisotropic": "Angstrom^6 fs^-1",
            "intensity": "arb. (Angstrom^6 fs^-1 x K)",
        },
        "provenance": {"ase_raman_version": __version__, **(provenance or {})},
    }


def _spherical_map() -> np.ndarray:
    """(6, 9) matrix taking row-major alpha to (l0, l2) of its symmetric part."""
    basis = np.eye(9).reshape(9, 3, 3)
    l0, l2 = cartesian_to_spherical(basis)
    return np.concatenate([l0, l2], axis=1).T


_SPHERICAL_MAP = _spherical_map()


def _pad_lags(r: np.ndarray, max_lag: int) -> np.ndarray:
    """Pad lag sums of a short series with zeros up to ``max_lag``."""
    if r.shape[0] == max_lag + 1:
        return r
    out = np.zeros((max_lag + 1,) + r.shape[1:])
    out[: r.shape[0]] = r
    return out


# ---------------------------------------------------------------------------------------
# central-peak indicator
# ---------------------------------------------------------------------------------------


def _voigt_shape(nu: np.ndarray, width_cm: float, sigma_cm: float) -> np.ndarray:
    """Even Lorentzian of half-width ``width_cm`` smoothed by the Gaussian ``sigma_cm``,
    normalised to 1 at nu = 0."""
    from scipy.special import voigt_profile

    if sigma_cm > 0:
        v = voigt_profile(nu, sigma_cm, width_cm)
        return v / voigt_profile(0.0, sigma_cm, width_cm)
    return 1.0 / (1.0 + (nu / width_cm) ** 2)


#: Fitted central-peak widths above this multiple of the fit range are not determined.
MAX_WIDTH_OVER_FIT_RANGE = 10.0


def _fit_central_peak(f: np.ndarray, y: np.ndarray, weight: np.ndarray, sigma: float,
                      fmax: float) -> tuple[float, float, bool]:
    """Fit ``A weight(nu) Voigt(nu; Gamma, sigma)`` to ``y`` on [0, fmax].

    Returns the half-width Gamma (cm^-1), the fitted curve's maximum on the range and
    whether the fit converged to a width the data determine (NaN, NaN, False otherwise).
    """
    from scipy.optimize import curve_fit

    sel = f <= fmax
    fs, ys, ws = f[sel], y[sel], weight[sel]
    if np.count_nonzero(sel) < 4 or not np.any(ys > 0) or not np.any(ws > 0):
        return float("nan"), float("nan"), False
    wn = ws / np.max(ws)

    def model(nu: np.ndarray, amp: float, gamma: float) -> np.ndarray:
        return amp * wn * _voigt_shape(nu, abs(gamma), sigma)

    # start: Gamma from the weighted first moment, amplitude by linear least squares
    g0 = max(float(np.trapezoid(ys * fs, fs) / max(np.trapezoid(ys, fs), 1e-300)),
             2.0 * max(sigma, fs[1] - fs[0]))
    shape0 = wn * _voigt_shape(fs, g0, sigma)
    a0 = float(np.dot(shape0, ys) / max(np.dot(shape0, shape0), 1e-300))
    try:
        popt, _ = curve_fit(model, fs, ys, p0=[a0, g0], maxfev=5000)
    except (RuntimeError, ValueError):
        return float("nan"), float("nan"), False
    gamma = abs(float(popt[1]))
    # a width far beyond the fit range is not determined by the data (no peak)
    if np.all(np.isfinite(popt)) and 0 < gamma < MAX_WIDTH_OVER_FIT_RANGE * fmax:
        return gamma, float(np.max(model(fs, *popt))), True
    return float("nan"), float("nan"), False


def central_peak_metrics(
    spectrum: RamanSpectrum,
    cutoff_cm: float = 50.0,
    fit_max_cm: float | None = None,
    column: str = "intensity",
) -> dict[str, Any]:
    """Low-frequency ("central peak") indicators of a Raman spectrum, as a JSON-able dict.

    Computed on the spectrum as given (its prefactor and quantum correction are recorded
    in the result under ``weighting``):

    * ``low_frequency_fraction``: integral of the intensity over [0, cutoff] divided by the
      integral over the whole returned range (trapezoid), in [0, 1]. 0 for an insulator
      whose first band is well above the cutoff, close to 1 when the low-frequency
      continuum dominates. Negative intensities (round-off of the smoothed correlation)
      count as 0 in every indicator.
    * ``central_to_phonon_ratio``: the strongest intensity in (0, cutoff] divided by the
      strongest above the cutoff (the main phonon peak, position ``phonon_peak_cm``).
    * ``central_width_cm``, ``central_amplitude``: a relaxational (Debye) central peak,
      i.e. an alpha spectrum S_alpha ~ A / (1 + (nu / Gamma)^2) (Lorentzian, half-width
      Gamma in cm^-1, correlation time 1 / (2 pi c Gamma)), smoothed by the spectrum's own
      Gaussian sigma (a Voigt) and seen through the spectrum's own weighting (prefactor,
      derivative, quantum factor), least-squares fitted on [0, fit_max] (default: the
      cutoff). Without a Bose factor this shape is the Debye band ~ nu Gamma/(Gamma^2 +
      nu^2), which peaks at nu = Gamma; with one it is a Lorentzian centred at 0. The
      amplitude is the fitted curve's maximum on the fit range, in intensity units.
      ``fit_converged`` is False (width and amplitude NaN) when the fit fails or gives a
      width above ``MAX_WIDTH_OVER_FIT_RANGE`` (10) times the fit range, which the data
      cannot determine (a spectrum that only rises through the fit range: no central peak).

    How to read it: rank candidates by ``low_frequency_fraction`` computed with the same
    cutoff, temperature and weighting for all of them; fast-ion conductors show a large
    fraction, a ratio approaching or above 1 and a width of tens of cm^-1 that grows with
    temperature. Limits: the cutoff must sit below the first optic band (lower it, e.g.
    to 20 cm^-1, for soft lattices), else phonons count as "central"; acoustic/rotational
    low-frequency modes and slow drifts of alpha (not removed beyond the mean) also count;
    the numbers depend on the weighting (a Bose factor inflates the lowest frequencies);
    a width below about sigma is not resolved; statistical noise of short runs enters
    directly (compare runs of similar length).
    """
    if cutoff_cm <= 0:
        raise UsageError(f"cutoff must be positive, got {cutoff_cm} cm^-1")
    f = np.asarray(spectrum.frequencies, float)
    # a spectral intensity is >= 0: negatives are round-off of the smoothed correlation
    # and would make a fraction leave [0, 1]
    y = np.clip(np.asarray(getattr(spectrum, column), float), 0.0, None)
    if cutoff_cm >= f[-1]:
        raise UsageError(f"cutoff {cutoff_cm:g} cm^-1 is beyond the spectrum's range "
                         f"(up to {f[-1]:.6g} cm^-1)")
    meta = spectrum.metadata
    low = f <= cutoff_cm
    total = float(np.trapezoid(y, f))
    low_int = float(np.trapezoid(y[low], f[low]))
    i_ph = int(np.argmax(np.where(~low, y, -np.inf)))
    phonon = float(y[i_ph])
    low_pos = low & (f > 0)
    central = float(np.max(y[low_pos])) if np.any(low_pos) else float("nan")
    sigma = float(meta.get("sigma_cm", 0.0) or 0.0)
    qc = meta.get("quantum_correction")
    temp = meta.get("temperature_K")
    deriv = meta.get("derivative", "spectral")
    weight = raman_weight(f, meta.get("laser_cm"), qc, temp, on_alpha=True)
    if column == "isotropic" or column == "anisotropic":
        weight = signal.wavenumber_to_angular(f) ** 2
    fmax = float(fit_max_cm) if fit_max_cm is not None else float(cutoff_cm)
    width, amplitude, converged = _fit_central_peak(f, y, weight, sigma, fmax)
    if qc == "bose":
        shape = "Lorentzian central peak (Bose-weighted spectrum)"
    else:
        shape = "Debye relaxation band nu Gamma / (Gamma^2 + nu^2) (classical weighting)"
    return {
        "low_frequency_fraction": min(1.0, low_int / total) if total > 0 else float("nan"),
        "central_to_phonon_ratio": central / phonon if phonon > 0 else float("nan"),
        "central_width_cm": width,
        "central_amplitude": amplitude,
        "fit_converged": converged,
        "fit_model": shape + ", Gaussian-smoothed (Voigt), HWHM Gamma",
        "fit_range_cm": [0.0, fmax],
        "cutoff_cm": float(cutoff_cm),
        "phonon_peak_cm": float(f[i_ph]),
        "column": column,
        "weighting": {
            "prefactor": meta.get("prefactor_formula"),
            "quantum_correction": qc,
            "temperature_K": temp,
            "derivative": deriv,
            "sigma_cm": sigma,
        },
    }
