"""Harmonic (phonopy) Raman from DFPT data, and a harmonic vs MD comparison.

Part A -- alpha-quartz from DFPT (the Phonopy-Spectroscopy example data, shared folder
``quartz_phonopy_spectroscopy``): phonopy's Gamma modes (``mesh.yaml``, with irreps) and
VASP dielectric tensors of 40 structures displaced along the modes (``OUTCARs/``) give,
through ``ase_raman.spectra.harmonic``::

    modes = load_modes("mesh.yaml")
    frames = read_dielectric_folder("OUTCARs")        # eps -> alpha = V (eps - 1) / 4 pi
    result = raman_from_dielectric(modes, frames)     # d(alpha)/dQ by least squares
    result.peaks()                                    # frequency, irrep, activity
    harmonic_spectrum(result, sigma_cm=4)             # broadened spectrum

the peak table (cm^-1, irrep, activity 45 a'^2 + 7 gamma'^2 in Angstrom^4/amu), printed
beside Phonopy-Spectroscopy's own ``Raman-PeakTable.dat``, and the spectrum (CSV, PNG).

Part B -- harmonic vs MD on one system. An MD spectrum of quartz needs a quartz force
field and a quartz alpha model, neither of which ships here, so the comparison is made
on a system where both routes use the *same* potential and the *same* alpha model: one
water molecule with a classical Morse O-H + harmonic H-O-H potential (D = 5 eV, a = 2.2
1/Angstrom, r0 = 0.96 Angstrom, k = 4 eV/rad^2, 104.5 deg), and a lambda-SOAP model
fitted on distorted molecules labelled with ASE's bond-polarizability model (a physical
model). Harmonic: phonopy force constants -> ``modes_from_phonopy`` ->
``raman_from_model``. MD: velocity Verlet (0.2 fs) at 20 K with k_B T in each
vibrational mode, alpha every 1 fs -> ``raman_spectrum``. At low temperature the MD
peaks (bend ~1590, stretches ~3700-3760 cm^-1) sit on the harmonic lines, within the
spectral resolution; the script prints both and their shifts.

Usage::

    python examples/phonopy_harmonic_vs_md.py [QUARTZ_DIR] [--temperature 20]
        [--out example-output/phonopy_harmonic_vs_md] [--quick]

``QUARTZ_DIR`` defaults to ``$ASE_RAMAN_SHARED_DATA/quartz_phonopy_spectroscopy`` (a
data folder outside the repository, not shipped); exits with status 2 and one line when
it is missing (``--skip-quartz`` runs part B alone). Defaults: 3.4 ps of water MD, sigma
10 cm^-1, about 20 s on 2 cores; ``--quick``: 1.7 ps, sigma 20 cm^-1, about 12 s.
Outputs: ``quartz_modes.csv``, ``quartz_harmonic.csv``, ``water_md.csv``,
``water_harmonic.csv``, ``harmonic_vs_md.png``, ``summary.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
from ase import Atoms, units

from ase_raman.analytic import WaterPotential, water, water_energy_forces

REPO = Path(__file__).resolve().parents[1]


def default_quartz() -> Path:
    root = os.environ.get("ASE_RAMAN_SHARED_DATA")
    base = Path(root) if root else REPO.parent / "shared" / "data"
    return base / "quartz_phonopy_spectroscopy"


# -- part A: quartz from DFPT ---------------------------------------------------------------
def quartz(folder: Path, out: Path) -> dict:
    from ase_raman.spectra.harmonic import (
        harmonic_spectrum,
        load_modes,
        raman_from_dielectric,
        read_dielectric_folder,
    )

    modes = load_modes(folder / "mesh.yaml")
    frames = read_dielectric_folder(folder / "OUTCARs")
    result = raman_from_dielectric(modes, frames)
    result.write_table(out / "quartz_modes.csv")
    spectrum = harmonic_spectrum(result, sigma_cm=4.0)
    spectrum.to_csv(out / "quartz_harmonic.csv")
    reference = []
    table = folder / "Raman-PeakTable.dat"
    if table.is_file():
        for line in table.read_text().splitlines()[1:]:
            nu, irrep, act, _ = line.split()
            reference.append((float(nu), irrep, float(act)))
    active = [p for p in result.peaks() if p.raman_active]
    print(f"\nalpha-quartz, harmonic Raman from {len(frames)} DFPT dielectric tensors "
          f"({folder.name}):")
    print(f"{'nu (cm^-1)':>11} {'irrep':>5} {'activity (A^4/amu)':>19}   "
          "Phonopy-Spectroscopy: nu, activity")
    rows = []
    for k, p in enumerate(active):
        ref = reference[k] if k < len(reference) else None
        extra = f"   {ref[0]:10.2f} {ref[2]:9.4f}" if ref else ""
        print(f"{p.frequency_cm:11.2f} {p.irrep or '?':>5} {p.activity:19.4f}{extra}")
        rows.append({"frequency_cm": p.frequency_cm, "irrep": p.irrep,
                     "activity_A4_amu": p.activity,
                     "reference_frequency_cm": ref[0] if ref else None,
                     "reference_activity": ref[2] if ref else None})
    return {"peaks": rows, "spectrum": spectrum}


# -- part B: one water molecule, harmonic vs MD ----------------------------------------------


def water_model(seed: int = 1):
    """lambda-SOAP fitted on distorted molecules with bond-polarizability labels (A^3)."""
    from ase.calculators.bond_polarizability import BondPolarizability

    from ase_raman.models.lambda_soap import LambdaSoapRidge
    from ase_raman.tensors import E2A2_PER_EV_TO_A3

    rng = np.random.default_rng(seed)
    labeller, frames = BondPolarizability(), []
    for _ in range(16):
        atoms = water()
        atoms.positions += rng.normal(scale=0.05, size=(3, 3))
        atoms.info["polarizability"] = labeller(atoms) * E2A2_PER_EV_TO_A3
        frames.append(atoms)
    return LambdaSoapRidge(hypers={"cutoff": 3.0, "max_radial": 2, "max_angular": 2},
                           n_folds=3).fit(frames)


def water_modes():
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms

    from ase_raman.spectra.harmonic import modes_from_phonopy

    a = water()
    phonon = Phonopy(PhonopyAtoms(symbols=a.get_chemical_symbols(), cell=a.cell.array,
                                  scaled_positions=a.get_scaled_positions()),
                     supercell_matrix=np.eye(3, dtype=int), primitive_matrix="P",
                     log_level=0)
    phonon.generate_displacements(distance=0.005, is_plusminus=True)
    phonon.forces = [water_energy_forces(np.asarray(sc.positions))[1]
                     for sc in phonon.supercells_with_displacements]
    phonon.produce_force_constants()
    return modes_from_phonopy(phonon)


def water_md(modes, temperature: float, n_samples: int, seed: int) -> list[Atoms]:
    """Velocity Verlet (0.2 fs); each vibrational mode starts with k_B T of kinetic energy;
    frames every 5 steps (1 fs)."""
    from ase.md.verlet import VelocityVerlet

    rng = np.random.default_rng(seed)
    atoms = water()
    atoms.calc = WaterPotential()
    m = modes.masses[:, None]
    kt = units.kB * temperature * units.fs**2  # amu Angstrom^2 / fs^2
    v = np.zeros((3, 3))  # Angstrom / fs
    for b in np.argsort(modes.frequencies)[-3:]:
        v += rng.choice([-1.0, 1.0]) * np.sqrt(2 * kt) * modes.eigenvectors[b] / np.sqrt(m)
    atoms.set_velocities(v / units.fs)
    dyn = VelocityVerlet(atoms, timestep=0.2 * units.fs)
    frames: list[Atoms] = []

    def keep() -> None:
        snap = atoms.copy()
        snap.calc = None
        frames.append(snap)

    dyn.attach(keep, interval=5)
    dyn.run(5 * (n_samples - 1))
    return frames


def water_comparison(out: Path, temperature: float, n_samples: int, sigma: float) -> dict:
    from scipy.signal import find_peaks

    from ase_raman.spectra.harmonic import harmonic_spectrum, raman_from_model
    from ase_raman.spectra.raman import raman_spectrum

    model = water_model()
    modes = water_modes()
    result = raman_from_model(modes, model, step=0.05)
    frames = water_md(modes, temperature, n_samples, seed=3)
    alpha = model.predict(frames)
    md = raman_spectrum(alpha, 1.0, sigma_cm=sigma, max_freq_cm=4500.0,
                        provenance={"system": "water molecule, Morse potential"})
    harm = harmonic_spectrum(result, like=md, temperature=temperature,
                             min_frequency_cm=500.0)
    md.to_csv(out / "water_md.csv")
    harm.to_csv(out / "water_harmonic.csv")
    f = md.frequencies
    idx, _ = find_peaks(md.intensity, height=0.02 * md.intensity.max())
    md_peaks = sorted(float(x) for x in f[idx] if x > 1000)
    targets = sorted(float(x) for x in modes.frequencies[np.argsort(modes.frequencies)[-3:]])
    print(f"\nwater molecule, {temperature:g} K, {len(frames)} alpha samples 1 fs apart "
          f"(sigma {sigma:g} cm^-1):")
    print(f"{'harmonic (cm^-1)':>17} {'MD peak (cm^-1)':>16} {'shift':>7}")
    pairs = []
    for nu in targets:
        near = min(md_peaks, key=lambda p: abs(p - nu)) if md_peaks else float("nan")
        pairs.append({"harmonic_cm": nu, "md_cm": near, "shift_cm": near - nu})
        print(f"{nu:17.1f} {near:16.1f} {near - nu:7.1f}")
    return {"modes": pairs, "n_md_peaks": len(md_peaks), "md": md, "harmonic": harm}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("quartz", nargs="?", default=str(default_quartz()),
                        help="the quartz_phonopy_spectroscopy folder (shared data)")
    parser.add_argument("--skip-quartz", action="store_true", help="run part B only")
    parser.add_argument("--temperature", type=float, default=20.0, help="water MD, K (20)")
    parser.add_argument("--samples", type=int, default=3400, help="water MD alpha samples")
    parser.add_argument("--sigma", type=float, default=10.0, help="smoothing, cm^-1 (10)")
    parser.add_argument("--out", default="example-output/phonopy_harmonic_vs_md")
    parser.add_argument("--quick", action="store_true", help="1700 samples, sigma 20")
    args = parser.parse_args(argv)
    if args.quick:
        args.samples, args.sigma = 1700, 20.0
    folder = Path(args.quartz)
    if not args.skip_quartz and not (folder / "mesh.yaml").is_file():
        print(f"quartz data not found: {folder} needs mesh.yaml and OUTCARs/ (pass the "
              "folder, set ASE_RAMAN_SHARED_DATA, or use --skip-quartz)", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    summary: dict = {}
    plots = []
    if not args.skip_quartz:
        q = quartz(folder, out)
        summary["quartz"] = q["peaks"]
        plots.append(("alpha-quartz, harmonic from DFPT (sigma 4 cm$^{-1}$)",
                      [(q["spectrum"], "harmonic", "-")]))
    w = water_comparison(out, args.temperature, args.samples, args.sigma)
    summary["water"] = {"modes": w["modes"], "n_md_peaks": w["n_md_peaks"],
                        "temperature_K": args.temperature, "sigma_cm": args.sigma}
    plots.append((f"water molecule, {args.temperature:g} K",
                  [(w["md"], "MD", "-"), (w["harmonic"], "harmonic", "--")]))

    from matplotlib.figure import Figure

    fig = Figure(figsize=(6 * len(plots), 4))
    axes = np.atleast_1d(fig.subplots(1, len(plots)))
    for ax, (title, curves) in zip(axes, plots, strict=True):
        for spec, label, style in curves:
            ax.plot(spec.frequencies, spec.intensity, style, label=label)
        ax.set_title(title)
        ax.set_xlabel(r"Raman shift (cm$^{-1}$)")
        ax.set_ylabel("intensity (arb. units)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / "harmonic_vs_md.png", dpi=100)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"\noutputs in {out.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
