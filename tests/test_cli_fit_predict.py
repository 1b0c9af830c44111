"""The ase-raman command: fit, predict, models, --version and its error handling."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from ase.io import read
from conftest import doubled_cells

import ase_raman
from ase_raman.cli import main

FAST_HYPERS = '{"cutoff": 3.5, "max_radial": 3, "max_angular": 2}'


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ase_raman", *args], capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def fitted_model(tmp_path_factory, test_data):
    out = tmp_path_factory.mktemp("fit") / "water.npz"
    proc = run_cli("fit", str(test_data / "water_bulk_200.xyz"), "--alpha-key", "alpha",
                   "--alpha-unit", "bohr3", "--hypers", FAST_HYPERS, "--test-fraction", "0.25",
                   "-o", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    return out, json.loads(proc.stdout.strip().splitlines()[-1])


def test_fit_writes_model_parity_and_json(fitted_model):
    path, summary = fitted_model
    assert path.is_file() and path.with_suffix(".parity.png").is_file()
    assert summary["n_train"] == 150 and summary["n_test"] == 50
    for key in ("r2", "r2_lambda0", "r2_lambda2", "rmse_A3"):
        assert key in summary
    assert summary["r2_lambda0"] > 0.8 and summary["r2_lambda2"] > 0.7
    assert ase_raman.load_model(path).metadata["training"]["n_test"] == 50


def test_fit_on_mixed_cell_sizes_reports_r2_per_atom(test_data, tmp_path, capsys):
    """Half the cells doubled (alpha of a periodic repeat is twice the cell's): the
    whole-cell lambda=0 R^2 is inflated by size; the summary adds the per-atom one."""
    from ase.io import write

    frames = read(test_data / "water_bulk_200.xyz", index=":80")
    write(tmp_path / "mixed.xyz", [*frames[:40], *doubled_cells(frames[40:], key="alpha")])
    assert main(["fit", str(tmp_path / "mixed.xyz"), "--alpha-key", "alpha", "--alpha-unit",
                 "bohr3", "--hypers", FAST_HYPERS, "-o", str(tmp_path / "m.npz")]) == 0
    out = capsys.readouterr().out
    summary = json.loads(out.strip().splitlines()[-1])
    assert "cell sizes differ (96-192 atoms)" in out
    assert summary["r2_lambda0"] > 0.99
    assert summary["r2_lambda0_per_atom"] < summary["r2_lambda0"] - 0.05
    assert 0 < summary["r2_lambda2_per_atom"] <= 1


def test_fit_on_one_cell_size_has_no_per_atom_keys(fitted_model):
    assert "r2_lambda0_per_atom" not in fitted_model[1]


def test_predict_writes_extxyz_with_polarizability(fitted_model, test_data, tmp_path):
    path, _ = fitted_model
    out = tmp_path / "pred.xyz"
    assert main(["predict", str(path), str(test_data / "water_bulk_200.xyz"),
                 "--index", "150:180:3", "-o", str(out), "--quiet"]) == 0
    frames = read(out, index=":")
    assert len(frames) == 10
    model = ase_raman.load_model(path)
    source = read(test_data / "water_bulk_200.xyz", index="150:180:3")
    expected = model.predict(source)
    got = np.array([np.asarray(f.info["polarizability"]).reshape(3, 3) for f in frames])
    np.testing.assert_allclose(got, expected, rtol=1e-8)
    np.testing.assert_allclose(frames[0].positions, source[0].positions, atol=1e-6)


def test_models_and_version(capsys):
    assert main(["models"]) == 0
    assert "lambda-soap" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert ase_raman.__version__ in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["fit", "{data}/does_not_exist.xyz", "-o", "{tmp}/m.npz"], "does_not_exist.xyz"),
    (["fit", "{data}/water_bulk_200.xyz", "--alpha-key", "nope", "-o", "{tmp}/m.npz"], "nope"),
    (["fit", "{data}/water_bulk_200.xyz", "--alpha-key", "alpha", "--hypers", "{{bad",
      "-o", "{tmp}/m.npz"], "--hypers"),
    (["fit", "{data}/water_bulk_200.xyz", "--alpha-key", "alpha", "--learner", "nonesuch",
      "-o", "{tmp}/m.npz"], "nonesuch"),
    (["fit", "{data}/water_bulk_200.xyz", "--alpha-key", "alpha", "-o", "{tmp}/m.txt"], ".npz"),
    (["predict", "{tmp}/absent.npz", "{data}/water_bulk_200.xyz", "-o", "{tmp}/p.xyz"],
     "absent.npz"),
])
def test_user_mistakes_give_one_line_and_exit_2(args, message, test_data, tmp_path):
    argv = [a.format(data=test_data, tmp=tmp_path) for a in args]
    proc = run_cli(*argv)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("ase-raman: error:") and message in lines[0]
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.glob("m.*")) and not (tmp_path / "p.xyz").exists()


def test_predict_species_mismatch_leaves_no_output(fitted_model, tmp_path):
    from ase import Atoms
    from ase.io import write

    path, _ = fitted_model
    traj = tmp_path / "nacl.xyz"
    write(traj, [Atoms("NaCl", positions=[[0, 0, 0], [2.8, 0, 0]])])
    proc = run_cli("predict", str(path), str(traj), "-o", str(tmp_path / "out.xyz"))
    assert proc.returncode == 2 and "Na" in proc.stderr
    assert not (tmp_path / "out.xyz").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["nacl.xyz"]
