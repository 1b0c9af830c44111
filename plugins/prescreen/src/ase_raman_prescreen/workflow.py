"""The three actions of ``ase-raman prescreen``: fit, predict-and-rank, evaluate.

Every input is read and checked before anything is written; outputs are written
atomically (a failed run leaves no file and changes no existing one).
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ase_raman.atomic_write import atomic_output
from ase_raman.errors import InputFileError, UsageError

from . import __version__
from .features import CompositionFeaturizer
from .metrics import parity_plot, regression_metrics, write_importances
from .model import MODEL_FAMILIES, PrescreenModel, dumps_json, fit_target
from .table import (
    FEATURE_SETS,
    Columns,
    Design,
    all_feature_names,
    design_from_cifs,
    design_from_table,
    read_table,
)

#: first columns of ranked.csv (then E_a columns when the model has them, then the
#: candidates' own columns).
RANKED_COLUMNS = ("rank", "name", "formula", "log10_sigma_pred", "log10_sigma_err", "structure")
EA_COLUMNS = ("ea_pred_eV", "ea_err_eV")


def candidate_models(model_family: str = "auto", feature_set: str = "auto",
                     use_structure: bool = True) -> list[tuple[str, str]]:
    """The (model family, feature set) pairs ``fit`` compares by grouped CV.

    ``auto`` family: both; ``auto`` features: ``composition`` and ``structure`` for
    LightGBM, ``cell`` for the forest (the OBELiX authors' random-forest
    representation); ``use_structure=False`` keeps only ``composition``."""
    if model_family not in ("auto", *MODEL_FAMILIES):
        raise UsageError(f"--model-family {model_family}: one of auto, "
                         f"{', '.join(MODEL_FAMILIES)}")
    if feature_set not in ("auto", *FEATURE_SETS):
        raise UsageError(f"--features {feature_set}: one of auto, {', '.join(FEATURE_SETS)}")
    if not use_structure and feature_set not in ("auto", "composition"):
        raise UsageError(f"--no-structure and --features {feature_set} contradict each other")
    families = MODEL_FAMILIES if model_family == "auto" else (model_family,)
    auto = {"lightgbm": ("composition", "structure"), "forest": ("cell",)}
    pairs = []
    for family in families:
        if feature_set != "auto":
            sets: tuple[str, ...] = (feature_set,)
        elif not use_structure:
            sets = ("composition",)
        else:
            sets = auto[family]
        pairs += [(family, fs) for fs in sets]
    return pairs


def fit_from_table(train: str | Path, output: str | Path, cols: Columns, use_structure: bool,
                   grid: str = "full", n_folds: int = 5, n_ensemble: int = 5, seed: int = 0,
                   threads: int = 1, report_dir: str | Path | None = None,
                   censored_value: float | None = 1e-15,
                   log: Callable[..., None] = print, model_family: str = "auto",
                   feature_set: str = "auto") -> PrescreenModel:
    """Fit log10 sigma (and E_a when ``cols.ea``) on a table; write the model file.

    Every (model family, feature set) of :func:`candidate_models` is fitted with its
    own grid search on the same grouped folds; the one with the lowest out-of-fold MAE
    of log10 sigma is kept (the E_a model, if any, uses the same family and features).
    """
    featurizer = CompositionFeaturizer()
    table = read_table(train)
    pairs = candidate_models(model_family, feature_set, use_structure)
    designs = {fs: design_from_table(table, cols, featurizer, fs, targets=True,
                                     censored_value=censored_value)
               for fs in dict.fromkeys(fs for _, fs in pairs)}
    d = next(iter(designs.values()))
    log(f"{train}: {len(d.formulas)} rows, {len(set(d.groups))} chemical systems; "
        f"comparing {', '.join(f'{f}/{fs}' for f, fs in pairs)}")
    ea_mask = None
    if d.ea is not None:
        ea_mask = np.isfinite(d.ea)
        if ea_mask.sum() < 2 * n_folds:
            raise InputFileError(f"{train}: only {int(ea_mask.sum())} rows have {cols.ea!r}; "
                                 f"need at least {2 * n_folds} for the E_a model")

    def fit(tname: str, family: str, fs: str, mask: np.ndarray, y: np.ndarray):
        groups = [g for g, m in zip(d.groups, mask, strict=True) if m]
        return fit_target(tname, designs[fs].X[mask], y[mask], groups, grid=grid,
                          n_folds=n_folds, n_ensemble=n_ensemble, seed=seed,
                          threads=threads, log=log, family=family)

    everything = np.ones(len(d.formulas), bool)
    fitted, selection = {}, []
    for family, fs in pairs:
        fitted[family, fs] = fit("log10_sigma", family, fs, everything, d.log10_sigma)
        m = fitted[family, fs][0].cv["out_of_fold"]
        selection.append({"family": family, "feature_set": fs,
                          "n_features": designs[fs].X.shape[1], "cv_mae": m["mae"],
                          "cv_rmse": m["rmse"], "cv_spearman": m["spearman"]})
        log(f"{family}/{fs}: out-of-fold MAE {m['mae']:.3f}")
    family, fs = min(fitted, key=lambda k: fitted[k][0].cv["out_of_fold"]["mae"])
    log(f"chosen by CV: {family} on {fs} features")
    d = designs[fs]
    targets = {"log10_sigma": fitted[family, fs][0]}
    oof = {"log10_sigma": (d.log10_sigma, *fitted[family, fs][1:])}
    if ea_mask is not None:
        tm, mu, err = fit("ea_eV", family, fs, ea_mask, d.ea)
        targets["ea_eV"] = tm
        oof["ea_eV"] = (d.ea[ea_mask], mu, err)
    names = all_feature_names(fs)
    for tname, tm in targets.items():
        m = tm.cv["out_of_fold"]
        log(f"{tname}: chosen {tm.cv['chosen']}; out-of-fold MAE {m['mae']:.3f} RMSE "
            f"{m['rmse']:.3f} Spearman {m['spearman']:.3f}; error bar sqrt({tm.noise:.3f}^2 + "
            f"({tm.scale:.2f} x spread)^2), coverage 1/2 sigma {m['coverage_1sigma']:.2f}/"
            f"{m['coverage_2sigma']:.2f}")
    model = PrescreenModel(names, fs == "structure", cols.as_dict(), targets, {
        "plugin_version": __version__, "train_file": Path(train).name,
        "n_train": len(d.formulas), "censored_value": censored_value,
        "grid": grid, "folds": n_folds, "ensemble": n_ensemble, "seed": seed,
        "model_family": family, "feature_set": fs, "selection": selection},
        feature_set=fs)
    model.save(output)
    log(f"wrote {output}")
    if report_dir is not None:
        out = Path(report_dir)
        cv = {**{t: tm.cv for t, tm in targets.items()}, "selection": selection,
              "chosen": {"family": family, "feature_set": fs}}
        with atomic_output(out / "cv.json") as tmp:
            tmp.write_text(dumps_json(cv))
        for tname, (y, mu, err) in oof.items():
            label = "log10 sigma (S/cm)" if tname == "log10_sigma" else "E_a (eV)"
            suffix = "" if tname == "log10_sigma" else f"_{tname}"
            parity_plot(y, mu, err, out / f"parity_cv{suffix}.png",
                        f"{Path(train).name}: out-of-fold ({n_folds} grouped folds)", label)
        shap = targets["log10_sigma"].shap(d.X)
        write_importances(names, shap, out / "importances.csv", out / "importances.png",
                          method="path" if family == "forest" else "shap")
        log(f"wrote {out}/cv.json, parity_cv.png, importances.csv, importances.png")
    return model


def _collect_inputs(inputs: Sequence[str]) -> tuple[list[Path], list[Path]]:
    tables, cifs = [], []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(p.glob("*.cif"))
            if not found:
                raise InputFileError(f"{p}: folder has no .cif files")
            cifs.extend(found)
        elif p.suffix.lower() == ".cif":
            cifs.append(p)
        elif p.suffix.lower() in (".csv", ".txt") or p.is_file():
            tables.append(p)
        else:
            raise InputFileError(f"{p}: no such file")
    return tables, cifs


def _designs(model: PrescreenModel, inputs: Sequence[str], cols: Columns,
             featurizer: CompositionFeaturizer) -> list[tuple[Design, list[dict[str, str]]]]:
    tables, cifs = _collect_inputs(inputs)
    out = []
    for path in tables:
        table = read_table(path)
        out.append((design_from_table(table, cols, featurizer, model.feature_set),
                    table.rows))
    if cifs:
        d = design_from_cifs(cifs, featurizer, model.feature_set)
        out.append((d, [{} for _ in cifs]))
    return out


def predict_and_rank(model_path: str | Path, inputs: Sequence[str], output: str | Path,
                     cols: Columns, top: int | None = None,
                     manifest: str | Path | None = None,
                     threads: int | None = None) -> list[dict]:
    """Rank every candidate by predicted log10 sigma; write ``output`` (and ``manifest``).

    ``threads``: LightGBM threads for the prediction (default: the usable cores)."""
    if (top is None) != (manifest is None):
        raise UsageError("--top K and --manifest FILE go together")
    if top is not None and top < 1:
        raise UsageError(f"--top {top}: at least 1")
    if threads is not None and threads < 1:
        raise UsageError(f"--threads {threads}: at least 1")
    model = PrescreenModel.load(model_path)
    featurizer = CompositionFeaturizer()
    rows: list[dict] = []
    user_cols: list[str] = []
    for d, raw in _designs(model, inputs, cols, featurizer):
        if d.X.shape[1] != len(model.feature_names):
            raise InputFileError(f"{model_path}: model expects {len(model.feature_names)} "
                                 f"features, the input gives {d.X.shape[1]}")
        _note_missing_geometry(model.feature_set, d)
        mu, err = model.targets["log10_sigma"].predict(d.X, threads)
        ea = (model.targets["ea_eV"].predict(d.X, threads) if "ea_eV" in model.targets
              else None)
        for i, formula in enumerate(d.formulas):
            row = {"name": d.names[i], "formula": formula, "log10_sigma_pred": mu[i],
                   "log10_sigma_err": err[i], "structure": d.structures[i] or ""}
            if ea is not None:
                row["ea_pred_eV"], row["ea_err_eV"] = ea[0][i], ea[1][i]
            extra = {k: v for k, v in raw[i].items() if k not in row and k != "rank"}
            user_cols += [k for k in extra if k not in user_cols]
            rows.append({**row, "_extra": extra})
    names = [r["name"] for r in rows]
    if len(set(names)) != len(names):
        seen: dict[str, int] = {}
        for r in rows:
            n = seen.get(r["name"], 0)
            seen[r["name"]] = n + 1
            if n:
                r["name"] = f"{r['name']}_{n + 1}"
    order = np.argsort(-np.array([r["log10_sigma_pred"] for r in rows]), kind="stable")
    ranked = []
    for k, i in enumerate(order, 1):
        rows[i]["rank"] = k
        ranked.append(rows[i])
    header = list(RANKED_COLUMNS) + (list(EA_COLUMNS) if "ea_eV" in model.targets else [])
    header += user_cols
    with contextlib.ExitStack() as stack:
        tmp_csv = stack.enter_context(atomic_output(output))
        with open(tmp_csv, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            for r in ranked:
                vals = {**r["_extra"], **{k: v for k, v in r.items() if k != "_extra"}}
                w.writerow([_cell(vals.get(c, "")) for c in header])
        if manifest is not None:
            tmp_yaml = stack.enter_context(atomic_output(manifest))
            n_skipped = write_manifest(ranked, top, tmp_yaml, Path(manifest).parent,
                                       model_path)
            if n_skipped:
                print(f"ase-raman prescreen: {n_skipped} better-ranked candidates have no "
                      "structure (CIF) and are not in the manifest")
    return ranked


#: trailing design columns that come from a structure (CIF or table columns).
_GEOMETRY_COLUMNS = {"structure": 4, "cell": 7}


def _note_missing_geometry(feature_set: str, d: Design) -> None:
    """Say how many candidates lack the structure features the model was trained with
    (the trees then route them down the side seen most in training: less reliable)."""
    k = _GEOMETRY_COLUMNS.get(feature_set)
    if not k or not len(d.X):
        return
    missing = int(np.isnan(d.X[:, -k:]).all(axis=1).sum())
    if missing:
        print(f"ase-raman prescreen: {missing} of {len(d.X)} candidates have no structure "
              f"(CIF, or space group and lattice columns); the model uses {feature_set} "
              "features, so their predictions are less reliable")


def _cell(value: object) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4f}"
    return str(value)


#: per-material keys ``ase-raman screen`` accepts (it refuses any other key).
SCREEN_KEYS = ("name", "structure", "species", "charges", "polarizabilities", "family",
               "measured_sigma_S_cm", "esw_V", "band_gap_eV", "sigma_e_S_cm", "temperatures",
               "fixed_cell", "min_image_A", "seed")
_SCREEN_FLOAT_KEYS = ("measured_sigma_S_cm", "esw_V", "band_gap_eV", "sigma_e_S_cm",
                      "min_image_A")
#: candidate-table columns passed to the manifest under another key.
SCREEN_COLUMN_ALIASES = {"Family": "family", "Ionic conductivity (S cm-1)": "measured_sigma_S_cm"}


def _screen_name(name: str) -> str:
    """A material name ``ase-raman screen`` accepts (letters, digits, ``_ . + -``)."""
    clean = re.sub(r"[^A-Za-z0-9_.+-]", "_", name)
    return clean if re.match(r"^[A-Za-z0-9]", clean) else f"m_{clean}"


def _screen_entry(r: dict, base: Path) -> dict:
    cif = Path(r["structure"]).resolve()
    rel = os.path.relpath(cif, Path(base).resolve())
    entry: dict = {"name": _screen_name(r["name"]),
                   "structure": str(cif) if rel.startswith("..") else rel}
    for column, value in r["_extra"].items():
        key = SCREEN_COLUMN_ALIASES.get(column, column)
        if key not in SCREEN_KEYS or key in entry or not str(value).strip():
            continue
        if key in _SCREEN_FLOAT_KEYS or key == "seed":
            try:
                number = float(value)
            except ValueError:
                continue  # e.g. '<1E-10': not a measured value
            if not (math.isfinite(number) and number > 0) and key != "seed":
                continue
            entry[key] = int(number) if key == "seed" else number
        elif key in ("family", "species"):
            entry[key] = str(value).strip()
    return entry


def write_manifest(ranked: list[dict], top: int, path: Path, base: Path,
                   model_path: str | Path) -> int:
    """Write the ``top`` best candidates that have a structure as an ``ase-raman screen``
    manifest; returns how many better-ranked candidates lacked a structure.

    The manifest is the one ``ase-raman screen`` reads: a ``materials:`` list whose
    entries carry only keys it knows (:data:`SCREEN_KEYS`): ``name``, ``structure``
    (relative to the manifest's folder when the CIF lies below it, else absolute),
    and, from the candidate table's columns of the same name (or ``Family`` and
    ``Ionic conductivity (S cm-1)``), ``family``, ``species``, ``measured_sigma_S_cm``,
    ... The prescreen ranking (rank, formula, predicted log10 sigma and its error bar)
    stands in a comment above each entry::

        materials:
          # rank 1: Li10GeP2S12, predicted log10 sigma -2.41 +- 0.93 (S/cm)
          - name: lgps
            structure: cifs/lgps.cif
            family: LGPS
    """
    import yaml

    blocks, skipped = [], 0
    for r in ranked:
        if len(blocks) == top:
            break
        if not r["structure"]:
            skipped += 1
            continue
        comment = (f"  # rank {r['rank']}: {r['formula']}, predicted log10 sigma "
                   f"{float(r['log10_sigma_pred']):.2f} +- {float(r['log10_sigma_err']):.2f} "
                   "(S/cm)")
        if "ea_pred_eV" in r:
            comment += f", E_a {float(r['ea_pred_eV']):.3f} +- {float(r['ea_err_eV']):.3f} eV"
        body = yaml.safe_dump([_screen_entry(r, base)], sort_keys=False, allow_unicode=True)
        blocks.append(comment + "\n" + "".join(f"  {line}\n" for line in body.splitlines()))
    if not blocks:
        raise InputFileError("no candidate has a structure (CIF): the manifest needs one per "
                             "entry (give CIF files or a 'structure' column of CIF paths)")
    text = (f"# ase-raman screen manifest written by ase-raman prescreen predict (model: "
            f"{Path(model_path).name}):\n# the {len(blocks)} best-ranked candidates that "
            "have a structure\nmaterials:\n" + "".join(blocks))
    path.write_text(text)
    return skipped


def evaluate(model_path: str | Path, test: str | Path, cols: Columns,
             output: str | Path | None = None, parity: str | Path | None = None,
             predictions: str | Path | None = None,
             censored_value: float | None = 1e-15) -> dict:
    """Score a model on a table with measured conductivities (once: the test set)."""
    model = PrescreenModel.load(model_path)
    featurizer = CompositionFeaturizer()
    d = design_from_table(read_table(test), cols, featurizer, model.feature_set,
                          targets=True, censored_value=censored_value)
    mu, err = model.targets["log10_sigma"].predict(d.X)
    metrics = {"log10_sigma": regression_metrics(d.log10_sigma, mu, err),
               "model": Path(model_path).name, "test_file": Path(test).name}
    if "ea_eV" in model.targets and d.ea is not None and np.isfinite(d.ea).any():
        has = np.isfinite(d.ea)
        ea_mu, ea_err = model.targets["ea_eV"].predict(d.X[has])
        metrics["ea_eV"] = regression_metrics(d.ea[has], ea_mu, ea_err)
    if output is not None:
        with atomic_output(output) as tmp:
            tmp.write_text(dumps_json(metrics))
    if parity is not None:
        parity_plot(d.log10_sigma, mu, err, parity, f"{Path(test).name} (held out)")
    if predictions is not None:
        with atomic_output(predictions) as tmp, open(tmp, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["name", "formula", "log10_sigma", "log10_sigma_pred", "log10_sigma_err"])
            for i in range(len(mu)):
                w.writerow([d.names[i], d.formulas[i], f"{d.log10_sigma[i]:.4f}",
                            f"{mu[i]:.4f}", f"{err[i]:.4f}"])
    return metrics


__all__ = ["fit_from_table", "candidate_models", "predict_and_rank", "evaluate", "write_manifest",
           "RANKED_COLUMNS", "SCREEN_KEYS"]
