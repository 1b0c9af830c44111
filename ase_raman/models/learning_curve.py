"""Learning curves: accuracy on a fixed held-out set against the number of training tensors.

For every training-set size and repeat, a random subset of the training pool is fitted and
scored on the same held-out structures (:func:`ase_raman.models.metrics.regression_metrics`).
Learners with ``fit_features`` (lambda-soap) featurise the pool once; any other learner is
refitted from frames.

``per_atom=True`` scores alpha per atom (predicted and reference tensors divided by each
test structure's number of atoms). Use it when the data mix cell sizes: pooled over
sizes, the lambda = 0 R^2 of whole-cell tensors mostly measures that alpha grows with the
number of atoms, not how well the model learned the fluctuations within a cell. The RMSE
columns are then in Angstrom^3 per atom and carry ``_per_atom`` in their names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from ..errors import UsageError
from .base import SupportsFeatures, reference_polarizabilities
from .metrics import per_atom as per_atom_tensors
from .metrics import regression_metrics

#: Metrics reported per size (mean and standard deviation over repeats).
CURVE_METRICS = ("r2", "r2_lambda0", "r2_lambda2", "r2_diagonal", "r2_offdiagonal",
                 "rmse_A3", "rmse_lambda0_A3", "rmse_lambda2_A3")


@dataclass
class LearningCurve:
    """``rows``: one dict per size with ``n_train``, ``repeats`` and, per metric, the mean
    (``r2_lambda0``) and standard deviation (``r2_lambda0_std``) over repeats;
    ``per_atom``: whether the tensors were scored per atom."""

    rows: list[dict[str, float]]
    n_test: int
    per_atom: bool = False

    def column(self, name: str) -> np.ndarray:
        return np.array([row[name] for row in self.rows])


def curve_metric_name(metric: str, per_atom: bool) -> str:
    """Column name of ``metric`` (one of :data:`CURVE_METRICS`): RMSEs scored per atom are
    in Angstrom^3 per atom and say so (``rmse_lambda0_A3_per_atom``)."""
    return f"{metric}_per_atom" if per_atom and metric.startswith("rmse") else metric


def learning_curve(make_learner: Callable[[], object], pool: Sequence[Atoms],
                   test: Sequence[Atoms], sizes: Sequence[int], repeats: int = 5,
                   seed: int = 0, per_atom: bool = False) -> LearningCurve:
    """Fit ``make_learner()`` on random subsets of ``pool`` of each size; score on ``test``
    (per atom with ``per_atom``, see the module docstring)."""
    sizes = sorted({int(s) for s in sizes})
    if not sizes or sizes[0] < 2 or sizes[-1] > len(pool):
        raise UsageError(f"sizes must lie in [2, {len(pool)}] (the training pool), got "
                         f"{sizes}")
    if repeats < 1 or not test:
        raise UsageError("need repeats >= 1 and a non-empty test set")
    rng = np.random.default_rng(seed)
    pool_ref = reference_polarizabilities(pool)
    test_ref = reference_polarizabilities(test)
    test_atoms = [len(a) for a in test] if per_atom else np.ones(len(test))
    test_ref = per_atom_tensors(test_ref, test_atoms)

    probe = make_learner()
    precomputed = None
    if isinstance(probe, SupportsFeatures):
        probe.set_species([*pool, *test])
        pool_features = probe.compute_features(pool)
        test_features = probe.compute_features(test)
        precomputed = (pool_features, test_features)

    rows = []
    for size in sizes:
        scores = []
        for _ in range(repeats):
            chosen = np.sort(rng.choice(len(pool), size=size, replace=False))
            learner = make_learner()
            if precomputed is not None:
                pool_features, test_features = precomputed
                learner.set_species([*pool, *test])
                learner.fit_features(pool_features.take(chosen), pool_ref[chosen])
                predicted = learner.predict_features(test_features)
            else:
                learner.fit([pool[i] for i in chosen])
                predicted = learner.predict(list(test))
            scores.append(regression_metrics(per_atom_tensors(predicted, test_atoms),
                                             test_ref))
        row: dict[str, float] = {"n_train": size, "repeats": repeats}
        for metric in CURVE_METRICS:
            values = np.array([s[metric] for s in scores])
            name = curve_metric_name(metric, per_atom)
            row[name] = float(np.mean(values))
            row[f"{name}_std"] = float(np.std(values))
        rows.append(row)
    return LearningCurve(rows=rows, n_test=len(test), per_atom=per_atom)

