"""Physics tests of the Raman spectrum (eqs. S1-S3) and the central-peak indicator."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from ase_raman.errors import TensorError, UsageError
from ase_raman.spectra.raman import (
    RamanSpectrum,
    central_peak_metrics,
    raman_spectrum,
    raman_weight,
)
from ase_raman.spectra.signal import SPEED_OF_LIGHT_CM_PER_FS as C_LIGHT
from ase_raman.tensors import invariants

ALPHA0 = np.diag([40.0, 42.0, 45.0])


def _omega(nu_cm: float) -> float:
    return 2 * np.pi * C_LIGHT * nu_cm


def _cos_series(n: int, dt: float, nu0: float, mode: np.ndarray, noise: float = 0.0,
                seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) * dt
    a = ALPHA0 + np.cos(_omega(nu0) * t)[:, None, None] * mode
    if noise:
        eps = noise * rng.standard_normal((n, 3, 3))
        a = a + 0.5 * (eps + eps.transpose(0, 2, 1))
    return a


def _ou(n: int, dt: float, tau: float, rng: np.random.Generator, size: int) -> np.ndarray:
    """Ornstein-Uhlenbeck (exact AR(1) discretisation), unit variance, correlation tau."""
    phi = np.exp(-dt / tau)
    from scipy.signal import lfilter

    xi = rng.standard_normal((n, size)) * np.sqrt(1 - phi**2)
    x = lfilter([1.0], [1.0, -phi], xi, axis=0)
    return x


def _ou_alpha(n: int, dt: float, tau: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = _ou(n, dt, tau, rng, 6)
    a = np.empty((n, 3, 3))
    a[:] = ALPHA0
    a[:, 0, 0] += x[:, 0]
    a[:, 1, 1] += x[:, 1]
    a[:, 2, 2] += x[:, 2]
    for k, (i, j) in enumerate([(0, 1), (1, 2), (0, 2)]):
        a[:, i, j] += x[:, 3 + k]
        a[:, j, i] = a[:, i, j]
    return a


SYM_MODE = np.array([[0.3, 1.0, 0.2], [1.0, -0.1, 0.5], [0.2, 0.5, 0.6]])


def test_cosine_modulation_peaks_at_omega0_within_one_bin():
    # alpha kept every 10th step of a 2 fs MD: the sampling interval is 20 fs
    dt_md, every, nu0 = 2.0, 10, 173.0
    full = _cos_series(10 * 3000, dt_md, nu0, SYM_MODE)
    rng = np.random.default_rng(2)
    alpha = full[::every] + 0.02 * rng.standard_normal((3000, 3, 3))
    spec = raman_spectrum(alpha, dt_md * every)
    assert isinstance(spec, RamanSpectrum)
    for column in (spec.intensity, spec.isotropic, spec.anisotropic, spec.parallel):
        peak = spec.frequencies[np.argmax(column)]
        assert abs(peak - nu0) <= spec.spacing_cm
    assert spec.metadata["dt_fs"] == 20.0
    assert spec.metadata["nyquist_cm"] == pytest.approx(1 / (2 * C_LIGHT * 20.0))
    assert np.all(np.isfinite(spec.intensity))
    # the wrong interval (the MD step) would put the peak ten times higher
    wrong = raman_spectrum(alpha, dt_md, sigma_cm=10.0)
    assert abs(wrong.frequencies[np.argmax(wrong.intensity)] - nu0 * every) <= wrong.spacing_cm


def test_isotropic_modulation_has_no_anisotropic_or_perpendicular_intensity():
    alpha = _cos_series(2000, 10.0, 250.0, np.eye(3), noise=0.0)
    alpha += np.random.default_rng(0).standard_normal(2000)[:, None, None] * np.eye(3) * 0.1
    spec = raman_spectrum(alpha, 10.0)
    assert spec.isotropic.max() > 0
    assert np.max(np.abs(spec.anisotropic)) <= 1e-12 * spec.isotropic.max()
    assert np.max(np.abs(spec.perpendicular)) <= 1e-12 * spec.intensity.max()
    assert spec.integrated_depolarization_ratio() == pytest.approx(0.0, abs=1e-12)
    assert np.allclose(spec.intensity, spec.parallel, rtol=1e-12, atol=0)


def test_traceless_modulation_has_depolarisation_three_quarters():
    mode = np.array([[0.7, 0.4, -0.2], [0.4, -0.3, 0.1], [-0.2, 0.1, -0.4]])
    assert np.trace(mode) == pytest.approx(0.0, abs=1e-15)
    rng = np.random.default_rng(9)
    n = 2000
    alpha = _cos_series(n, 10.0, 300.0, mode)
    alpha += rng.standard_normal(n)[:, None, None] * np.array(
        [[0.0, 0.3, 0.0], [0.3, 0.5, 0.0], [0.0, 0.0, -0.5]])
    spec = raman_spectrum(alpha, 10.0)
    assert spec.integrated_depolarization_ratio() == pytest.approx(0.75, abs=1e-9)
    rho = spec.depolarization_ratio
    strong = spec.parallel > 1e-6 * spec.parallel.max()
    assert np.allclose(rho[strong], 0.75, atol=1e-9)
    assert np.isnan(rho[0])  # parallel = 0 at nu = 0: no ratio, not a division error
    assert np.max(np.abs(spec.isotropic)) <= 1e-12 * spec.anisotropic.max()


def test_ornstein_uhlenbeck_central_peak_has_the_known_lorentzian_width():
    dt, tau = 10.0, 200.0
    gamma = 1.0 / (2 * np.pi * C_LIGHT * tau)  # HWHM in cm^-1: 26.5
    alpha = _ou_alpha(2**18, dt, tau)
    bose = raman_spectrum(alpha, dt, quantum_correction="bose", temperature=300.0,
                          max_freq_cm=800.0)
    # a true central peak: maximum at nu = 0, finite there, half height near Gamma (Voigt)
    assert bose.frequencies[np.argmax(bose.intensity)] < 0.2 * gamma
    assert np.isfinite(bose.intensity[0]) and bose.intensity[0] > 0
    m_bose = central_peak_metrics(bose, cutoff_cm=100.0)
    assert m_bose["fit_converged"]
    assert m_bose["central_width_cm"] == pytest.approx(gamma, rel=0.05)
    # classical (reference) weighting: the Debye band nu Gamma/(Gamma^2+nu^2), max near Gamma
    classical = raman_spectrum(alpha, dt, max_freq_cm=800.0)
    assert classical.intensity[0] == 0.0
    peak = classical.frequencies[np.argmax(classical.intensity)]
    assert peak == pytest.approx(gamma, rel=0.08)
    m_cl = central_peak_metrics(classical, cutoff_cm=100.0)
    assert m_cl["central_width_cm"] == pytest.approx(gamma, rel=0.05)
    for key in ("low_frequency_fraction", "central_to_phonon_ratio", "central_width_cm"):
        assert key in m_cl
    assert m_bose["weighting"]["quantum_correction"] == "bose"
    assert m_cl["weighting"]["quantum_correction"] is None


def test_central_peak_metrics_rank_conductor_above_insulator():
    dt, n = 10.0, 2**16
    rng = np.random.default_rng(7)
    t = np.arange(n) * dt
    phonon = np.cos(_omega(320.0) * t + rng.uniform(0, 6.28))[:, None, None] * SYM_MODE
    insulator = ALPHA0 + phonon + 0.01 * rng.standard_normal((n, 1, 1)) * np.eye(3)
    conductor = insulator + 2.0 * (_ou_alpha(n, dt, 300.0, seed=3) - ALPHA0)
    kw = {"quantum_correction": "bose", "temperature": 500.0, "max_freq_cm": 600.0}
    m_ins = central_peak_metrics(raman_spectrum(insulator, dt, **kw), cutoff_cm=50.0)
    m_con = central_peak_metrics(raman_spectrum(conductor, dt, **kw), cutoff_cm=50.0)
    assert m_ins["low_frequency_fraction"] < 0.02
    assert m_con["low_frequency_fraction"] > 10 * m_ins["low_frequency_fraction"]
    assert m_con["central_to_phonon_ratio"] > m_ins["central_to_phonon_ratio"]
    assert m_ins["phonon_peak_cm"] == pytest.approx(320.0, abs=1.0)
    with pytest.raises(UsageError):
        central_peak_metrics(raman_spectrum(insulator, dt, **kw), cutoff_cm=1e5)


def test_rotating_the_alpha_series_leaves_the_spectrum_unchanged():
    alpha = _ou_alpha(4000, 10.0, 150.0, seed=11)
    alpha += _cos_series(4000, 10.0, 400.0, SYM_MODE) - ALPHA0
    rot = Rotation.random(random_state=5).as_matrix()
    rotated = np.einsum("ij,njk,lk->nil", rot, alpha, rot)
    a, b = raman_spectrum(alpha, 10.0), raman_spectrum(rotated, 10.0)
    for name in ("intensity", "isotropic", "anisotropic", "parallel", "perpendicular"):
        x, y = getattr(a, name), getattr(b, name)
        assert np.max(np.abs(x - y)) <= 1e-9 * np.max(np.abs(x))


def test_finite_difference_and_spectral_derivatives_agree_where_they_should():
    # omega dt << 1 and sigma << nu0: the three agree (peak position and area); the
    # remaining differences are sinc^2 - 1 (< 3e-4 here) and (sigma / nu0)^2 (2e-4)
    n, dt, nu0 = 80000, 0.5, 300.0  # 40 ps: record-edge effects (~1e-3 at 10 ps) gone
    alpha = _cos_series(n, dt, nu0, SYM_MODE)
    spectral = raman_spectrum(alpha, dt, max_freq_cm=2000.0)
    band = np.abs(spectral.frequencies - nu0) < 30.0
    area = np.trapezoid(spectral.intensity[band], spectral.frequencies[band])
    for scheme in ("forward", "central"):
        fd = raman_spectrum(alpha, dt, derivative=scheme, max_freq_cm=2000.0)
        assert abs(fd.frequencies[np.argmax(fd.intensity)] - nu0) <= fd.spacing_cm
        fd_area = np.trapezoid(fd.intensity[band], fd.frequencies[band])
        assert fd_area == pytest.approx(area, rel=1e-3)
        assert fd.metadata["derivative"] == scheme
    # near Nyquist the finite differences are attenuated by sinc^2 (not a bug: a choice)
    dt, nu0 = 20.0, 600.0
    alpha = _cos_series(3000, dt, nu0, SYM_MODE)
    spectral = raman_spectrum(alpha, dt)
    j = int(np.argmax(spectral.intensity))
    x = _omega(nu0) * dt
    fwd = raman_spectrum(alpha, dt, derivative="forward")
    cen = raman_spectrum(alpha, dt, derivative="central")
    assert fwd.intensity[j] / spectral.intensity[j] == pytest.approx(
        (np.sin(x / 2) / (x / 2)) ** 2, rel=0.01)
    assert cen.intensity[j] / spectral.intensity[j] == pytest.approx(
        (np.sin(x) / x) ** 2, rel=0.01)


def test_invariant_spectra_obey_the_sum_rule_of_eqs_s2_s3():
    """Integral of a^2, gamma^2 over 0..Nyquist = <a'^2>, <gamma'^2> / (2 c), using
    the invariants of :mod:`ase_raman.tensors` as the independent reference."""
    alpha = _ou_alpha(3000, 5.0, 100.0, seed=4)
    spec = raman_spectrum(alpha, 5.0, derivative="forward", sigma_cm=0.0, prefactor=False)
    adot = np.diff(alpha, axis=0) / 5.0
    adot -= adot.mean(axis=0)
    mean, gamma2 = invariants(adot)
    assert np.trapezoid(spec.isotropic, spec.frequencies) == pytest.approx(
        np.mean(mean**2) / (2 * C_LIGHT), rel=1e-9)
    assert np.trapezoid(spec.anisotropic, spec.frequencies) == pytest.approx(
        np.mean(gamma2) / (2 * C_LIGHT), rel=1e-9)
    # prefactor off: intensity is (45 a^2 + 7 gamma^2) / 45 exactly
    assert np.allclose(spec.intensity, spec.isotropic + 7 / 45 * spec.anisotropic, rtol=1e-12)
    assert np.allclose(spec.parallel + spec.perpendicular, spec.intensity, rtol=1e-12)


def test_prefactor_laser_and_zero_frequency_bin():
    alpha = _ou_alpha(3000, 10.0, 100.0, seed=8)
    by_nm = raman_spectrum(alpha, 10.0, laser_nm=633.0)
    by_cm = raman_spectrum(alpha, 10.0, laser_cm=1e7 / 633.0)
    assert np.allclose(by_nm.intensity, by_cm.intensity, rtol=1e-12)
    none = raman_spectrum(alpha, 10.0, prefactor=False)
    nu = none.frequencies
    expected = (1 - nu / (1e7 / 633.0)) ** 4 / np.where(nu > 0, nu, 1.0) * none.intensity
    assert np.allclose(by_nm.intensity[1:], expected[1:], rtol=1e-10)
    assert by_nm.intensity[0] == 0.0 and by_nm.metadata["laser_nm"] == pytest.approx(633.0)
    # Bose: the nu = 0 bin is the finite limit, continuous with its neighbours
    bose = raman_spectrum(alpha, 10.0, quantum_correction="bose", temperature=300.0)
    assert np.all(np.isfinite(bose.intensity))
    assert bose.intensity[0] > 0
    assert bose.intensity[0] == pytest.approx(bose.intensity[1], rel=1e-2)
    for qc in ("bose", "harmonic", None):
        w = raman_weight(np.array([0.0, 1e-7, 1.0]), 18000.0, qc, 300.0)
        assert np.all(np.isfinite(w)) and abs(w[0] - w[1]) <= 1e-6 * abs(w[2])
    harmonic = raman_spectrum(alpha, 10.0, quantum_correction="harmonic", temperature=300.0)
    assert harmonic.intensity[0] == 0.0
    assert np.allclose(harmonic.intensity[1:20], by_default(alpha).intensity[1:20], rtol=0.05)
    for spec in (by_nm, none, bose, harmonic):
        assert np.all(np.isfinite(spec.intensity)) and spec.frequencies[0] == 0.0


def by_default(alpha: np.ndarray) -> RamanSpectrum:
    return raman_spectrum(alpha, 10.0)


def test_several_series_are_pooled_over_time_origins():
    alpha = _ou_alpha(3000, 10.0, 100.0, seed=12)
    one = raman_spectrum(alpha, 10.0)
    two = raman_spectrum([alpha, alpha], 10.0)
    assert np.allclose(one.intensity, two.intensity, rtol=1e-12, atol=0)
    assert two.metadata["n_series"] == 2 and two.metadata["n_samples"] == 6000
    mixed = raman_spectrum([alpha, alpha[:2500]], 10.0)
    assert mixed.metadata["series_lengths"] == [3000, 2500]
    assert np.all(np.isfinite(mixed.intensity))


def test_bad_input_gives_clear_errors():
    alpha = _ou_alpha(3000, 10.0, 100.0)
    with pytest.raises(TensorError, match="shape"):
        raman_spectrum(alpha[:, :2], 10.0)
    with pytest.raises(UsageError, match="too few frames for the requested resolution"):
        raman_spectrum(alpha[:300], 10.0)
    raman_spectrum(alpha[:300], 10.0, sigma_cm=30.0)  # coarser smoothing is fine
    with pytest.raises(UsageError, match="Nyquist"):
        raman_spectrum(alpha, 10.0, max_freq_cm=5000.0)
    with pytest.raises(UsageError, match="temperature"):
        raman_spectrum(alpha, 10.0, quantum_correction="bose")
    with pytest.raises(UsageError, match="not both"):
        raman_spectrum(alpha, 10.0, laser_nm=532.0, laser_cm=18000.0)
    with pytest.raises(UsageError, match="spectral"):
        raman_spectrum(alpha, 10.0, derivative="central", quantum_correction="bose",
                       temperature=300.0)
    bad = alpha.copy()
    bad[17, 0, 0] = np.nan
    with pytest.raises(TensorError, match="sample 17"):
        raman_spectrum(bad, 10.0)
    with pytest.raises(UsageError, match="positive"):
        raman_spectrum(alpha, -1.0)


def test_central_peak_fraction_is_not_negative_without_a_central_component():
    """A pure 300 cm^-1 oscillation: round-off negatives must not make the fraction < 0."""
    dt, n = 2.0, 16384
    phase = 2 * np.pi * 300.0 * C_LIGHT * np.arange(n) * dt
    alpha = np.zeros((n, 3, 3))
    alpha[:, 0, 1] = alpha[:, 1, 0] = np.cos(phase)
    alpha[:, 0, 0] = 0.3 * np.cos(phase)
    for qc, temperature in ((None, None), ("bose", 300.0)):
        spec = raman_spectrum(alpha, dt, quantum_correction=qc, temperature=temperature,
                              max_freq_cm=1000.0)
        metrics = central_peak_metrics(spec, cutoff_cm=50.0)
        assert 0.0 <= metrics["low_frequency_fraction"] < 1e-6
        assert metrics["central_to_phonon_ratio"] >= 0.0
