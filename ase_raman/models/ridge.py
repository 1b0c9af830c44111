"""Ridge regression for one equivariant block, with the penalty chosen by k-fold CV.

A block holds ``n`` samples (structures) with ``c`` components each (1 for lambda = 0,
5 for lambda = 2) and ``P`` properties. One weight vector ``w`` (P,) is shared by all
components, so a lambda = 2 model without intercept and without centring is exactly
equivariant: rotating the features by ``D2(R)`` rotates the prediction by ``D2(R)``.

Features are centred for lambda = 0 (with an intercept); lambda = 2 is neither centred
nor given an intercept (both would break equivariance). They are then scaled in one of
two ways (:data:`FEATURE_SCALINGS`), chosen with the penalty by cross-validation:

* ``"global"``: one scale for all properties (the root-mean-square of the centred
  features), i.e. the prior ``w ~ N(0, s2/lam I)`` on the features as they are, the
  linear-kernel SOAP model. Rare features stay small.
* ``"per_property"``: each property to unit standard deviation (lambda = 0) or unit
  root-mean-square (lambda = 2). Puts rare, noisy features on an equal footing.

Measured with random training sets (ten-odd to a hundred structures): global scaling
learned lambda = 2 much faster everywhere (water bulk R^2 0.91 against 0.87 from 40
structures; AgI 0.98-0.99 against 0.88-0.91 from 6); for lambda = 0 either can win,
so the cross-validation decides per block.

The penalty is chosen on a log grid relative to the mean eigenvalue of the scaled Gram
matrix, by k-fold cross-validation over structures (all components of a structure stay
in one fold; folds are stratified by the size of the structures' features, see
:func:`_stratified_order`; both scalings are scored on the same folds).

Predictive uncertainty (Bayesian linear regression, calibrated)
---------------------------------------------------------------
Ridge with penalty ``lam`` is the posterior mean of a Bayesian linear model with prior
``w ~ N(0, s2/lam I)`` and Gaussian noise of variance ``s2``. The predictive variance of
one component with standardised features ``x`` is ``s2 (1 + x (X^T X + lam I)^-1 x^T)``.
We estimate ``s2`` from the cross-validation residuals and multiply the variance by a
calibration factor, the mean of ``err^2 / var`` over the CV held-out predictions, so the
z-scores of held-out errors have unit variance. ``(X^T X + lam I)^-1`` is stored in low
rank: the right singular vectors ``v_k`` of the training matrix whose ``s_k^2`` exceed
``1e-3 lam`` with weights ``1 / (s_k^2 + lam)``; every other direction gets ``1 / lam``
(a relative error below 0.1 % per direction).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Relative penalties tried by cross-validation (times the mean Gram eigenvalue).
DEFAULT_PENALTY_GRID: np.ndarray = np.logspace(-9, 1, 21)
#: Singular directions with s^2 below this fraction of the penalty are treated as prior.
POSTERIOR_RANK_CUTOFF: float = 1e-3
#: Feature scalings tried by cross-validation (the first one is used without CV).
FEATURE_SCALINGS: tuple[str, ...] = ("global", "per_property")


@dataclass
class RidgeBlock:
    """A fitted ridge model of one block: ``y = ((X - mean) / scale) @ weights + intercept``.

    The ``posterior_*`` fields, ``noise_var`` and ``calibration`` give the predictive
    variance (:meth:`predict_variance`); they are empty for models saved without them.
    """

    weights: np.ndarray  # (P,)
    mean: np.ndarray  # (P,)  zeros when not centred
    scale: np.ndarray  # (P,)
    intercept: float
    penalty: float
    cv_rmse: float
    posterior_basis: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (P, r)
    posterior_weights: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (r,)
    noise_var: float = float("nan")
    calibration: float = 1.0
    #: how ``scale`` was chosen (one of :data:`FEATURE_SCALINGS`); files written before
    #: version 3 of the learner scaled per property
    feature_scaling: str = "per_property"

    def standardise(self, features: np.ndarray) -> np.ndarray:
        return (features - self.mean) / self.scale

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Predict (n, c) targets from (n, c, P) features."""
        return self.standardise(features) @ self.weights + self.intercept

    @property
    def has_uncertainty(self) -> bool:
        return bool(np.isfinite(self.noise_var)) and self.posterior_basis.ndim == 2 and (
            self.posterior_basis.shape[0] == self.weights.shape[0])

    def predict_variance(self, features: np.ndarray) -> np.ndarray:
        """Calibrated predictive variance (n, c) of each component, in target units^2."""
        if not self.has_uncertainty:
            raise ValueError("this ridge block was saved without uncertainty information")
        x = self.standardise(features)
        leverage = _leverage(x, self.posterior_basis, self.posterior_weights, self.penalty)
        return self.calibration * self.noise_var * (1.0 + leverage)


def _leverage(x: np.ndarray, basis: np.ndarray, inv_eig: np.ndarray, penalty: float
              ) -> np.ndarray:
    """``x (X^T X + lam I)^-1 x^T`` from the low-rank form, for x of shape (..., P)."""
    proj = x @ basis
    inside = np.sum(proj**2, axis=-1)
    outside = np.maximum(np.sum(x**2, axis=-1) - inside, 0.0)
    return np.sum(proj**2 * inv_eig, axis=-1) + outside / penalty


def _stratified_order(x: np.ndarray, seed: int) -> np.ndarray:
    """Structures in the order that folds ``order[k::folds]`` are cut from: shuffled,
    then sorted by the size of their standardised features (stable), so every fold
    spans the whole range. With a few structures of another kind (e.g. small cells of a
    second phase, whose summed features are far from the rest), a random cut can put
    most of them in one fold; that fold's extrapolation error then drives the penalty
    choice."""
    shuffled = np.random.default_rng(seed).permutation(x.shape[0])
    size = np.sqrt(np.sum(x[shuffled] ** 2, axis=(1, 2)))
    return shuffled[np.argsort(size, kind="stable")]


def _standardisation(features: np.ndarray, centre: bool, scaling: str = "per_property"
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Mean (zeros unless ``centre``) and scale (P,) of (n, c, P) features."""
    if scaling not in FEATURE_SCALINGS:
        raise ValueError(f"feature scaling must be one of {FEATURE_SCALINGS}, got {scaling!r}")
    flat = features.reshape(-1, features.shape[-1])
    mean = flat.mean(axis=0) if centre else np.zeros(flat.shape[1])
    scale = np.sqrt(np.mean((flat - mean) ** 2, axis=0))
    if scaling == "global":
        rms = float(np.sqrt(np.mean(scale**2)))
        return mean, np.full_like(scale, rms if rms > 0 else 1.0)
    tiny = scale <= 1e-12 * max(float(scale.max(initial=0.0)), 1e-300)
    scale[tiny] = 1.0
    return mean, scale


@dataclass
class _Decomposition:
    s: np.ndarray
    vt: np.ndarray
    uty: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray, y: np.ndarray) -> _Decomposition:
        u, s, vt = np.linalg.svd(x, full_matrices=False)
        return cls(s=s, vt=vt, uty=u.T @ y)

    def weights(self, penalties: np.ndarray) -> np.ndarray:
        """Ridge weights for every penalty at once: (n_pen, P)."""
        factors = self.s[None, :] / (self.s[None, :] ** 2 + penalties[:, None])
        return (factors * self.uty[None, :]) @ self.vt

    def posterior(self, penalty: float) -> tuple[np.ndarray, np.ndarray]:
        keep = self.s**2 > POSTERIOR_RANK_CUTOFF * penalty
        return self.vt[keep].T.copy(), 1.0 / (self.s[keep] ** 2 + penalty)


@dataclass
class _CrossValidation:
    """Summed squared held-out errors per penalty, and each fold's pieces."""

    errors: np.ndarray  # (n_pen,)
    folds: list[tuple[_Decomposition, np.ndarray, np.ndarray]]


def _cross_validate(x: np.ndarray, y: np.ndarray, centre: bool, penalties: np.ndarray,
                    order: np.ndarray, folds: int) -> _CrossValidation:
    n, c, p = x.shape
    errors = np.zeros(len(penalties))
    fold_data = []
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        y_tr = y[train].reshape(-1)
        mu_tr = float(y_tr.mean()) if centre else 0.0
        dec = _Decomposition.of(x[train].reshape(-1, p), y_tr - mu_tr)
        x_te = x[test].reshape(-1, p)
        pred = x_te @ dec.weights(penalties).T + mu_tr  # (rows, n_pen)
        residual = pred - y[test].reshape(-1, 1)
        errors += np.sum(residual**2, axis=0)
        fold_data.append((dec, x_te, residual))
    return _CrossValidation(errors=errors, folds=fold_data)


def fit_ridge_block(
    features: np.ndarray,
    targets: np.ndarray,
    centre: bool,
    n_folds: int = 5,
    penalty_grid: np.ndarray = DEFAULT_PENALTY_GRID,
    seed: int = 0,
    scalings: tuple[str, ...] = FEATURE_SCALINGS,
) -> RidgeBlock:
    """Fit ``targets`` (n, c) from ``features`` (n, c, P), choosing the feature scaling
    (of ``scalings``) and the penalty by cross-validation."""
    n, c, p = features.shape
    if targets.shape != (n, c):
        raise ValueError(f"targets shape {targets.shape} does not match features {features.shape}")
    if not scalings:
        raise ValueError(f"give at least one feature scaling of {FEATURE_SCALINGS}")
    y_mean = float(targets.mean()) if centre else 0.0
    y = targets - y_mean
    folds = min(n_folds, n)

    chosen = None  # the best scaling so far: (scaling, mean, scale, x, penalties, cv)
    order = None
    for scaling in scalings:
        mean, scale = _standardisation(features, centre, scaling)
        x = (features - mean) / scale
        gram_scale = float(np.sum(x**2)) / max(min(n * c, p), 1)
        penalties = penalty_grid * max(gram_scale, 1e-300)
        if folds < 2:  # no cross-validation: the first scaling
            chosen = (scaling, mean, scale, x, penalties, None)
            break
        if order is None:  # the same folds for every scaling
            order = _stratified_order(x, seed)
        cv = _cross_validate(x, y, centre, penalties, order, folds)
        if chosen is None or np.min(cv.errors) < np.min(chosen[5].errors):
            chosen = (scaling, mean, scale, x, penalties, cv)  # the loser is freed
    scaling, mean, scale, x, penalties, cv = chosen

    noise_var, calibration = float("nan"), 1.0
    if cv is not None:
        best = int(np.argmin(cv.errors))
        cv_rmse = float(np.sqrt(cv.errors[best] / (n * c)))
        noise_var = cv_rmse**2
        # calibration: held-out squared errors over the predicted variances
        ratios = []
        for dec, x_te, residual in cv.folds:
            basis, inv_eig = dec.posterior(penalties[best])
            var = noise_var * (1.0 + _leverage(x_te, basis, inv_eig, penalties[best]))
            ratios.append(residual[:, best] ** 2 / var)
        calibration = float(np.mean(np.concatenate(ratios)))
    else:
        best = len(penalties) // 2
        cv_rmse = float("nan")

    full = _Decomposition.of(x.reshape(-1, p), y.reshape(-1))
    weights = full.weights(penalties[best : best + 1])[0]
    basis, inv_eig = full.posterior(penalties[best])
    return RidgeBlock(weights=weights, mean=mean, scale=scale, intercept=y_mean,
                      penalty=float(penalties[best]), cv_rmse=cv_rmse,
                      posterior_basis=basis, posterior_weights=inv_eig,
                      noise_var=noise_var, calibration=calibration,
                      feature_scaling=scaling)
