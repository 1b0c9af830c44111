"""Active selection of the snapshots worth a DFPT calculation.

Strategies (all deterministic for a given pool, model and seed):

* ``fps``: standard farthest-point sampling in the space of standardised, per-atom
  lambda = 0 lambda-SOAP features (rotation invariant); needs no model. The first pick
  is the frame farthest from the pool mean (or from the ``known`` frames, e.g. the
  current training set); each next pick maximises the distance to the nearest frame
  already picked or known.
* ``uncertainty``: the frames with the largest predictive uncertainty of a model
  (:meth:`LambdaSoapRidge.predict_with_uncertainty`), greedily, skipping near-duplicates
  (frames closer in feature space than 10% of the typical nearest-pick distance).
* ``mixed``: half by uncertainty, the rest by farthest-point sampling from those.
* ``variance`` (needs a fitted lambda-soap model and the pool's features):
  batch-greedy reduction of the model's posterior variance
  (:func:`greedy_variance_selection`): pick the frame with the largest predictive
  variance, update the posterior as if its label were known (a Bayesian linear model's
  posterior covariance does not depend on the label's value), pick again. Unlike the
  top-k of ``uncertainty`` it never spends two picks on what one label already teaches.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from ..errors import UsageError
from ..features.lambda_soap import LambdaSoapFeaturizer, LambdaSoapHypers
from .base import SupportsPosterior, SupportsUncertainty, TensorModel
from .metrics import frame_uncertainty

STRATEGIES = ("fps", "uncertainty", "mixed", "variance")


def invariant_descriptors(frames: Sequence[Atoms], hypers: LambdaSoapHypers | None = None
                          ) -> np.ndarray:
    """Per-atom lambda = 0 lambda-SOAP features (n, P0), standardised per property."""
    if hypers is None or not hypers.species:
        species = sorted({s for a in frames for s in a.get_chemical_symbols()})
        base = hypers.to_dict() if hypers is not None else {}
        hypers = LambdaSoapHypers.from_dict({**base, "species": species})
    lambda0 = LambdaSoapFeaturizer(hypers).compute_arrays(list(frames)).lambda0
    return descriptors_from_features(lambda0, np.array([len(a) for a in frames]))


def descriptors_from_features(lambda0: np.ndarray, n_atoms: np.ndarray) -> np.ndarray:
    """Standardised per-atom descriptors from structure-level lambda = 0 features (n, 1, P)."""
    features = lambda0[:, 0, :] / np.asarray(n_atoms, dtype=float)[:, None]
    std = features.std(axis=0)
    std[std == 0] = 1.0
    return (features - features.mean(axis=0)) / std


#: Largest number of pool x known distances held in memory at once (8 bytes each).
DISTANCE_BLOCK = 4_000_000


def distances_to_set(points: np.ndarray, centres: np.ndarray,
                     block: int = DISTANCE_BLOCK) -> np.ndarray:
    """Euclidean distance from each row of ``points`` to its nearest row of ``centres``.

    Parameters
    ----------
    points : ndarray, shape (n, P)
    centres : ndarray, shape (m, P), m >= 1
    block : int
        At most this many point-centre distances are held in memory at once.

    Returns
    -------
    ndarray, shape (n,)
    """
    from scipy.spatial.distance import cdist

    points = np.asarray(points, dtype=float)
    centres = np.asarray(centres, dtype=float)
    rows = max(1, block // max(1, len(centres)))
    cols = max(1, block // rows)
    out = np.full(len(points), np.inf)
    for a in range(0, len(points), rows):
        for b in range(0, len(centres), cols):
            np.minimum(out[a:a + rows], cdist(points[a:a + rows], centres[b:b + cols]).min(
                axis=1), out=out[a:a + rows])
    return out


def farthest_point_sampling(descriptors: np.ndarray, n: int,
                            known: np.ndarray | None = None) -> list[int]:
    """Indices of ``n`` rows of ``descriptors`` picked by standard farthest-point sampling.

    Each pick maximises the Euclidean distance to the nearest frame already picked or
    ``known`` (as scikit-matter's ``FPS`` does). The first pick, when nothing is known, is
    the row farthest from the pool mean (the mean is only used to start: it is not a
    pick). Memory is O(n_pool) besides the blocks of :func:`distances_to_set`.

    Parameters
    ----------
    descriptors : ndarray, shape (n_pool, P)
        Pool descriptors.
    n : int
        Number of rows to pick (at most ``n_pool``).
    known : ndarray, shape (n_known, P), optional
        Descriptors of frames already labelled: distances start from them.

    Returns
    -------
    list of int
        Pool indices in pick order.
    """
    descriptors = np.asarray(descriptors, dtype=float)
    n_pool = descriptors.shape[0]
    if n > n_pool:
        raise UsageError(f"cannot select {n} frames from a pool of {n_pool}")
    picked: list[int] = []
    if known is not None and len(known):
        dist = distances_to_set(descriptors, known)
    else:
        if n < 1:
            return picked
        first = int(np.argmax(np.linalg.norm(descriptors - descriptors.mean(axis=0), axis=1)))
        picked.append(first)
        dist = np.linalg.norm(descriptors - descriptors[first], axis=1)
        dist[first] = -np.inf
    while len(picked) < n:
        i = int(np.argmax(dist))
        picked.append(i)
        np.minimum(dist, np.linalg.norm(descriptors - descriptors[i], axis=1), out=dist)
        dist[picked] = -np.inf
    return picked


def select_indices(descriptors: np.ndarray, n: int, strategy: str = "fps",
                   uncertainty: np.ndarray | None = None,
                   known: np.ndarray | None = None) -> list[int]:
    """Array-level selection: ``descriptors`` (n_pool, P), ``uncertainty`` (n_pool,)."""
    if strategy not in STRATEGIES:
        raise UsageError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    if n < 1:
        raise UsageError(f"the number of frames to select must be >= 1, got {n}")
    known = np.zeros((0, descriptors.shape[1])) if known is None else known
    if strategy == "fps":
        return farthest_point_sampling(descriptors, n, known)
    if strategy == "variance":
        raise UsageError("strategy 'variance' works on a model's features: use "
                         "select_frames or greedy_variance_selection")
    if uncertainty is None:
        raise UsageError(f"strategy {strategy!r} needs a per-frame uncertainty (from a model "
                         "that gives one)")
    n_unc = n if strategy == "uncertainty" else max(1, n // 2)
    order = np.argsort(-np.asarray(uncertainty), kind="stable")
    typical = np.median(np.linalg.norm(descriptors - descriptors.mean(axis=0), axis=1))
    picked: list[int] = []
    for i in order:
        if len(picked) == n_unc:
            break
        if picked and np.min(np.linalg.norm(descriptors[picked] - descriptors[i], axis=1)) < (
                0.1 * typical):
            continue
        picked.append(int(i))
    if len(picked) < n:
        rest = [i for i in range(len(descriptors)) if i not in set(picked)]
        extra = farthest_point_sampling(descriptors[rest], n - len(picked),
                                        np.concatenate([known, descriptors[picked]]))
        picked.extend(rest[i] for i in extra)
    return picked


def select_frames(frames: Sequence[Atoms], n: int, strategy: str = "fps",
                  model: TensorModel | None = None,
                  known: Sequence[Atoms] = ()) -> tuple[list[int], np.ndarray | None]:
    """Pick ``n`` frames; returns their indices and (for model strategies) uncertainties."""
    if strategy not in STRATEGIES:
        raise UsageError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    if strategy == "variance":  # works on the model's own features: featurise once
        if not isinstance(model, SupportsPosterior):
            raise UsageError("strategy 'variance' needs a model with a posterior over its "
                             "features (a fitted lambda-soap model)")
        features = model.compute_features(frames)
        uncertainty = frame_uncertainty(model.predict_features_std(features))
        known_features = model.compute_features(known) if len(known) else None
        return greedy_variance_selection(model, features, n, known_features), uncertainty
    hypers = getattr(model, "hypers", None)
    descriptors = invariant_descriptors([*frames, *known], hypers)
    pool_desc, known_desc = descriptors[: len(frames)], descriptors[len(frames):]
    uncertainty = None
    if strategy != "fps":
        if not isinstance(model, SupportsUncertainty):
            raise UsageError(f"strategy {strategy!r} needs a model with uncertainties")
        _, std = model.predict_with_uncertainty(list(frames))
        uncertainty = frame_uncertainty(std)
    return select_indices(pool_desc, n, strategy, uncertainty, known_desc), uncertainty


def greedy_variance_selection(model, features, n: int, known=None,
                              objective: str = "max") -> list[int]:
    """Pick ``n`` frames that most reduce a lambda-soap model's predictive variance.

    ``model``: a fitted :class:`~ase_raman.models.lambda_soap.LambdaSoapRidge` with
    uncertainty; ``features``: the pool's
    :class:`~ase_raman.features.lambda_soap.StructureFeatures` (same featuriser).
    In each lambda block, with standardised features ``x`` and posterior precision
    ``A = X^T X + lam I`` (noise variance 1 in these units), the matrix
    ``K = X_pool A^-1 X_pool^T`` over all pool components gives every predictive variance
    (``s2 (1 + K_jj)``, ``s2`` the block's calibrated noise variance). Each step picks the
    frame with the largest summed variance over both blocks and all components, then
    conditions on it: ``K <- K - K[:, J] (I + K[J, J])^-1 K[J, :]`` (Woodbury; ``J`` its
    rows). ``known``: features of frames that will be labelled anyway (not in the model
    yet); the posterior is conditioned on them first. Cost per step O((n_pool c)^2 c) with
    c = 5 for lambda = 2. Returns pool indices in pick order.

    ``objective``: ``"max"`` picks the frame whose own variance is largest (it favours the
    pool's outliers); ``"integrated"`` picks the frame whose label would most reduce the
    variance summed over the whole pool, ``tr(K[P, J] (I + K[J, J])^-1 K[J, P])`` (a
    greedy V-optimal design: it favours frames typical of many others, which is what a
    held-out set drawn from the same MD rewards).
    """
    if objective not in ("max", "integrated"):
        raise UsageError(f"objective must be 'max' or 'integrated', got {objective!r}")
    n_pool = len(features)
    if n > n_pool:
        raise UsageError(f"cannot select {n} frames from a pool of {n_pool}")
    n_known = 0 if known is None else len(known)
    if n_known:
        features = features.concatenate(known)
    n_all = n_pool + n_known
    blocks = []
    # lambda = 0 is learned per atom: a frame's variance in Angstrom^6 is atoms^2 times
    # the block's; lambda = 2 is extensive as is
    atoms = model.lambda0_atoms(features)[:n_pool]
    for lam, feats, frame_weight in ((0, model.lambda0_inputs(features), atoms**2),
                                     (2, features.lambda2, np.ones(n_pool))):
        block = model.blocks[lam]
        if not block.has_uncertainty:
            raise UsageError("the model holds no uncertainty information; refit it")
        x = block.standardise(feats)  # (n_pool, c, P)
        c = x.shape[1]
        rows = x.reshape(n_all * c, -1)
        proj = rows @ block.posterior_basis
        k = (proj * block.posterior_weights) @ proj.T + (rows @ rows.T - proj @ proj.T
                                                         ) / block.penalty
        blocks.append((block.calibration * block.noise_var, c, k, frame_weight))

    def condition(frame: int) -> None:
        for _, c, k, _ in blocks:
            rows = np.arange(frame * c, (frame + 1) * c)
            kj = k[:, rows]
            k -= kj @ np.linalg.solve(np.eye(c) + k[np.ix_(rows, rows)], kj.T)

    for frame in range(n_pool, n_all):
        condition(frame)
    picked: list[int] = []
    available = np.ones(n_pool, dtype=bool)
    for _ in range(n):
        score = np.zeros(n_pool)
        for s2, c, k, weight in blocks:
            if objective == "max":
                score += s2 * weight * np.diag(k)[: n_pool * c].reshape(n_pool, c).sum(axis=1)
            else:
                score += s2 * _pool_variance_reduction(k[: n_pool * c, : n_pool * c], c,
                                                       weight)
        score[~available] = -np.inf
        best = int(np.argmax(score))
        picked.append(best)
        available[best] = False
        condition(best)
    return picked


def _pool_variance_reduction(k: np.ndarray, c: int, weight: np.ndarray | None = None
                             ) -> np.ndarray:
    """For each frame j of a pool with posterior matrix ``k`` (n c, n c), the drop of the
    pool's summed predictive variance if j were labelled: tr(S_j^-1 G_j) with
    S_j = I + K[J, J] and G_j = K[J, :] W K[:, J] (J the c rows of frame j; W the
    per-frame ``weight`` (n,) that turns the block's variance into the frame's)."""
    n = k.shape[0] // c
    weight = np.ones(n) if weight is None else np.asarray(weight, float)
    cols = k.reshape(n * c, n, c)
    gram = np.einsum("ajc,a,ajd->jcd", cols, np.repeat(weight, c), cols)
    own = k.reshape(n, c, n, c)[np.arange(n), :, np.arange(n), :] + np.eye(c)
    return np.einsum("jcc->j", np.linalg.solve(own, gram))
