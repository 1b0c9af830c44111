"""Ridge cross-validation folds are stratified, so a minority kind lands in every fold."""

from __future__ import annotations

import numpy as np

from ase_raman.models.ridge import _stratified_order, fit_ridge_block

W = np.random.default_rng(0).normal(size=12)


def _two_phase(rng, n_major=36, n_minor=4):
    """Structures of two kinds: the minority's summed features are 4x larger (large vs
    small cells); both follow the same linear law ``W``."""
    x = rng.normal(size=(n_major + n_minor, 1, W.size))
    x[n_major:] *= 4.0
    y = x @ W + 0.01 * rng.normal(size=(n_major + n_minor, 1))
    return x, y


def test_every_fold_gets_a_minority_structure():
    rng = np.random.default_rng(3)
    x, _ = _two_phase(rng)
    order = _stratified_order(x, seed=0)
    assert sorted(order) == list(range(len(x)))
    minority = set(range(36, 40))
    for k in range(4):
        assert minority & set(order[k::4].tolist()), f"fold {k} has no minority structure"


def test_two_phase_fit_keeps_a_small_penalty_and_predicts_both_kinds():
    rng = np.random.default_rng(5)
    x, y = _two_phase(rng)
    block = fit_ridge_block(x, y, centre=True, n_folds=4)
    x_new, y_new = _two_phase(np.random.default_rng(6))
    pred = block.predict(x_new)
    r2 = 1 - np.sum((pred - y_new) ** 2) / np.sum((y_new - y_new.mean()) ** 2)
    assert r2 > 0.99
