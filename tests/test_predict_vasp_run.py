"""`ase-raman predict` on a finished VASP MD run (the shared Li6PS5I XDATCAR)."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

from ase_raman.io import iter_frames
from ase_raman.models.lambda_soap import LambdaSoapRidge
from ase_raman.models.registry import get_learner
from ase_raman.store import read_trajectory

#: DID atomic polarizabilities (Angstrom^3) for the elements Pauling's table lacks.
EXTRA_POLARIZABILITIES = {"P": 1.0, "S": 5.0}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ase_raman", *args], capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def xdatcar(shared_data):
    return shared_data / "argyrodite_li6ps5i" / "XDATCAR"


@pytest.fixture(scope="module")
def argyrodite_model(xdatcar, tmp_path_factory):
    pytest.importorskip("ase_raman_did", reason="labels come from the DID plugin")
    frames = list(iter_frames(xdatcar, index=slice(0, 100, 20)))
    did = get_learner("dipole-induced-dipole")(
        hypers={"polarizabilities": EXTRA_POLARIZABILITIES, "fit": "none"})
    for atoms, alpha in zip(frames, did.predict(frames), strict=True):
        atoms.info["polarizability"] = alpha
    model = LambdaSoapRidge(hypers={"cutoff": 3.0, "max_radial": 2, "max_angular": 2},
                            n_folds=2).fit(frames)
    path = tmp_path_factory.mktemp("argyrodite") / "model.npz"
    model.save(path)
    return path, model


def test_species_mismatch_refused_before_any_work(xdatcar, test_data, tmp_path):
    fit = run_cli("fit", str(test_data / "water_bulk_200.xyz"), "--alpha-key", "alpha",
                  "--alpha-unit", "bohr3", "--hypers", '{"cutoff": 3.0, "max_radial": 2, '
                  '"max_angular": 2}', "--test-fraction", "0", "-o", str(tmp_path / "w.npz"),
                  "--quiet")
    assert fit.returncode == 0, fit.stderr
    proc = run_cli("predict", str(tmp_path / "w.npz"), str(xdatcar), "-o",
                   str(tmp_path / "out.h5"), "--dt-fs", "100")
    assert proc.returncode == 2
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("ase-raman: error:") and "Li" in line
    assert not (tmp_path / "out.h5").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.npz", "w.parity.png"]


def test_predict_streams_the_xdatcar_into_the_store(argyrodite_model, xdatcar, tmp_path):
    path, model = argyrodite_model
    out = tmp_path / "alpha.h5"
    proc = run_cli("predict", str(path), str(xdatcar), "-o", str(out), "--dt-fs", "100",
                   "--every", "10")
    assert proc.returncode == 0, proc.stderr
    with read_trajectory(out) as traj:
        assert len(traj.step) == 10
        np.testing.assert_allclose(np.diff(traj.time_fs), 1000.0)
        expected = model.predict(list(iter_frames(xdatcar, every=10)))
        np.testing.assert_allclose(traj.polarizability, expected, rtol=1e-10)


def test_truncated_xdatcar_keeps_complete_frames_and_warns(argyrodite_model, shared_data,
                                                          tmp_path):
    path, model = argyrodite_model
    cut = shared_data / "vasp" / "malformed" / "XDATCAR.Li6PS5I.truncated_mid_frame4"
    with pytest.warns(UserWarning, match="frame"):
        complete = list(iter_frames(cut))
    out = tmp_path / "alpha.h5"
    proc = run_cli("predict", str(path), str(cut), "-o", str(out), "--dt-fs", "100")
    assert proc.returncode == 0, proc.stderr
    assert "frame" in proc.stderr and "truncated" in proc.stderr.lower()
    with read_trajectory(out) as traj:
        assert len(traj.step) == len(complete) >= 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            np.testing.assert_allclose(traj.polarizability, model.predict(complete),
                                       rtol=1e-10)
