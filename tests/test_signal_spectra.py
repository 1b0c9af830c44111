"""Signal-processing helpers behind the spectra: correlations, windows, transforms, units."""

from __future__ import annotations

import numpy as np
import pytest

from ase_raman.spectra import signal
from ase_raman.spectra.signal import SPEED_OF_LIGHT_CM_PER_FS as C_LIGHT


def _direct_lag_sums(x: np.ndarray, max_lag: int) -> np.ndarray:
    """O(N^2) reference: sum_tau x(tau) . x(tau + k)."""
    x = x.reshape(x.shape[0], -1)
    n = x.shape[0]
    return np.array([np.sum(x[: n - k] * x[k:]) for k in range(max_lag + 1)])


def test_lag_sums_equal_direct_correlation():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((257, 4)) + 2.0
    full = signal.lag_sums(x)
    ref = _direct_lag_sums(x, 256)
    assert np.max(np.abs(full - ref)) <= 1e-10 * np.max(np.abs(ref))
    # truncated padding (n + max_lag) gives the same first lags
    short = signal.lag_sums(x, max_lag=20)
    assert short.shape == (21,)
    assert np.max(np.abs(short - ref[:21])) <= 1e-10 * np.max(np.abs(ref))
    # grouped sums
    grouped = signal.lag_sums(x, max_lag=30, groups=[1, 3])
    assert grouped.shape == (31, 2)
    ref0 = _direct_lag_sums(x[:, :1], 30)
    ref1 = _direct_lag_sums(x[:, 1:], 30)
    assert np.allclose(grouped[:, 0], ref0, rtol=0, atol=1e-10 * ref0[0])
    assert np.allclose(grouped[:, 1], ref1, rtol=0, atol=1e-10 * ref1[0])
    with pytest.raises(ValueError, match="group sizes"):
        signal.lag_sums(x, groups=[2, 3])


def test_origin_average_pools_series_and_matches_autocorrelation():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal(100), rng.standard_normal(60)
    max_lag = 70
    pooled = np.zeros(max_lag + 1)
    pooled[:] += signal.lag_sums(a, max_lag)
    pooled[:60] += signal.lag_sums(b, max_lag)
    counts = signal.origin_counts([100, 60], max_lag)
    assert counts[0] == 160 and counts[59] == 41 + 1 and counts[65] == 35
    ref = np.array([
        (np.sum(a[: 100 - k] * a[k:]) + (np.sum(b[: 60 - k] * b[k:]) if k < 60 else 0.0))
        / (max(100 - k, 0) + max(60 - k, 0))
        for k in range(max_lag + 1)
    ])
    assert np.allclose(pooled / counts, ref, rtol=0, atol=1e-12)
    # the original helper is unchanged: normalised origin average of one series
    assert np.allclose(signal.autocorrelation(a)[:71], signal.lag_sums(a, 70)
                       / signal.origin_counts(100, 70), atol=1e-12)


def test_even_spectrum_is_exact_cosine_transform_with_sum_rule():
    rng = np.random.default_rng(5)
    c = rng.standard_normal(40)
    dt = 3.0
    length = signal.even_spectrum_length(39, dt, resolution_cm=5.0)
    assert length % 2 == 0 and length >= 80
    freqs, s = signal.even_spectrum(c, dt, length)
    k = np.arange(40)
    for j in (0, 7, len(freqs) - 1):
        ref = dt * (c[0] + 2 * np.sum(c[1:] * np.cos(2 * np.pi * C_LIGHT * freqs[j] * k[1:] * dt)))
        assert s[j] == pytest.approx(ref, abs=1e-10 * np.sum(np.abs(c)) * dt)
    assert freqs[-1] == pytest.approx(signal.nyquist_cm(dt), rel=1e-12)
    # sum rule: integral over 0..Nyquist = c(0) / (2 c)
    assert np.trapezoid(s, freqs) == pytest.approx(c[0] / (2 * C_LIGHT), rel=1e-10)


def test_gaussian_lag_window_equals_gaussian_smoothing_in_frequency():
    """cos(omega0 t) x window -> a Gaussian of sigma cm^-1 centred at nu0, exact area."""
    dt, sigma, nu0 = 4.0, 6.0, 300.0
    n_lags = int(np.ceil(signal.GAUSSIAN_LAG_CUTOFF * signal.gaussian_time_sigma_fs(sigma) / dt))
    t = np.arange(n_lags + 1) * dt
    c = np.cos(2 * np.pi * C_LIGHT * nu0 * t) * signal.gaussian_lag_window(n_lags + 1, dt, sigma)
    freqs, s = signal.even_spectrum(c, dt, signal.even_spectrum_length(n_lags, dt, 0.25))
    s_t = signal.gaussian_time_sigma_fs(sigma)
    expected = 0.5 * np.sqrt(2 * np.pi) * s_t * np.exp(-0.5 * ((freqs - nu0) / sigma) ** 2)
    assert np.max(np.abs(s - expected)) <= 1e-8 * expected.max()
    # the frequency-domain helper agrees on a smooth even spectrum
    spacing = freqs[1] - freqs[0]
    raw = np.exp(-0.5 * ((freqs - nu0) / 3.0) ** 2)
    smoothed = signal.smooth_gaussian(raw, 4.0, spacing)
    width = np.sqrt(3.0**2 + 4.0**2)
    ref = 3.0 / width * np.exp(-0.5 * ((freqs - nu0) / width) ** 2)
    assert np.max(np.abs(smoothed - ref)) < 1e-3


def test_windows_units_and_uniform_times():
    for name in ("none", "hann", "blackman", "bartlett", "welch"):
        w = signal.lag_window(name, 50)
        assert w[0] == pytest.approx(1.0) and w.shape == (50,)
        assert np.all(np.diff(w) <= 1e-15)
    with pytest.raises(ValueError, match="unknown window"):
        signal.lag_window("kaiser", 5)
    assert signal.nyquist_cm(20.0) == pytest.approx(833.9102, rel=1e-6)
    assert signal.wavelength_nm_to_cm(532.0) == pytest.approx(18796.99, rel=1e-6)
    assert signal.minimum_duration_fs(4.0) == pytest.approx(8339.1, rel=1e-4)
    assert signal.SECOND_RADIATION_CONSTANT_CM_K == pytest.approx(1.438777, rel=1e-6)
    assert signal.check_uniform_times(np.arange(10) * 20.0, "x") == pytest.approx(20.0)
    t = np.arange(10) * 20.0
    t[6:] += 5.0
    with pytest.raises(ValueError, match="non-uniform time steps"):
        signal.check_uniform_times(t, "x")
