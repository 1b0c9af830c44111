"""Harmonic Raman of a water molecule with a classical (Morse + angle) potential.

* model route: phonopy modes + central differences along the modes with a fitted model;
* ASE interop: ``ase.vibrations.raman.StaticRamanCalculator`` + ``PlaczekStatic`` with our
  ``AseStaticPolarizability`` give the same frequencies and relative activities;
* physics: classical MD at 20 K with the same potential and model; the MD Raman peaks
  sit at the harmonic frequencies (and heights) within the spectral resolution;
* CLI: ``harmonic --phonopy --model`` and ``compare``.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
from ase import units

from ase_raman.analytic import WaterPotential, water, water_energy_forces
from ase_raman.calculator import AseStaticPolarizability, PolarizabilityCalculator
from ase_raman.cli import main
from ase_raman.errors import MissingDataError
from ase_raman.spectra.harmonic import (
    displacements,
    harmonic_spectrum,
    modes_from_phonopy,
    raman_from_dielectric,
    raman_from_model,
)


def water_phonopy():
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms

    a = water()
    cell = PhonopyAtoms(symbols=a.get_chemical_symbols(), cell=a.cell.array,
                        scaled_positions=a.get_scaled_positions())
    phonon = Phonopy(cell, supercell_matrix=np.eye(3, dtype=int), primitive_matrix="P",
                     log_level=0)
    phonon.generate_displacements(distance=0.005, is_plusminus=True)
    forces = [water_energy_forces(np.asarray(sc.positions))[1]
              for sc in phonon.supercells_with_displacements]
    phonon.forces = forces
    phonon.produce_force_constants()
    return phonon


def test_potential_forces_are_its_gradient():
    from ase.calculators.fd import calculate_numerical_forces

    atoms = water()
    atoms.positions += np.random.default_rng(0).normal(scale=0.05, size=(3, 3))
    atoms.calc = WaterPotential()
    assert np.allclose(atoms.get_forces(), calculate_numerical_forces(atoms, eps=1e-5), atol=1e-6)


@pytest.fixture(scope="module")
def phonon():
    return water_phonopy()


@pytest.fixture(scope="module")
def modes(phonon):
    return modes_from_phonopy(phonon)


@pytest.fixture(scope="module")
def result(modes, small_model):
    return raman_from_model(modes, small_model, step=0.05)


def vib(modes):
    return np.argsort(modes.frequencies)[-3:]


def test_model_route_modes_and_activities(modes, result, small_model):
    f = modes.frequencies[vib(modes)]
    assert np.all((f > 1000) & (f < 4500))  # bend ~1590, stretches ~3700-3760
    act = result.activities()[vib(modes)]
    assert np.all(act > 0)
    # central differences converge as h^2: halving the step changes little
    finer = raman_from_model(modes, small_model, step=0.025).activities()[vib(modes)]
    assert np.allclose(finer, act, rtol=0.02)
    # a PolarizabilityCalculator and the model itself give the same tensors
    via_calc = raman_from_model(modes, PolarizabilityCalculator(small_model), step=0.05)
    assert np.allclose(via_calc.raman_tensors, result.raman_tensors, atol=1e-8)
    # acoustic modes are zero, and the table says so
    acoustic = [p for p in result.peaks() if p.acoustic]
    assert sum(len(p.bands) for p in acoustic) == 3
    assert all(p.activity == 0.0 and "acoustic" in p.status for p in acoustic)


def test_spectrum_lines_and_sum_rule(result, modes):
    spec = harmonic_spectrum(result, sigma_cm=8.0, prefactor=False, temperature=50.0,
                             min_frequency_cm=500.0)
    f = spec.frequencies
    kt = units.kB * 50.0 * units.fs**2
    c = 2.99792458e-5
    from ase_raman.spectra.harmonic import activity

    _, a2, g2 = activity(result.raman_tensors)
    scale = (a2 + g2)[vib(modes)].max() * kt / (2 * c)
    for b in vib(modes):
        near = np.abs(f - modes.frequencies[b]) < 24.0  # 3 sigma; lines are >50 apart
        # integral of omega^2 S_alpha over one line = (a'^2 | gamma'^2) k_B T / (2 c)
        for column, inv in ((spec.isotropic, a2[b]), (spec.anisotropic, g2[b])):
            assert np.isclose(np.trapezoid(column[near], f[near]), inv * kt / (2 * c),
                              rtol=5e-3, atol=1e-3 * scale)
    assert abs(f[np.argmax(spec.intensity)] - modes.frequencies[vib(modes)]).min() < 0.5


def test_ase_static_raman_matches(tmp_path, monkeypatch, modes, result, small_model):
    """ASE's workflow (its own force and alpha finite differences, Placzek activities)
    and ours agree on frequencies and relative activities."""
    from ase.vibrations.placzek import PlaczekStatic
    from ase.vibrations.raman import StaticRamanCalculator

    monkeypatch.chdir(tmp_path)
    atoms = water()
    atoms.calc = WaterPotential()
    calc = StaticRamanCalculator(atoms, AseStaticPolarizability,
                                 exkwargs={"model": small_model}, name="ir", delta=0.005)
    calc.run()
    pz = PlaczekStatic(atoms, name="ir", delta=0.005)
    ase_freq = np.real(pz.get_energies()) / units.invcm
    ase_act = np.real(pz.get_absolute_intensities())
    top = np.argsort(ase_freq)[-3:]
    ours = vib(modes)
    assert np.allclose(ase_freq[top], modes.frequencies[ours], atol=2.0)
    rel_ase = ase_act[top] / ase_act[top].max()
    act = result.activities()[ours]
    assert np.allclose(act / act.max(), rel_ase, atol=0.02)


def test_least_squares_route_with_noisy_positions(modes, result, small_model):
    """Displace only the two stretches, round positions to 5 decimals (an OUTCAR):
    the fit recovers their activities, leaves the bend undetermined and refuses the set
    because the bend is Raman-allowed; the regularised fit gives no huge activity."""
    stretches = vib(modes)[1:]
    frames = []
    for b in stretches:
        for q in (-0.05, 0.05):
            a = modes.displaced(b, q)
            a.positions = np.round(a.positions, 5)
            frames.append(a)
    alpha = small_model.predict(frames)
    for a, al in zip(frames, alpha, strict=True):
        a.info["polarizability"] = al
    assert np.max(np.abs(displacements(modes.atoms, frames))) < 0.1
    with pytest.raises(MissingDataError, match="undetermined"):
        raman_from_dielectric(modes, frames)
    fit = raman_from_dielectric(modes, frames, allow_undetermined=True)
    act = fit.activities()
    assert np.allclose(act[stretches], result.activities()[stretches], rtol=0.01)
    bend = vib(modes)[0]
    assert not fit.determined[bend] and np.isnan(act[bend])
    finite = act[np.isfinite(act)]
    assert finite.max() < 2 * result.activities()[vib(modes)].max()


def _md_alpha(modes, model, temperature=20.0, dt=0.1, every=10, n_samples=3400, seed=3):
    """Velocity Verlet with the water potential; each vibrational mode starts with
    energy k_B T (Q = 0, dQ/dt = +-sqrt(2 k_B T)); alpha of every ``every``-th step."""
    rng = np.random.default_rng(seed)
    atoms = water()
    m = modes.masses[:, None]
    kt = units.kB * temperature * units.fs**2  # amu A^2 / fs^2
    v = np.zeros((3, 3))
    for b in vib(modes):
        v += rng.choice([-1.0, 1.0]) * np.sqrt(2 * kt) * modes.eigenvectors[b] / np.sqrt(m)
    x = atoms.positions.copy()
    # acceleration in A/fs^2: F (eV/A) / m (amu) is in A per ASE time unit^2; times fs^2
    _, f = water_energy_forces(x)
    frames = []
    for step in range(n_samples * every):
        if step % every == 0:
            snap = atoms.copy()
            snap.positions = x
            frames.append(snap)
        v += 0.5 * dt * f / m * units.fs**2
        x = x + dt * v
        _, f = water_energy_forces(x)
        v += 0.5 * dt * f / m * units.fs**2
    return np.asarray(model.predict(frames)), dt * every


@pytest.fixture(scope="module")
def md_and_harmonic(modes, result, small_model):
    from ase_raman.spectra.raman import raman_spectrum

    alpha, dt_sample = _md_alpha(modes, small_model)
    md = raman_spectrum(alpha, dt_sample, sigma_cm=10.0, max_freq_cm=4500.0)
    harm = harmonic_spectrum(result, like=md, temperature=20.0, min_frequency_cm=500.0)
    return md, harm


def test_low_temperature_md_peaks_sit_at_harmonic_frequencies(md_and_harmonic, modes):
    from scipy.signal import find_peaks

    md, harm = md_and_harmonic
    assert np.array_equal(md.frequencies, harm.frequencies)  # one grid
    f = md.frequencies
    idx, _ = find_peaks(md.intensity, height=0.02 * md.intensity.max())
    md_peaks = f[idx][f[idx] > 1000]
    targets = modes.frequencies[vib(modes)]
    assert len(md_peaks) == 3
    # within the spectral resolution (sigma = 10 cm^-1; Verlet at 0.1 fs shifts < 1)
    assert np.allclose(np.sort(md_peaks), np.sort(targets), atol=3.0)
    # heights too: each mode holds k_B T, as the harmonic spectrum assumes
    for nu in targets:
        i = int(np.argmin(np.abs(f - nu)))
        assert np.isclose(md.intensity[i], harm.intensity[i], rtol=0.2)


def test_cli_harmonic_phonopy_model_and_compare(tmp_path, phonon, small_model,
                                                md_and_harmonic, capsys):
    md, _ = md_and_harmonic
    phonon.save(tmp_path / "phonopy.yaml", settings={"force_constants": True})
    small_model.save(tmp_path / "model.npz")
    md.to_csv(tmp_path / "md.csv")
    rc = main(["harmonic", "--phonopy", str(tmp_path / "phonopy.yaml"), "--model",
               str(tmp_path / "model.npz"), "-o", str(tmp_path / "h.csv"), "--table",
               str(tmp_path / "t.csv"), "--like", str(tmp_path / "md.csv"),
               "--temperature", "20", "--png", str(tmp_path / "h.png")])
    assert rc == 0
    with open(tmp_path / "t.csv") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    active = [r for r in rows if float(r["frequency_cm-1"]) > 1000]
    assert len(active) == 3 and all(r["raman_active"] == "true" for r in active)
    capsys.readouterr()
    rc = main(["compare", str(tmp_path / "md.csv"), str(tmp_path / "h.csv"), "-o",
               str(tmp_path / "c.png"), "--min-height", "0.01"])
    out = capsys.readouterr().out
    assert rc == 0 and (tmp_path / "c.png").stat().st_size > 0
    lines = [ln.split() for ln in out.splitlines() if ln.strip()[:1].isdigit()]
    shifts = [float(ln[3]) for ln in lines if float(ln[0]) > 1000]
    assert len(shifts) == 3 and max(abs(s) for s in shifts) < 3.0
    # generation of displacements for an external code
    rc = main(["harmonic", "--phonopy", str(tmp_path / "phonopy.yaml"),
               "--generate-displacements", str(tmp_path / "disp"), "--format", "extxyz"])
    assert rc == 0 and (tmp_path / "disp" / "displacements.json").is_file()
