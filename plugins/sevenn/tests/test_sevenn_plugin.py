"""The SevenNet plugin through its entry point (real SevenNet, shipped checkpoint)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sevenn", reason="needs: pip install 'torch==2.13.0' -e plugins/sevenn")

from ase.build import bulk  # noqa: E402

from ase_raman.engines.calculators import installed_calculators, make_calculator  # noqa: E402
from ase_raman.errors import UsageError  # noqa: E402


def test_registered_and_gives_energy_forces_offline():
    assert "sevenn" in {c.name for c in installed_calculators()}
    atoms = bulk("LiCl", "rocksalt", a=5.14)  # 2 atoms: a second or two on a CPU
    atoms.rattle(0.05, seed=1)
    atoms.calc = make_calculator("sevenn", threads=1)
    energy = atoms.get_potential_energy()
    assert np.isfinite(energy) and -5.0 < energy / len(atoms) < -2.0  # eV/atom, LiCl
    forces = atoms.get_forces()
    assert forces.shape == (2, 3) and np.abs(forces.sum(axis=0)).max() < 1e-4


def test_refuses_models_that_would_download():
    with pytest.raises(UsageError, match="would need a download"):
        make_calculator("sevenn", model="7net-omat")
