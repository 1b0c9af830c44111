"""MSD core: FFT against the direct double loop, unwrapping (fixed and changing cells),
drift removal, and D of random walks with a known step."""

from __future__ import annotations

import numpy as np
import pytest

from ase_raman.spectra.signal import autocorrelation
from ase_raman.spectra.transport import (
    fit_diffusion,
    mean_squared_displacement,
    msd_direct,
    msd_fft,
    remove_drift,
    summed_autocorrelation,
    unwrap_positions,
)

TRICLINIC = np.array([[6.0, 0.0, 0.0], [1.5, 5.5, 0.0], [-0.8, 1.0, 7.0]])


def _walk(rng, n_frames, n_atoms, step, start_scale=5.0):
    """Gaussian random walk: per-coordinate step sigma ``step`` (Angstrom) per frame."""
    start = rng.uniform(0, start_scale, size=(1, n_atoms, 3))
    steps = rng.normal(0.0, step, size=(n_frames - 1, n_atoms, 3))
    return np.concatenate([start, start + np.cumsum(steps, axis=0)])


def _wrap(pos, cells):
    """Wrap Cartesian positions into the cell of each frame (fractional mod 1)."""
    cells = np.broadcast_to(cells, (pos.shape[0], 3, 3))
    frac = np.einsum("fai,fij->faj", pos, np.linalg.inv(cells))
    return np.einsum("faj,fji->fai", frac % 1.0, cells), np.floor(frac)


def test_fft_msd_equals_direct_loop():
    rng = np.random.default_rng(1)
    pos = _walk(rng, 400, 20, 0.3) + 1000.0  # a large offset must not cost precision
    direct = msd_direct(pos)
    fft = msd_fft(pos, block=7)  # blocks that do not divide the atom count
    assert np.max(np.abs(fft - direct)) <= 1e-10 * direct.max()
    assert direct[-1] > 0


def test_summed_autocorrelation_matches_signal_autocorrelation():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(257, 4, 3))
    ref = autocorrelation(x, normalize=False).sum(axis=(1, 2))
    np.testing.assert_allclose(summed_autocorrelation(x), ref, rtol=1e-12, atol=1e-9)


def test_atoms_at_rest_have_zero_msd():
    rng = np.random.default_rng(3)
    frame = rng.uniform(0, 6, size=(10, 3))
    pos = np.repeat(frame[None], 50, axis=0)
    res = mean_squared_displacement(pos, ["Li"] * 5 + ["S"] * 5, 10.0, cells=TRICLINIC)
    for sym in ("Li", "S"):
        assert np.all(res.msd[sym] == 0.0)
        assert np.all(res.collective[sym] == 0.0)


def test_drift_removal():
    rng = np.random.default_rng(4)
    frame = rng.uniform(0, 6, size=(8, 3))
    velocity = np.array([0.05, -0.02, 0.01])  # Angstrom per frame, the whole cell drifts
    pos = frame[None] + np.arange(30)[:, None, None] * velocity
    with_drift = mean_squared_displacement(pos, ["Li"] * 8, 1.0, cells=TRICLINIC,
                                           remove_com=False)
    lag = np.arange(30)
    np.testing.assert_allclose(with_drift.msd["Li"], lag**2 * (velocity @ velocity),
                               rtol=1e-10)
    no_drift = mean_squared_displacement(pos, ["Li"] * 8, 1.0, cells=TRICLINIC)
    # zero up to round-off of the drift's own MSD (the drift is removed algebraically)
    assert np.max(np.abs(no_drift.msd["Li"])) < 1e-12 * with_drift.msd["Li"].max()
    # mass weighting: the heavy atom's centre of mass stays put after removal
    masses = np.array([1.0] * 7 + [1e6])
    moved = pos.copy()
    moved[:, :7] += rng.normal(0, 0.1, size=(30, 7, 3))
    fixed = remove_drift(moved, masses)
    com = np.einsum("fai,a->fi", fixed, masses / masses.sum())
    np.testing.assert_allclose(com, np.broadcast_to(com[0], com.shape), atol=1e-12)
    assert np.abs(fixed[:, 7] - fixed[0, 7]).max() < 1e-4  # the heavy atom hardly moves


def test_random_walk_gives_known_D():
    rng = np.random.default_rng(5)
    dt_fs, step = 20.0, 0.1  # Angstrom per coordinate per frame
    pos = _walk(rng, 2000, 1000, step)
    res = mean_squared_displacement(pos, ["Li"] * 1000, dt_fs, cells=np.eye(3) * 12.0,
                                    n_blocks=5)
    fit = fit_diffusion(res.time_fs, res.msd["Li"], block_msd=res.msd_blocks["Li"],
                        block_time_fs=res.block_time_fs)
    d_true = step**2 / (2 * dt_fs) * 1000.0  # Angstrom^2/ps
    assert abs(fit.D_A2_ps - d_true) < 0.05 * d_true
    assert fit.error_method == "blocks-scaled"  # auto window (0.5 t_max) > a block
    assert 0 < fit.D_err_A2_ps < 0.05 * d_true
    assert abs(fit.D_A2_ps - d_true) < 4 * fit.D_err_A2_ps
    assert fit.D_cm2_s == pytest.approx(fit.D_A2_ps * 1e-4)
    err = res.msd_err("Li")
    assert err is not None and err.shape == res.block_time_fs.shape and np.all(err[1:] > 0)


def test_wrapped_trajectory_equals_unwrapped_twin():
    rng = np.random.default_rng(6)
    true = _walk(rng, 3000, 12, 0.6)  # a 6-7 Angstrom cell: many boundary crossings
    wrapped, images = _wrap(true, TRICLINIC)
    crossings = np.abs(np.diff(images, axis=0)).sum(axis=(0, 2))
    assert crossings.min() > 100
    symbols = ["Li"] * 12
    ref = mean_squared_displacement(true, symbols, 1.0, cells=TRICLINIC, unwrapped=True)
    got = mean_squared_displacement(wrapped, symbols, 1.0, cells=TRICLINIC)
    np.testing.assert_allclose(got.msd["Li"], ref.msd["Li"], rtol=1e-9, atol=1e-9)
    unwrapped, max_jump = unwrap_positions(wrapped, TRICLINIC)
    np.testing.assert_allclose(unwrapped - unwrapped[0], true - true[0], atol=1e-9)
    assert max_jump < 0.5
    # the same wrapped file taken "as given" is wrong: the test can tell
    naive = mean_squared_displacement(wrapped, symbols, 1.0, cells=TRICLINIC, unwrapped=True)
    assert naive.msd["Li"][-100] < 0.5 * ref.msd["Li"][-100]


def test_orthorhombic_unwrapping_with_a_non_periodic_axis():
    """The orthorhombic fast path: only periodic axes are unwrapped, the largest
    remaining step is reported per axis, and any atom block size gives the same."""
    rng = np.random.default_rng(11)
    cell = np.diag([5.0, 6.0, 7.0])
    true = _walk(rng, 2000, 7, 0.4)
    wrapped, images = _wrap(true, cell)
    wrapped[..., 2] = true[..., 2]  # z is not periodic: positions taken as they are
    assert np.abs(np.diff(images[..., :2], axis=0)).sum() > 500
    for block in (1, 3, 256):
        unwrapped, max_jump = unwrap_positions(wrapped, cell, pbc=(True, True, False),
                                               block=block)
        np.testing.assert_allclose(unwrapped - unwrapped[0], true - true[0], atol=1e-9)
        expected = np.max(np.abs(np.diff(true[..., :2], axis=0)) / np.array([5.0, 6.0]))
        assert max_jump == pytest.approx(expected, rel=1e-9)
    symbols = ["Li"] * 7
    got = mean_squared_displacement(wrapped, symbols, 1.0, cells=cell, pbc=(True, True, False),
                                    block=2)
    ref = mean_squared_displacement(true, symbols, 1.0, unwrapped=True, block=5)
    np.testing.assert_allclose(got.msd["Li"], ref.msd["Li"], rtol=1e-9, atol=1e-9)


def test_changing_cell_npt_unwrapping():
    """A barostat scales positions with the cell (affine) on top of the atoms' own steps.
    The MSD must be that of the accumulated real frame-to-frame moves; the "unwrap the
    fractional coordinates, multiply by the current cell" shortcut is not."""
    rng = np.random.default_rng(7)
    n_frames, n_atoms, step = 2000, 16, 0.4
    scale = 1.0 + 0.04 * rng.standard_normal(n_frames)  # isotropic volume fluctuations
    shear = 0.03 * rng.standard_normal((n_frames, 3, 3))
    cells = scale[:, None, None] * (TRICLINIC + shear * 5.0)
    own = rng.normal(0.0, step, size=(n_frames - 1, n_atoms, 3))
    wrapped = np.empty((n_frames, n_atoms, 3))
    truth = np.empty_like(wrapped)
    wrapped[0] = rng.uniform(0, 1, (n_atoms, 3)) @ cells[0]
    truth[0] = wrapped[0]
    for t in range(1, n_frames):
        affine = wrapped[t - 1] @ np.linalg.inv(cells[t - 1]) @ cells[t]
        moved = affine + own[t - 1]
        truth[t] = truth[t - 1] + (moved - wrapped[t - 1])
        frac = moved @ np.linalg.inv(cells[t])
        wrapped[t] = (frac % 1.0) @ cells[t]
    symbols = ["Na"] * n_atoms
    ref = mean_squared_displacement(truth, symbols, 1.0, unwrapped=True, remove_com=False)
    got = mean_squared_displacement(wrapped, symbols, 1.0, cells=cells, remove_com=False)
    np.testing.assert_allclose(got.msd["Na"], ref.msd["Na"], rtol=1e-8, atol=1e-8)
    # the atoms' own steps set D: the affine moves stay bounded
    fit = fit_diffusion(got.time_fs, got.msd["Na"])
    d_true = step**2 / 2 * 1000.0
    assert abs(fit.D_A2_ps - d_true) < 0.15 * d_true
    # naive fractional unwrapping times the current cell adds spurious motion
    frac = np.einsum("fai,fij->faj", wrapped, np.linalg.inv(cells))
    jumps = np.diff(frac, axis=0)
    frac_unwrapped = np.concatenate([frac[:1], frac[:1] + np.cumsum(jumps - np.rint(jumps),
                                                                    axis=0)])
    naive = np.einsum("faj,fji->fai", frac_unwrapped, cells)
    bad = msd_fft(naive)
    assert abs(bad[1] - ref.msd["Na"][1]) > 0.2 * ref.msd["Na"][1]


def test_blocks_and_collective_shapes():
    rng = np.random.default_rng(8)
    pos = _walk(rng, 103, 6, 0.2)
    res = mean_squared_displacement(pos, ["Li"] * 4 + ["I"] * 2, 5.0, cells=np.eye(3) * 20,
                                    charges={"Li": 1.0, "I": -2.0}, n_blocks=4)
    assert res.block_time_fs.shape == (25,)
    assert res.msd_blocks["Li"].shape == (4, 25)
    assert res.charge_msd_blocks.shape == (4, 25)
    assert res.counts == {"Li": 4, "I": 2}
    assert res.volume_A3 == pytest.approx(8000.0)
    # collective MSD of one atom equals its tracer MSD
    one = mean_squared_displacement(pos[:, :1], ["Li"], 5.0, remove_com=False)
    np.testing.assert_allclose(one.collective["Li"], one.msd["Li"], rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="not in the trajectory"):
        mean_squared_displacement(pos, ["Li"] * 6, 5.0, species=["Na"])
