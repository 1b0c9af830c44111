"""D with an honest error: GLS with the MSD covariance on many independent random walks."""

from __future__ import annotations

import numpy as np
import pytest

from ase_raman.spectra.transport import mean_squared_displacement
from ase_raman.spectra.transport.diffusion import msd_covariance
from ase_raman.spectra.transport.report import transport_summary

D_TRUE = 0.1  # Angstrom^2/ps (1e-5 cm^2/s)
DT_FS = 100.0  # an AIMD run stored every 0.1 ps


def _walk_estimates(n_walks: int, seed: int, n_ions: int = 8, length_ps: float = 20.0):
    """D and its error from ``ase-raman msd``'s summary (default window) for independent
    Gaussian walks of ``n_ions`` ions among a static framework (not in the MSD)."""
    rng = np.random.default_rng(seed)
    n_frames = int(round(length_ps * 1000.0 / DT_FS)) + 1
    step = np.sqrt(2 * D_TRUE * DT_FS / 1000.0)
    symbols = ["Li"] * n_ions + ["S"] * 4
    frame = np.zeros((n_frames, 4, 3)) + 2.0
    out = []
    for _ in range(n_walks):
        steps = rng.normal(0.0, step, size=(n_frames - 1, n_ions, 3))
        walk = np.concatenate([np.zeros((1, n_ions, 3)), np.cumsum(steps, axis=0)])
        pos = np.concatenate([walk, frame], axis=1)
        res = mean_squared_displacement(pos, symbols, DT_FS, cells=np.eye(3) * 20.0,
                                        unwrapped=True, remove_com=False, species=["Li"])
        entry = transport_summary(res)["Li"]
        out.append((entry["D_A2_ps"], entry["D_err_A2_ps"]))
    return np.array(out)


def test_gls_error_covers_true_D_on_random_walks():
    est = _walk_estimates(300, seed=22)
    d, err = est[:, 0], est[:, 1]
    coverage = float(np.mean(np.abs(d - D_TRUE) <= err))
    rms = float(np.sqrt(np.mean((d / D_TRUE - 1.0) ** 2)))
    bias = float(d.mean() / D_TRUE - 1.0)
    print(f"coverage {coverage:.3f}, rms {rms:.3f}, bias {bias:+.3f}")
    assert 0.60 <= coverage <= 0.80
    assert rms <= 0.15
    assert abs(bias) <= 0.05


def test_msd_covariance_matches_sampled_walks():
    # the model covariance against the sample covariance of 4000 short walks with noise
    rng = np.random.default_rng(3)
    n_frames, walks, step_var, noise_var = 40, 4000, 0.04, 0.02
    lags = np.array([2, 5, 10, 20])
    steps = rng.normal(0.0, np.sqrt(step_var), size=(walks, n_frames - 1, 3))
    x = np.concatenate([np.zeros((walks, 1, 3)), np.cumsum(steps, axis=1)], axis=1)
    x += rng.normal(0.0, np.sqrt(noise_var), size=x.shape)
    msd = np.stack([np.mean(np.sum((x[:, k:] - x[:, :-k]) ** 2, axis=2), axis=1)
                    for k in lags], axis=1)
    sample = np.cov(msd, rowvar=False)
    model = msd_covariance(n_frames, lags, step_var, noise_var, n_series=1)
    np.testing.assert_allclose(model, sample, rtol=0.12)
    assert msd.mean(axis=0) == pytest.approx(3 * (step_var * lags + 2 * noise_var), rel=0.02)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vibrational_plateau_gives_D_consistent_with_zero(seed):
    # damped oscillators with periods of 0.5-3 ps over a 3 ps run: the MSD still rises
    # towards its plateau inside the default window, and the random-walk GLS alone gave
    # D = 8-10 sigma above zero (measured before the diffusive-regime test)
    from ase_raman.spectra.transport import synthetic as sy
    from ase_raman.spectra.transport.diffusion import fit_diffusion
    from ase_raman.spectra.transport.msd import msd_fft

    pos, _, cell = sy.einstein_crystal(seed=seed)
    disp = pos[:, :64] - pos[0, :64]
    disp -= np.rint(disp / cell[0, 0]) * cell[0, 0]  # undo the wrapping (0.3 A vibrations)
    msd = msd_fft(disp)
    fit = fit_diffusion(np.arange(len(msd)) * 10.0, msd, n_series=64)
    assert fit.diffusive is False and abs(fit.diffusive_z) > 10
    assert abs(fit.D_A2_ps) < 2 * fit.D_err_A2_ps
    assert msd.max() < 2 * 6 * 0.3**2  # bounded: plateau 6 amplitude^2
