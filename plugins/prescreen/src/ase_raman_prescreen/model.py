"""Tree-ensemble regression with a calibrated error bar, and its safe model file.

Two model families: ``lightgbm`` (an ensemble of gradient-boosted LightGBM boosters)
and ``forest`` (a scikit-learn random forest, kept as arrays: :mod:`.forest`). Per
target (log10 sigma; E_a in eV where the data has it), :func:`fit_target`:

1. chooses the hyperparameters from a small grid by grouped K-fold
   cross-validation (rows of one chemical system stay in one fold, so near-duplicate
   compositions cannot leak between folds), scoring the mean absolute error;
2. with the chosen ones, fits the ensemble in every fold (boosters with different
   seeds, row and feature bagging; or the forest's bootstrapped trees): out-of-fold
   predictions ``mu`` and ensemble spreads ``s`` (standard deviation over the
   boosters, or over the trees);
3. calibrates the error bar ``err = sqrt(noise^2 + (scale * s)^2)`` by maximising the
   Gaussian likelihood of the out-of-fold residuals (``noise`` is the part of the error
   the ensemble does not see);
4. refits the ensemble on all rows.

The model file is a zip archive of JSON metadata and the boosters in LightGBM's own
text format, or the forest's tree arrays as JSON numbers: loading parses text and
numbers only, never runs code (no pickle). Any other member, a missing one, an
oversized one, inconsistent tree arrays or metadata of another format is refused.
Files of format version 1 (LightGBM only, before the forest) still load.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ase_raman.atomic_write import atomic_output
from ase_raman.errors import ModelFileError, UsageError

from .forest import FOREST_GRIDS, Forest, ForestFormatError, fit_forest, forest_mean_spread

FORMAT = "ase-raman-prescreen"
FORMAT_VERSION = 2
#: format versions this plugin reads (1: LightGBM only, no ``family``/``feature_set``).
READ_VERSIONS = (1, 2)
MODEL_FAMILIES = ("lightgbm", "forest")
METADATA_NAME = "metadata.json"
MAX_MEMBER_BYTES = 256 * 1024 * 1024
#: rows per LightGBM prediction call (see :meth:`TargetModel.predict`).
PREDICT_BLOCK_ROWS = 2048
#: boosting rounds (trees) per LightGBM prediction call (see :meth:`TargetModel.predict`).
PREDICT_TREE_CHUNK = 250

#: hyperparameter grids (every combination is tried).
GRIDS: dict[str, dict[str, list]] = {
    "full": {
        "num_leaves": [7, 15],
        "min_data_in_leaf": [10, 20, 40],
        "num_boost_round": [500, 1000, 2000],
        "objective": ["l2"],
    },
    "quick": {
        "num_leaves": [7],
        "min_data_in_leaf": [5],
        "num_boost_round": [60],
        "objective": ["l2"],
    },
}
FIXED_PARAMS = {
    "learning_rate": 0.03,
    "feature_fraction": 0.5,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "verbosity": -1,
    "deterministic": True,
    "force_row_wise": True,
}


@dataclass
class TargetModel:
    """An ensemble for one target (LightGBM boosters, or a random forest), with its
    error-bar calibration."""

    name: str
    boosters: list
    params: dict
    noise: float
    scale: float
    cv: dict = field(default_factory=dict)
    forest: Forest | None = None

    @property
    def family(self) -> str:
        return "forest" if self.forest is not None else "lightgbm"

    def predict(self, X: np.ndarray,
                threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Ensemble mean and calibrated 1-sigma error bar of every row of ``X``.

        Each booster predicts blocks of :data:`PREDICT_BLOCK_ROWS` rows, one LightGBM
        thread per call, the calls spread over ``threads`` Python threads (default:
        :func:`usable_cpus`; LightGBM releases the GIL). Unlike LightGBM's own OpenMP
        threads, a thread the OS deschedules on a busy machine holds up no other one.
        A block is evaluated :data:`PREDICT_TREE_CHUNK` trees at a time and the partial
        sums added in order (a regression booster's output is the sum of its trees):
        a chunk of small trees stays in the CPU cache, ~1.6x faster than all 2000 trees
        per row; the result differs from one whole-model call by rounding only (~1e-13)
        and is the same whatever the number of threads.
        """
        X = np.ascontiguousarray(X, dtype=np.float64)
        if self.forest is not None:
            mu, spread = forest_mean_spread(self.forest, X)
            return mu, np.sqrt(self.noise ** 2 + (self.scale * spread) ** 2)
        n_threads = threads or usable_cpus()
        blocks = [slice(i, i + PREDICT_BLOCK_ROWS) for i in range(0, len(X), PREDICT_BLOCK_ROWS)]
        preds = np.empty((len(self.boosters), len(X)))
        jobs = [(k, b) for k in range(len(self.boosters)) for b in blocks]

        def run(job: tuple[int, slice]) -> None:
            k, rows = job
            booster = self.boosters[k]
            total = np.zeros(len(X[rows]))
            for start in range(0, max(booster.current_iteration(), 1), PREDICT_TREE_CHUNK):
                total += booster.predict(X[rows], start_iteration=start,
                                         num_iteration=PREDICT_TREE_CHUNK, num_threads=1)
            preds[k, rows] = total

        if n_threads == 1 or len(jobs) <= 1:
            for job in jobs:
                run(job)
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(min(n_threads, len(jobs))) as pool:
                list(pool.map(run, jobs))
        mu = preds.mean(axis=0)
        spread = preds.std(axis=0, ddof=1) if len(self.boosters) > 1 else np.zeros_like(mu)
        return mu, np.sqrt(self.noise ** 2 + (self.scale * spread) ** 2)

    def shap(self, X: np.ndarray) -> np.ndarray:
        """TreeSHAP contributions ``(n_rows, n_features)``, averaged over the ensemble
        (for a forest: tree path contributions, :meth:`.Forest.contributions`)."""
        if self.forest is not None:
            return self.forest.contributions(X)
        contrib = [b.predict(X, pred_contrib=True) for b in self.boosters]
        return np.mean(contrib, axis=0)[:, :-1]


def usable_cpus() -> int:
    """CPU cores this process may run on (its affinity mask, else ``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _train(X: np.ndarray, y: np.ndarray, params: dict, seed: int):
    import lightgbm as lgb

    p = {**FIXED_PARAMS, **params, "seed": seed}
    rounds = p.pop("num_boost_round")
    data = lgb.Dataset(X, y, free_raw_data=True, params={"verbosity": -1})
    return lgb.train(p, data, num_boost_round=rounds)


def _folds(groups: list[str], n_folds: int, seed: int) -> list[np.ndarray]:
    """Fold index of each row: whole chemical systems per fold, shuffled by ``seed``."""
    from sklearn.model_selection import GroupKFold

    unique = sorted(set(groups))
    if len(unique) < n_folds:
        raise UsageError(f"{len(unique)} chemical systems are too few for {n_folds}-fold "
                         "cross-validation (lower --folds or add data)")
    rng = np.random.default_rng(seed)
    relabel = dict(zip(unique, rng.permutation(len(unique)), strict=True))
    g = np.array([relabel[x] for x in groups])
    return [test for _, test in GroupKFold(n_splits=n_folds).split(g, groups=g)]


def _oof(X, y, folds, params, seeds,
         rounds: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold ensemble mean and spread; with ``rounds``, the means after each of
    those numbers of boosting rounds (one training per fold and seed), ``(len(rounds), n)``."""
    steps = rounds or [params["num_boost_round"]]
    fit_params = {**params, "num_boost_round": max(steps)}
    mu = np.empty((len(steps), len(y)))
    spread = np.zeros(len(y))
    for test in folds:
        train = np.setdiff1d(np.arange(len(y)), test)
        boosters = [_train(X[train], y[train], fit_params, s) for s in seeds]
        for j, k in enumerate(steps):
            preds = np.stack([b.predict(X[test], num_iteration=k) for b in boosters])
            mu[j, test] = preds.mean(axis=0)
            if len(seeds) > 1 and k == steps[-1]:
                spread[test] = preds.std(axis=0, ddof=1)
    return (mu if rounds else mu[0]), spread


def calibrate(residual: np.ndarray, spread: np.ndarray) -> tuple[float, float]:
    """``(noise, scale)`` maximising the Gaussian likelihood of ``residual`` with
    variance ``noise^2 + (scale * spread)^2``."""
    from scipy.optimize import minimize

    r2 = residual ** 2
    s2 = spread ** 2

    def nll(theta):
        var = np.exp(2 * theta[0]) + np.exp(2 * theta[1]) * s2
        return 0.5 * np.sum(np.log(var) + r2 / var)

    start = [0.5 * math.log(max(r2.mean(), 1e-12)), 0.0]
    res = minimize(nll, start, method="Nelder-Mead",
                   options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 2000})
    return float(math.exp(res.x[0])), float(math.exp(res.x[1]))


def fit_target(name: str, X: np.ndarray, y: np.ndarray, groups: list[str], grid: str = "full",
               n_folds: int = 5, n_ensemble: int = 5, seed: int = 0, threads: int = 1,
               log=print, family: str = "lightgbm") -> tuple[TargetModel, np.ndarray, np.ndarray]:
    """Fit one target; returns the model and its out-of-fold predictions and errors.

    ``family``: ``lightgbm`` (``n_ensemble`` boosters) or ``forest`` (one random
    forest; ``n_ensemble`` is not used)."""
    if grid not in GRIDS:
        raise UsageError(f"--grid {grid}: one of {', '.join(GRIDS)}")
    if n_ensemble < 1:
        raise UsageError("--ensemble must be at least 1")
    if family not in MODEL_FAMILIES:
        raise UsageError(f"model family {family!r}: one of {', '.join(MODEL_FAMILIES)}")
    folds = _folds(groups, n_folds, seed)
    if family == "forest":
        return _fit_forest_target(name, X, y, folds, grid, seed, threads, log)
    return _fit_lightgbm_target(name, X, y, folds, grid, n_ensemble, seed, threads, log)


def _finish(y: np.ndarray, mu: np.ndarray, spread: np.ndarray, cv: dict,
            ) -> tuple[float, float, np.ndarray, dict]:
    """Calibrate the error bar on out-of-fold residuals; add the out-of-fold metrics."""
    from .metrics import regression_metrics

    noise, scale = calibrate(mu - y, spread) if len(y) > 2 else (float("nan"), 1.0)
    err = np.sqrt(noise ** 2 + (scale * spread) ** 2)
    return noise, scale, err, {**cv, "out_of_fold": regression_metrics(y, mu, err)}


def _fit_forest_target(name, X, y, folds, grid, seed, threads,
                       log) -> tuple[TargetModel, np.ndarray, np.ndarray]:
    space = FOREST_GRIDS[grid]
    keys = list(space)
    best, best_mae, best_oof, table = None, math.inf, None, []
    for values in itertools.product(*(space[k] for k in keys)):
        params = dict(zip(keys, values, strict=True))
        mu, spread = np.empty(len(y)), np.zeros(len(y))
        for test in folds:
            train = np.setdiff1d(np.arange(len(y)), test)
            forest = fit_forest(X[train], y[train], params, seed, threads)
            mu[test], spread[test] = forest_mean_spread(forest, X[test])
        mae = float(np.mean(np.abs(mu - y)))
        table.append({**params, "cv_mae": mae})
        log(f"  {name} (forest): {params} -> CV MAE {mae:.3f}")
        if mae < best_mae:
            best, best_mae, best_oof = params, mae, (mu, spread)
    mu, spread = best_oof
    noise, scale, err, cv = _finish(y, mu, spread, {
        "family": "forest", "folds": len(folds), "grouping": "chemical system",
        "grid": table, "chosen": best})
    forest = fit_forest(X, y, best, seed, threads)
    return TargetModel(name, [], best, noise, scale, cv, forest), mu, err


def _fit_lightgbm_target(name, X, y, folds, grid, n_ensemble, seed, threads,
                         log) -> tuple[TargetModel, np.ndarray, np.ndarray]:
    space = dict(GRIDS[grid])
    rounds = sorted(space.pop("num_boost_round"))
    keys = list(space)
    best, best_mae, table = None, math.inf, []
    for values in itertools.product(*(space[k] for k in keys)):
        params = {**dict(zip(keys, values, strict=True)), "num_threads": threads,
                  "num_boost_round": rounds[-1]}
        mus, _ = _oof(X, y, folds, params, [seed], rounds=rounds)
        for k, mu in zip(rounds, mus, strict=True):
            mae = float(np.mean(np.abs(mu - y)))
            point = {**dict(zip(keys, values, strict=True)), "num_boost_round": k}
            table.append({**point, "cv_mae": mae})
            log(f"  {name}: {point} -> CV MAE {mae:.3f}")
            if mae < best_mae:
                best, best_mae = {**params, "num_boost_round": k}, mae
    keys = keys + ["num_boost_round"]
    seeds = [seed + k for k in range(n_ensemble)]
    mu, spread = _oof(X, y, folds, best, seeds)
    noise, scale, err, cv = _finish(y, mu, spread, {
        "family": "lightgbm", "folds": len(folds), "grouping": "chemical system",
        "grid": table, "chosen": {k: best[k] for k in keys}})
    boosters = [_train(X, y, best, s) for s in seeds]
    return TargetModel(name, boosters, best, noise, scale, cv), mu, err


@dataclass
class PrescreenModel:
    """Everything ``predict`` needs: features, columns, one :class:`TargetModel` per target."""

    feature_names: list[str]
    use_structure: bool
    columns: dict
    targets: dict[str, TargetModel]
    info: dict = field(default_factory=dict)
    #: ``composition``, ``structure`` or ``cell`` (see ``table.FEATURE_SETS``); empty:
    #: from ``use_structure`` (``structure`` or ``composition``).
    feature_set: str = ""

    def __post_init__(self) -> None:
        if not self.feature_set:
            self.feature_set = "structure" if self.use_structure else "composition"

    def save(self, path: str | Path) -> None:
        """Write the zip archive atomically."""
        members = {}
        meta_targets = {}
        for tname, tm in self.targets.items():
            entry = {"family": tm.family, "params": tm.params, "noise": tm.noise,
                     "scale": tm.scale, "cv": tm.cv}
            if tm.forest is not None:
                entry["forest"] = f"forest_{tname}.json"
                members[entry["forest"]] = json.dumps(tm.forest.to_json(),
                                                      allow_nan=False).encode()
            else:
                entry["boosters"] = []
                for k, booster in enumerate(tm.boosters):
                    member = f"booster_{tname}_{k}.txt"
                    members[member] = booster.model_to_string().encode()
                    entry["boosters"].append(member)
            meta_targets[tname] = entry
        meta = {"format": FORMAT, "format_version": FORMAT_VERSION,
                "feature_names": self.feature_names, "use_structure": self.use_structure,
                "feature_set": self.feature_set,
                "columns": self.columns, "targets": meta_targets, "info": self.info}
        with atomic_output(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(METADATA_NAME, dumps_json(meta))
            for member, data in members.items():
                zf.writestr(member, data)

    @classmethod
    def load(cls, path: str | Path) -> PrescreenModel:
        """Read a model file; refuses anything that is not exactly our format."""
        import lightgbm as lgb

        path = Path(path)
        if not path.is_file():
            raise ModelFileError(f"{path}: no such model file")
        if not zipfile.is_zipfile(path):
            raise ModelFileError(f"{path}: not a prescreen model file (a zip archive of JSON "
                                 "(and LightGBM text) written by 'ase-raman prescreen fit')")
        try:
            with zipfile.ZipFile(path) as zf:
                infos = {i.filename: i for i in zf.infolist()}
                if METADATA_NAME not in infos:
                    raise ModelFileError(f"{path}: no {METADATA_NAME} in the archive")
                meta = json.loads(_read_member(zf, infos[METADATA_NAME], path))
                _check_metadata(meta, path)
                expected = {METADATA_NAME} | {
                    m for t in meta["targets"].values() for m in _members(t)}
                extra = sorted(set(infos) - expected)
                missing = sorted(expected - set(infos))
                if extra or missing:
                    raise ModelFileError(
                        f"{path}: archive members do not match its metadata (unexpected: "
                        f"{extra or 'none'}; missing: {missing or 'none'}); refusing it")
                targets = {}
                for tname, t in meta["targets"].items():
                    boosters, forest = [], None
                    if t.get("family") == "forest":
                        forest = Forest.from_json(json.loads(
                            _read_member(zf, infos[t["forest"]], path)))
                        if forest.n_features != len(meta["feature_names"]):
                            raise ModelFileError(f"{path}: {t['forest']} has "
                                                 f"{forest.n_features} features, metadata "
                                                 f"{len(meta['feature_names'])}")
                    for member in t.get("boosters", []):
                        text = _read_member(zf, infos[member], path).decode("utf-8")
                        if not text.startswith("tree\n"):
                            raise ModelFileError(f"{path}: {member} is not a LightGBM text "
                                                 "model")
                        booster = lgb.Booster(model_str=text)
                        if booster.feature_name() and len(booster.feature_name()) != len(
                                meta["feature_names"]):
                            raise ModelFileError(f"{path}: {member} has "
                                                 f"{len(booster.feature_name())} features, "
                                                 f"metadata {len(meta['feature_names'])}")
                        boosters.append(booster)
                    targets[tname] = TargetModel(tname, boosters, dict(t["params"]),
                                                 _float(t["noise"]), _float(t["scale"]),
                                                 dict(t.get("cv", {})), forest)
        except ForestFormatError as exc:
            raise ModelFileError(f"{path}: damaged random forest ({exc}); refusing it") from None
        except (zipfile.BadZipFile, UnicodeDecodeError, json.JSONDecodeError, KeyError,
                TypeError, ValueError, lgb.basic.LightGBMError) as exc:
            raise ModelFileError(f"{path}: damaged prescreen model file ({exc})") from None
        return cls(list(meta["feature_names"]), bool(meta["use_structure"]),
                   dict(meta["columns"]), targets, dict(meta.get("info", {})),
                   str(meta.get("feature_set", "")))


def _float(value: object) -> float:
    return math.nan if value is None else float(value)  # type: ignore[arg-type]


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> bytes:
    if info.file_size > MAX_MEMBER_BYTES:
        raise ModelFileError(f"{path}: archive member {info.filename} is "
                             f"{info.file_size} bytes, over the {MAX_MEMBER_BYTES} limit")
    with zf.open(info) as fh:
        data = fh.read(MAX_MEMBER_BYTES + 1)
    if len(data) > MAX_MEMBER_BYTES:
        raise ModelFileError(f"{path}: archive member {info.filename} is too large")
    return data


def _check_metadata(meta: object, path: Path) -> None:
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a prescreen model file (metadata format is not "
                             f"{FORMAT!r})")
    if meta.get("format_version") not in READ_VERSIONS:
        raise ModelFileError(f"{path}: prescreen model format version "
                             f"{meta.get('format_version')!r}; this plugin reads "
                             f"{' and '.join(map(str, READ_VERSIONS))} (refit the model)")
    targets = meta.get("targets")
    if not isinstance(targets, dict) or "log10_sigma" not in targets:
        raise ModelFileError(f"{path}: metadata has no log10_sigma model")
    for tname, t in targets.items():
        family = t.get("family", "lightgbm") if isinstance(t, dict) else None
        if family == "forest":
            if not (isinstance(t.get("forest"), str) and t["forest"].endswith(".json")
                    and "/" not in t["forest"] and t["forest"] != METADATA_NAME
                    and "boosters" not in t):
                raise ModelFileError(f"{path}: metadata of target {tname!r} names no forest")
        elif not (family == "lightgbm" and isinstance(t.get("boosters"), list)
                  and t["boosters"] and "forest" not in t
                  and all(isinstance(m, str) and m.endswith(".txt") and "/" not in m
                          for m in t["boosters"])):
            raise ModelFileError(f"{path}: metadata of target {tname!r} lists no boosters")
    if not isinstance(meta.get("feature_names"), list):
        raise ModelFileError(f"{path}: metadata has no feature_names list")
    if meta.get("feature_set", "composition") not in ("composition", "structure", "cell"):
        raise ModelFileError(f"{path}: unknown feature set {meta.get('feature_set')!r}")


def _members(target: dict) -> list[str]:
    """Archive members of one target's metadata (checked by :func:`_check_metadata`)."""
    return [target["forest"]] if target.get("family") == "forest" else target["boosters"]


def dumps_json(obj: object) -> str:
    """JSON text of ``obj`` (NaN as null), for reports."""
    from ase_raman.jsonsafe import json_safe

    buf = io.StringIO()
    json.dump(json_safe(obj), buf, indent=1)
    return buf.getvalue()
