"""A real i-PI server on a UNIX socket, driven by `ase-raman ipi-driver` (EMT forces,
lambda-SOAP alpha as extras); i-PI's own output is read back into the H5MD store."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from ase import units
from conftest import al_cell

from ase_raman.engines.ipi import (
    ipi_executable,
    ipi_timestep_fs,
    ipi_to_store,
    iter_ipi_extras,
    stop_process_group,
    write_ipi_xyz,
)
from ase_raman.io.ipi import iter_ipi_xyz
from ase_raman.store import read_trajectory

pytest.importorskip("ipi", reason="i-PI is an optional extra: pip install 'ase-raman[ipi]'")

N_STEPS = 20
STRIDE = 2

INPUT_XML = """<simulation verbosity="low">
  <output prefix="sim">
    <trajectory filename="pos" stride="{stride}" format="xyz" cell_units="angstrom">
      positions{{angstrom}} </trajectory>
    <trajectory filename="vel" stride="{stride}" format="xyz"> velocities </trajectory>
    <trajectory filename="alpha" stride="{stride}" extra_type="polarizability"> extras
    </trajectory>
    <trajectory filename="unc" stride="{stride}" extra_type="polarizability_uncertainty">
      extras </trajectory>
    <properties stride="{stride}" filename="out"> [step, time{{femtosecond}},
      potential{{electronvolt}}] </properties>
  </output>
  <total_steps>{steps}</total_steps>
  <prng><seed>31415</seed></prng>
  <ffsocket name="aseraman" mode="unix" pbc="true">
    <address>{address}</address>
    <latency>1e-3</latency>
  </ffsocket>
  <system>
    <initialize nbeads="1">
      <file mode="xyz" units="angstrom"> init.xyz </file>
      <velocities mode="thermal" units="kelvin"> 600 </velocities>
    </initialize>
    <forces><force forcefield="aseraman"> </force></forces>
    <ensemble><temperature units="kelvin"> 600 </temperature></ensemble>
    <motion mode="dynamics">
      <dynamics mode="nve"><timestep units="femtosecond"> 2.0 </timestep></dynamics>
    </motion>
  </system>
</simulation>
"""


def _ipi_executable() -> str:
    found = ipi_executable()
    if not found:
        pytest.skip("the i-pi executable is not on PATH")
    return found


def test_ipi_server_with_our_driver(tmp_path, al_model):
    model_path = tmp_path / "model.npz"
    al_model.save(model_path)
    write_ipi_xyz(tmp_path / "init.xyz", al_cell(seed=99, rattle=0.03))
    address = f"aseraman-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    (tmp_path / "input.xml").write_text(
        INPUT_XML.format(stride=STRIDE, steps=N_STEPS, address=address))

    server = subprocess.Popen([_ipi_executable(), "input.xml"], cwd=tmp_path,
                              stdout=open(tmp_path / "ipi.log", "w"),
                              stderr=subprocess.STDOUT, start_new_session=True)
    driver = None
    try:
        driver = subprocess.Popen(
            [sys.executable, "-m", "ase_raman", "ipi-driver", "--model", str(model_path),
             "--template", str(tmp_path / "init.xyz"), "--address", address, "--unix",
             "--calculator", "emt", "--wait", "60"],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        deadline = time.monotonic() + 120
        while server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert server.poll() == 0, (tmp_path / "ipi.log").read_text()[-3000:]
        out, err = driver.communicate(timeout=30)
        assert driver.returncode == 0, err
        assert "structures evaluated" in err
    finally:
        stop_process_group(server)
        if driver is not None:
            stop_process_group(driver)
        Path(f"/tmp/ipi_{address}").unlink(missing_ok=True)

    frames = list(iter_ipi_xyz(tmp_path / "sim.pos_0.xyz"))
    extras = list(iter_ipi_extras(tmp_path / "sim.alpha_0", key="polarizability"))
    assert len(frames) == len(extras) == N_STEPS // STRIDE + 1
    assert [f.info["step"] for f in frames] == [s for s, _ in extras]
    # the alpha i-PI recorded is our model's prediction at the recorded positions; the
    # file holds the cell to 1e-5 Angstrom (abcABC "%.5f"), hence a 1e-6 relative tolerance
    direct = al_model.predict(frames)
    recorded = np.stack([a for _, a in extras])
    scale = np.abs(direct).max()
    np.testing.assert_allclose(recorded, direct, rtol=0, atol=1e-6 * scale)
    assert np.ptp(recorded[:, 0, 1]) > 100 * 1e-6 * scale  # alpha followed the motion

    assert ipi_timestep_fs(tmp_path / "input.xml") == pytest.approx(2.0)
    n = ipi_to_store(tmp_path / "sim.pos_0.xyz", tmp_path / "sim.alpha_0",
                     tmp_path / "ipi.h5", velocities=tmp_path / "sim.vel_0.xyz",
                     model_metadata=al_model.metadata, uncertainty=tmp_path / "sim.unc_0")
    assert n == len(frames)
    with read_trajectory(tmp_path / "ipi.h5") as traj:
        np.testing.assert_array_equal(traj.step, np.arange(0, N_STEPS + 1, STRIDE))
        np.testing.assert_allclose(traj.time_fs, 2.0 * traj.step)
        np.testing.assert_allclose(traj.polarizability, recorded)
        np.testing.assert_allclose(traj.positions[3], frames[3].positions)
        # velocities in Angstrom/fs: a 600 K start gives a kinetic temperature of order
        # hundreds of K (equipartition with EMT's potential energy)
        v = traj.velocities[0]
        mass = 26.98 * units._amu
        t_kin = mass * (v * 1e5).__pow__(2).sum() / (3 * len(v) * units._k)
        assert 200 < t_kin < 1200
        assert traj.parameters["engine"] == "i-pi"
        # the i-PI path records the model's uncertainty too
        from ase_raman.models.metrics import frame_uncertainty

        np.testing.assert_array_equal(traj.polarizability_uncertainty_step, traj.step)
        _, std = al_model.predict_with_uncertainty(frames)
        np.testing.assert_allclose(traj.polarizability_uncertainty, frame_uncertainty(std),
                                   rtol=1e-4)
