"""Diffusion fits, the automatic window, conductivity units, Haven ratio, Arrhenius fits
and the van Hove self-correlation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import constants

from ase_raman.errors import UsageError
from ase_raman.spectra.transport import (
    arrhenius_fit,
    auto_fit_window,
    einstein_helfand_conductivity,
    fit_diffusion,
    mean_squared_displacement,
    nernst_einstein_conductivity,
    van_hove_self,
)
from ase_raman.spectra.transport.arrhenius import KB_EV_K
from ase_raman.spectra.transport.report import arrhenius_summary, transport_summary


def _ou_msd(t, d, tau):
    """MSD of a Langevin particle: ballistic (~t^2) below tau, 6 D t - 6 D tau above."""
    return 6 * d * (t - tau * (1 - np.exp(-t / tau)))


def test_auto_window_skips_a_long_ballistic_part():
    t = np.arange(501) * 10.0  # fs
    short = _ou_msd(t, 0.01, 0.02 * t[-1])
    start, end = auto_fit_window(t, short)
    assert start == pytest.approx(0.05 * t[-1]) and end == pytest.approx(0.5 * t[-1])
    fit = fit_diffusion(t, short)
    assert fit.D_A2_ps == pytest.approx(0.01 * 1000, rel=0.01)
    # ballistic up to ~1.5 tau = 0.15 t_max: the window must start after it
    long = _ou_msd(t, 0.01, 0.1 * t[-1])
    start, _ = auto_fit_window(t, long)
    assert start >= 0.14 * t[-1]
    # the curvature left after 1.5 tau costs ~5%; a fit through the ballistic part ~15%
    assert fit_diffusion(t, long).D_A2_ps == pytest.approx(10.0, rel=0.06)
    assert fit_diffusion(t, long, (0.0, 0.5 * t[-1])).D_A2_ps < 8.8


def test_fit_window_validation_and_units():
    t = np.arange(50) * 100.0
    msd = 0.6 * t / 1000.0 + 0.3  # slope 0.6 A^2/ps -> D = 0.1 A^2/ps
    fit = fit_diffusion(t, msd, (1000.0, 4000.0))
    assert fit.D_A2_ps == pytest.approx(0.1, rel=1e-12)
    assert fit.D_cm2_s == pytest.approx(1e-5, rel=1e-12)
    assert fit.intercept_A2 == pytest.approx(0.3)
    assert fit.window_ps == (1.0, 4.0)
    with pytest.raises(UsageError, match="beyond the longest lag"):
        fit_diffusion(t, msd, (1000.0, 9000.0))
    with pytest.raises(UsageError, match="at least"):
        fit_diffusion(t, msd, (1000.0, 1100.0))


def test_nernst_einstein_units():
    # 192 Li+ in 8530.93 A^3 at 500 K with D = 1e-5 cm^2/s, by hand in SI
    n = 192 / (8530.93e-30)
    sigma_si = n * constants.e**2 * 1e-9 / (constants.k * 500.0)
    got = nernst_einstein_conductivity(0.1, 192, 8530.93, 1.0, 500.0)
    assert got == pytest.approx(sigma_si / 100.0, rel=1e-6)
    assert got == pytest.approx(0.8369, rel=1e-3)
    assert nernst_einstein_conductivity(0.1, 192, 8530.93, -2.0, 500.0) == pytest.approx(4 * got)
    # Einstein-Helfand with a charge MSD of N independent unit charges: the same number
    assert einstein_helfand_conductivity(6 * 0.1 * 192, 8530.93, 500.0) == pytest.approx(got)


def _walkers(rng, n_frames, n_atoms, step, correlated=0.0):
    own = rng.normal(0, step, size=(n_frames - 1, n_atoms, 3))
    common = rng.normal(0, step, size=(n_frames - 1, 1, 3))
    steps = np.sqrt(1 - correlated) * own + np.sqrt(correlated) * common
    return np.concatenate([np.zeros((1, n_atoms, 3)), np.cumsum(steps, axis=0)])


def test_haven_ratio_of_independent_walkers_is_one():
    # 100 ps, window 0.5-2.5 ps; the errors of tracer and collective D are GLS errors
    rng = np.random.default_rng(2026)
    pos = _walkers(rng, 10000, 64, 0.1)
    res = mean_squared_displacement(pos, ["Li"] * 64, 10.0, cells=np.eye(3) * 15.0,
                                    unwrapped=True, remove_com=False, charges={"Li": 1.0},
                                    n_blocks=20)
    summary = transport_summary(res, window_fs=(500.0, 2500.0), temperature_K=600.0)["Li"]
    h, err = summary["haven_ratio"], summary["haven_ratio_err"]
    assert 0 < err < 0.25
    assert abs(h - 1.0) < 2 * err
    assert summary["sigma_S_cm"] > 0 and summary["error_method"] == "gls"
    # one species, all charges: the total conductivity is the species' collective one
    assert summary["sigma_total_S_cm"] == pytest.approx(summary["sigma_collective_S_cm"])
    # concerted motion: the collective MSD grows N times faster, H_R ~ 1/N
    pos = _walkers(rng, 10000, 64, 0.1, correlated=0.9)
    res = mean_squared_displacement(pos, ["Li"] * 64, 10.0, cells=np.eye(3) * 15.0,
                                    unwrapped=True, remove_com=False, charges={"Li": 1.0},
                                    n_blocks=20)
    summary = transport_summary(res, window_fs=(500.0, 2500.0), temperature_K=600.0)["Li"]
    assert summary["haven_ratio"] < 0.1


def test_arrhenius_fit_recovers_activation_energy():
    temps = np.array([400.0, 500.0, 600.0, 800.0, 1000.0])
    d0, ea = 2e-3, 0.30
    exact = d0 * np.exp(-ea / (KB_EV_K * temps))
    fit = arrhenius_fit(temps, exact)
    assert fit.E_a_eV == pytest.approx(ea, abs=1e-10)
    assert fit.prefactor == pytest.approx(d0, rel=1e-9)
    rng = np.random.default_rng(12)
    noisy = exact * (1 + 0.05 * rng.standard_normal(len(temps)))
    fit = arrhenius_fit(temps, noisy, 0.05 * noisy)
    assert 0.002 < fit.E_a_err_eV < 0.05
    assert abs(fit.E_a_eV - ea) < 3 * fit.E_a_err_eV
    d300, err300 = fit.predict(300.0)
    truth300 = d0 * np.exp(-ea / (KB_EV_K * 300.0))
    assert abs(d300 - truth300) < 3 * err300
    # conductivity: sigma ~ exp(-E_a / kT) / T -> fit sigma*T
    sigma = 50.0 / temps * np.exp(-ea / (KB_EV_K * temps))
    sfit = arrhenius_fit(temps, sigma, times_temperature=True)
    assert sfit.E_a_eV == pytest.approx(ea, abs=1e-10)
    assert sfit.predict(300.0)[0] == pytest.approx(50.0 / 300 * np.exp(-ea / (KB_EV_K * 300)))
    with pytest.raises(UsageError, match="two different temperatures"):
        arrhenius_fit([500.0, 500.0], [1e-5, 2e-5])


def test_arrhenius_summary_needs_temperature():
    entry = {"D_cm2_s": 1e-5, "D_err_cm2_s": 1e-6, "temperature_K": None}
    with pytest.raises(UsageError, match="--temperature"):
        arrhenius_summary([("a.json", {"Li": entry})])
    good = [(f"{t}.json", {"Li": {"D_cm2_s": 1e-3 * np.exp(-0.2 / (KB_EV_K * t)),
                                  "D_err_cm2_s": None, "temperature_K": t}})
            for t in (500.0, 700.0, 900.0)]
    out = arrhenius_summary(good, target_temperature_K=300.0)
    assert out["Li"]["E_a_eV"] == pytest.approx(0.2, abs=1e-9)
    assert out["Li"]["error_method"] == "residuals"
    assert "sigma_E_a_eV" not in out["Li"]


def test_van_hove_of_gaussian_walk():
    rng = np.random.default_rng(13)
    step = 0.2
    pos = _walkers(rng, 400, 100, step)
    vh = van_hove_self(pos, [10, 100], 5.0, r_max=15.0, n_bins=300)
    dr = vh.edges_A[1] - vh.edges_A[0]
    prob = vh.radial_probability
    np.testing.assert_allclose(prob.sum(axis=1) * dr, 1.0, atol=2e-3)
    for j, k in enumerate(vh.lags):
        var = step**2 * k  # per coordinate
        mean_r2 = (vh.r_A**2 * prob[j]).sum() * dr
        assert mean_r2 == pytest.approx(3 * var, rel=0.03)
        gauss = (2 * np.pi * var) ** -1.5 * np.exp(-(vh.r_A**2) / (2 * var))
        peak = np.argmax(4 * np.pi * vh.r_A**2 * gauss)
        assert vh.g_s[j, peak] == pytest.approx(gauss[peak], rel=0.1)
    assert list(vh.time_fs) == [50.0, 500.0]
    assert vh.n_samples[0] == (400 - 10) * 100
