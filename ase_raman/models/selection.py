"""Active selection of the snapshots worth a DFPT calculation.

Strategies (all deterministic for a given pool, model and seed):

* ``fps``: farthest-point sampling in the space of standardised, per-atom lambda = 0
  lambda-SOAP features (rotation invariant); needs no model. The first pick is the
  frame farthest from the pool mean; each next pick maximises the distance to the
  frames already picked (and to ``already_known`` frames, e.g. the current training set).
* ``uncertainty``: the frames with the largest predictive uncertainty of a model
  (:meth:`LambdaSoapRidge.predict_with_uncertainty`), greedily, skipping near-duplicates
  (frames closer in feature space than 10% of the typical nearest-pick distance).
* ``mixed``: half by uncertainty, the rest by farthest-point sampling from those.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from ..errors import UsageError
from ..features.lambda_soap import LambdaSoapFeaturizer, LambdaSoapHypers
from .metrics import frame_uncertainty

STRATEGIES = ("fps", "uncertainty", "mixed")


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


def farthest_point_sampling(descriptors: np.ndarray, n: int,
                            known: np.ndarray | None = None) -> list[int]:
    """Indices of ``n`` rows of ``descriptors`` picked by farthest-point sampling.

    ``known``: descriptors of frames already labelled (excluded from the distance start).
    """
    n_pool = descriptors.shape[0]
    if n > n_pool:
        raise UsageError(f"cannot select {n} frames from a pool of {n_pool}")
    if known is not None and len(known):
        dist = np.min(np.linalg.norm(descriptors[:, None, :] - known[None, :, :], axis=-1),
                      axis=1)
    else:
        dist = np.linalg.norm(descriptors - descriptors.mean(axis=0), axis=1)
    picked: list[int] = []
    for _ in range(n):
        i = int(np.argmax(dist))
        picked.append(i)
        dist = np.minimum(dist, np.linalg.norm(descriptors - descriptors[i], axis=1))
        dist[picked] = -np.inf
    return picked


def select_indices(descriptors: np.ndarray, n: int, strategy: str = "fps",
                   uncertainty: np.ndarray | None = None,
                   known: np.ndarray | None = None) -> list[int]:
    """Array-level selection: ``descriptors`` (n_pool, P), ``uncertainty`` (n_pool,)."""
    if strategy not in STRATEGIES:
        raise UsageError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    if n < 1:
        raise UsageError(f"--n must be >= 1, got {n}")
    known = np.zeros((0, descriptors.shape[1])) if known is None else known
    if strategy == "fps":
        return farthest_point_sampling(descriptors, n, known)
    if uncertainty is None:
        raise UsageError(f"strategy {strategy!r} needs a model with uncertainties (--model)")
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


def select_frames(frames: Sequence[Atoms], n: int, strategy: str = "fps", model=None,
                  known: Sequence[Atoms] = ()) -> tuple[list[int], np.ndarray | None]:
    """Pick ``n`` frames; returns their indices and (for model strategies) uncertainties."""
    if strategy not in STRATEGIES:
        raise UsageError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    hypers = getattr(model, "hypers", None)
    descriptors = invariant_descriptors([*frames, *known], hypers)
    pool_desc, known_desc = descriptors[: len(frames)], descriptors[len(frames):]
    uncertainty = None
    if strategy != "fps":
        if model is None or not hasattr(model, "predict_with_uncertainty"):
            raise UsageError(f"strategy {strategy!r} needs a model with uncertainties (--model)")
        _, std = model.predict_with_uncertainty(list(frames))
        uncertainty = frame_uncertainty(std)
    return select_indices(pool_desc, n, strategy, uncertainty, known_desc), uncertainty
