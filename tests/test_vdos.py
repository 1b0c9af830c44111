"""VDOS: oscillator peaks, the 3N sum rule, species parts, positions by finite difference."""

from __future__ import annotations

import numpy as np
import pytest

from ase_raman.errors import UsageError
from ase_raman.spectra.signal import SPEED_OF_LIGHT_CM_PER_FS as C_LIGHT
from ase_raman.spectra.vdos import vdos, vdos_from_positions, velocities_from_positions

FREQS = np.array([120.0, 260.0, 410.0, 410.0, 555.0])
SPECIES = ["Na", "S", "P", "P", "Na"]


def _oscillators(n: int = 8000, dt: float = 2.0, seed: int = 0):
    """Independent 3D harmonic oscillators (one per atom): positions and velocities."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) * dt
    w = 2 * np.pi * C_LIGHT * FREQS
    amp = rng.uniform(0.05, 0.1, (len(FREQS), 3))
    ph = rng.uniform(0, 2 * np.pi, (len(FREQS), 3))
    arg = w[None, :, None] * t[:, None, None] + ph[None]
    pos = amp[None] * np.cos(arg)
    vel = -amp[None] * w[None, :, None] * np.sin(arg)
    return pos, vel, dt


def test_harmonic_oscillators_peak_at_their_frequencies():
    _, vel, dt = _oscillators()
    g = vdos(vel, dt, species=SPECIES, per_atom=True)
    from scipy.signal import find_peaks

    idx, _ = find_peaks(g.total, height=0.002 * g.total.max())
    assert np.allclose(g.frequencies[idx], np.unique(FREQS), atol=g.frequencies[1])
    for i, nu in enumerate(FREQS):
        assert abs(g.frequencies[np.argmax(g.atomic[i])] - nu) <= g.frequencies[1]
    assert g.metadata["velocity_source"] == "velocities"


def test_sum_rule_and_parts_add_up():
    _, vel, dt = _oscillators(seed=1)
    masses = np.array([22.99, 32.06, 30.97, 30.97, 22.99])
    g = vdos(vel, dt, masses=masses, species=SPECIES, per_atom=True)
    n_atoms = len(FREQS)
    assert g.integral() == pytest.approx(3 * n_atoms, rel=1e-10)
    assert g.metadata["mass_weighted"] is True and g.metadata["degrees_of_freedom"] == 15
    assert list(g.partial) == ["Na", "S", "P"]
    parts = sum(g.partial.values())
    assert np.allclose(parts, g.total, rtol=0, atol=1e-12 * g.total.max())
    assert np.allclose(g.atomic.sum(axis=0), g.total, rtol=0, atol=1e-12 * g.total.max())
    unweighted = vdos(vel, dt, masses=masses, species=SPECIES, mass_weighted=False)
    assert unweighted.integral() == pytest.approx(3 * n_atoms, rel=1e-10)
    assert not np.allclose(unweighted.total, g.total)


def test_equipartition_gives_three_states_per_atom_per_species():
    """Same kinetic energy per atom (v ~ 1/sqrt(m)): species integrals are 3 N_s."""
    rng = np.random.default_rng(3)
    n, dt = 6000, 2.0
    masses = np.array([1.0, 7.0, 7.0, 35.0])
    base = rng.standard_normal((n, 1, 3))
    vel = base / np.sqrt(masses)[None, :, None] * np.ones((1, 4, 1))
    g = vdos(vel, dt, masses=masses, species=["H", "Li", "Li", "Cl"], sigma_cm=4.0)
    assert g.integral("H") == pytest.approx(3.0, rel=1e-10)
    assert g.integral("Li") == pytest.approx(6.0, rel=1e-10)
    assert g.integral("Cl") == pytest.approx(3.0, rel=1e-10)


def test_positions_by_finite_difference_and_unwrapping():
    pos, vel, dt = _oscillators(seed=2)
    cell = np.diag([3.0, 3.0, 3.0])
    shifted = pos + np.array([2.95, 0.05, 1.5])  # atoms cross the cell boundary
    wrapped = np.mod(shifted, 3.0)
    v_fd = velocities_from_positions(wrapped, dt, cell)
    assert np.allclose(v_fd, np.diff(pos, axis=0) / dt, atol=1e-9)
    g = vdos_from_positions(wrapped, dt, species=SPECIES, cell=cell)
    assert "finite difference" in g.metadata["velocity_source"]
    ref = vdos(vel, dt, species=SPECIES)
    for nu in np.unique(FREQS):
        band = np.abs(g.frequencies - nu) < 15
        assert abs(g.frequencies[band][np.argmax(g.total[band])] - nu) <= g.frequencies[1]
    # forward differences attenuate by sinc^2(pi c nu dt): visible at 555 cm^-1
    j = int(np.argmin(np.abs(g.frequencies - 555.0)))
    x = np.pi * C_LIGHT * 555.0 * dt
    assert g.total[j] / ref.total[j] == pytest.approx((np.sin(x) / x) ** 2, rel=0.03)


def test_bad_input():
    _, vel, dt = _oscillators(n=5000)
    with pytest.raises(UsageError, match="shape"):
        vdos(vel[:, :, :2], dt)
    with pytest.raises(UsageError, match="masses"):
        vdos(vel, dt, masses=[1.0, 2.0])
    with pytest.raises(UsageError, match="species"):
        vdos(vel, dt, species=["Na"])
    with pytest.raises(UsageError, match="too few frames for the requested resolution"):
        vdos(vel[:1000], dt)
    with pytest.raises(UsageError, match="Nyquist"):
        vdos(vel, dt, max_freq_cm=1e5)
    cropped = vdos(vel, dt, max_freq_cm=1000.0)
    assert cropped.frequencies[-1] <= 1000.0
    assert cropped.metadata["integral_returned_range"] == pytest.approx(15.0, rel=1e-3)
