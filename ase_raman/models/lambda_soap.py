"""The default learner ``lambda-soap``: structure-level lambda-SOAP + equivariant ridge.

alpha is split into its lambda = 0 part (trace / sqrt 3) and lambda = 2 part (five
components, featomic's m order, see :mod:`ase_raman.tensors`). Each part is a linear
function of the matching structure-level lambda-SOAP block
(:mod:`ase_raman.features.lambda_soap`) with one weight vector shared by all m: the
lambda = 2 model has no intercept and no centring, so predictions rotate exactly as
``R alpha R^T`` (proper and improper rotations). Penalties come from k-fold CV
(:mod:`ase_raman.models.ridge`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from ..errors import ModelFileError, UsageError
from ..features.lambda_soap import LambdaSoapFeaturizer, LambdaSoapHypers, StructureFeatures
from ..tensors import cartesian_to_spherical, spherical_to_cartesian
from .base import reference_polarizabilities
from .modelfile import read_model_file, write_model_file
from .ridge import RidgeBlock, fit_ridge_block

_BLOCK_FIELDS = ("weights", "mean", "scale")


class LambdaSoapRidge:
    """lambda-SOAP features (featomic) + ridge regression per lambda block.

    Parameters
    ----------
    hypers:
        lambda-SOAP hyper-parameters (dict or :class:`LambdaSoapHypers`); see its
        docstring for the defaults. ``species`` is taken from the training data when
        not given.
    n_folds:
        folds of the cross-validation that picks the ridge penalty (default 5).
    batch_size:
        structures featurised per featomic call (bounds memory; default 16).
    quiet:
        hide the progress bar (it is also hidden when stderr is not a terminal).
    """

    name: ClassVar[str] = "lambda-soap"
    learner_version: ClassVar[str] = "1"
    distribution: ClassVar[str] = "ase-raman"

    def __init__(self, hypers: dict[str, Any] | LambdaSoapHypers | None = None,
                 n_folds: int = 5, batch_size: int = 16, quiet: bool = True, seed: int = 0):
        self.hypers = (hypers if isinstance(hypers, LambdaSoapHypers)
                       else LambdaSoapHypers.from_dict(hypers))
        self.n_folds = n_folds
        self.batch_size = batch_size
        self.quiet = quiet
        self.seed = seed
        self.blocks: dict[int, RidgeBlock] = {}
        self.training: dict[str, Any] = {}
        self._featurizer: LambdaSoapFeaturizer | None = None

    # -- TensorModel protocol ---------------------------------------------------------
    def fit(self, frames: Sequence[Atoms]) -> LambdaSoapRidge:
        """Learn from frames with ``info["polarizability"]`` (3x3, Angstrom^3)."""
        frames = list(frames)
        if len(frames) < 2:
            raise UsageError(f"need at least 2 training structures, got {len(frames)}")
        reference = reference_polarizabilities(frames)
        if not self.hypers.species:
            present = sorted({int(z) for atoms in frames for z in atoms.numbers})
            self.hypers = LambdaSoapHypers.from_dict(
                {**self.hypers.to_dict(), "species": [chemical_symbols[z] for z in present]})
        self._featurizer = None
        features = self.featurizer.compute_arrays(frames, quiet=self.quiet)
        l0, l2 = cartesian_to_spherical(reference)
        self.blocks = {
            0: fit_ridge_block(features.lambda0, l0, centre=True, n_folds=self.n_folds,
                               seed=self.seed),
            2: fit_ridge_block(features.lambda2, l2, centre=False, n_folds=self.n_folds,
                               seed=self.seed),
        }
        self.training = {
            "n_train": len(frames),
            "penalty_lambda0": self.blocks[0].penalty,
            "penalty_lambda2": self.blocks[2].penalty,
            "cv_rmse_lambda0_A3": self.blocks[0].cv_rmse,
            "cv_rmse_lambda2_A3": self.blocks[2].cv_rmse,
            "n_folds": self.n_folds,
        }
        return self

    def predict(self, frames: Sequence[Atoms]) -> np.ndarray:
        """Polarizabilities (n, 3, 3) in Angstrom^3."""
        frames = list(frames)
        if not frames:
            return np.zeros((0, 3, 3))
        return self.predict_features(
            self.featurizer.compute_arrays(frames, quiet=self.quiet))

    def save(self, path: str | Path) -> None:
        self._require_fitted()
        arrays = {f"lambda{lam}_{name}": getattr(block, name)
                  for lam, block in self.blocks.items() for name in _BLOCK_FIELDS}
        write_model_file(path, arrays, self.metadata)

    @classmethod
    def load(cls, path: str | Path) -> LambdaSoapRidge:
        arrays, meta = read_model_file(path)
        if meta.get("learner") != cls.name:
            raise ModelFileError(f"{path}: written by learner {meta.get('learner')!r}, "
                                 f"not {cls.name!r}; use ase_raman.load_model")
        model = cls(hypers=meta["hypers"], n_folds=meta.get("n_folds", 5))
        try:
            for lam in (0, 2):
                block_meta = meta["blocks"][str(lam)]
                model.blocks[lam] = RidgeBlock(
                    **{name: np.asarray(arrays[f"lambda{lam}_{name}"], dtype=float)
                       for name in _BLOCK_FIELDS},
                    intercept=float(block_meta["intercept"]),
                    penalty=float(block_meta["penalty"]),
                    cv_rmse=float(block_meta["cv_rmse"]),
                )
        except KeyError as exc:
            raise ModelFileError(f"{path}: incomplete lambda-soap model (missing {exc})") from None
        model.training = dict(meta.get("training", {}))
        for lam, block in model.blocks.items():
            expected = model.featurizer.n_properties(lam)
            if block.weights.shape != (expected,):
                raise ModelFileError(
                    f"{path}: lambda={lam} weights have {block.weights.shape[0]} entries but "
                    f"the stored hypers give {expected} features (featomic version mismatch?)")
        return model

    @property
    def metadata(self) -> dict[str, Any]:
        import featomic

        return {
            "learner": self.name,
            "learner_version": self.learner_version,
            "distribution": self.distribution,
            "featomic_version": featomic.__version__,
            "hypers": self.hypers.to_dict(),
            "species": list(self.hypers.species),
            "units": {"polarizability": "Angstrom^3", "length": "Angstrom"},
            "n_folds": self.n_folds,
            "blocks": {str(lam): {"intercept": b.intercept, "penalty": b.penalty,
                                  "cv_rmse": b.cv_rmse}
                       for lam, b in self.blocks.items()},
            "training": self.training,
        }

    # -- helpers ----------------------------------------------------------------------
    @property
    def species(self) -> tuple[str, ...]:
        return self.hypers.species

    @property
    def featurizer(self) -> LambdaSoapFeaturizer:
        if self._featurizer is None:
            self._featurizer = LambdaSoapFeaturizer(self.hypers, batch_size=self.batch_size)
        return self._featurizer

    def predict_features(self, features: StructureFeatures) -> np.ndarray:
        """Polarizabilities (n, 3, 3) from precomputed structure-level features."""
        self._require_fitted()
        l0 = self.blocks[0].predict(features.lambda0)
        l2 = self.blocks[2].predict(features.lambda2)
        return spherical_to_cartesian(l0, l2)

    def _require_fitted(self) -> None:
        if set(self.blocks) != {0, 2}:
            raise UsageError("the lambda-soap model is not fitted yet; call fit(frames) first")
