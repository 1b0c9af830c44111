"""A random forest stored as plain arrays and evaluated with numpy.

scikit-learn fits the forest (:func:`fit_forest`); :class:`Forest` keeps only the
arrays its prediction needs, per tree: ``children_left``, ``children_right``,
``feature``, ``threshold``, ``missing_go_to_left`` and the leaf ``value``. They go
into the model file as JSON numbers (:meth:`Forest.to_json`) and come back through
:meth:`Forest.from_json`, which checks every array (lengths, child indices pointing
forward, feature indices in range, finite numbers) before use: loading never runs
code, and a crafted file cannot make the prediction loop forever or index out of
range.

:meth:`Forest.per_tree` evaluates all trees for a block of rows at once: one node
index per (row, tree), moved one level down per step (leaves point to themselves),
so the work is a few gathers per tree level. Like scikit-learn, the features are
compared as float32 values (scikit-learn casts ``X`` to float32 before the
comparisons); a NaN feature goes to the side ``missing_go_to_left`` names. The
result equals ``tree.predict`` of every scikit-learn tree (checked in the tests).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: rows evaluated together in :meth:`Forest.per_tree`.
BLOCK_ROWS = 1024
TREE_KEYS = ("children_left", "children_right", "feature", "threshold", "missing_go_to_left",
             "value")


class ForestFormatError(ValueError):
    """The arrays of a stored forest are inconsistent."""


@dataclass
class Forest:
    """All trees of a forest, concatenated: node ``i`` of tree ``t`` is ``roots[t] + i``."""

    n_features: int
    roots: np.ndarray        # (n_trees,) index of each tree's root
    left: np.ndarray         # (n_nodes,) left child; a leaf points to itself
    right: np.ndarray        # (n_nodes,) right child; a leaf points to itself
    feature: np.ndarray      # (n_nodes,) split feature (0 at leaves)
    threshold: np.ndarray    # (n_nodes,) go left when x <= threshold
    missing_left: np.ndarray  # (n_nodes,) bool: a NaN goes left
    value: np.ndarray        # (n_nodes,) prediction at the node (used at leaves)
    is_leaf: np.ndarray      # (n_nodes,) bool

    @property
    def n_trees(self) -> int:
        return len(self.roots)

    @classmethod
    def from_trees(cls, trees: list[dict], n_features: int) -> Forest:
        """Build from per-tree arrays (scikit-learn's layout: children ``-1`` at leaves,
        ``feature`` ``-2`` at leaves); raises :class:`ForestFormatError` when they are
        inconsistent."""
        if not trees:
            raise ForestFormatError("no trees")
        parts = {k: [] for k in ("left", "right", "feature", "threshold", "missing", "value")}
        roots, offset = [], 0
        for t, tree in enumerate(trees):
            left = np.asarray(tree["children_left"], dtype=np.int64)
            right = np.asarray(tree["children_right"], dtype=np.int64)
            feat = np.asarray(tree["feature"], dtype=np.int64)
            thr = np.asarray(tree["threshold"], dtype=np.float64)
            miss = np.asarray(tree["missing_go_to_left"], dtype=np.int64)
            value = np.asarray(tree["value"], dtype=np.float64)
            n = len(left)
            if n == 0 or any(a.ndim != 1 or len(a) != n
                             for a in (right, feat, thr, miss, value)):
                raise ForestFormatError(f"tree {t}: arrays of different lengths or shapes")
            idx = np.arange(n)
            leaf = left == -1
            if not np.array_equal(leaf, right == -1):
                raise ForestFormatError(f"tree {t}: a node has only one child")
            inner = ~leaf
            # children after their parent: every path ends at a leaf in < n steps
            if np.any((left[inner] <= idx[inner]) | (left[inner] >= n)
                      | (right[inner] <= idx[inner]) | (right[inner] >= n)):
                raise ForestFormatError(f"tree {t}: child index out of order or range")
            if np.any((feat[inner] < 0) | (feat[inner] >= n_features)):
                raise ForestFormatError(f"tree {t}: feature index out of range")
            if np.any(np.isnan(thr[inner])) or not np.all(np.isfinite(value[leaf])):
                raise ForestFormatError(f"tree {t}: NaN threshold or non-finite leaf value")
            if np.any((miss < 0) | (miss > 1)):
                raise ForestFormatError(f"tree {t}: missing_go_to_left is not 0/1")
            parts["left"].append(np.where(leaf, idx, left) + offset)
            parts["right"].append(np.where(leaf, idx, right) + offset)
            parts["feature"].append(np.where(leaf, 0, feat))
            parts["threshold"].append(np.where(leaf, 0.0, thr))
            parts["missing"].append(miss.astype(bool))
            parts["value"].append(value)
            roots.append(offset)
            offset += n
        cat = {k: np.concatenate(v) for k, v in parts.items()}
        return cls(int(n_features), np.asarray(roots, dtype=np.int64), cat["left"],
                   cat["right"], cat["feature"], cat["threshold"], cat["missing"],
                   cat["value"], cat["left"] == np.arange(offset))

    @classmethod
    def from_sklearn(cls, forest) -> Forest:
        """The arrays of a fitted ``RandomForestRegressor`` (one output)."""
        trees = []
        for est in forest.estimators_:
            t = est.tree_
            if t.value.shape[1:] != (1, 1):
                raise ForestFormatError("only single-output regression forests are supported")
            trees.append({
                "children_left": t.children_left, "children_right": t.children_right,
                "feature": t.feature, "threshold": t.threshold,
                "missing_go_to_left": t.missing_go_to_left, "value": t.value[:, 0, 0]})
        return cls.from_trees(trees, int(forest.n_features_in_))

    def to_json(self) -> dict:
        """JSON-ready per-tree arrays in scikit-learn's layout (what :meth:`from_json`
        reads)."""
        bounds = list(self.roots) + [len(self.left)]
        trees = []
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
            leaf = self.is_leaf[start:stop]
            trees.append({
                "children_left": np.where(leaf, -1, self.left[start:stop] - start).tolist(),
                "children_right": np.where(leaf, -1, self.right[start:stop] - start).tolist(),
                "feature": np.where(leaf, -2, self.feature[start:stop]).tolist(),
                "threshold": [_json_number(v) for v in
                              np.where(leaf, -2.0, self.threshold[start:stop])],
                "missing_go_to_left": self.missing_left[start:stop].astype(int).tolist(),
                "value": self.value[start:stop].tolist()})
        return {"n_features": self.n_features, "trees": trees}

    @classmethod
    def from_json(cls, doc: object) -> Forest:
        """Inverse of :meth:`to_json`; raises :class:`ForestFormatError` on anything
        else."""
        if not (isinstance(doc, dict) and isinstance(doc.get("trees"), list)
                and isinstance(doc.get("n_features"), int) and doc["n_features"] > 0):
            raise ForestFormatError("not a forest (n_features and trees)")
        for t, tree in enumerate(doc["trees"]):
            if not (isinstance(tree, dict) and set(tree) == set(TREE_KEYS)
                    and all(isinstance(tree[k], list) for k in TREE_KEYS)):
                raise ForestFormatError(f"tree {t}: keys must be {', '.join(TREE_KEYS)}")
            for k in TREE_KEYS:
                kind = (int, float) if k in ("threshold", "value") else (int,)
                if k == "threshold":
                    tree = {**tree, k: [_INFINITIES.get(v, v) if isinstance(v, str) else v
                                        for v in tree[k]]}
                    doc["trees"][t] = tree
                if not all(isinstance(v, kind) and not isinstance(v, bool) for v in tree[k]):
                    raise ForestFormatError(f"tree {t}: {k} holds a non-number")
        return cls.from_trees(doc["trees"], doc["n_features"])

    def per_tree(self, X: np.ndarray) -> np.ndarray:
        """``(n_trees, n_rows)`` prediction of every tree for every row of ``X``."""
        X = self._check(X)
        out = np.empty((self.n_trees, len(X)))
        for start in range(0, len(X), BLOCK_ROWS):
            out[:, start:start + BLOCK_ROWS] = self._walk(X[start:start + BLOCK_ROWS]).T
        return out

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """``(n_rows, n_features)`` tree path contributions (Saabas), averaged over the
        trees: each split adds the change of the node value to its feature, so a row's
        contributions sum to its prediction minus the forest's mean root value."""
        X = self._check(X)
        out = np.zeros((len(X), self.n_features))
        for start in range(0, len(X), BLOCK_ROWS):
            block = X[start:start + BLOCK_ROWS]
            contrib = np.zeros((len(block), self.n_features))
            self._walk(block, contrib)
            out[start:start + BLOCK_ROWS] = contrib / self.n_trees
        return out

    def _check(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"X has shape {X.shape}; the forest needs {self.n_features} "
                             "columns")
        return X

    def _walk(self, X: np.ndarray, contrib: np.ndarray | None = None) -> np.ndarray:
        """Leaf values ``(n_rows, n_trees)``; adds path contributions to ``contrib``."""
        x32 = X.astype(np.float32).astype(np.float64)  # scikit-learn compares float32
        rows = np.arange(len(x32))[:, None]
        node = np.broadcast_to(self.roots, (len(x32), self.n_trees)).copy()
        for _ in range(len(self.left)):  # bound: a path visits each node once
            if self.is_leaf[node].all():
                break
            feat = self.feature[node]
            x = x32[rows, feat]
            go_left = np.where(np.isnan(x), self.missing_left[node], x <= self.threshold[node])
            new = np.where(go_left, self.left[node], self.right[node])
            if contrib is not None:
                np.add.at(contrib, (np.broadcast_to(rows, feat.shape), feat),
                          self.value[new] - self.value[node])
            node = new
        return self.value[node]


#: how :meth:`Forest.to_json` writes infinite thresholds (a split that separates the
#: rows with a missing value from all others), which JSON numbers cannot hold.
_INFINITIES = {"inf": math.inf, "-inf": -math.inf}


def _json_number(value: float) -> float | str:
    return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")


#: forest hyperparameter grids (every combination is tried by grouped CV).
FOREST_GRIDS: dict[str, dict[str, list]] = {
    "full": {
        "n_estimators": [200],
        "max_features": [None, 0.5, "sqrt"],
        "min_samples_leaf": [1, 2, 4],
    },
    "quick": {
        "n_estimators": [30],
        "max_features": [None],
        "min_samples_leaf": [2],
    },
}


def fit_forest(X: np.ndarray, y: np.ndarray, params: dict, seed: int,
               threads: int = 1) -> Forest:
    """Fit a scikit-learn ``RandomForestRegressor`` (squared error, bootstrap rows,
    NaN features allowed) and return its arrays."""
    from sklearn.ensemble import RandomForestRegressor

    rf = RandomForestRegressor(random_state=seed, n_jobs=threads, **params)
    rf.fit(X, y)
    return Forest.from_sklearn(rf)


def forest_mean_spread(forest: Forest, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over the trees and the trees' standard deviation, per row."""
    preds = forest.per_tree(X)
    spread = (preds.std(axis=0, ddof=1) if forest.n_trees > 1
              else np.zeros(preds.shape[1]))
    return preds.mean(axis=0), spread
