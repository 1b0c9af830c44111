"""Shared signal-processing pieces: FFT auto-correlation averaged over time origins.

Every correlation in the package (Raman invariants, velocity autocorrelation, MSD) goes
through :func:`autocorrelation`, so there is one implementation to test and to speed up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import fft as sp_fft

from ..errors import UsageError
from ..units import (  # noqa: F401 (public names here too)
    SECOND_RADIATION_CONSTANT_CM_K,
    SPEED_OF_LIGHT_CM_PER_FS,
)


def _fast_length(n: int) -> int:
    """Smallest FFT-friendly length >= 2 n (zero padding that avoids circular wrap-around)."""
    return sp_fft.next_fast_len(2 * n, real=True)


def autocorrelation(x: np.ndarray, axis: int = 0, normalize: bool = True) -> np.ndarray:
    """Auto-correlation ``C(k) = <x(tau) x(tau + k)>`` along ``axis`` by FFT (Wiener-Khinchin).

    The series is zero-padded to at least twice its length, so the result equals the
    direct sum ``sum_{tau=0}^{N-1-k} x(tau) x(tau+k)``; with ``normalize=True`` (default)
    each lag is divided by its number of time origins ``N - k`` (an average over all
    origins). Real input only; other axes are independent series. Cost O(N log N).
    """
    arr = np.asarray(x, dtype=float)
    arr = np.moveaxis(arr, axis, 0)
    n = arr.shape[0]
    if n == 0:
        raise ValueError("autocorrelation of an empty series")
    nfft = _fast_length(n)
    spec = sp_fft.rfft(arr, n=nfft, axis=0)
    power = spec.real**2 + spec.imag**2
    corr = sp_fft.irfft(power, n=nfft, axis=0)[:n]
    if normalize:
        counts = np.arange(n, 0, -1, dtype=float).reshape((n,) + (1,) * (arr.ndim - 1))
        corr /= counts
    return np.moveaxis(corr, 0, axis)


# ---------------------------------------------------------------------------------------
# Units and frequency grids
# ---------------------------------------------------------------------------------------

#: Number of Gaussian time-window standard deviations kept in a smoothed correlation
#: (the window is exp(-8^2/2) ~ 1e-14 there, below double-precision significance).
GAUSSIAN_LAG_CUTOFF: float = 8.0

_WINDOWS = ("none", "hann", "blackman", "bartlett", "welch")


def wavenumber_to_angular(nu_cm: np.ndarray | float) -> np.ndarray | float:
    """Angular frequency omega = 2 pi c nu in rad/fs of a wavenumber ``nu_cm`` in cm^-1."""
    return 2.0 * np.pi * SPEED_OF_LIGHT_CM_PER_FS * np.asarray(nu_cm, dtype=float)


def nyquist_cm(dt_fs: float) -> float:
    """Nyquist wavenumber 1 / (2 c dt) in cm^-1 of a series sampled every ``dt_fs`` fs."""
    return 1.0 / (2.0 * SPEED_OF_LIGHT_CM_PER_FS * float(dt_fs))


def wavelength_nm_to_cm(wavelength_nm: float) -> float:
    """Wavenumber (cm^-1) of light of vacuum wavelength ``wavelength_nm`` (nm): 1e7 / nm."""
    return 1.0e7 / float(wavelength_nm)


def gaussian_time_sigma_fs(sigma_cm: float) -> float:
    """Standard deviation (fs) of the time window equivalent to a Gaussian of ``sigma_cm``.

    Convolving a spectrum with a normalised Gaussian of standard deviation ``sigma_cm``
    (cm^-1) is the same as multiplying its correlation function by
    ``exp(-t^2 / (2 s^2))`` with ``s = 1 / (2 pi c sigma_cm)`` fs (4 cm^-1 -> 1327 fs).
    """
    if sigma_cm <= 0:
        raise ValueError("sigma_cm must be positive")
    return 1.0 / (2.0 * np.pi * SPEED_OF_LIGHT_CM_PER_FS * float(sigma_cm))


def minimum_duration_fs(sigma_cm: float) -> float:
    """Shortest record (fs) that resolves a Gaussian smoothing of ``sigma_cm`` cm^-1.

    A record of duration T resolves about 1 / (c T) cm^-1; we require that to be no coarser
    than ``sigma_cm``, i.e. ``T >= 1 / (c sigma)`` (8.3 ps for 4 cm^-1). At that length the
    equivalent Gaussian time window has decayed to exp(-2 pi^2) ~ 3e-9, so truncating the
    correlation there is invisible.
    """
    return 1.0 / (SPEED_OF_LIGHT_CM_PER_FS * float(sigma_cm))


def lag_window(name: str, n_lags: int) -> np.ndarray:
    """One-sided taper ``w(k)``, k = 0 .. n_lags - 1, applied to a correlation function.

    ``w(0) = 1`` always (so sum rules over the full spectrum are kept). Names:
    ``none`` (1), ``hann`` ((1 + cos(pi k / K)) / 2), ``blackman``
    (0.42 + 0.5 cos(pi k / K) + 0.08 cos(2 pi k / K)), ``bartlett`` (1 - k / K) and
    ``welch`` (1 - (k / K)^2), with K = n_lags (so the taper reaches ~0 at the last lag).
    """
    if name not in _WINDOWS:
        raise ValueError(f"unknown window {name!r}; use one of: {', '.join(_WINDOWS)}")
    k = np.arange(n_lags, dtype=float)
    u = k / max(n_lags, 1)
    if name == "none":
        return np.ones(n_lags)
    if name == "hann":
        return 0.5 * (1.0 + np.cos(np.pi * u))
    if name == "blackman":
        return 0.42 + 0.5 * np.cos(np.pi * u) + 0.08 * np.cos(2.0 * np.pi * u)
    if name == "bartlett":
        return 1.0 - u
    return 1.0 - u**2  # welch


def gaussian_lag_window(n_lags: int, dt_fs: float, sigma_cm: float) -> np.ndarray:
    """``exp(-t^2 / (2 s^2))`` at lags t = k dt: smoothing by a Gaussian of ``sigma_cm``."""
    t = np.arange(n_lags, dtype=float) * float(dt_fs)
    return np.exp(-0.5 * (t / gaussian_time_sigma_fs(sigma_cm)) ** 2)


def smooth_gaussian(
    y: np.ndarray, sigma_cm: float, spacing_cm: float, mode: str = "reflect"
) -> np.ndarray:
    """Convolve spectra sampled every ``spacing_cm`` (last axis) with a normalised Gaussian.

    For spectra already on a grid (e.g. to smooth a finished curve); the spectra of this
    package are smoothed in the time domain instead (see :func:`gaussian_lag_window`),
    which is exact and needs no edge treatment. ``mode`` follows
    :func:`scipy.ndimage.gaussian_filter1d` (``reflect``: an even continuation at
    frequency 0, right for auto-correlation spectra).
    """
    from scipy.ndimage import gaussian_filter1d

    if sigma_cm <= 0:
        return np.array(y, dtype=float, copy=True)
    return gaussian_filter1d(np.asarray(y, dtype=float), sigma_cm / spacing_cm, axis=-1,
                             mode=mode, truncate=GAUSSIAN_LAG_CUTOFF)


# ---------------------------------------------------------------------------------------
# Correlation sums and even spectra
# ---------------------------------------------------------------------------------------


def lag_sums(
    x: np.ndarray,
    max_lag: int | None = None,
    groups: list[int] | tuple[int, ...] | None = None,
    workers: int | None = None,
) -> np.ndarray:
    """Raw lagged products ``R(k) = sum_tau x(tau) . x(tau + k)``, k = 0 .. max_lag, by FFT.

    ``x`` has shape (n,) or (n, m). The products are summed over the columns (the components
    of one vector, e.g. x y z of a velocity or the five lambda=2 parts of a tensor): over
    all of them (``groups=None``, result shape (max_lag + 1,)) or over consecutive groups of
    the given sizes (``groups=[1, 5]`` or ``[3] * n_atoms``; result (max_lag + 1, len(groups))).
    The series is zero-padded to ``n + max_lag + 1`` (rounded up to an FFT-friendly length),
    enough to keep every lag up to ``max_lag`` free of circular wrap-around; with
    ``max_lag << n`` that halves the cost of padding to 2 n. The result equals the direct
    O(n^2) sum. Divide by :func:`origin_counts` to average over time origins.
    """
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"lag_sums expects shape (n,) or (n, m), got {arr.shape}")
    n, m = arr.shape
    if n == 0:
        raise ValueError("lag_sums of an empty series")
    max_lag = n - 1 if max_lag is None else int(min(max_lag, n - 1))
    if max_lag < 0:
        raise ValueError("max_lag must be >= 0")
    nfft = sp_fft.next_fast_len(n + max_lag + 1, real=True)
    # transform rows of a C-contiguous (m, n) array: faster than strided columns
    spec = sp_fft.rfft(np.ascontiguousarray(arr.T), n=nfft, axis=-1, workers=workers)
    power = spec.real**2
    power += spec.imag**2
    del spec
    if groups is None:
        total = power.sum(axis=0)
        return sp_fft.irfft(total, n=nfft, workers=workers)[: max_lag + 1]
    sizes = np.asarray(groups, dtype=int)
    if sizes.sum() != m or np.any(sizes <= 0):
        raise ValueError(f"group sizes {list(sizes)} do not add up to the {m} columns")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    grouped = np.add.reduceat(power, starts, axis=0)
    del power
    out = sp_fft.irfft(grouped, n=nfft, axis=-1, workers=workers)[:, : max_lag + 1]
    return np.ascontiguousarray(out.T)


def origin_counts(lengths: int | list[int] | np.ndarray, max_lag: int) -> np.ndarray:
    """Number of time origins ``sum_s max(n_s - k, 0)`` of each lag k = 0 .. max_lag.

    ``lengths`` are the lengths of the (independent) series whose :func:`lag_sums` were
    added together.
    """
    k = np.arange(max_lag + 1)
    counts = np.zeros(max_lag + 1)
    for n_s in np.atleast_1d(lengths):
        counts += np.clip(int(n_s) - k, 0, None)
    return counts


#: Longest transform :func:`even_spectrum_length` accepts (2**26 points: 1 GiB of complex
#: numbers per series); a finer ``resolution_cm`` is refused before any allocation.
MAX_SPECTRUM_LENGTH = 2**26


def even_spectrum_length(max_lag: int, dt_fs: float, resolution_cm: float | None) -> int:
    """Even transform length L of :func:`even_spectrum` for a grid spacing ``resolution_cm``.

    The grid spacing is ``1 / (L dt c)``; L is at least ``2 (max_lag + 1)`` (the natural
    resolution of the correlation length) and even, so the grid ends exactly at Nyquist.
    """
    from ..errors import UsageError

    natural = 2 * (max_lag + 1)
    if resolution_cm is None:
        length = natural
    else:
        if not (np.isfinite(resolution_cm) and resolution_cm > 0):
            raise UsageError(f"resolution {resolution_cm!r} cm^-1: must be a positive number")
        wanted = 1.0 / (resolution_cm * dt_fs * SPEED_OF_LIGHT_CM_PER_FS)
        if wanted > MAX_SPECTRUM_LENGTH:
            finest = 1.0 / (MAX_SPECTRUM_LENGTH * dt_fs * SPEED_OF_LIGHT_CM_PER_FS)
            raise UsageError(
                f"resolution {resolution_cm:g} cm^-1 needs a {wanted:.3g}-point transform "
                f"(about {16 * wanted / 2**30:.3g} GiB per series); use a resolution of at "
                f"least {finest:.3g} cm^-1")
        length = max(natural, int(np.ceil(wanted)))
    return length + (length % 2)


def smoothing_max_lag(
    n_samples: int,
    dt_fs: float,
    sigma_cm: float,
    max_lag_fs: float | None,
    too_short: str,
) -> int:
    """Last lag kept of a correlation of ``n_samples`` samples smoothed by ``sigma_cm``.

    With ``sigma_cm > 0`` the record must last at least :func:`minimum_duration_fs`
    (else :class:`~ase_raman.errors.UsageError`, its middle part ``too_short`` formatted
    with ``need``, ``samples`` (samples needed), ``dt``, ``have`` (``n_samples``) and
    ``duration``) and the Gaussian window is cut at ``GAUSSIAN_LAG_CUTOFF`` standard
    deviations; ``max_lag_fs`` (> 0) caps it further. Always between 1 and n_samples - 1.
    """
    dt = float(dt_fs)
    sigma = float(sigma_cm)
    duration = (n_samples - 1) * dt
    if sigma > 0:
        need = minimum_duration_fs(sigma)
        if duration < need * (1 - 1e-9):
            detail = too_short.format(need=need, samples=int(np.ceil(need / dt)) + 1, dt=dt,
                                      have=n_samples, duration=duration)
            raise UsageError(
                f"too few frames for the requested resolution: sigma = {sigma:g} cm^-1 needs "
                f"{detail}; use more frames or a larger sigma")
        max_lag = int(np.ceil(GAUSSIAN_LAG_CUTOFF * gaussian_time_sigma_fs(sigma) / dt))
    else:
        max_lag = n_samples - 1
    if max_lag_fs is not None:
        if not max_lag_fs > 0:
            raise UsageError(f"max_lag_fs must be positive, got {max_lag_fs}")
        max_lag = min(max_lag, int(round(max_lag_fs / dt)))
    return max(1, min(max_lag, n_samples - 1))


def smoothing_taper(
    window: str, max_lag: int, dt_fs: float, sigma_cm: float, resolution_cm: float | None
) -> tuple[np.ndarray, int]:
    """Taper of lags 0 .. max_lag and the :func:`even_spectrum` length that goes with it.

    The taper is :func:`lag_window` times, for ``sigma_cm > 0``, the Gaussian
    :func:`gaussian_lag_window`; the grid spacing is ``resolution_cm``, by default
    sigma / 8 when smoothing and the natural one otherwise.
    """
    taper = lag_window(window, max_lag + 1)
    if sigma_cm > 0:
        taper = taper * gaussian_lag_window(max_lag + 1, dt_fs, sigma_cm)
    res = resolution_cm if resolution_cm is not None else (
        sigma_cm / 8.0 if sigma_cm > 0 else None)
    return taper, even_spectrum_length(max_lag, dt_fs, res)


@dataclass(frozen=True)
class SpectrumGrid:
    """The validated time sampling and frequency grid of a spectrum from a correlation.

    Build it with :meth:`validated`; every spectrum of ase-raman (Raman, VDOS) checks
    its options through it. Attributes are in fs and cm^-1.

    Attributes
    ----------
    dt_fs : float
        Sampling interval between consecutive samples (> 0).
    sigma_cm : float
        Gaussian smoothing, standard deviation (>= 0; 0 = none).
    window : str
        Extra taper on the correlation (one of ``"none"``, ``"hann"``, ``"blackman"``,
        ``"bartlett"``, ``"welch"``).
    max_freq_cm : float or None
        Crop of the output (in (0, Nyquist]); None keeps up to Nyquist.
    resolution_cm : float or None
        Grid spacing (default sigma / 8, or the natural one without smoothing).
    max_lag_fs : float or None
        Cap on the correlation length.
    """

    dt_fs: float
    sigma_cm: float = 4.0
    window: str = "none"
    max_freq_cm: float | None = None
    resolution_cm: float | None = None
    max_lag_fs: float | None = None

    @classmethod
    def validated(cls, dt_fs: float, sigma_cm: float = 4.0, window: str = "none",
                  max_freq_cm: float | None = None, resolution_cm: float | None = None,
                  max_lag_fs: float | None = None) -> SpectrumGrid:
        """Check the options and return the grid; :class:`UsageError` names what is wrong."""
        dt = float(dt_fs)
        if not np.isfinite(dt) or dt <= 0:
            raise UsageError(f"the sampling interval dt must be positive, got {dt_fs} fs")
        if window not in _WINDOWS:
            raise UsageError(f"unknown window {window!r}; use one of: {', '.join(_WINDOWS)}")
        sigma = float(sigma_cm)
        if not np.isfinite(sigma) or sigma < 0:
            raise UsageError(f"sigma must be >= 0 cm^-1, got {sigma_cm}")
        nyq = nyquist_cm(dt)
        if max_freq_cm is not None:
            if not max_freq_cm > 0:
                raise UsageError(f"the maximum frequency must be positive, got {max_freq_cm}")
            if max_freq_cm > nyq * (1 + 1e-12):
                raise UsageError(
                    f"maximum frequency {max_freq_cm:g} cm^-1 is above the Nyquist frequency "
                    f"{nyq:.6g} cm^-1 of a {dt:g} fs sampling interval (is dt the interval "
                    "between samples, not the MD step?)")
        return cls(dt, sigma, window, None if max_freq_cm is None else float(max_freq_cm),
                   resolution_cm, max_lag_fs)

    @property
    def nyquist_cm(self) -> float:
        """Nyquist frequency 1 / (2 c dt) in cm^-1."""
        return nyquist_cm(self.dt_fs)

    @property
    def top_cm(self) -> float:
        """Highest frequency of the output (the crop, or Nyquist)."""
        return self.nyquist_cm if self.max_freq_cm is None else self.max_freq_cm

    def max_lag(self, n_samples: int, too_short: str) -> int:
        """Last lag kept for a record of ``n_samples`` samples (:func:`smoothing_max_lag`)."""
        return smoothing_max_lag(n_samples, self.dt_fs, self.sigma_cm, self.max_lag_fs,
                                 too_short)

    def spectra(self, correlations: list[np.ndarray], max_lag: int
                ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Smooth, transform and crop correlations given at lags 0 .. ``max_lag``.

        Parameters
        ----------
        correlations : list of ndarray
            Each of shape (max_lag + 1, ...), lags on axis 0.

        Returns
        -------
        freqs : ndarray
            The frequency grid in cm^-1, from 0 up to :attr:`top_cm`.
        spectra : list of ndarray
            The spectra in the order given, frequencies on axis 0.
        """
        taper, length = smoothing_taper(self.window, max_lag, self.dt_fs, self.sigma_cm,
                                        self.resolution_cm)
        freqs, out = np.zeros(0), []
        for corr in correlations:
            shape = (-1,) + (1,) * (np.ndim(corr) - 1)
            freqs, spec = even_spectrum(np.asarray(corr) * taper.reshape(shape), self.dt_fs,
                                        length)
            out.append(spec)
        if self.max_freq_cm is not None:
            keep = freqs <= self.max_freq_cm * (1 + 1e-12)
            freqs, out = freqs[keep], [spec[keep] for spec in out]
        return freqs, out

    def metadata(self, max_lag: int, freqs: np.ndarray) -> dict[str, Any]:
        """The grid's entries of a spectrum's metadata."""
        return {
            "dt_fs": self.dt_fs,
            "nyquist_cm": self.nyquist_cm,
            "sigma_cm": self.sigma_cm,
            "window": self.window,
            "max_lag": int(max_lag),
            "max_lag_fs": float(max_lag * self.dt_fs),
            "resolution_cm": float(freqs[1] - freqs[0]) if freqs.size > 1 else float("nan"),
            "max_freq_cm": float(freqs[-1]),
        }


def even_spectrum(c: np.ndarray, dt_fs: float, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Fourier transform of an even correlation function given at lags k >= 0.

    ``S(nu) = dt [c(0) + 2 sum_{k>=1} c(k) cos(2 pi c_light nu k dt)]`` (the exact
    discrete-time transform, i.e. ``Int C(t) exp(-i omega t) dt`` with omega = 2 pi c nu),
    sampled at ``nu_j = j / (length dt c)`` cm^-1 for j = 0 .. length / 2 (0 to Nyquist).
    ``c`` has lags on axis 0 (shape (K,) or (K, ...)); ``length`` >= K. Units: those of
    ``c`` times fs. Sum rule: the trapezoid integral over 0..Nyquist in cm^-1 equals
    ``c(0) / (2 c_light)`` exactly (for even ``length``).
    """
    c = np.asarray(c, dtype=float)
    if length < c.shape[0]:
        raise ValueError("transform length shorter than the correlation")
    spec = sp_fft.rfft(c, n=length, axis=0)
    s = dt_fs * (2.0 * spec.real - c[:1])
    freqs = np.arange(s.shape[0]) / (length * dt_fs * SPEED_OF_LIGHT_CM_PER_FS)
    return freqs, s


def check_uniform_times(times_fs: np.ndarray, where: str, rtol: float = 1e-6) -> float:
    """Return the common spacing (fs) of sample times; raise ValueError if non-uniform."""
    t = np.asarray(times_fs, dtype=float)
    if t.ndim != 1 or t.size < 2:
        raise ValueError(f"{where}: need at least two sample times")
    d = np.diff(t)
    dt = float(np.median(d))
    if dt <= 0 or not np.all(np.abs(d - dt) <= rtol * abs(dt) + 1e-12):
        bad = int(np.argmax(np.abs(d - dt)))
        raise ValueError(
            f"{where}: non-uniform time steps (step {bad} -> {bad + 1} is {d[bad]:g} fs, "
            f"typical {dt:g} fs); spectra need evenly sampled series (split into segments)"
        )
    return dt
