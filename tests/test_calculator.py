"""PolarizabilityCalculator and the ASE StaticPolarizabilityCalculator adapter."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.emt import EMT
from ase.calculators.polarizability import StaticPolarizabilityCalculator

from ase_raman import AseStaticPolarizability, PolarizabilityCalculator
from ase_raman.tensors import E2A2_PER_EV_TO_A3


class CountingModel:
    """Wraps a real fitted model and counts predict calls (to test ASE's cache)."""

    def __init__(self, model):
        self.model = model
        self.calls = 0

    def predict(self, frames):
        self.calls += 1
        return self.model.predict(frames)


@pytest.fixture(scope="module")
def model(small_model):
    return small_model


def water() -> Atoms:
    return Atoms("OH2", positions=[[0, 0, 0], [0.97, 0.02, 0], [-0.25, 0.92, 0.01]])


def test_get_property_and_cache(model):
    counting = CountingModel(model)
    calc = PolarizabilityCalculator(counting)
    atoms = water()
    alpha = calc.get_property("polarizability", atoms)
    assert alpha.shape == (3, 3)
    np.testing.assert_allclose(alpha, model.predict([atoms])[0])
    calc.get_property("polarizability", atoms)
    assert counting.calls == 1, "unchanged atoms must hit the cache"
    atoms.positions[1, 0] += 0.05
    moved = calc.get_property("polarizability", atoms)
    assert counting.calls == 2
    assert not np.allclose(moved, alpha)


def test_beside_the_md_calculator(model):
    atoms = water()
    atoms.calc = EMT()
    calc = PolarizabilityCalculator(model)
    alpha = calc.get_property("polarizability", atoms)
    assert isinstance(atoms.calc, EMT), "the MD calculator stays on the atoms"
    np.testing.assert_allclose(alpha, model.predict([atoms])[0])


def test_model_path_accepted(tmp_path, model):
    path = tmp_path / "m.npz"
    model.save(path)
    calc = PolarizabilityCalculator(path)
    np.testing.assert_allclose(calc.get_polarizability(water()), model.predict([water()])[0])


def test_ase_static_adapter_units(model):
    adapter = AseStaticPolarizability(model)
    assert isinstance(adapter, StaticPolarizabilityCalculator)
    atoms = water()
    np.testing.assert_allclose(adapter(atoms) * E2A2_PER_EV_TO_A3, model.predict([atoms])[0])


def test_ase_static_raman_runs_with_our_model(tmp_path, model, monkeypatch):
    """ASE's own finite-difference Raman workflow accepts our adapter."""
    from ase.vibrations.placzek import PlaczekStatic
    from ase.vibrations.raman import StaticRamanCalculator

    monkeypatch.chdir(tmp_path)
    atoms = water()
    atoms.calc = EMT()
    name = str(tmp_path / "raman")
    calc = StaticRamanCalculator(atoms, AseStaticPolarizability, exkwargs={"model": model},
                                 name=name, delta=0.01)
    calc.run()
    placzek = PlaczekStatic(atoms, name=name)
    intensities = placzek.get_absolute_intensities()
    assert intensities.shape == (9,)
    assert np.all(np.isfinite(intensities)) and np.all(intensities >= -1e-10)
    assert intensities.max() > 0


def test_phonopy_displacement_loop_featurises_each_structure_once(model):
    """PolarizabilityCalculator inside phonopy's displacement loop, atoms.calc-style."""
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms

    cell = Atoms("OH2", positions=[[0, 0, 0], [0.97, 0.02, 0], [-0.25, 0.92, 0.01]],
                 cell=[6.0, 6.0, 6.0], pbc=True)
    phonon = Phonopy(PhonopyAtoms(symbols=cell.get_chemical_symbols(), cell=cell.cell[:],
                                  scaled_positions=cell.get_scaled_positions()),
                     supercell_matrix=np.eye(3, dtype=int), primitive_matrix="P")
    phonon.generate_displacements(distance=0.01)
    counting = CountingModel(model)
    calc = PolarizabilityCalculator(counting)
    reference = Atoms(phonon.supercell.symbols, cell=phonon.supercell.cell,
                      scaled_positions=phonon.supercell.scaled_positions, pbc=True)
    alphas = []
    for sc in phonon.supercells_with_displacements:
        displaced = Atoms(sc.symbols, cell=sc.cell, scaled_positions=sc.scaled_positions,
                          pbc=True)
        alphas.append(calc.get_property("polarizability", displaced))
        # back to the undisplaced cell between displacements: remembered, not recomputed
        calc.get_property("polarizability", reference)
    n_displacements = len(phonon.supercells_with_displacements)
    assert counting.calls == n_displacements + 1
    direct = model.predict([Atoms(sc.symbols, cell=sc.cell, scaled_positions=sc.scaled_positions,
                                  pbc=True) for sc in phonon.supercells_with_displacements])
    np.testing.assert_allclose(np.array(alphas), direct, rtol=1e-12)
