"""The raman / vdos / plot sub-commands: outputs, CSV columns, one-line errors."""

from __future__ import annotations

import json

import ase.io
import numpy as np
import pytest
from ase import Atoms, units

from ase_raman.cli import main
from ase_raman.spectra.plotting import read_spectrum_csv
from ase_raman.spectra.signal import SPEED_OF_LIGHT_CM_PER_FS as C_LIGHT

RAMAN_HEADER = "frequency_cm-1,intensity,isotropic,anisotropic,parallel,perpendicular"
DT = 20.0  # fs between frames
NU0 = 210.0


def _frames(n: int = 500, dt: float = DT, times: np.ndarray | None = None) -> list[Atoms]:
    rng = np.random.default_rng(0)
    t = np.arange(n) * dt if times is None else times
    w = 2 * np.pi * C_LIGHT * NU0
    frames = []
    for k in range(n):
        atoms = Atoms("NaCl", positions=[[0, 0, 0], [1.4, 1.4, 1.4]], cell=[2.8] * 3, pbc=True)
        disp = 0.05 * np.sin(w * t[k] + np.array([[0.0, 1.0, 2.0], [0.5, 1.5, 2.5]]))
        atoms.positions += disp
        vel = 0.05 * w * np.cos(w * t[k] + np.array([[0.0, 1.0, 2.0], [0.5, 1.5, 2.5]]))
        atoms.set_velocities(vel / units.fs)  # Angstrom/fs -> ASE units
        alpha = np.diag([30.0, 31.0, 32.0]) + np.cos(w * t[k]) * np.array(
            [[0.2, 0.5, 0.0], [0.5, -0.1, 0.3], [0.0, 0.3, 0.4]])
        alpha += 0.001 * rng.standard_normal()
        atoms.info["polarizability"] = alpha.reshape(-1)  # 9 numbers, row-major
        atoms.info["time_fs"] = float(t[k])
        frames.append(atoms)
    return frames


@pytest.fixture(scope="module")
def traj(tmp_path_factory):
    path = tmp_path_factory.mktemp("traj") / "run.extxyz"
    ase.io.write(path, _frames())
    return path


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("ase-raman: error: ")
    return err[0]


def test_raman_command_writes_csv_png_json(traj, tmp_path, capsys):
    csv, png, js = tmp_path / "s.csv", tmp_path / "s.png", tmp_path / "s.json"
    rc = main(["raman", str(traj), "-o", str(csv), "--png", str(png), "--json", str(js),
               "--dt-fs", "20", "--max-freq", "800", "--laser-nm", "633"])
    assert rc == 0
    lines = csv.read_text().splitlines()
    assert lines[0].startswith("# ase-raman raman spectrum")
    header = [ln for ln in lines if not ln.startswith("#")][0]
    assert header == RAMAN_HEADER
    assert any("fs" in ln and ln.startswith("# sampling") for ln in lines)
    cols, meta = read_spectrum_csv(csv)
    assert meta["kind"] == "raman" and meta["dt_fs"] == 20.0
    assert meta["laser_nm"] == pytest.approx(633.0)
    assert meta["provenance"]["source"].endswith("run.extxyz")
    f = cols["frequency_cm-1"]
    assert f[0] == 0.0 and f[-1] <= 800.0
    assert abs(f[np.argmax(cols["intensity"])] - NU0) <= f[1]
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"
    summary = json.loads(js.read_text())
    cp = summary["central_peak"]
    for key in ("low_frequency_fraction", "central_to_phonon_ratio", "central_width_cm"):
        assert key in cp
    assert cp["low_frequency_fraction"] < 0.05
    assert any(abs(p["frequency_cm"] - NU0) < 2 for p in summary["peaks"])
    assert "wrote" in capsys.readouterr().out


def test_raman_bose_option_and_no_prefactor(traj, tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(["raman", str(traj), "-o", str(a), "--dt-fs", "20", "--no-prefactor",
                 "--temperature", "400", "--quantum-correction", "bose"]) == 0
    assert main(["raman", str(traj), "-o", str(b), "--dt-fs", "20", "--sigma", "8"]) == 0
    ca, ma = read_spectrum_csv(a)
    cb, mb = read_spectrum_csv(b)
    assert ma["quantum_correction"] == "bose" and ma["temperature_K"] == 400.0
    assert ma["prefactor"] is False and mb["sigma_cm"] == 8.0
    # prefactor off: (n + 1) omega^2 S_alpha -> (T / C2) nu S_alpha -> 0 at nu = 0
    assert np.all(np.isfinite(ca["intensity"])) and ca["intensity"][0] == 0.0
    assert ca["intensity"].min() > -1e-3 * ca["intensity"].max()


@pytest.mark.parametrize("argv_extra, message", [
    ([], "--dt-fs"),
    (["--dt-fs", "20", "--max-freq", "5000"], "Nyquist"),
    (["--dt-fs", "20", "--sigma", "0.5"], "too few frames"),
    (["--dt-fs", "25"], "contradicts|apart"),
    (["--dt-fs", "20", "--quantum-correction", "bose"], "--temperature"),
])
def test_raman_bad_options_give_one_line_and_no_file(traj, tmp_path, capsys, argv_extra,
                                                     message):
    out = tmp_path / "never.csv"
    rc = main(["raman", str(traj), "-o", str(out), *argv_extra])
    assert rc == 2
    import re

    assert re.search(message, _error_line(capsys))
    assert not out.exists()


def test_raman_rejects_non_uniform_times_missing_alpha_and_bad_files(tmp_path, capsys):
    times = np.arange(500) * DT
    times[300:] += 7.0
    bad = tmp_path / "gap.extxyz"
    ase.io.write(bad, _frames(times=times))
    assert main(["raman", str(bad), "-o", str(tmp_path / "x.csv"), "--dt-fs", "20"]) == 2
    assert "non-uniform time steps" in _error_line(capsys)
    frames = _frames(n=10)
    del frames[4].info["polarizability"]
    missing = tmp_path / "missing.extxyz"
    ase.io.write(missing, frames)
    assert main(["raman", str(missing), "-o", str(tmp_path / "x.csv"), "--dt-fs", "20"]) == 2
    assert "frame 4 has no 'polarizability'" in _error_line(capsys)
    assert main(["raman", str(tmp_path / "nope.extxyz"), "-o", "x.csv", "--dt-fs", "1"]) == 2
    assert "no such file" in _error_line(capsys)


def test_vdos_command_has_species_columns(traj, tmp_path):
    csv, png, js = tmp_path / "v.csv", tmp_path / "v.png", tmp_path / "v.json"
    assert main(["vdos", str(traj), "-o", str(csv), "--dt-fs", "20", "--png", str(png),
                 "--json", str(js)]) == 0
    header = [ln for ln in csv.read_text().splitlines() if not ln.startswith("#")][0]
    assert header == "frequency_cm-1,total,Na,Cl"
    cols, meta = read_spectrum_csv(csv)
    assert meta["kind"] == "vdos" and meta["mass_weighted"] is True
    assert "velocities of the frames" in meta["velocity_source"]
    f = cols["frequency_cm-1"]
    assert abs(f[np.argmax(cols["total"])] - NU0) <= f[1]
    assert np.trapezoid(cols["total"], f) == pytest.approx(6.0, rel=1e-6)
    assert np.allclose(cols["Na"] + cols["Cl"], cols["total"], atol=1e-8 * cols["total"].max())
    assert json.loads(js.read_text())["integral_total"] == pytest.approx(6.0, rel=1e-6)
    assert png.read_bytes()[:4] == b"\x89PNG"
    # without velocities: positions by finite difference, said so in the header
    fd = tmp_path / "fd.csv"
    assert main(["vdos", str(traj), "-o", str(fd), "--dt-fs", "20", "--from-positions"]) == 0
    _, meta_fd = read_spectrum_csv(fd)
    assert "finite difference" in meta_fd["velocity_source"]
    assert "# velocities: velocities from positions by forward finite difference" in \
        fd.read_text()


def test_h5md_store_input(tmp_path):
    from ase_raman.store import open_store

    path = tmp_path / "run.h5"
    frames = _frames()
    with open_store(path, "w", species=frames[0], dt_fs=2.0, sampling_interval=10,
                    velocities=True) as store:
        for k, atoms in enumerate(frames):
            store.append_atoms(atoms, atoms.info["polarizability"], step=10 * k,
                               time_fs=k * DT)
    out = tmp_path / "h5.csv"
    assert main(["raman", str(path), "-o", str(out)]) == 0  # dt from the stored times
    cols, meta = read_spectrum_csv(out)
    assert meta["dt_fs"] == pytest.approx(DT)
    assert meta["provenance"]["format"] == "H5MD store"
    assert meta["provenance"]["sampling_interval_steps"] == 10
    f = cols["frequency_cm-1"]
    assert abs(f[np.argmax(cols["intensity"])] - NU0) <= f[1]
    vout = tmp_path / "h5v.csv"
    assert main(["vdos", str(path), "-o", str(vout)]) == 0
    vcols, vmeta = read_spectrum_csv(vout)
    assert "stored velocities" in vmeta["velocity_source"]
    assert list(vcols) == ["frequency_cm-1", "total", "Na", "Cl"]


def test_plot_overlays_csv_files(traj, tmp_path, capsys):
    a, b = tmp_path / "T300.csv", tmp_path / "T600.csv"
    main(["raman", str(traj), "-o", str(a), "--dt-fs", "20"])
    main(["raman", str(traj), "-o", str(b), "--dt-fs", "20", "--sigma", "10"])
    capsys.readouterr()
    png = tmp_path / "cmp.png"
    assert main(["plot", str(a), str(b), "-o", str(png), "--labels", "300 K", "600 K",
                 "--normalize"]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "300 K" in capsys.readouterr().out
    assert main(["plot", str(a), str(b), "-o", str(png), "--labels", "only-one"]) == 2
    assert "2 files" in _error_line(capsys)
    v = tmp_path / "v.csv"
    main(["vdos", str(traj), "-o", str(v), "--dt-fs", "20"])
    capsys.readouterr()
    assert main(["plot", str(a), str(v), "-o", str(png)]) == 2
    assert "different kinds" in _error_line(capsys)
    assert main(["plot", str(a), "-o", str(png), "--column", "nope"]) == 2
    assert "no column" in _error_line(capsys)
