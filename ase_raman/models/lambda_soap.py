"""The default learner ``lambda-soap``: structure-level lambda-SOAP + equivariant ridge.

alpha is split into its lambda = 0 part (trace / sqrt 3) and lambda = 2 part (five
components, featomic's m order, see :mod:`ase_raman.tensors`). Each part is a linear
function of the matching structure-level lambda-SOAP block
(:mod:`ase_raman.features.lambda_soap`) with one weight vector shared by all m: the
lambda = 2 model has no intercept and no centring, so predictions rotate exactly as
``R alpha R^T`` (proper and improper rotations). Penalties come from k-fold CV
(:mod:`ase_raman.models.ridge`).

Features come from the structure-level path by default (sum over atoms before the
Clebsch-Gordan coupling, :mod:`ase_raman.features.structure_soap`); the hyper
``featurizer="featomic"`` (or :meth:`LambdaSoapRidge.use_featurizer`) switches back to
featomic's per-atom ``EquivariantPowerSpectrum``. Both give the same features in the same
order, so a fitted model predicts the same either way; the choice and
``drop_duplicates`` are stored with the hypers in the model file.

The lambda = 0 part is learned *per atom* (learner version 2): features and targets are
divided by the structure's number of atoms before the ridge fit and predictions are
multiplied back, so the intercept is a per-atom polarizability and the model is exactly
extensive (a 2x1x1 supercell gets twice the alpha). Fitted on cells of different sizes,
the extensive form of version 1 (one intercept per structure, features standardised over
all sizes) spent its variance on "bigger cells have larger alpha" and did not learn the
thermal fluctuations of alpha within a system. Version-1 files still load and
predict as they were fitted. The lambda = 2 part has no intercept and is extensive as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from ..errors import ModelFileError, UsageError
from ..features.featurizers import make_featurizer
from ..features.lambda_soap import (
    LambdaSoapFeaturizer,
    LambdaSoapHypers,
    StructureFeatures,
)
from ..tensors import (
    cartesian_to_spherical,
    spherical_to_cartesian,
    spherical_variance_to_cartesian,
)
from .base import reference_polarizabilities
from .metrics import frame_uncertainty
from .modelfile import learner_metadata, read_learner_file, write_model_file
from .ridge import RidgeBlock, fit_ridge_block

#: A frame whose uncertainty exceeds this many times the 95th percentile of the training
#: frames' is flagged as outside the training distribution.
EXTRAPOLATION_FACTOR = 3.0
_BLOCK_FIELDS = ("weights", "mean", "scale")
_POSTERIOR_FIELDS = ("posterior_basis", "posterior_weights")


class LambdaSoapRidge:
    """lambda-SOAP features (featomic) + ridge regression per lambda block.

    Parameters
    ----------
    hypers:
        lambda-SOAP hyper-parameters (dict or :class:`LambdaSoapHypers`); see its
        docstring for the defaults. ``species`` is taken from the training data when
        not given; ``featurizer`` ("structure", default, or "featomic") picks the
        implementation and ``drop_duplicates`` the feature set.
    n_folds:
        folds of the cross-validation that picks the ridge penalty (default 5).
    batch_size:
        structures featurised per spherical-expansion / featomic call (bounds memory;
        default 16).
    quiet:
        hide the progress bar (it is also hidden when stderr is not a terminal).
    """

    name: ClassVar[str] = "lambda-soap"
    #: 2: lambda = 0 learned per atom; 3: feature scaling chosen by CV per block
    learner_version: ClassVar[str] = "3"
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
        #: lambda = 0 learned per atom (version 2); False for version-1 model files
        self.lambda0_per_atom = True
        self._featurizer: LambdaSoapFeaturizer | None = None

    # -- TensorModel protocol ---------------------------------------------------------
    def fit(self, frames: Sequence[Atoms]) -> LambdaSoapRidge:
        """Learn from frames with ``info["polarizability"]`` (3x3, Angstrom^3)."""
        frames = list(frames)
        if len(frames) < 2:
            raise UsageError(f"need at least 2 training structures, got {len(frames)}")
        reference = reference_polarizabilities(frames)
        if not self.hypers.species:
            self.set_species(frames)
        features = self.featurizer.compute_arrays(frames, quiet=self.quiet)
        return self.fit_features(features, reference)

    def fit_features(self, features: StructureFeatures, reference: np.ndarray
                     ) -> LambdaSoapRidge:
        """Fit from precomputed features (of this model's featurizer) and (n, 3, 3) targets.

        Lets learning curves and active-learning loops featurise a pool once.
        """
        n = len(features)
        if n < 2 or reference.shape != (n, 3, 3):
            raise UsageError(f"need >= 2 structures with (n, 3, 3) targets, got {n} and "
                             f"{reference.shape}")
        l0, l2 = cartesian_to_spherical(reference)
        self.lambda0_per_atom = True  # every new fit is version 3, also after an older load
        atoms = self.lambda0_atoms(features)
        self.blocks = {
            0: fit_ridge_block(self.lambda0_inputs(features), l0 / atoms[:, None],
                               centre=True, n_folds=self.n_folds, seed=self.seed),
            2: fit_ridge_block(features.lambda2, l2, centre=False, n_folds=self.n_folds,
                               seed=self.seed),
        }
        self.training = {
            "n_train": n,
            "penalty_lambda0": self.blocks[0].penalty,
            "penalty_lambda2": self.blocks[2].penalty,
            ("cv_rmse_lambda0_A3_per_atom" if self.lambda0_per_atom
             else "cv_rmse_lambda0_A3"): self.blocks[0].cv_rmse,
            "cv_rmse_lambda2_A3": self.blocks[2].cv_rmse,
            "feature_scaling_lambda0": self.blocks[0].feature_scaling,
            "feature_scaling_lambda2": self.blocks[2].feature_scaling,
            "n_folds": self.n_folds,
        }
        if all(block.has_uncertainty for block in self.blocks.values()):
            train_unc = frame_uncertainty(self.predict_features_std(features)) / atoms
            p95 = float(np.percentile(train_unc, 95))
            self.training["uncertainty_train_p95_A3_per_atom"] = p95
            self.training["uncertainty_threshold_A3_per_atom"] = EXTRAPOLATION_FACTOR * p95
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
                  for lam, block in self.blocks.items()
                  for name in _BLOCK_FIELDS + _POSTERIOR_FIELDS}
        write_model_file(path, arrays, self.metadata)

    @classmethod
    def load(cls, path: str | Path) -> LambdaSoapRidge:
        arrays, meta = read_learner_file(path, cls.name)
        model = cls(hypers=meta["hypers"], n_folds=meta.get("n_folds", 5))
        model.lambda0_per_atom = bool(meta.get("lambda0_per_atom", False))
        try:
            for lam in (0, 2):
                block_meta = meta["blocks"][str(lam)]
                model.blocks[lam] = RidgeBlock(
                    **{name: np.asarray(arrays[f"lambda{lam}_{name}"], dtype=float)
                       for name in _BLOCK_FIELDS},
                    intercept=float(block_meta["intercept"]),
                    penalty=float(block_meta["penalty"]),
                    cv_rmse=float(block_meta["cv_rmse"]),
                    noise_var=float(block_meta.get("noise_var", float("nan"))),
                    calibration=float(block_meta.get("calibration", 1.0)),
                    feature_scaling=str(block_meta.get("feature_scaling", "per_property")),
                    **{name: np.asarray(arrays[f"lambda{lam}_{name}"], dtype=float)
                       for name in _POSTERIOR_FIELDS if f"lambda{lam}_{name}" in arrays},
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
            **learner_metadata(self, featomic_version=featomic.__version__),
            "hypers": self.hypers.to_dict(),
            "species": list(self.hypers.species),
            "units": {"polarizability": "Angstrom^3", "length": "Angstrom"},
            "n_folds": self.n_folds,
            "lambda0_per_atom": self.lambda0_per_atom,
            "blocks": {str(lam): {"intercept": b.intercept, "penalty": b.penalty,
                                  "cv_rmse": b.cv_rmse, "noise_var": b.noise_var,
                                  "calibration": b.calibration,
                                  "feature_scaling": b.feature_scaling}
                       for lam, b in self.blocks.items()},
            "training": self.training,
        }

    # -- helpers ----------------------------------------------------------------------
    def set_species(self, frames: Sequence[Atoms]) -> None:
        """Fix the model's species to those present in ``frames`` (by atomic number)."""
        present = sorted({int(z) for atoms in frames for z in atoms.numbers})
        self.hypers = LambdaSoapHypers.from_dict(
            {**self.hypers.to_dict(), "species": [chemical_symbols[z] for z in present]})
        self._featurizer = None

    @property
    def species(self) -> tuple[str, ...]:
        return self.hypers.species

    @property
    def featurizer(self) -> LambdaSoapFeaturizer:
        """The featuriser named by ``hypers.featurizer`` (built on first use)."""
        if self._featurizer is None:
            self._featurizer = make_featurizer(self.hypers, batch_size=self.batch_size)
        return self._featurizer

    def use_featurizer(self, name: str) -> LambdaSoapRidge:
        """Switch the feature implementation (``"structure"`` or ``"featomic"``).

        The features, and so the predictions of a fitted model, are the same either way
        (to ~1e-15 relative); the choice is saved with the hypers. Returns ``self``.
        """
        self.hypers = LambdaSoapHypers.from_dict({**self.hypers.to_dict(), "featurizer": name})
        self._featurizer = None
        return self

    def compute_features(self, frames: Sequence[Atoms]) -> StructureFeatures:
        """Structure-level lambda-SOAP features of ``frames`` (the model's featuriser)."""
        return self.featurizer.compute_arrays(list(frames), quiet=self.quiet)

    def predict_features(self, features: StructureFeatures) -> np.ndarray:
        """Polarizabilities (n, 3, 3) from precomputed structure-level features."""
        self._require_fitted()
        l0 = self.blocks[0].predict(self.lambda0_inputs(features))
        l0 = l0 * self.lambda0_atoms(features)[:, None]
        l2 = self.blocks[2].predict(features.lambda2)
        return spherical_to_cartesian(l0, l2)

    def predict_with_uncertainty(self, frames: Sequence[Atoms]
                                 ) -> tuple[np.ndarray, np.ndarray]:
        """Polarizabilities and their standard deviations, both (n, 3, 3) in Angstrom^3.

        The standard deviation is the calibrated Bayesian-linear-regression predictive one
        (see :mod:`ase_raman.models.ridge`), per Cartesian component. A per-frame scalar
        comparable with ``rmse_A3`` is :func:`frame_uncertainty` of it.
        """
        frames = list(frames)
        if not frames:
            return np.zeros((0, 3, 3)), np.zeros((0, 3, 3))
        features = self.featurizer.compute_arrays(frames, quiet=self.quiet)
        return self.predict_features(features), self.predict_features_std(features)

    def predict_features_std(self, features: StructureFeatures) -> np.ndarray:
        """Standard deviations (n, 3, 3) in Angstrom^3 from precomputed features."""
        self._require_fitted()
        if not all(block.has_uncertainty for block in self.blocks.values()):
            raise UsageError("this model file holds no uncertainty information; refit it")
        var0 = self.blocks[0].predict_variance(self.lambda0_inputs(features))
        var0 = var0 * self.lambda0_atoms(features)[:, None] ** 2
        var2 = self.blocks[2].predict_variance(features.lambda2)
        return np.sqrt(spherical_variance_to_cartesian(var0, var2))

    def lambda0_atoms(self, features: StructureFeatures) -> np.ndarray:
        """(n,) the divisor of the lambda = 0 block: atoms per structure (ones for a
        version-1 model, whose lambda = 0 part is extensive as stored)."""
        if not self.lambda0_per_atom:
            return np.ones(len(features))
        if features.n_atoms is None:
            raise UsageError("these features carry no atom counts; compute them with the "
                             "model's featurizer (compute_arrays)")
        return np.asarray(features.n_atoms, dtype=float)

    def lambda0_inputs(self, features: StructureFeatures) -> np.ndarray:
        """The lambda = 0 features as the ridge block sees them: (n, 1, P0), per atom."""
        return features.lambda0 / self.lambda0_atoms(features)[:, None, None]

    def _require_fitted(self) -> None:
        if set(self.blocks) != {0, 2}:
            raise UsageError("the lambda-soap model is not fitted yet; call fit(frames) first")
