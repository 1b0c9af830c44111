"""Ridge regression for one equivariant block, with the penalty chosen by k-fold CV.

A block holds ``n`` samples (structures) with ``c`` components each (1 for lambda = 0,
5 for lambda = 2) and ``P`` properties. One weight vector ``w`` (P,) is shared by all
components, so a lambda = 2 model without intercept and without centring is exactly
equivariant: rotating the features by ``D2(R)`` rotates the prediction by ``D2(R)``.

Features are standardised per property: lambda = 0 by mean and standard deviation (with
an intercept); lambda = 2 only by the root-mean-square over samples and components (no
centring, no intercept: both would break equivariance). The penalty is chosen on a log
grid relative to the mean eigenvalue of the standardised Gram matrix, by k-fold
cross-validation over structures (all components of a structure stay in one fold).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Relative penalties tried by cross-validation (times the mean Gram eigenvalue).
DEFAULT_PENALTY_GRID: np.ndarray = np.logspace(-9, 1, 21)


@dataclass
class RidgeBlock:
    """A fitted ridge model of one block: ``y = ((X - mean) / scale) @ weights + intercept``."""

    weights: np.ndarray  # (P,)
    mean: np.ndarray  # (P,)  zeros when not centred
    scale: np.ndarray  # (P,)
    intercept: float
    penalty: float
    cv_rmse: float

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Predict (n, c) targets from (n, c, P) features."""
        return ((features - self.mean) / self.scale) @ self.weights + self.intercept


def _standardisation(features: np.ndarray, centre: bool) -> tuple[np.ndarray, np.ndarray]:
    flat = features.reshape(-1, features.shape[-1])
    if centre:
        mean = flat.mean(axis=0)
        scale = flat.std(axis=0)
    else:
        mean = np.zeros(flat.shape[1])
        scale = np.sqrt(np.mean(flat**2, axis=0))
    tiny = scale <= 1e-12 * max(float(scale.max(initial=0.0)), 1e-300)
    scale[tiny] = 1.0
    return mean, scale


def _solve_all(x: np.ndarray, y: np.ndarray, penalties: np.ndarray) -> np.ndarray:
    """Ridge weights for every penalty at once via one SVD: (n_pen, P)."""
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    uty = u.T @ y
    factors = s[None, :] / (s[None, :] ** 2 + penalties[:, None])
    return (factors * uty[None, :]) @ vt


def fit_ridge_block(
    features: np.ndarray,
    targets: np.ndarray,
    centre: bool,
    n_folds: int = 5,
    penalty_grid: np.ndarray = DEFAULT_PENALTY_GRID,
    seed: int = 0,
) -> RidgeBlock:
    """Fit ``targets`` (n, c) from ``features`` (n, c, P) with a CV-chosen penalty."""
    n, c, p = features.shape
    if targets.shape != (n, c):
        raise ValueError(f"targets shape {targets.shape} does not match features {features.shape}")
    mean, scale = _standardisation(features, centre)
    x = (features - mean) / scale
    y_mean = float(targets.mean()) if centre else 0.0
    y = targets - y_mean

    gram_scale = float(np.sum(x**2)) / max(min(n * c, p), 1)
    penalties = penalty_grid * max(gram_scale, 1e-300)

    folds = min(n_folds, n)
    if folds >= 2:
        order = np.random.default_rng(seed).permutation(n)
        errors = np.zeros(len(penalties))
        for k in range(folds):
            test = order[k::folds]
            train = np.setdiff1d(order, test)
            x_tr = x[train].reshape(-1, p)
            y_tr = y[train].reshape(-1)
            mu_tr = float(y_tr.mean()) if centre else 0.0
            w_all = _solve_all(x_tr, y_tr - mu_tr, penalties)
            pred = x[test].reshape(-1, p) @ w_all.T + mu_tr  # (rows, n_pen)
            errors += np.sum((pred - y[test].reshape(-1, 1)) ** 2, axis=0)
        best = int(np.argmin(errors))
        cv_rmse = float(np.sqrt(errors[best] / (n * c)))
    else:
        best = len(penalties) // 2
        cv_rmse = float("nan")

    weights = _solve_all(x.reshape(-1, p), y.reshape(-1), penalties[best : best + 1])[0]
    return RidgeBlock(weights=weights, mean=mean, scale=scale, intercept=y_mean,
                      penalty=float(penalties[best]), cv_rmse=cv_rmse)
