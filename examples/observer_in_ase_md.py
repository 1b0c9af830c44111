"""Record alpha along an ordinary ASE MD script with ``PolarizabilityObserver``.

Scenario: you already run MD with ASE (here fcc aluminium with ASE's EMT potential, a
2x2x2 cubic cell of 32 atoms, a = 4.05 Angstrom) and want the Raman spectrum and the
vibrational density of states of that run. Three additions to the MD script do it:

1. **A model of alpha.** Snapshots of a short Langevin run are labelled with ASE's
   Lippincott-Stuttman bond-polarizability model
   (``ase.calculators.bond_polarizability.BondPolarizability``, a physical model of
   alpha; ASE returns e^2 Angstrom^2 / eV, converted to Angstrom^3 with
   ``ase_raman.tensors.E2A2_PER_EV_TO_A3``) and a lambda-SOAP model is fitted on them
   (held-out R^2 printed). In real work these labels are DFPT tensors.
2. **The observer.** ``with PolarizabilityObserver(atoms, model, "md.h5", dyn=dyn) as obs:
   dyn.attach(obs, interval=K)`` records alpha (Angstrom^3), positions, velocities, the
   cell and the energy every K MD steps into an H5MD store, while the MD runs.
3. **The spectra.** ``ase_raman.spectra.raman.raman_spectrum(alpha, dt_fs)`` (eqs. S1-S3
   of docs/theory.md, no Bose factor) and ``ase_raman.spectra.vdos.vdos(velocities, dt_fs,
   masses)`` from the store, written as CSV and PNG.

Physics note: fcc Al has one atom per primitive cell, so it has no first-order
Raman-active phonon; what the MD spectrum shows is the weak second-order (two-phonon and
disorder-induced) scattering that a finite-temperature alpha carries: features up to
twice the top of the phonon band (the VDOS of EMT Al ends near 330 cm^-1), at the
combinations of the few phonons a 32-atom cell holds. A crystal with Raman-active modes
would show sharp peaks at their frequencies (see ``phonopy_harmonic_vs_md.py``).

Usage::

    python examples/observer_in_ase_md.py [--temperature 300] [--steps 3000]
        [--out example-output/observer_in_ase_md] [--quick]

MD: velocity Verlet, 2 fs step, NVE after Maxwell-Boltzmann velocities at
``--temperature`` K; alpha every 5 steps (10 fs, Nyquist 1668 cm^-1). Defaults: 3000
production steps (6 ps), Raman/VDOS smoothing sigma 8 cm^-1, about 25 s on 2 cores.
``--quick``: 700 steps (1.4 ps), sigma 25 cm^-1, 40 labelled snapshots (the default; fewer
leave so few held-out frames that their R^2 is noise), about 10 s.
Outputs in ``--out``: ``model.npz``, ``md.h5``, ``raman.csv``, ``vdos.csv``,
``spectra.png``, ``summary.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from ase import units
from ase.build import bulk
from ase.calculators.bond_polarizability import BondPolarizability
from ase.calculators.emt import EMT
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary
from ase.md.verlet import VelocityVerlet

from ase_raman import PolarizabilityObserver
from ase_raman.models.lambda_soap import LambdaSoapRidge
from ase_raman.models.metrics import regression_metrics
from ase_raman.spectra.raman import raman_spectrum
from ase_raman.spectra.vdos import vdos
from ase_raman.store import read_trajectory
from ase_raman.tensors import E2A2_PER_EV_TO_A3

TIMESTEP_FS = 2.0
INTERVAL = 5  # MD steps between recorded frames
HYPERS = {"cutoff": 4.5, "max_radial": 4, "max_angular": 3}


def thermalize(atoms, temperature_K: float, rng) -> None:
    """Maxwell-Boltzmann momenta at ``temperature_K`` (ASE >= 3.29 API, else the older)."""
    try:
        from ase.md.velocitydistribution import thermalize_momenta
    except ImportError:  # ASE < 3.29
        from ase.md.velocitydistribution import MaxwellBoltzmannDistribution as thermalize_momenta
    thermalize_momenta(atoms, temperature_K=temperature_K, rng=rng)


def make_atoms() -> object:
    """32-atom fcc Al, a = 4.05 Angstrom, with ASE's EMT potential."""
    atoms = bulk("Al", "fcc", a=4.05, cubic=True).repeat((2, 2, 2))
    atoms.calc = EMT()
    return atoms


def training_frames(temperature: float, n_frames: int, rng) -> list:
    """Snapshots of a Langevin run at 1-2x ``temperature``, labelled in Angstrom^3."""
    labeller = BondPolarizability()
    frames = []
    for hot in (temperature, 2 * temperature):
        atoms = make_atoms()
        thermalize(atoms, hot, rng)
        dyn = Langevin(atoms, TIMESTEP_FS * units.fs, temperature_K=hot, friction=0.02,
                       rng=rng, fixcm=False)
        for _ in range(n_frames // 2):
            dyn.run(10)
            snap = atoms.copy()
            snap.calc = None
            snap.info["polarizability"] = labeller(snap) * E2A2_PER_EV_TO_A3
            frames.append(snap)
    return frames


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--temperature", type=float, default=300.0, help="K (300)")
    parser.add_argument("--steps", type=int, default=3000, help="production MD steps")
    parser.add_argument("--sigma", type=float, default=8.0, help="smoothing, cm^-1 (8)")
    parser.add_argument("--n-train", type=int, default=40, help="labelled snapshots (40)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="example-output/observer_in_ase_md")
    parser.add_argument("--quick", action="store_true",
                        help="700 steps, sigma 25 cm^-1")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.sigma = 700, 25.0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)

    # 1. a model of alpha, fitted on physically labelled snapshots
    frames = training_frames(args.temperature, args.n_train, rng)
    test, train = frames[::4], [f for i, f in enumerate(frames) if i % 4]
    model = LambdaSoapRidge(hypers=HYPERS, n_folds=3).fit(train)
    fit = regression_metrics(model.predict(test), np.array([f.info["polarizability"]
                                                            for f in test]))
    model.save(out / "model.npz")
    print(f"lambda-SOAP on {len(train)} bond-polarizability-labelled snapshots: held-out "
          f"R^2 {fit['r2']:.3f}, RMSE {fit['rmse_A3']:.3f} Angstrom^3 ({len(test)} frames)")

    # 2. an ordinary ASE MD script, plus the observer
    atoms = make_atoms()
    thermalize(atoms, 2 * args.temperature, rng)
    Stationary(atoms)  # equipartition brings the kinetic temperature to ~T
    dyn = VelocityVerlet(atoms, timestep=TIMESTEP_FS * units.fs)
    store = out / "md.h5"
    with PolarizabilityObserver(atoms, model, store, dyn=dyn, mode="w") as obs:
        dyn.attach(obs, interval=INTERVAL)
        dyn.run(args.steps)
    print(f"MD: {args.steps} steps of {TIMESTEP_FS:g} fs, final T = "
          f"{atoms.get_temperature():.0f} K")

    # 3. spectra from the store
    with read_trajectory(store) as traj:
        dt = float(np.median(np.diff(traj.time_fs)))  # fs between recorded frames
        # (traj.dt_fs is the MD timestep; traj.sampling_interval the steps between frames)
        alpha = np.asarray(traj.polarizability)
        velocities = np.asarray(traj.velocities[:])
        masses = atoms.get_masses()
        symbols = traj.symbols
    provenance = {"trajectory": store.name, "labels": "Lippincott-Stuttman (ASE)"}
    spectrum = raman_spectrum(alpha, dt, sigma_cm=args.sigma, max_freq_cm=600.0,
                              provenance=provenance)
    dos = vdos(velocities, dt, masses=masses, species=symbols, sigma_cm=args.sigma,
               max_freq_cm=600.0)
    spectrum.to_csv(out / "raman.csv")
    dos.to_csv(out / "vdos.csv")

    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4))
    ax_r, ax_v = fig.subplots(1, 2)
    spectrum.plot(ax=ax_r, label=f"Al {args.temperature:g} K (MD)")
    ax_r.set_title("Raman from MD (no Bose factor)")
    dos.plot(ax=ax_v)
    ax_v.set_title("VDOS")
    fig.tight_layout()
    fig.savefig(out / "spectra.png", dpi=100)

    f = dos.frequencies
    band_top = float(f[np.nonzero(dos.total > 0.01 * dos.total.max())[0][-1]])
    peak = float(spectrum.frequencies[np.argmax(spectrum.intensity)])
    summary = {"n_frames": len(alpha), "dt_fs": dt, "fit": fit,
               "raman_peak_cm": peak, "vdos_band_top_cm": band_top,
               "vdos_integral": dos.integral(), "temperature_K": args.temperature}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"{len(alpha)} alpha frames, {dt:g} fs apart; Raman maximum at {peak:.0f} cm^-1; "
          f"VDOS band up to {band_top:.0f} cm^-1")
    print(f"outputs in {out.resolve()}: model.npz, md.h5, raman.csv, vdos.csv, spectra.png, "
          "summary.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
