"""Bond-polarizability plugin: ASE agreement, extensivity, fitting, and the contract."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule
from ase.calculators.bond_polarizability import BondPolarizability, Linearized
from ase_raman_bondpol import LinearBondPolarizability, LippincottStuttmanModel

from ase_raman.errors import ModelSpeciesError, UsageError
from ase_raman.tensors import E2A2_PER_EV_TO_A3
from ase_raman.testing import LearnerContract

MOLECULES = ("H2O", "CH4", "NH3", "C6H6", "CH3OH", "SiH4", "PH3", "SH2", "C2H4")


def distorted_molecules(seed: int = 0, scale: float = 0.04) -> list[Atoms]:
    rng = np.random.default_rng(seed)
    out = []
    for name in MOLECULES:
        atoms = molecule(name)
        atoms.positions += rng.normal(scale=scale, size=atoms.positions.shape)
        out.append(atoms)
    return out


def ase_alpha(atoms: Atoms, model=None) -> np.ndarray:
    """ASE's bond polarizability converted from e^2 Angstrom^2/eV to Angstrom^3."""
    calc = BondPolarizability() if model is None else BondPolarizability(model)
    return np.asarray(calc(atoms)) * E2A2_PER_EV_TO_A3


def hot_silicon(n: int, seed: int = 0) -> list[Atoms]:
    """Periodic 8-atom Si cells with thermal noise, labelled by Lippincott-Stuttman."""
    rng = np.random.default_rng(seed)
    ls = LippincottStuttmanModel()
    frames = []
    for _ in range(n):
        atoms = bulk("Si", cubic=True)
        atoms.positions += rng.normal(scale=0.08, size=atoms.positions.shape)
        atoms.info["polarizability"] = ls.predict_one(atoms)
        frames.append(atoms)
    return frames


# -- Lippincott-Stuttman ------------------------------------------------------------------
def test_lippincott_stuttman_reproduces_ase_for_molecules():
    frames = distorted_molecules()
    ours = LippincottStuttmanModel().predict(frames)
    for atoms, alpha in zip(frames, ours, strict=True):
        np.testing.assert_allclose(alpha, ase_alpha(atoms), rtol=1e-12, atol=1e-12)
    assert np.all(np.trace(ours, axis1=1, axis2=2) > 0)


def test_lippincott_stuttman_is_extensive_for_crystals_unlike_ase():
    si = bulk("Si")
    model = LippincottStuttmanModel()
    per_atom = [np.trace(model.predict_one(si.repeat(n))) / (2 * n**3) for n in (1, 2, 3)]
    np.testing.assert_allclose(per_atom, per_atom[0], rtol=1e-12)
    # the same crystal as a cluster in vacuum has only interior bonds: fewer, but ASE agrees
    cluster = si.repeat(2)
    cluster.pbc = False
    np.testing.assert_allclose(model.predict_one(cluster), ase_alpha(cluster), atol=1e-11)
    # ASE's own periodic numbers depend on the cell (half weight for bonds to images)
    ase_per_atom = [np.trace(ase_alpha(si.repeat(n))) / (2 * n**3) for n in (1, 2)]
    assert abs(ase_per_atom[0] - ase_per_atom[1]) > 1.0


def test_lippincott_stuttman_refuses_uncovered_elements():
    with pytest.raises(ModelSpeciesError, match="Ag"):
        LippincottStuttmanModel().predict([Atoms("AgI", positions=[[0, 0, 0], [0, 0, 2.8]])])


# -- linear bond polarizability ------------------------------------------------------------
def test_linear_fit_recovers_ase_linearized_carbon_parameters():
    """Labels from ASE's Linearized (Wirtz et al.) C-C model: the fit must return them."""
    rng = np.random.default_rng(3)
    frames = []
    for _ in range(6):
        atoms = molecule("C60")
        atoms.positions += rng.normal(scale=0.03, size=atoms.positions.shape)
        atoms.info["polarizability"] = ase_alpha(atoms, Linearized())
        frames.append(atoms)
    model = LinearBondPolarizability(hypers={
        "cutoff_width": 0.0, "atomic": False, "ridge": 0.0,
        "reference_lengths": {"C-C": 1.53}}).fit(frames)
    fitted = model.pair_parameters["C-C"]
    r0, al, ald, ap, apd = Linearized()._data["CC"]
    assert model.reference_lengths["C-C"] == r0
    assert [fitted[k] for k in ("alpha_par", "dalpha_par_dr", "alpha_perp", "dalpha_perp_dr")
            ] == pytest.approx([al, ald, ap, apd], rel=1e-8)
    assert model.training["rmse_A3"] < 1e-9


def test_linear_model_fits_lippincott_stuttman_crystal_and_generalises():
    train, test = hot_silicon(12, seed=1), hot_silicon(4, seed=2)
    model = LinearBondPolarizability(hypers={"cutoff_width": 0.3}).fit(train)
    ref = np.stack([a.info["polarizability"] for a in test])
    pred = model.predict(test)
    # anisotropy (traceless part) is what Raman needs: check it separately
    def traceless(t):
        return t - np.trace(t, axis1=1, axis2=2)[:, None, None] * np.eye(3) / 3

    rel = np.linalg.norm(traceless(pred - ref)) / np.linalg.norm(traceless(ref))
    assert rel < 0.15
    assert np.linalg.norm(pred - ref) / np.linalg.norm(ref) < 0.02


def test_switch_makes_alpha_continuous_across_the_cutoff():
    def dimer(r):
        return Atoms("Si2", positions=[[0, 0, 0], [0.3 * r, 0.4 * r, np.sqrt(0.75) * r]])

    hypers = {"cutoffs": {"Si-Si": 3.0}, "reference_lengths": {"Si-Si": 2.4},
              "atomic": False, "species": ["Si"]}
    frames = [dimer(r) for r in np.linspace(2.0, 2.6, 5)]
    for atoms in frames:
        atoms.info["polarizability"] = LippincottStuttmanModel().predict_one(atoms)
    smooth = LinearBondPolarizability(hypers={**hypers, "cutoff_width": 0.5}).fit(frames)
    hard = LinearBondPolarizability(hypers={**hypers, "cutoff_width": 0.0}).fit(frames)
    eps = 1e-4
    inside, outside = dimer(3.0 - eps), dimer(3.0 + eps)
    jump_smooth = np.abs(np.diff(smooth.predict([inside, outside]), axis=0)).max()
    jump_hard = np.abs(np.diff(hard.predict([inside, outside]), axis=0)).max()
    assert jump_smooth < 1e-4 < 1.0 < jump_hard


def test_linear_model_errors():
    with pytest.raises(UsageError, match="unknown hypers"):
        LinearBondPolarizability(hypers={"cutof": 3})
    with pytest.raises(UsageError, match="not fitted"):
        LinearBondPolarizability().predict([molecule("H2O")])
    model = LinearBondPolarizability().fit(hot_silicon(3))
    with pytest.raises(ModelSpeciesError, match="O"):
        model.predict([molecule("H2O")])


# -- the shared contract -------------------------------------------------------------------
class TestLippincottStuttmanContract(LearnerContract):
    learner_name = "lippincott-stuttman"
    distribution = "ase-raman-bondpol"
    max_training_relative_rmse = 1e-10
    extensive = True

    def training_frames(self):
        frames = distorted_molecules(seed=5)
        for atoms in frames:
            atoms.info["polarizability"] = ase_alpha(atoms)
        return frames

    def evaluation_frames(self):
        return hot_silicon(1) + distorted_molecules(seed=6)[3:5]


class TestLinearBondPolarizabilityContract(LearnerContract):
    learner_name = "bond-polarizability"
    distribution = "ase-raman-bondpol"
    max_training_relative_rmse = 0.02
    extensive = True

    def training_frames(self):
        return hot_silicon(8)
