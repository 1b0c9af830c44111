"""Model files, the learner registry and load_model."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from conftest import labelled_water_molecules

import ase_raman
from ase_raman.errors import ModelFileError, UnknownLearnerError
from ase_raman.models.lambda_soap import LambdaSoapRidge
from ase_raman.models.modelfile import read_model_file, write_model_file
from ase_raman.models.registry import get_learner, installed_learners


def test_builtin_learner_registered_through_entry_points():
    names = {info.name: info for info in installed_learners()}
    assert "lambda-soap" in names
    assert names["lambda-soap"].distribution == "ase-raman"
    assert get_learner("lambda-soap") is LambdaSoapRidge


def test_save_load_identical_predictions(tmp_path, small_model):
    path = tmp_path / "model.npz"
    small_model.save(path)
    loaded = ase_raman.load_model(path)
    frames = labelled_water_molecules(4)
    np.testing.assert_array_equal(loaded.predict(frames), small_model.predict(frames))
    meta = loaded.metadata
    assert meta["learner"] == "lambda-soap"
    assert meta["species"] == ["H", "O"]
    assert meta["units"]["polarizability"] == "Angstrom^3"
    _, raw_meta = read_model_file(path)
    assert raw_meta["ase_raman_version"] == ase_raman.__version__
    assert raw_meta["training"]["n_train"] == 12


def test_object_array_is_refused(tmp_path):
    evil = tmp_path / "evil.npz"
    np.savez(evil, weights=np.array([{"payload": 1}], dtype=object),
             __metadata__=np.array(json.dumps({"format": "ase-raman-model",
                                               "learner": "lambda-soap"})))
    with pytest.raises(ModelFileError, match="pickled Python objects"):
        ase_raman.load_model(evil)


def test_pickle_file_is_refused(tmp_path):
    evil = tmp_path / "evil.npz"
    evil.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    with pytest.raises(ModelFileError):
        ase_raman.load_model(evil)


def test_unknown_learner_names_the_plugin(tmp_path):
    path = tmp_path / "other.npz"
    write_model_file(path, {"w": np.zeros(3)},
                     {"learner": "gaussian-process", "distribution": "ase-raman-gp"})
    with pytest.raises(UnknownLearnerError, match="ase-raman-gp"):
        ase_raman.load_model(path)


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        ase_raman.load_model(tmp_path / "absent.npz")
    plain = tmp_path / "plain.npz"
    np.savez(plain, x=np.zeros(2))
    with pytest.raises(ModelFileError, match="metadata"):
        ase_raman.load_model(plain)
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ModelFileError):
        ase_raman.load_model(tmp_path / "text.npz")


def test_failed_save_leaves_no_file(tmp_path, small_model, monkeypatch):
    path = tmp_path / "model.npz"

    def broken_savez(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError):
        small_model.save(path)
    assert list(tmp_path.iterdir()) == []
