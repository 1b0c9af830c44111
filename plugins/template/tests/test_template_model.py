"""The template learner: the shared contract plus one check of its own physics."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk, molecule
from ase_raman_template import AdditiveIsotropic

from ase_raman.errors import ModelSpeciesError
from ase_raman.testing import LearnerContract

#: made-up isotropic polarizabilities (Angstrom^3) used to label the test frames
TRUE = {1: 0.4, 6: 1.1, 8: 0.8, 14: 3.0}


def labelled(atoms):
    atoms.info["polarizability"] = sum(TRUE[z] for z in atoms.numbers) * np.eye(3)
    return atoms


def frames():
    rng = np.random.default_rng(0)
    out = [labelled(molecule(name)) for name in ("H2O", "CH4", "CO2", "CH3OH", "C2H6")]
    si = bulk("Si", cubic=True)
    si.positions += rng.normal(scale=0.05, size=si.positions.shape)
    out.append(labelled(si))
    return out


class TestTemplateContract(LearnerContract):
    learner_name = "template-additive"
    distribution = "ase-raman-template"
    max_training_relative_rmse = 1e-8
    extensive = True

    def training_frames(self):
        return frames()

    def evaluation_frames(self):
        return frames()[-2:][::-1]  # the periodic Si cell first, then ethane


def test_recovers_the_atomic_polarizabilities():
    model = AdditiveIsotropic().fit(frames())
    assert dict(zip(model.numbers.tolist(), model.alphas, strict=True)) == pytest.approx(TRUE)


def test_unknown_element_is_refused():
    model = AdditiveIsotropic().fit(frames())
    with pytest.raises(ModelSpeciesError, match=r"\[7\]"):
        model.predict([molecule("NH3")])


def test_cli_lists_fits_and_loads_the_plugin_learner(tmp_path, capsys):
    """`ase-raman models` / `fit --learner` / `load_model` work for a plugin learner."""
    import json

    from ase.io import write

    import ase_raman
    from ase_raman.cli import main

    assert main(["models", "--json"]) == 0
    listed = {info["name"]: info for info in json.loads(capsys.readouterr().out)["learners"]}
    assert listed["template-additive"]["distribution"] == "ase-raman-template"
    train = tmp_path / "train.xyz"
    labelled_frames = frames()
    for atoms in labelled_frames:  # extxyz: 9 numbers, row-major
        atoms.info["polarizability"] = atoms.info["polarizability"].reshape(9)
    write(train, labelled_frames)
    out = tmp_path / "model.npz"
    assert main(["fit", str(train), "--learner", "template-additive", "-o", str(out),
                 "--test-fraction", "0", "--quiet"]) == 0
    model = ase_raman.load_model(out)
    assert isinstance(model, AdditiveIsotropic)
    assert dict(zip(model.numbers.tolist(), model.alphas, strict=True)) == pytest.approx(TRUE)
