"""Dipole-induced-dipole plugin: analytic limits, Ewald convergence, catastrophe, fitting."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase_raman_did import DipoleInducedDipole, PolarizationCatastropheError
from ase_raman_did.field import ewald_field_tensor

from ase_raman.errors import ModelSpeciesError, UsageError
from ase_raman.testing import LearnerContract

_TETRAHEDRAL = np.array([[0.25, 0.5, 0.0], [0.75, 0.5, 0.0], [0.0, 0.25, 0.5],
                         [0.0, 0.75, 0.5], [0.5, 0.0, 0.25], [0.5, 0.0, 0.75]])


def agi(repeat=(2, 1, 1), seed=0, noise=0.15, a=5.07) -> Atoms:
    """alpha-AgI: bcc iodide, two Ag per cubic cell on random tetrahedral sites, noise."""
    rng = np.random.default_rng(seed)
    symbols, frac = [], []
    for cell_index in np.ndindex(*repeat):
        origin = np.array(cell_index, dtype=float)
        for f in ([0, 0, 0], [0.5, 0.5, 0.5]):
            symbols.append("I")
            frac.append(origin + f)
        for f in _TETRAHEDRAL[rng.choice(6, 2, replace=False)]:
            symbols.append("Ag")
            frac.append(origin + f)
    atoms = Atoms(symbols, scaled_positions=np.array(frac) / repeat,
                  cell=np.diag(repeat) * a, pbc=True)
    atoms.positions += rng.normal(scale=noise, size=atoms.positions.shape)
    return atoms


# -- analytic limits -----------------------------------------------------------------------
@pytest.mark.parametrize("damping", ["none", "thole"])
def test_two_atoms_follow_the_closed_form_applequist_result(damping):
    a1, a2, r = 1.5, 2.5, 2.4
    model = DipoleInducedDipole(hypers={"polarizabilities": {"Na": a1, "Cl": a2},
                                        "damping": damping})
    alpha = model.predict([Atoms("NaCl", positions=[[0, 0, 0], [0, 0, r]])])[0]
    # Thole exponential damping written out (not imported): s = a r^3 / sqrt(a1 a2)
    s = 0.39 * r**3 / np.sqrt(a1 * a2)
    lam3, lam5 = ((1.0, 1.0) if damping == "none"
                  else (1 - np.exp(-s), 1 - (1 + s) * np.exp(-s)))
    t_par, t_perp = (3 * lam5 - lam3) / r**3, -lam3 / r**3  # field tensor along / across z
    zz = (a1 + a2 + 2 * a1 * a2 * t_par) / (1 - a1 * a2 * t_par**2)
    xx = (a1 + a2 + 2 * a1 * a2 * t_perp) / (1 - a1 * a2 * t_perp**2)
    np.testing.assert_allclose(np.diag(alpha), [xx, xx, zz], rtol=1e-12)
    np.testing.assert_allclose(alpha - np.diag(np.diag(alpha)), 0, atol=1e-12)
    if damping == "thole":  # damping must matter at this distance
        assert abs(zz - (a1 + a2 + 4 * a1 * a2 / r**3) / (1 - 4 * a1 * a2 / r**6)) > 0.1


@pytest.mark.parametrize("cell", [np.eye(3) * 3.0, (np.ones((3, 3)) - 2 * np.eye(3)) * 1.6])
def test_cubic_lattice_gives_clausius_mossotti(cell):
    """Simple cubic / bcc (primitive cell) point dipoles: Lorentz field, exactly CM."""
    alpha0 = 1.2
    atoms = Atoms("Na", cell=cell, pbc=True)
    model = DipoleInducedDipole(hypers={"polarizabilities": {"Na": alpha0}, "damping": "none"})
    density = 1.0 / atoms.get_volume()
    expected = alpha0 / (1.0 - 4.0 * np.pi * density * alpha0 / 3.0)
    np.testing.assert_allclose(model.predict([atoms])[0], expected * np.eye(3),
                               rtol=2e-6, atol=2e-6 * expected)


def test_ewald_sum_converges_and_does_not_depend_on_the_splitting():
    atoms = agi((2, 2, 1), seed=3)
    tight = ewald_field_tensor(atoms, 14.0, 1e-11)
    scale = np.abs(tight).max()
    errors = [np.abs(ewald_field_tensor(atoms, cut, acc) - tight).max() / scale
              for cut, acc in ((6.0, 1e-4), (8.0, 1e-6), (11.0, 1e-8))]
    assert errors[0] > errors[1] > errors[2]
    assert errors[0] < 1e-3 and errors[2] < 1e-7
    # and the model's alpha converges the same way
    alphas = [DipoleInducedDipole(hypers={"ewald_cutoff": cut, "ewald_accuracy": acc})
              .predict([atoms])[0] for cut, acc in ((7.0, 1e-6), (12.0, 1e-10))]
    np.testing.assert_allclose(alphas[0], alphas[1], rtol=1e-5, atol=1e-5 * alphas[1].max())


# -- catastrophe ---------------------------------------------------------------------------
def test_polarization_catastrophe_is_detected_not_returned():
    atoms = agi((2, 1, 1), seed=1)
    close = atoms.copy()
    i_index = int(np.flatnonzero(close.numbers == 53)[0])
    ag_index = int(np.flatnonzero(close.numbers == 47)[0])
    close.positions[ag_index] = close.positions[i_index] + [1.2, 0.0, 0.0]
    damped = DipoleInducedDipole()
    assert np.all(np.isfinite(damped.predict([close])))  # a = 0.39 survives the contact
    assert damped.smallest_eigenvalues([atoms])[0] > 0.3
    undamped = DipoleInducedDipole(hypers={"damping": "none"})
    with pytest.raises(PolarizationCatastropheError, match="frame 1: .*smallest eigenvalue"):
        undamped.predict([atoms, close])
    assert undamped.smallest_eigenvalues([close])[0] < 0.1
    flagged = DipoleInducedDipole(hypers={"damping": "none", "on_catastrophe": "nan"})
    out = flagged.predict([atoms, close])
    assert flagged.catastrophes == [1]
    assert np.all(np.isfinite(out[0])) and np.all(np.isnan(out[1]))
    # the wrong constant for this damping form (2.13 belongs to exp(-a u)) is as bad
    with pytest.raises(PolarizationCatastropheError):
        DipoleInducedDipole(hypers={"thole_a": 2.13}).predict([close])


def test_errors():
    with pytest.raises(UsageError, match="unknown hypers"):
        DipoleInducedDipole(hypers={"thole": 0.39})
    with pytest.raises(ModelSpeciesError, match="Xe with charge"):
        DipoleInducedDipole(hypers={"charges": {"Xe": 1}}).predict([Atoms("Xe")])
    slab = agi()
    slab.pbc = [True, True, False]
    with pytest.raises(UsageError, match="pbc"):
        DipoleInducedDipole().predict([slab])


# -- fitting --------------------------------------------------------------------------------
TRUE = {"Ag": 1.35, "I": 6.2, "Na": 0.25, "Cl": 3.1}


def labelled_agi(n: int, seed: int = 0) -> list[Atoms]:
    truth = DipoleInducedDipole(hypers={"polarizabilities": TRUE})
    frames = [agi((2, 1, 1), seed=seed + s) for s in range(n)]
    for atoms, alpha in zip(frames, truth.predict(frames), strict=True):
        atoms.info["polarizability"] = alpha
    return frames


def test_fit_recovers_atomic_polarizabilities():
    model = DipoleInducedDipole().fit(labelled_agi(4))
    assert model.polarizabilities["Ag"] == pytest.approx(TRUE["Ag"], rel=1e-5)
    assert model.polarizabilities["I"] == pytest.approx(TRUE["I"], rel=1e-5)
    assert model.training["fitted"] == ["Ag", "I"]


def test_fit_recovers_thole_constant_jointly():
    truth = DipoleInducedDipole(hypers={"polarizabilities": {"Ag": 1.4, "I": 6.3},
                                        "thole_a": 0.55})
    frames = [agi((2, 1, 1), seed=s, noise=0.3) for s in range(5)]
    for atoms, alpha in zip(frames, truth.predict(frames), strict=True):
        atoms.info["polarizability"] = alpha
    model = DipoleInducedDipole(hypers={"fit": "polarizabilities+thole"}).fit(frames)
    assert model.thole_a == pytest.approx(0.55, rel=1e-6)
    assert model.polarizabilities["I"] == pytest.approx(6.3, rel=1e-6)
    # a fit=none model is a pure label generator: parameters untouched
    fixed = DipoleInducedDipole(hypers={"fit": "none"}).fit(frames)
    assert fixed.thole_a == 0.39 and fixed.polarizabilities["I"] == 7.10


class TestDipoleInducedDipoleContract(LearnerContract):
    learner_name = "dipole-induced-dipole"
    distribution = "ase-raman-did"
    max_training_relative_rmse = 1e-6
    extensive = True
    rtol = 1e-7

    def training_frames(self):
        return labelled_agi(3, seed=10)

    def evaluation_frames(self):
        nacl = Atoms("NaCl", positions=[[0, 0, 0], [0.3, 0.2, 2.4]])
        return [agi((2, 1, 1), seed=20), nacl]


def test_every_element_has_a_default_polarizability():
    """Schwerdtfeger & Nagle (2019) neutral atoms for all 118 elements, in Angstrom^3."""
    from ase.data import chemical_symbols
    from ase.units import Bohr
    from ase_raman_did import NEUTRAL_POLARIZABILITIES, default_polarizability

    assert set(NEUTRAL_POLARIZABILITIES) == set(chemical_symbols[1:119])
    # spot checks against the paper's table (bohr^3)
    for symbol, bohr3 in {"H": 4.50711, "Li": 164.1125, "C": 11.3, "Na": 162.7,
                          "Cu": 46.5, "Ag": 55.0, "I": 32.9, "Cs": 400.9, "Au": 36.0}.items():
        assert NEUTRAL_POLARIZABILITIES[symbol] == pytest.approx(bohr3 * Bohr**3, rel=1e-12)
    assert default_polarizability("Ag") == 1.72  # the usual ion (Pauling) stays the default
    assert default_polarizability("Ag", 0) == NEUTRAL_POLARIZABILITIES["Ag"]
    assert default_polarizability("O", -2) is None  # no tabulated ion: not guessed


def test_fit_on_copper_uses_the_neutral_atom_default():
    """Cu had no polarizability: fitting on Cu frames was refused."""
    from ase.build import bulk
    from ase_raman_did import NEUTRAL_POLARIZABILITIES

    model = DipoleInducedDipole(hypers={"fit": "none"})
    assert model.atomic_polarizability("Cu") == NEUTRAL_POLARIZABILITIES["Cu"]
    truth = DipoleInducedDipole(hypers={"polarizabilities": {"Cu": 2.0}})
    frames = []
    for seed in range(3):
        atoms = bulk("Cu", cubic=True)
        atoms.rattle(0.05, seed=seed)
        atoms.info["polarizability"] = truth.predict([atoms])[0]
        frames.append(atoms)
    fitted = DipoleInducedDipole(hypers={"polarizabilities": {"Cu": 1.0}}).fit(frames)
    assert fitted.polarizabilities["Cu"] == pytest.approx(2.0, rel=1e-5)
    assert "Cu" in fitted.metadata["species"]


def test_charges_pick_the_ion_or_the_atom_and_the_override_wins():
    from ase_raman_did import NEUTRAL_POLARIZABILITIES

    neutral = DipoleInducedDipole(hypers={"charges": {"Ag": 0}})
    assert neutral.atomic_polarizability("Ag") == NEUTRAL_POLARIZABILITIES["Ag"]
    assert neutral.atomic_polarizability("I") == 7.10
    override = DipoleInducedDipole(hypers={"charges": {"Ag": 0}, "polarizabilities": {"Ag": 3.3}})
    assert override.atomic_polarizability("Ag") == 3.3
    oxide = DipoleInducedDipole(hypers={"charges": {"O": -2}})
    with pytest.raises(ModelSpeciesError, match="charge -2"):
        oxide.predict([Atoms("O", positions=[[0, 0, 0]])])
    with pytest.raises(UsageError, match="chemical symbols"):
        DipoleInducedDipole(hypers={"charges": {"Xx": 1}})
