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


def _block_r2(block, x, y) -> float:
    pred = block.predict(x)
    return float(1 - np.sum((pred - y) ** 2) / np.sum((y - y.mean()) ** 2))


def _scaled_problem(rng, n, informative_scale, noise_scale, n_noise=200):
    """Eight informative features of size ``informative_scale`` and ``n_noise``
    uninformative ones of size ``noise_scale``; the target is linear in the informative
    ones."""
    w = np.linspace(1.0, 2.0, 8)
    informative = informative_scale * rng.normal(size=(n, 1, 8))
    noise = noise_scale * rng.normal(size=(n, 1, n_noise))
    y = informative @ w / informative_scale + 0.05 * rng.normal(size=(n, 1))
    return np.concatenate([informative, noise], axis=-1), y


def test_global_scaling_uses_feature_sizes_and_is_chosen_when_it_predicts_better():
    """Global scaling keeps many small, uninformative features small (the lambda-SOAP
    case: rare correlations); scaling them to unit variance lets them soak up the fit."""
    x, y = _scaled_problem(np.random.default_rng(0), 30, 1.0, 0.02)
    x_new, y_new = _scaled_problem(np.random.default_rng(1), 200, 1.0, 0.02)
    chosen = fit_ridge_block(x, y, centre=True)
    per_property = fit_ridge_block(x, y, centre=True, scalings=("per_property",))
    assert chosen.feature_scaling == "global"
    assert np.ptp(chosen.scale) == 0 and chosen.scale[0] > 0
    assert _block_r2(chosen, x_new, y_new) > _block_r2(per_property, x_new, y_new) + 0.1


def test_per_property_scaling_is_chosen_when_the_signal_is_in_small_features():
    x, y = _scaled_problem(np.random.default_rng(2), 40, 0.02, 1.0, n_noise=30)
    x_new, y_new = _scaled_problem(np.random.default_rng(3), 200, 0.02, 1.0, n_noise=30)
    chosen = fit_ridge_block(x, y, centre=True)
    global_only = fit_ridge_block(x, y, centre=True, scalings=("global",))
    assert chosen.feature_scaling == "per_property"
    np.testing.assert_allclose(chosen.scale, x.reshape(-1, x.shape[-1]).std(axis=0))
    assert _block_r2(chosen, x_new, y_new) > _block_r2(global_only, x_new, y_new) + 0.1
