"""Shared fixtures: where the real data files of other codes live, and small fitted models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"


def _shared_data_dir() -> Path | None:
    env = os.environ.get("ASE_RAMAN_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "data")
    for cand in candidates:
        if cand.is_dir():
            return cand
    return None


SHARED_DATA = _shared_data_dir()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ../shared/data folder (or $ASE_RAMAN_SHARED_DATA); skips when absent."""
    if SHARED_DATA is None:
        pytest.skip("shared data folder ../shared/data not present (set ASE_RAMAN_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def test_data() -> Path:
    """Small data files copied into the repository (tests/data)."""
    return TEST_DATA


def doubled_cells(frames, key: str = "polarizability"):
    """2x1x1 supercells of ``frames`` with the alpha under ``info[key]`` doubled: the
    polarizability of a periodic repeat is exactly twice the cell's (a second cell size
    with exact labels)."""
    import numpy as np

    out = []
    for atoms in frames:
        big = atoms.repeat((2, 1, 1))
        big.info[key] = 2 * np.asarray(atoms.info[key])
        out.append(big)
    return out


def labelled_water_molecules(n: int = 12, seed: int = 1):
    """Distorted water molecules labelled by ASE's physical bond-polarizability model.

    ``info["polarizability"]`` is the Lippincott-Stuttman bond polarizability (Angstrom^3):
    a real, physical label source for small learning tests.
    """
    import numpy as np
    from ase import Atoms
    from ase.calculators.bond_polarizability import BondPolarizability

    rng = np.random.default_rng(seed)
    bond_model = BondPolarizability()
    frames = []
    for _ in range(n):
        atoms = Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
        atoms.positions += rng.normal(scale=0.05, size=(3, 3))
        atoms.info["polarizability"] = bond_model(atoms)
        frames.append(atoms)
    return frames


@pytest.fixture(scope="session")
def small_model():
    """A small fitted lambda-soap model of water molecules (fast to evaluate)."""
    from ase_raman.models.lambda_soap import LambdaSoapRidge

    hypers = {"cutoff": 3.0, "max_radial": 2, "max_angular": 2}
    return LambdaSoapRidge(hypers=hypers, n_folds=3).fit(labelled_water_molecules())


def rattled_supercell(symbol: str, crystal: str, a: float, seed: int | None = None,
                      rattle: float = 0.05):
    """The 2x2x2 repeat of a cubic ``bulk`` cell, rattled by ``rattle`` (seed ``seed``) when
    a seed is given."""
    from ase.build import bulk

    atoms = bulk(symbol, crystal, a=a, cubic=True).repeat((2, 2, 2))
    if seed is not None:
        atoms.rattle(rattle, seed=seed)
    return atoms


def al_cell(seed: int | None = None, rattle: float = 0.05):
    """32-atom fcc Al (a = 4.05 Angstrom), as run by EMT in the observer and i-PI tests."""
    return rattled_supercell("Al", "fcc", 4.05, seed, rattle)


def si_cell(seed: int | None = None, rattle: float = 0.05):
    """64-atom diamond Si (a = 5.431 Angstrom), as run by Stillinger-Weber in LAMMPS."""
    return rattled_supercell("Si", "diamond", 5.431, seed, rattle)


def bond_polarizability_model(make_cell, rattle: float):
    """lambda-SOAP fitted on 12 cells ``make_cell(seed, rattle=rattle + 0.01 seed)``
    labelled by ASE's Lippincott-Stuttman bond polarizability (converted to Angstrom^3)."""
    from ase.calculators.bond_polarizability import BondPolarizability

    from ase_raman.models.lambda_soap import LambdaSoapRidge
    from ase_raman.tensors import E2A2_PER_EV_TO_A3

    frames = []
    label = BondPolarizability()
    for seed in range(12):
        atoms = make_cell(seed, rattle=rattle + 0.01 * seed)
        atoms.info["polarizability"] = label(atoms) * E2A2_PER_EV_TO_A3
        frames.append(atoms)
    return LambdaSoapRidge(hypers={"cutoff": 4.0, "max_radial": 3, "max_angular": 2},
                           n_folds=3).fit(frames)


@pytest.fixture(scope="module")
def al_model():
    """lambda-SOAP fitted on rattled fcc Al (:func:`al_cell`), for the engine tests."""
    return bond_polarizability_model(al_cell, rattle=0.05)


@pytest.fixture(scope="module")
def si_model():
    """lambda-SOAP fitted on rattled diamond Si (:func:`si_cell`), for the LAMMPS tests."""
    return bond_polarizability_model(si_cell, rattle=0.04)


@pytest.fixture(scope="module")
def water_bulk(test_data):
    """The 200 bulk-water frames of tests/data with their alpha (bohr^3 -> Angstrom^3)."""
    from ase_raman.io import read_reference

    return read_reference(test_data / "water_bulk_200.xyz", alpha_key="alpha",
                          alpha_unit="bohr3")


def rotated(atoms, rot):
    """A copy of ``atoms`` with positions (and the cell, if periodic) rotated by ``rot``."""
    out = atoms.copy()
    out.positions = atoms.positions @ rot.T
    if atoms.pbc.any():
        out.cell = atoms.cell.array @ rot.T
    return out


def wigner_d2(rot):
    """(5, 5) matrix rotating the l = 2 spherical components as ``rot`` rotates tensors."""
    import numpy as np

    from ase_raman.tensors import cartesian_to_spherical, spherical_to_cartesian

    cols = [cartesian_to_spherical(rot @ spherical_to_cartesian(np.zeros(1), e) @ rot.T)[1]
            for e in np.eye(5)]
    return np.stack(cols, axis=1)
