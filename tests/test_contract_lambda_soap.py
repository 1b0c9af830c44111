"""The built-in lambda-soap learner run through the shared learner contract."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import labelled_water_molecules

from ase_raman.models.lambda_soap import LambdaSoapRidge
from ase_raman.tensors import BOHR3_TO_A3
from ase_raman.testing import LearnerContract, check_equivariance, check_units, random_rotation


class TestLambdaSoapContract(LearnerContract):
    learner_name = "lambda-soap"
    distribution = "ase-raman"
    hypers = {"cutoff": 3.0, "max_radial": 2, "max_angular": 2}
    max_training_relative_rmse = 0.05
    rtol = 1e-7

    def make_model(self):
        return self.learner_class()(hypers=self.hypers, quiet=True, n_folds=3)

    extensive = True  # lambda = 0 per atom (learner version 2)

    def training_frames(self):
        return labelled_water_molecules(12)

    def evaluation_frames(self):
        frames = [a.copy() for a in self.training_frames()[:3]]
        boxed = frames[0].copy()  # a periodic frame for the extensivity check
        boxed.cell, boxed.pbc = [7.0, 7.0, 7.0], True
        return [*frames, boxed]


# -- the contract catches broken learners ------------------------------------------------
class _InBohr3(LambdaSoapRidge):
    """A learner that forgot to convert: predicts bohr^3 numbers."""

    def predict(self, frames):
        return super().predict(frames) / BOHR3_TO_A3


class _FixedFrame(LambdaSoapRidge):
    """A learner that adds a lab-frame tensor: symmetric but not rotation equivariant."""

    def predict(self, frames):
        alpha = super().predict(frames)
        return alpha + np.diag([1.0, 0.0, 0.0])[None]


def _refit(cls):
    return cls(hypers=TestLambdaSoapContract.hypers, n_folds=3).fit(labelled_water_molecules(12))


def test_contract_detects_wrong_units():
    frames = labelled_water_molecules(12)
    with pytest.raises(AssertionError, match="relative RMSE"):
        check_units(_refit(_InBohr3), frames, TestLambdaSoapContract.max_training_relative_rmse)


def test_contract_detects_broken_equivariance():
    frame = labelled_water_molecules(1, seed=5)[0]
    with pytest.raises(AssertionError, match="not equivariant"):
        check_equivariance(_refit(_FixedFrame), frame, rtol=1e-7)


def test_random_rotation_is_orthogonal_with_requested_handedness():
    for seed in range(3):
        proper, improper = random_rotation(seed), random_rotation(seed, proper=False)
        np.testing.assert_allclose(proper @ proper.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(proper) > 0 > np.linalg.det(improper)
