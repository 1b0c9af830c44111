"""A real i-PI simulation driven by ``ase-raman ipi-driver``: alpha as i-PI extras, Raman.

Scenario: your MD runs in i-PI (path integrals, thermostats, ...) and an ASE calculator
supplies the forces. ``ase-raman ipi-driver`` is that force client: it returns forces,
energy and virial from the ASE calculator *and* the model's alpha (Angstrom^3) as i-PI
"extras", which i-PI writes to its own output (``sim.alpha_0``) next to positions and
velocities. Afterwards ``ase_raman.engines.ipi.ipi_to_store`` gathers them into an H5MD
store (time = step x the timestep of ``input.xml``) and the Raman spectrum follows.

What the script does, in ``--out``:

1. fits a lambda-SOAP model of 32-atom fcc Al (a = 4.05 Angstrom) on Langevin/EMT
   snapshots labelled with ASE's Lippincott-Stuttman bond-polarizability model (a
   physical model; e^2 Angstrom^2/eV converted with ``E2A2_PER_EV_TO_A3``) -> model.npz;
2. writes i-PI's ``init.xyz`` and ``input.xml`` (NVE, 2 fs, thermal velocities at
   ``--temperature``; positions, velocities and ``extras`` every ``--stride`` steps;
   a UNIX socket with a unique address);
3. starts the server ``i-pi input.xml``, then the driver::

       ase-raman ipi-driver --model model.npz --template init.xyz --address ADDR --unix \\
           --calculator emt

   waits for i-PI to finish, and always stops both processes (and removes the socket
   file), also on errors or Ctrl-C;
4. ``ipi_to_store("sim.pos_0.xyz", "sim.alpha_0", "ipi.h5", velocities="sim.vel_0.xyz",
   input_xml="input.xml")``, then ``raman_spectrum`` -> raman.csv, raman.png,
   summary.json.

Usage::

    python examples/ipi_run.py [--steps 2500] [--stride 5] [--temperature 600]
        [--out example-output/ipi_run] [--quick]

Needs the extra ``pip install 'ase-raman[ipi]'`` (exits with status 2 and one line
without it). Defaults: 2500 steps (5 ps), sigma 8 cm^-1, about 1 minute on 2 cores (the
driver predicts alpha at every force call, i.e. every MD step). ``--quick``: 600 steps
(1.2 ps), sigma 30 cm^-1, about 20 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
from ase import units
from ase.build import bulk
from ase.calculators.bond_polarizability import BondPolarizability
from ase.calculators.emt import EMT
from ase.md.langevin import Langevin

from ase_raman.engines.ipi import ipi_executable, stop_process_group, write_ipi_xyz

TIMESTEP_FS = 2.0
HYPERS = {"cutoff": 4.5, "max_radial": 4, "max_angular": 3}

INPUT_XML = """<simulation verbosity="low">
  <output prefix="sim">
    <trajectory filename="pos" stride="{stride}" format="xyz" cell_units="angstrom">
      positions{{angstrom}} </trajectory>
    <trajectory filename="vel" stride="{stride}" format="xyz"> velocities </trajectory>
    <trajectory filename="alpha" stride="{stride}" extra_type="polarizability"> extras
    </trajectory>
    <properties stride="{stride}" filename="out"> [step, time{{femtosecond}},
      temperature{{kelvin}}, potential{{electronvolt}}] </properties>
  </output>
  <total_steps>{steps}</total_steps>
  <prng><seed>{seed}</seed></prng>
  <ffsocket name="aseraman" mode="unix" pbc="true">
    <address>{address}</address>
    <latency>1e-3</latency>
  </ffsocket>
  <system>
    <initialize nbeads="1">
      <file mode="xyz" units="angstrom"> init.xyz </file>
      <velocities mode="thermal" units="kelvin"> {temperature} </velocities>
    </initialize>
    <forces><force forcefield="aseraman"> </force></forces>
    <ensemble><temperature units="kelvin"> {temperature} </temperature></ensemble>
    <motion mode="dynamics">
      <dynamics mode="nve"><timestep units="femtosecond"> {timestep} </timestep></dynamics>
    </motion>
  </system>
</simulation>
"""


def al_cell():
    return bulk("Al", "fcc", a=4.05, cubic=True).repeat((2, 2, 2))


def fit_model(temperature: float, n_frames: int, seed: int):
    """lambda-SOAP on EMT Langevin snapshots with bond-polarizability labels (Angstrom^3)."""
    from ase.md.velocitydistribution import Stationary

    from ase_raman.models.lambda_soap import LambdaSoapRidge
    from ase_raman.tensors import E2A2_PER_EV_TO_A3

    rng = np.random.default_rng(seed)
    atoms = al_cell()
    atoms.calc = EMT()
    atoms.set_velocities(rng.normal(scale=np.sqrt(units.kB * temperature / 26.98),
                                    size=(len(atoms), 3)))
    Stationary(atoms)
    dyn = Langevin(atoms, TIMESTEP_FS * units.fs, temperature_K=temperature, friction=0.02,
                   rng=rng, fixcm=False)
    labeller, frames = BondPolarizability(), []
    for _ in range(n_frames):
        dyn.run(10)
        snap = atoms.copy()
        snap.calc = None
        snap.info["polarizability"] = labeller(snap) * E2A2_PER_EV_TO_A3
        frames.append(snap)
    return LambdaSoapRidge(hypers=HYPERS, n_folds=3).fit(frames)


def run_ipi(out: Path, ipi: str, address: str, timeout_s: float) -> None:
    """Start i-PI, then the driver; wait for i-PI to finish; always stop both."""
    log = open(out / "ipi.log", "w")
    server = driver = None
    try:
        server = subprocess.Popen([ipi, "input.xml"], cwd=out, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        driver = subprocess.Popen(
            [sys.executable, "-m", "ase_raman", "ipi-driver", "--model", "model.npz",
             "--template", "init.xyz", "--address", address, "--unix", "--calculator",
             "emt", "--wait", "60"],
            cwd=out, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        print(f"$ i-pi input.xml &  (pid {server.pid})\n$ ase-raman ipi-driver --model "
              f"model.npz --template init.xyz --address {address} --unix --calculator emt",
              flush=True)
        deadline = time.monotonic() + timeout_s
        while server.poll() is None and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if server.poll() is None and driver.poll() is not None:
            if driver.returncode == 0:  # the driver saw i-PI's exit first: let i-PI finish
                while server.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.2)
            else:
                _, err = driver.communicate()
                raise RuntimeError(f"the driver stopped early ({driver.returncode}): "
                                   f"{err[-2000:]}")
        if server.poll() is None:
            raise RuntimeError(f"i-PI did not finish within {timeout_s:g} s")
        if server.returncode != 0:
            raise RuntimeError(f"i-PI failed ({server.returncode}); see {out / 'ipi.log'}")
        _, err = driver.communicate(timeout=30)
        print("driver: " + (err.strip().splitlines() or ["(no output)"])[-1])
    finally:
        stop_process_group(server)
        stop_process_group(driver)
        log.close()
        Path(f"/tmp/ipi_{address}").unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2500, help="MD steps of 2 fs (2500)")
    parser.add_argument("--stride", type=int, default=5, help="steps between outputs (5)")
    parser.add_argument("--temperature", type=float, default=600.0,
                        help="K of the thermal initial velocities (600)")
    parser.add_argument("--sigma", type=float, default=8.0, help="smoothing, cm^-1 (8)")
    parser.add_argument("--seed", type=int, default=31415)
    parser.add_argument("--timeout", type=float, default=600.0, help="i-PI wall limit, s")
    parser.add_argument("--out", default="example-output/ipi_run")
    parser.add_argument("--quick", action="store_true", help="600 steps, sigma 30 cm^-1")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.sigma = 600, 30.0

    ipi = ipi_executable()
    if ipi is None:
        print("the i-pi executable is not installed: pip install 'ase-raman[ipi]'",
              file=sys.stderr)
        return 2
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("sim.*"), out / "RESTART"]:  # outputs of an earlier run
        old.unlink(missing_ok=True)

    model = fit_model(args.temperature, 24 if args.quick else 40, args.seed)
    model.save(out / "model.npz")
    write_ipi_xyz(out / "init.xyz", al_cell())
    address = f"aseraman-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    (out / "input.xml").write_text(INPUT_XML.format(
        stride=args.stride, steps=args.steps, address=address, seed=args.seed,
        temperature=args.temperature, timestep=TIMESTEP_FS))

    start = time.perf_counter()
    run_ipi(out, ipi, address, args.timeout)
    print(f"i-PI: {args.steps} steps in {time.perf_counter() - start:.1f} s")

    from ase_raman.engines.ipi import ipi_to_store
    from ase_raman.spectra.raman import raman_spectrum
    from ase_raman.store import read_trajectory

    store = out / "ipi.h5"
    n = ipi_to_store(out / "sim.pos_0.xyz", out / "sim.alpha_0", store,
                     velocities=out / "sim.vel_0.xyz", input_xml=out / "input.xml",
                     model_metadata=model.metadata)
    with read_trajectory(store) as traj:
        time_fs = np.asarray(traj.time_fs)
        alpha = np.asarray(traj.polarizability)
        engine = traj.parameters["engine"]
    dt = float(np.median(np.diff(time_fs)))
    spectrum = raman_spectrum(alpha, dt, sigma_cm=args.sigma, max_freq_cm=600.0,
                              provenance={"engine": engine, "store": store.name})
    spectrum.to_csv(out / "raman.csv")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    spectrum.plot(ax=fig.subplots(), label=f"Al, i-PI NVE from {args.temperature:g} K")
    fig.tight_layout()
    fig.savefig(out / "raman.png", dpi=100)
    summary = {"n_frames": n, "dt_fs": dt, "duration_fs": float(time_fs[-1] - time_fs[0]),
               "engine": engine, "raman_peak_cm": float(
                   spectrum.frequencies[np.argmax(spectrum.intensity)])}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"{n} frames ({dt:g} fs apart) -> {store.name}; Raman maximum at "
          f"{summary['raman_peak_cm']:.0f} cm^-1")
    print(f"outputs in {out}: model.npz, input.xml, init.xyz, sim.* (i-PI), ipi.h5, "
          "raman.csv, raman.png, summary.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
