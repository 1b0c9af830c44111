"""Shared fixtures: where the real data files of other codes live."""

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
