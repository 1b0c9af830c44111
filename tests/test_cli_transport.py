"""The ``ase-raman msd / arrhenius / vanhove`` commands: files, keys, errors, real data."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from ase import Atoms
from ase.io import write

from ase_raman.cli import main
from ase_raman.spectra.transport.arrhenius import KB_EV_K

CELL = np.eye(3) * 8.0


def _write_walk(path, rng, n_frames=300, n_li=24, n_i=8, step=0.15):
    """Wrapped extxyz trajectory: mobile Li (random walk), I vibrating in place."""
    li = rng.uniform(0, 8, (n_li, 3)) + np.concatenate(
        [np.zeros((1, n_li, 3)), np.cumsum(rng.normal(0, step, (n_frames - 1, n_li, 3)), 0)])
    iod = rng.uniform(0, 8, (n_i, 3)) + rng.normal(0, 0.05, (n_frames, n_i, 3))
    frames = []
    for t in range(n_frames):
        atoms = Atoms(["Li"] * n_li + ["I"] * n_i, positions=np.vstack([li[t], iod[t]]),
                      cell=CELL, pbc=True)
        atoms.wrap()
        frames.append(atoms)
    write(path, frames, format="extxyz")
    return path


def _read_csv(path):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], np.array(rows[1:], dtype=float)


def _one_line_error(capsys, code):
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("ase-raman: error: ")
    assert len(err.strip().splitlines()) == 1
    return err


def test_msd_command_writes_csv_json_png(tmp_path, capsys):
    traj = _write_walk(tmp_path / "walk.xyz", np.random.default_rng(21))
    out = tmp_path / "msd.csv"
    summary = tmp_path / "s.json"
    png = tmp_path / "msd.png"
    code = main(["msd", str(traj), "--species", "Li,I", "--dt-fs", "10", "--temperature", "600",
                 "--charges", "Li=1", "--fit-window", "0.3:1.5", "-o", str(out),
                 "--png", str(png), "--json", str(summary), "--quiet"])
    assert code == 0
    header, data = _read_csv(out)
    assert header[:3] == ["time_ps", "Li", "I"]
    np.testing.assert_allclose(data[:, 0], np.arange(300) * 0.01)
    assert data[0, 1] == 0.0 and data[-1, 1] > 10 * data[-1, 2]
    info = json.loads(summary.read_text())
    assert list(info) == ["Li", "I"]
    li = info["Li"]
    for key in ("D_cm2_s", "D_err_cm2_s", "D_A2_ps", "D_err_A2_ps", "fit_window_ps",
                "sigma_S_cm", "haven_ratio", "temperature_K"):
        assert key in li
    assert li["fit_window_ps"] == [0.3, 1.5]
    assert li["temperature_K"] == 600.0
    d_true = 0.15**2 / (2 * 10.0) * 1000.0  # A^2/ps
    assert li["D_A2_ps"] == pytest.approx(d_true, rel=0.2)
    assert li["D_cm2_s"] == pytest.approx(li["D_A2_ps"] * 1e-4)
    assert "sigma_S_cm" not in info["I"]  # no charge given for I
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_msd_command_user_errors(tmp_path, capsys):
    traj = _write_walk(tmp_path / "walk.xyz", np.random.default_rng(22), n_frames=40)
    out = tmp_path / "msd.csv"
    base = ["msd", str(traj), "-o", str(out), "--quiet"]
    err = _one_line_error(capsys, main(base))  # no --dt-fs, the file does not say
    assert "--dt-fs" in err
    err = _one_line_error(capsys, main(base + ["--dt-fs", "10", "--species", "Na"]))
    assert "Na" in err
    _one_line_error(capsys, main(base + ["--dt-fs", "10", "--fit-window", "5"]))
    _one_line_error(capsys, main(base + ["--dt-fs", "10", "--fit-window", "0.1:50"]))
    _one_line_error(capsys, main(base + ["--dt-fs", "10", "--charges", "Li=1"]))
    _one_line_error(capsys, main(["msd", str(tmp_path / "missing.xyz"), "--dt-fs", "1",
                                  "-o", str(out)]))
    assert not out.exists()  # never a half-written output


def test_every_scales_the_time_step(tmp_path):
    traj = _write_walk(tmp_path / "walk.xyz", np.random.default_rng(23), n_frames=60)
    out = tmp_path / "msd.csv"
    assert main(["msd", str(traj), "--dt-fs", "10", "--every", "3", "-o", str(out),
                 "--quiet"]) == 0
    header, data = _read_csv(out)
    assert header == ["time_ps", "Li", "I"]
    np.testing.assert_allclose(data[:, 0], np.arange(20) * 0.03)


def test_arrhenius_command_recovers_activation_energy(tmp_path, capsys):
    ea, d0 = 0.25, 3e-3  # eV, cm^2/s
    summaries = []
    rng = np.random.default_rng(24)
    for temp in (500.0, 700.0, 1000.0):
        d_a2_ps = d0 * np.exp(-ea / (KB_EV_K * temp)) * 1e4
        step = np.sqrt(2 * d_a2_ps * 10.0 / 1000.0)  # per coordinate, 10 fs frames
        traj = _write_walk(tmp_path / f"w{temp:g}.xyz", rng, n_frames=400, n_li=48, step=step)
        out = tmp_path / f"s{temp:g}.json"
        assert main(["msd", str(traj), "--species", "Li", "--dt-fs", "10", "--temperature",
                     f"{temp}", "--charges", "Li=1", "-o", str(tmp_path / "m.csv"),
                     "--json", str(out), "--quiet"]) == 0
        summaries.append(str(out))
    res = tmp_path / "arr.json"
    png = tmp_path / "arr.png"
    assert main(["arrhenius", *summaries, "--target-temperature", "300", "-o", str(png),
                 "--json", str(res), "--quiet"]) == 0
    fit = json.loads(res.read_text())["Li"]
    assert abs(fit["E_a_eV"] - ea) < max(3 * fit["E_a_err_eV"], 0.02)
    assert fit["E_a_err_eV"] < 0.05
    assert fit["target_temperature_K"] == 300.0
    d300 = d0 * np.exp(-ea / (KB_EV_K * 300.0))
    assert abs(np.log(fit["D_target_cm2_s"] / d300)) < 0.5
    assert fit["D_target_err_cm2_s"] > 0
    assert fit["sigma_target_S_cm"] > 0 and "sigma_E_a_eV" in fit
    assert png.read_bytes()[:4] == b"\x89PNG"
    # a summary without a temperature is refused in one line
    bare = tmp_path / "bare.json"
    assert main(["msd", str(tmp_path / "w500.xyz"), "--dt-fs", "10", "-o",
                 str(tmp_path / "m.csv"), "--json", str(bare), "--quiet"]) == 0
    err = _one_line_error(capsys, main(["arrhenius", str(bare), summaries[0], "--json",
                                        str(tmp_path / "x.json")]))
    assert "--temperature" in err


def test_vanhove_command(tmp_path, capsys):
    traj = _write_walk(tmp_path / "walk.xyz", np.random.default_rng(25), n_frames=200)
    out = tmp_path / "vh.csv"
    png = tmp_path / "vh.png"
    assert main(["vanhove", str(traj), "--species", "Li", "--dt-fs", "10", "--lags-ps",
                 "0.1,0.5,1", "-o", str(out), "--png", str(png), "--quiet"]) == 0
    header, data = _read_csv(out)
    assert header == ["r_A", "Gs_0.1ps", "Gs_0.5ps", "Gs_1ps",
                      "4pir2Gs_0.1ps", "4pir2Gs_0.5ps", "4pir2Gs_1ps"]
    dr = data[1, 0] - data[0, 0]
    np.testing.assert_allclose(data[:, 4:].sum(axis=0) * dr, 1.0, atol=0.02)
    mean_r2 = (data[:, 0] ** 2 * data[:, 4:].T).sum(axis=1) * dr
    assert np.all(np.diff(mean_r2) > 0)  # spreading out with time
    assert png.read_bytes()[:4] == b"\x89PNG"
    err = _one_line_error(capsys, main(["vanhove", str(traj), "--species", "Li", "--dt-fs",
                                        "10", "--lags-ps", "5", "-o", str(out)]))
    assert "outside" in err


# Reference values: shared/data/argyrodite_li6ps5i/MANIFEST.md (Li MSD over all origins;
# single-origin MSD frame 1 -> 100: Li 4.98, I 0.269 A^2).
LI6PS5I_LI = {1.0: 1.183, 5.0: 3.068, 9.0: 4.742}


def test_li6ps5i_xdatcar(shared_data, tmp_path, capsys):
    xdatcar = shared_data / "argyrodite_li6ps5i" / "XDATCAR"
    out = tmp_path / "msd.csv"
    summary = tmp_path / "s.json"
    assert main(["msd", str(xdatcar), "--species", "Li,P,S,I", "--dt-fs", "100",
                 "--no-drift-correction", "--temperature", "500", "--charges", "Li=1",
                 "-o", str(out), "--json", str(summary), "--quiet"]) == 0
    header, data = _read_csv(out)
    assert header[:5] == ["time_ps", "Li", "P", "S", "I"]
    t = data[:, 0]
    assert len(t) == 100 and t[-1] == pytest.approx(9.9)
    for lag, ref in LI6PS5I_LI.items():
        assert np.interp(lag, t, data[:, 1]) == pytest.approx(ref, abs=2e-3)
    # the last lag has one origin: the species line (Li I S P), not the comment, is used
    assert data[-1, 1] == pytest.approx(4.98, abs=0.01)
    assert data[-1, 4] == pytest.approx(0.269, abs=0.002)
    info = json.loads(summary.read_text())
    assert [info[s]["n_atoms"] for s in ("Li", "P", "S", "I")] == [192, 32, 160, 32]
    assert info["Li"]["volume_A3"] == pytest.approx(20.433**3, rel=1e-6)
    assert 5e-6 < info["Li"]["D_cm2_s"] < 1.2e-5
    assert info["Li"]["D_cm2_s"] > 20 * info["I"]["D_cm2_s"]


def test_time_step_from_the_runs_incar(shared_data, tmp_path):
    """XDATCAR frames are POTIM x NBLOCK apart when an INCAR sits beside the file."""
    import shutil

    xdatcar = tmp_path / "XDATCAR"
    shutil.copy(shared_data / "argyrodite_li6ps5i" / "XDATCAR", xdatcar)
    (tmp_path / "INCAR").write_text("POTIM = 2.0\nNBLOCK = 50\n")
    out = tmp_path / "msd.csv"
    assert main(["msd", str(xdatcar), "--species", "Li", "--every", "2", "-o", str(out),
                 "--quiet"]) == 0
    header, data = _read_csv(out)
    assert header == ["time_ps", "Li", "Li_err"]  # 50 frames: 5 blocks of 10
    np.testing.assert_allclose(data[:, 0], np.arange(50) * 0.2)
