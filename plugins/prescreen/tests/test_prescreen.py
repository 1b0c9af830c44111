"""ase-raman prescreen: features against matminer, the CLI through the core's entry
point, model-file safety, bad input, calibration."""

from __future__ import annotations

import csv
import json
import pickle
import zipfile
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest
import yaml
from ase_raman_prescreen.features import CompositionFeaturizer, matminer_features
from ase_raman_prescreen.formula import FormulaError, parse_formula
from ase_raman_prescreen.metrics import regression_metrics, top_recall
from ase_raman_prescreen.model import PrescreenModel, calibrate
from ase_raman_prescreen.workflow import SCREEN_KEYS

from ase_raman.cli import main
from ase_raman.errors import ModelFileError

DATA = Path(__file__).parent / "data"
TRAIN = DATA / "obelix_train_subset.csv"
TEST = DATA / "obelix_test_subset.csv"
QUICK = ["--grid", "quick", "--folds", "3", "--ensemble", "3", "--quiet"]


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> tuple[Path, Path]:
    """A small model fitted through the CLI (quick grid), and its report folder."""
    out = tmp_path_factory.mktemp("fit")
    model = out / "prescreen.model"
    assert main(["prescreen", "fit", str(TRAIN), "-o", str(model), "--report",
                 str(out / "report"), "--model-family", "lightgbm", "--features", "structure",
                 *QUICK]) == 0
    return model, out / "report"


@pytest.fixture(scope="module")
def fitted_forest(tmp_path_factory) -> tuple[Path, Path]:
    """A small random forest on the cell features, fitted through the CLI."""
    out = tmp_path_factory.mktemp("fit_forest")
    model = out / "forest.model"
    assert main(["prescreen", "fit", str(TRAIN), "-o", str(model), "--report",
                 str(out / "report"), "--model-family", "forest", *QUICK]) == 0
    return model, out / "report"


def test_entry_point_registers_the_command():
    eps = {ep.name: ep.value for ep in entry_points(group="ase_raman.commands")}
    assert eps.get("prescreen") == "ase_raman_prescreen.cli"


def test_cached_features_equal_matminer():
    formulas = [r["True Composition"] for r in _rows(TRAIN)[:12]]
    formulas += ["Li7La3Zr2O12", "Li0.91Hf2.022(PO4)3", "Li6PS5Cl", "LiI"]
    ours = CompositionFeaturizer().featurize_many(formulas)
    ref = matminer_features(formulas)
    np.testing.assert_allclose(ours[:, :ref.shape[1]], ref, rtol=1e-10, atol=1e-10)
    assert np.isfinite(ours).all()


def test_formula_parsing_and_errors():
    assert parse_formula("Li2SO4*H2O") == pytest.approx({"Li": 2, "S": 1, "O": 5, "H": 2})
    assert parse_formula("CuSO4*5H2O")["H"] == pytest.approx(10)
    for bad, words in [("Xx2O", "unknown element"), ("", "empty"), ("Li2O)(", "cannot parse"),
                       ("Li-1O", "cannot parse")]:
        with pytest.raises(FormulaError, match=words):
            parse_formula(bad)


def test_fast_formula_parser_equals_pymatgen():
    """The fast parser gives pymatgen's amounts (same order) on every formula of the
    OBELiX subsets, and leaves anything unusual to pymatgen."""
    from ase_raman_prescreen.formula import _fast_amounts, _pymatgen_amounts

    formulas = {r[c] for path in (TRAIN, TEST) for r in _rows(path)
                for c in ("Reduced Composition", "True Composition")}
    formulas |= {"Li0.6[Li0.2Sn0.8S2]", "(Ag0.67Li0.33)0.27La0.57TiO3", "Li{PO3}2",
                 "Li2 O", "Li3Fe2(PO4)3", "Li.5CoO2", "((LiO)2Cl)3"}
    fast = 0
    for f in sorted(formulas):
        ours = _fast_amounts(f)
        if ours is None:
            continue
        fast += 1
        ref = _pymatgen_amounts(f, f)
        assert list(ours) == list(ref), f
        assert [ours[k] for k in ours] == pytest.approx([ref[k] for k in ref], rel=1e-12), f
    assert fast >= len(formulas) - 2
    for other in ("Li(PO4", "LiPO4)", "Li0O", "Xx2O", "Li1e-3O", "Fe2+O", "Li2O3-", "Uuo"):
        assert _fast_amounts(other) is None, other
    assert parse_formula("Li1e-1O") == pytest.approx({"Li": 0.1, "O": 1.0})  # via pymatgen


def test_fit_writes_safe_archive_and_report(fitted):
    model, report = fitted
    with zipfile.ZipFile(model) as zf:
        names = zf.namelist()
        meta = json.loads(zf.read("metadata.json"))
    assert all(n == "metadata.json" or (n.startswith("booster_") and n.endswith(".txt"))
               for n in names)
    assert len(meta["targets"]["log10_sigma"]["boosters"]) == 3
    cv = json.loads((report / "cv.json").read_text())["log10_sigma"]["out_of_fold"]
    assert cv["n"] == 160 and 0 < cv["mae"] < 4
    imp = _rows(report / "importances.csv")
    assert [r["rank"] for r in imp[:3]] == ["1", "2", "3"]
    assert float(imp[0]["mean_abs_shap"]) >= float(imp[-1]["mean_abs_shap"])
    assert (report / "importances.png").stat().st_size > 1000
    assert (report / "parity_cv.png").stat().st_size > 1000
    loaded = PrescreenModel.load(model)
    assert loaded.use_structure and len(loaded.feature_names) == 175


def test_predict_ranks_table_and_cifs_and_writes_manifest(fitted, tmp_path):
    model, _ = fitted
    cands = [{"name": r["ID"], "formula": r["True Composition"], "Family": r["Family"]}
             for r in _rows(TEST)]
    for c in cands:
        if (DATA / "cifs" / f"{c['name']}.cif").exists():
            c["structure"] = str(DATA / "cifs" / f"{c['name']}.cif")
        else:
            c["structure"] = ""
    table = _write(tmp_path / "cands.csv", cands)
    ranked, manifest = tmp_path / "ranked.csv", tmp_path / "out" / "screen.yaml"
    assert main(["prescreen", "predict", str(model), str(table), str(DATA / "cifs"),
                 "-o", str(ranked), "--top", "2", "--manifest", str(manifest)]) == 0
    rows = _rows(ranked)
    assert list(rows[0])[:6] == ["rank", "name", "formula", "log10_sigma_pred",
                                 "log10_sigma_err", "structure"]
    assert "Family" in rows[0]
    assert len(rows) == len(cands) + 3
    assert [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))
    pred = [float(r["log10_sigma_pred"]) for r in rows]
    assert pred == sorted(pred, reverse=True)
    assert all(float(r["log10_sigma_err"]) > 0 for r in rows)
    text = manifest.read_text()
    doc = yaml.safe_load(text)
    assert list(doc) == ["materials"] and len(doc["materials"]) == 2
    for e in doc["materials"]:
        assert set(e) <= set(SCREEN_KEYS) and {"name", "structure"} <= set(e)
        assert (manifest.parent / e["structure"]).is_file()
    with_structure = [r for r in rows if r["structure"]]
    assert [e["name"] for e in doc["materials"]] == [r["name"] for r in with_structure[:2]]
    assert f"# rank {with_structure[0]['rank']}: {with_structure[0]['formula']}" in text
    by_name = {r["ID"]: r for r in _rows(TEST)}
    first = doc["materials"][0]
    if first["name"] in by_name:
        assert first.get("family", "") == by_name[first["name"]]["Family"]


def test_manifest_is_read_by_screen(fitted, tmp_path):
    pipeline = pytest.importorskip("ase_raman.screen.pipeline")
    model, _ = fitted
    manifest = tmp_path / "screen.yaml"
    cands = [{"name": "ro9 x", "structure": str(DATA / "cifs" / "ro9.cif"),
              "Ionic conductivity (S cm-1)": "9.6e-12", "Family": "Borophosphates"}]
    table = _write(tmp_path / "c.csv", cands)
    assert main(["prescreen", "predict", str(model), str(table), str(DATA / "cifs" / "me3.cif"),
                 "-o", str(tmp_path / "r.csv"), "--top", "5", "--manifest",
                 str(manifest)]) == 0
    materials, _ = pipeline.read_inputs([str(manifest)])
    assert sorted(m.name for m in materials) == ["me3", "ro9_x"]
    ro9 = next(m for m in materials if m.name == "ro9_x")
    assert ro9.measured_sigma_S_cm == pytest.approx(9.6e-12) and ro9.family == "Borophosphates"


def test_predict_threads_give_identical_rankings(fitted, tmp_path, capsys):
    model, _ = fitted
    out = {}
    for n in ("1", "2"):
        out[n] = tmp_path / f"ranked_{n}.csv"
        assert main(["prescreen", "predict", str(model), str(TEST), "-o", str(out[n]),
                     "--threads", n]) == 0
    assert out["1"].read_bytes() == out["2"].read_bytes()
    with pytest.raises(SystemExit) as exc:  # argparse refuses it, before any work
        main(["prescreen", "predict", str(model), str(TEST), "-o",
              str(tmp_path / "r0.csv"), "--threads", "0"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--threads" in err and "must be >= 1" in err
    assert not (tmp_path / "r0.csv").exists()


def test_blocked_threaded_prediction_equals_one_call(fitted, monkeypatch):
    """Row blocks and tree chunks over Python threads give LightGBM's whole-matrix,
    whole-model prediction (to rounding), the same for any number of threads."""
    from ase_raman_prescreen import model as model_module
    from ase_raman_prescreen.table import Columns, design_from_table, read_table

    loaded = PrescreenModel.load(fitted[0])
    d = design_from_table(read_table(TEST), Columns(), CompositionFeaturizer(),
                          loaded.use_structure)
    tm = loaded.targets["log10_sigma"]
    whole = np.stack([b.predict(d.X, num_threads=1) for b in tm.boosters])
    monkeypatch.setattr(model_module, "PREDICT_BLOCK_ROWS", 7)
    monkeypatch.setattr(model_module, "PREDICT_TREE_CHUNK", 13)  # 60 rounds: 5 chunks
    spread = whole.std(axis=0, ddof=1)
    mu1, err1 = tm.predict(d.X, 1)
    np.testing.assert_allclose(mu1, whole.mean(axis=0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(err1, np.sqrt(tm.noise ** 2 + (tm.scale * spread) ** 2),
                               rtol=1e-9)
    mu3, err3 = tm.predict(d.X, 3)
    assert np.array_equal(mu1, mu3) and np.array_equal(err1, err3)
    assert tm.predict(d.X[:0], 2)[0].shape == (0,)


def test_evaluate_scores_and_plots(fitted, tmp_path):
    model, _ = fitted
    out = tmp_path / "m.json"
    assert main(["prescreen", "evaluate", str(model), str(TEST), "-o", str(out), "--parity",
                 str(tmp_path / "parity.png")]) == 0
    m = json.loads(out.read_text())["log10_sigma"]
    assert m["n"] == 31 and {"mae", "rmse", "spearman", "top10_in_pred_top20",
                             "coverage_1sigma", "coverage_2sigma"} <= set(m)
    assert (tmp_path / "parity.png").stat().st_size > 1000


class _Payload:
    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def _forest_tampered(doc: dict, kind: str) -> dict:
    tree = doc["trees"][0]
    inner = [i for i, c in enumerate(tree["children_left"]) if c != -1]
    if kind == "forest_cycle":  # a child pointing back to the root: an endless walk
        tree["children_left"][inner[-1]] = 0
    elif kind == "forest_feature_range":
        tree["feature"][inner[0]] = doc["n_features"] + 5
    elif kind == "forest_extra_key":
        tree["py/object"] = ["builtins.eval"]
    elif kind == "forest_length":
        tree["value"] = tree["value"][:-1]
    elif kind == "forest_nan":
        tree["threshold"][inner[0]] = "nan"
    elif kind == "forest_width":
        doc["n_features"] += 1
    return doc


CRAFTED = ["pickle", "extra_member", "foreign_metadata", "bad_booster", "forest_pickle",
           "forest_cycle", "forest_feature_range", "forest_extra_key", "forest_length",
           "forest_nan", "forest_width", "forest_as_booster"]


@pytest.mark.parametrize("kind", CRAFTED)
def test_crafted_model_files_are_refused(fitted, fitted_forest, tmp_path, capsys, kind):
    model, _ = fitted_forest if kind.startswith("forest") else fitted
    marker = tmp_path / "code-ran"
    bad = tmp_path / "bad.model"
    payload = _Payload()
    payload.marker = str(marker)
    if kind == "pickle":
        bad.write_bytes(pickle.dumps(payload))
    else:
        with zipfile.ZipFile(model) as src, zipfile.ZipFile(bad, "w") as dst:
            for info in src.infolist():
                data = src.read(info)
                if kind == "foreign_metadata" and info.filename == "metadata.json":
                    meta = json.loads(data)
                    meta["format"] = "something-else"
                    data = json.dumps(meta).encode()
                if kind == "bad_booster" and info.filename.endswith("_0.txt"):
                    data = pickle.dumps(payload)
                if info.filename.startswith("forest_"):
                    if kind == "forest_pickle":
                        data = pickle.dumps(payload)
                    elif kind != "forest_as_booster":
                        data = json.dumps(_forest_tampered(json.loads(data), kind)).encode()
                if kind == "forest_as_booster" and info.filename == "metadata.json":
                    meta = json.loads(data)
                    meta["targets"]["log10_sigma"]["family"] = "lightgbm"
                    meta["targets"]["log10_sigma"]["boosters"] = ["forest_log10_sigma.json"]
                    data = json.dumps(meta).encode()
                dst.writestr(info, data)
            if kind == "extra_member":
                dst.writestr("payload.pkl", pickle.dumps(payload))
    with pytest.raises(ModelFileError):
        PrescreenModel.load(bad)
    out = tmp_path / "ranked.csv"
    assert main(["prescreen", "predict", str(bad), str(TEST), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ase-raman: error:")
    assert not marker.exists() and not out.exists()


@pytest.mark.parametrize("field,value,words", [
    ("True Composition", "Li2Xx3", "unknown element 'Xx'"),
    ("True Composition", "Li2(O", "cannot parse"),
    ("Ionic conductivity (S cm-1)", "0", "not a positive number"),
    ("Ionic conductivity (S cm-1)", "-1e-4", "not a positive number"),
    ("Ionic conductivity (S cm-1)", "fast", "could not convert"),
])
def test_bad_training_rows_name_the_row(tmp_path, capsys, field, value, words):
    rows = _rows(TRAIN)
    rows[7][field] = value
    bad = _write(tmp_path / "train.csv", rows)
    out = tmp_path / "m.model"
    out.write_text("previous")
    assert main(["prescreen", "fit", str(bad), "-o", str(out), *QUICK]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "line 9" in err[0] and f"ID {rows[7]['ID']}" in err[0]
    assert words in err[0]
    assert out.read_text() == "previous"


def test_missing_columns_and_bad_candidates(fitted, tmp_path, capsys):
    model, _ = fitted
    rows = [{k: v for k, v in r.items() if k != "Ionic conductivity (S cm-1)"}
            for r in _rows(TRAIN)]
    assert main(["prescreen", "fit", str(_write(tmp_path / "t.csv", rows)), "-o",
                 str(tmp_path / "m.model"), *QUICK]) == 2
    assert "no column 'Ionic conductivity (S cm-1)'" in capsys.readouterr().err
    assert main(["prescreen", "fit", str(TRAIN), "-o", str(tmp_path / "m.model"),
                 "--formula-column", "chem", *QUICK]) == 2
    assert "no column 'chem'" in capsys.readouterr().err
    cands = _write(tmp_path / "c.csv", [{"formula": "Li3PS4"}, {"formula": "Qq2S"}])
    out = tmp_path / "ranked.csv"
    assert main(["prescreen", "predict", str(model), str(cands), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "line 3" in err and "unknown element 'Qq'" in err and not out.exists()
    assert main(["prescreen", "predict", str(model), str(TEST), "-o", str(out), "--top",
                 "3"]) == 2
    assert "go together" in capsys.readouterr().err and not out.exists()


def test_censored_rows_policy(tmp_path, capsys):
    assert sum(r["Ionic conductivity (S cm-1)"].startswith("<") for r in _rows(TRAIN)) > 0
    assert main(["prescreen", "fit", str(TRAIN), "-o", str(tmp_path / "m.model"),
                 "--censored-value", "0", *QUICK]) == 2
    assert "only an upper bound" in capsys.readouterr().err


def test_calibration_recovers_noise_and_scale():
    rng = np.random.default_rng(3)
    spread = rng.uniform(0.1, 1.0, 4000)
    residual = rng.normal(0.0, np.sqrt(0.5 ** 2 + (2.0 * spread) ** 2))
    noise, scale = calibrate(residual, spread)
    assert noise == pytest.approx(0.5, abs=0.08)
    assert scale == pytest.approx(2.0, abs=0.12)
    truth = rng.normal(0.0, 1.0, 4000)
    err = np.sqrt(noise**2 + (scale * spread)**2)
    m = regression_metrics(truth, truth + residual, err)
    assert m["coverage_1sigma"] == pytest.approx(0.683, abs=0.03)
    assert m["coverage_2sigma"] == pytest.approx(0.954, abs=0.015)


def test_top_recall():
    y = np.arange(20.0)
    assert top_recall(y, y) == 1.0
    assert top_recall(y, -y) == 0.0
    pred = y.copy()
    pred[19] = -1.0  # the best one predicted last: one of the two top-10% rows missed
    assert top_recall(y, pred) == 0.5


def test_activation_energy_column(tmp_path):
    rows = _rows(TRAIN)
    comp = CompositionFeaturizer()
    for k, r in enumerate(rows):
        frac_li = comp.featurize(r["True Composition"])[-5]
        r["Ea_eV"] = "" if k % 4 == 3 else f"{0.9 - 0.8 * frac_li:.4f}"
    train = _write(tmp_path / "t.csv", rows)
    model = tmp_path / "m.model"
    assert main(["prescreen", "fit", str(train), "-o", str(model), "--ea-column", "Ea_eV",
                 "--report", str(tmp_path / "r"), *QUICK]) == 0
    cv = json.loads((tmp_path / "r" / "cv.json").read_text())["ea_eV"]["out_of_fold"]
    ea = np.array([float(r["Ea_eV"]) for r in rows if r["Ea_eV"]])
    assert cv["n"] == len(ea) and cv["mae"] < 0.5 * np.mean(np.abs(ea - ea.mean()))
    out = tmp_path / "ranked.csv"
    assert main(["prescreen", "predict", str(model), str(TEST), "-o", str(out)]) == 0
    assert {"ea_pred_eV", "ea_err_eV"} <= set(_rows(out)[0])


def test_console_script_reaches_the_plugin():
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("ase-raman")
    if not exe.exists():
        pytest.skip("ase-raman console script not installed beside this python")
    res = subprocess.run([str(exe), "prescreen", "fit", "--help"], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0 and "--censored-value" in res.stdout


@pytest.mark.parametrize("argv", [
    "fit {d}/t.csv -o {d}/m.model --folds 1",
    "fit {d}/t.csv -o {d}/m.model --censored-value -1e-15",
    "fit {d}/t.csv -o {d}/m.model --censored-value nan",
    "fit {d}/t.csv -o {d}/m.model --ensemble 0",
    "fit {d}/t.csv -o {d}/m.model --seed -1",
    "fit {d}/t.csv -o {d}/m.model --threads 0",
    "predict {d}/m.model {d}/c.csv -o {d}/r.csv --top 0",
    "predict {d}/m.model {d}/c.csv -o {d}/r.csv --threads -2",
    "evaluate {d}/m.model {d}/t.csv --parity {d}/p.txt",
])
def test_bad_option_values_one_line_exit_2(tmp_path, capsys, argv):
    (tmp_path / "t.csv").write_text("formula,sigma\nLi3PS4,1e-4\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(SystemExit) as exc:
        main(["prescreen", *argv.format(d=tmp_path).split()])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith("ase-raman: error:"), err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_forest_arrays_predict_like_sklearn():
    """The numpy walk over the stored arrays equals scikit-learn's predict (per tree and
    forest mean), NaN features included, before and after the JSON round trip."""
    from ase_raman_prescreen.forest import Forest
    from sklearn.ensemble import RandomForestRegressor

    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 12))
    X[rng.random(X.shape) < 0.1] = np.nan
    y = np.nansum(X[:, :3], axis=1) + rng.normal(0.0, 0.3, 300)
    rf = RandomForestRegressor(n_estimators=25, min_samples_leaf=2, random_state=0).fit(X, y)
    Xt = rng.normal(size=(2500, 12)) * 3.0
    Xt[rng.random(Xt.shape) < 0.1] = np.nan
    forest = Forest.from_sklearn(rf)
    ref = np.stack([tree.predict(Xt) for tree in rf.estimators_])
    assert np.array_equal(forest.per_tree(Xt), ref)
    np.testing.assert_allclose(forest.per_tree(Xt).mean(axis=0), rf.predict(Xt), rtol=0,
                               atol=1e-12)
    again = Forest.from_json(json.loads(json.dumps(forest.to_json(), allow_nan=False)))
    assert np.array_equal(again.per_tree(Xt), ref)
    contrib = forest.contributions(Xt[:40])
    np.testing.assert_allclose(contrib.sum(axis=1) + forest.value[forest.roots].mean(),
                               ref[:, :40].mean(axis=0), atol=1e-10)


def test_forest_model_fits_predicts_and_evaluates(fitted_forest, tmp_path):
    model, report = fitted_forest
    with zipfile.ZipFile(model) as zf:
        assert sorted(zf.namelist()) == ["forest_log10_sigma.json", "metadata.json"]
        meta = json.loads(zf.read("metadata.json"))
    assert meta["feature_set"] == "cell" and meta["info"]["model_family"] == "forest"
    loaded = PrescreenModel.load(model)
    assert loaded.targets["log10_sigma"].family == "forest"
    assert loaded.feature_names[0] == "amount H" and loaded.feature_names[-1] == "gamma"
    imp = _rows(report / "importances.csv")
    assert list(imp[0]) == ["feature", "mean_abs_path_contribution", "rank"]
    ranked = tmp_path / "ranked.csv"
    assert main(["prescreen", "predict", str(model), str(TEST), str(DATA / "cifs"),
                 "-o", str(ranked)]) == 0
    rows = _rows(ranked)
    assert len(rows) == 31 + 3 and list(rows[0])[:5] == ["rank", "name", "formula",
                                                          "log10_sigma_pred", "log10_sigma_err"]
    pred = [float(r["log10_sigma_pred"]) for r in rows]
    assert pred == sorted(pred, reverse=True)
    assert all(float(r["log10_sigma_err"]) > 0 for r in rows)
    out = tmp_path / "m.json"
    assert main(["prescreen", "evaluate", str(model), str(TEST), "-o", str(out)]) == 0
    assert json.loads(out.read_text())["log10_sigma"]["n"] == 31


def test_forest_cif_rows_use_the_cell_of_the_cif(fitted_forest):
    from ase_raman_prescreen.structure import read_cif
    from ase_raman_prescreen.table import design_from_cifs

    d = design_from_cifs([DATA / "cifs" / "ro9.cif"], CompositionFeaturizer(), "cell")
    _, _, cell, geometry = read_cif(DATA / "cifs" / "ro9.cif")
    names = PrescreenModel.load(fitted_forest[0]).feature_names
    assert d.X.shape == (1, len(names))
    assert d.X[0, names.index("amount Li")] == pytest.approx(cell["Li"])
    np.testing.assert_allclose(d.X[0, -7:], geometry)
    assert 1 <= geometry[0] <= 230 and np.all(geometry[1:4] > 0)


def test_forest_error_bars_cover_out_of_fold_residuals():
    """The spread of the trees, calibrated on out-of-fold residuals, covers them as a
    Gaussian 1/2-sigma interval should (synthetic data with known Gaussian noise)."""
    from ase_raman_prescreen.model import fit_target

    rng = np.random.default_rng(5)
    X = rng.uniform(-2, 2, size=(900, 4))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 + rng.normal(0.0, 0.4, 900)
    groups = [f"g{k % 150}" for k in range(900)]
    tm, mu, err = fit_target("log10_sigma", X, y, groups, grid="quick", n_folds=5,
                             family="forest", log=lambda *a: None)
    m = tm.cv["out_of_fold"]
    assert m["coverage_1sigma"] == pytest.approx(0.683, abs=0.04)
    assert m["coverage_2sigma"] == pytest.approx(0.954, abs=0.025)
    assert tm.scale > 0 and np.all(err > 0)
    assert np.array_equal(tm.predict(X[:5])[0], tm.forest.per_tree(X[:5]).mean(axis=0))


def test_auto_selection_picks_the_lowest_cv_mae(tmp_path):
    model = tmp_path / "auto.model"
    assert main(["prescreen", "fit", str(TRAIN), "-o", str(model), "--report",
                 str(tmp_path / "r"), *QUICK]) == 0
    cv = json.loads((tmp_path / "r" / "cv.json").read_text())
    pairs = {(s["family"], s["feature_set"]): s["cv_mae"] for s in cv["selection"]}
    assert set(pairs) == {("lightgbm", "composition"), ("lightgbm", "structure"),
                          ("forest", "cell")}
    best = min(pairs, key=pairs.get)
    assert (cv["chosen"]["family"], cv["chosen"]["feature_set"]) == best
    assert cv["log10_sigma"]["out_of_fold"]["mae"] == pytest.approx(pairs[best])
    loaded = PrescreenModel.load(model)
    assert (loaded.targets["log10_sigma"].family, loaded.feature_set) == best


def test_candidate_models_and_contradicting_options(tmp_path, capsys):
    from ase_raman_prescreen.workflow import candidate_models

    assert candidate_models() == [("lightgbm", "composition"), ("lightgbm", "structure"),
                                  ("forest", "cell")]
    assert candidate_models("forest", use_structure=False) == [("forest", "composition")]
    assert candidate_models("lightgbm", "cell") == [("lightgbm", "cell")]
    out = tmp_path / "m.model"
    assert main(["prescreen", "fit", str(TRAIN), "-o", str(out), "--no-structure",
                 "--features", "cell", *QUICK]) == 2
    assert "contradict" in capsys.readouterr().err and not out.exists()


def test_format_1_model_files_still_load_and_rank_the_same(tmp_path):
    old = DATA / "model_v1.model"
    loaded = PrescreenModel.load(old)
    assert loaded.feature_set == "structure" and loaded.targets["log10_sigma"].family == "lightgbm"
    ranked = tmp_path / "ranked.csv"
    assert main(["prescreen", "predict", str(old), str(TEST), "-o", str(ranked),
                 "--threads", "1"]) == 0
    new, ref = _rows(ranked), _rows(DATA / "model_v1_ranked_test_subset.csv")
    assert [r["name"] for r in new] == [r["name"] for r in ref]
    for a, b in zip(new, ref, strict=True):
        assert float(a["log10_sigma_pred"]) == pytest.approx(float(b["log10_sigma_pred"]),
                                                             abs=1e-4)
        assert float(a["log10_sigma_err"]) == pytest.approx(float(b["log10_sigma_err"]),
                                                            abs=1e-4)
