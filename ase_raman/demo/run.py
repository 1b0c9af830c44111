"""``ase-raman demo``: central-peak screening of AgI, end to end, on real engines.

Stages (each reported on stdout, with a progress bar on a terminal):

1. **MD equilibration** with ASE's Langevin dynamics and the Parrinello-Rahman-Vashishta
   potential in LAMMPS (:mod:`ase_raman.demo.agi`): hot alpha-AgI, the same alpha cell
   cooled until silver stops diffusing, ordered zincblende (and, in the full run,
   wurtzite; an alpha temperature series runs when ``settings.py`` lists one, see the
   note on ``FULL`` there). Snapshots are kept for training.
2. **Labels and model**: the snapshots are labelled by the dipole-induced-dipole plugin
   (a *physical model* standing in for DFPT, which cannot run offline; named as such in
   every output), then the lambda-SOAP learner is fitted with a held-out test set
   (parity plot, R^2).
3. **Production MD** (velocity Verlet) with :class:`~ase_raman.PolarizabilityObserver`
   recording alpha, positions and velocities every ``observer_interval`` steps into one
   H5MD store per system.
4. **Analysis** per system: Raman spectrum as the reference paper defines it (no Bose
   factor) and Bose-weighted, VDOS per species, MSD with the Ag/I diffusion
   coefficients, central-peak metrics.
5. **Harmonic Raman** of ordered zincblende AgI from phonopy (forces from the same
   LAMMPS potential) and the same lambda-SOAP model.
6. **Summary**: ``summary.json``, a comparison plot, and a five-line verdict.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms, units

from ..atomic_write import atomic_output
from ..errors import UsageError
from ..jsonsafe import json_safe
from .settings import FULL, QUICK, DemoSettings, SystemSpec

LABEL_SOURCE = "dipole-induced-dipole model (ase-raman-did plugin), not DFPT"
#: Force threshold (eV/Angstrom) and step limit of the relaxation of annealed cells.
MINIMIZE_FMAX, MINIMIZE_STEPS = 0.02, 1000
#: Temperature steps of the linear cooling ramp of annealed cells.
ANNEAL_STAGES = 20
#: Primitive cell of the (face-centred) zincblende lattice in its conventional cubic cell.
FCC_PRIMITIVE = [[0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]]


class _Log:
    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.start = time.perf_counter()

    def __call__(self, message: str) -> None:
        if not self.quiet:
            print(f"[{time.perf_counter() - self.start:7.1f} s] {message}", flush=True)

    def bar(self, total: int, desc: str):
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, leave=False,
                    disable=self.quiet or not sys.stderr.isatty())


# -- stage 1: systems and equilibration ---------------------------------------------
def build_system(spec: SystemSpec, settings: DemoSettings, seed: int) -> Atoms:
    from .agi import alpha_agi, wurtzite_agi, zincblende_agi

    if spec.phase == "alpha":
        return alpha_agi(settings.alpha_repeat, seed=seed)
    if spec.phase == "zincblende":
        return zincblende_agi(settings.zincblende_repeat)
    if spec.phase == "wurtzite":
        return wurtzite_agi()
    raise UsageError(f"unknown AgI phase {spec.phase!r}")


def equilibrate(atoms: Atoms, spec: SystemSpec, settings: DemoSettings, seed: int,
                log: _Log) -> list[Atoms]:
    """Langevin at the system's temperature (after an anneal for cooled cells); returns
    snapshots for training, taken over the last two thirds of the final equilibration."""
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
    from ase.optimize import FIRE

    from .agi import agi_calculator

    rng = np.random.default_rng(seed)
    atoms.calc = agi_calculator()
    n_eq = settings.equilibration_steps

    def thermostat(temperature_K: float) -> Langevin:
        MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K, rng=rng)
        Stationary(atoms)
        return Langevin(atoms, settings.timestep_fs * units.fs, temperature_K=temperature_K,
                        friction=settings.friction_per_fs / units.fs, rng=rng, fixcm=False)

    if spec.anneal_from_K is not None:
        dyn = thermostat(spec.anneal_from_K)
        dyn.run(n_eq)
        ramp = np.linspace(spec.anneal_from_K, spec.temperature_K, ANNEAL_STAGES)
        with log.bar(len(ramp), f"anneal {spec.name}") as bar:
            for temperature in ramp:
                dyn.set_temperature(temperature_K=float(temperature))
                dyn.run(3 * n_eq // ANNEAL_STAGES)
                bar.update(1)
        FIRE(atoms, logfile=None).run(fmax=MINIMIZE_FMAX, steps=MINIMIZE_STEPS)

    dyn = thermostat(spec.temperature_K)
    snapshots: list[Atoms] = []
    first_kept = n_eq // 3

    def keep() -> None:
        if dyn.nsteps >= first_kept:
            snap = atoms.copy()
            snap.calc = None
            snapshots.append(snap)

    dyn.attach(keep, interval=settings.training_every)
    with log.bar(n_eq, f"equilibrate {spec.name}") as bar:
        dyn.attach(lambda: bar.update(1), interval=1)
        dyn.run(n_eq)
    return snapshots


# -- stage 2: labels and model ---------------------------------------------------------
def label_and_fit(snapshots: list[Atoms], settings: DemoSettings, out: Path, seed: int,
                  log: _Log) -> tuple[Any, dict[str, Any]]:
    from ..models.base import reference_polarizabilities
    from ..models.labels import label_frames
    from ..models.lambda_soap import LambdaSoapRidge
    from ..models.metrics import regression_metrics
    from ..models.parity import write_parity_plot
    from ..models.registry import get_learner

    labeller = get_learner("dipole-induced-dipole")(hypers={"on_catastrophe": "nan"},
                                                     quiet=True)
    with log.bar(len(snapshots), "label (dipole-induced-dipole)") as bar:
        frames, n_catastrophes = label_frames(labeller, snapshots, LABEL_SOURCE,
                                              progress=bar.update)
    log(f"labelled {len(frames)} snapshots with the {LABEL_SOURCE}; "
        f"{n_catastrophes} polarization catastrophes refused")
    order = np.random.default_rng(seed).permutation(len(frames))
    n_test = max(2, int(round(settings.test_fraction * len(frames))))
    test = [frames[i] for i in order[:n_test]]
    train = [frames[i] for i in order[n_test:]]
    model = LambdaSoapRidge(hypers=settings.lambda_soap_hypers).fit(train)
    predicted = model.predict(test)
    reference = reference_polarizabilities(test)
    metrics = regression_metrics(predicted, reference)
    model.training.update({"label_source": LABEL_SOURCE, "n_test": n_test,
                           **{f"test_{k}": v for k, v in metrics.items()}})
    model.save(out / "model.npz")
    write_parity_plot(out / "model.parity.png", predicted, reference,
                      title=f"lambda-SOAP vs {LABEL_SOURCE}", metrics=metrics)
    per_system = per_system_metrics(test, predicted, reference)
    fit = {"n_train": len(train), "n_test": n_test, "label_source": LABEL_SOURCE,
           "polarization_catastrophes": n_catastrophes,
           **{k: metrics[k] for k in ("r2", "r2_lambda0", "r2_lambda2", "rmse_A3")},
           "per_system": per_system}
    log(f"lambda-SOAP model: held-out R^2 = {metrics['r2']:.3f} (lambda=0 "
        f"{metrics['r2_lambda0']:.3f}, lambda=2 {metrics['r2_lambda2']:.3f}); within one "
        "system (cell sizes differ, so the pooled lambda=0 R^2 is inflated): "
        + ", ".join(f"{name} {m['r2_lambda0']:.2f}/{m['r2_lambda2']:.2f}"
                    for name, m in per_system.items()))
    return model, fit


def per_system_metrics(test: list[Atoms], predicted: np.ndarray, reference: np.ndarray
                       ) -> dict[str, dict[str, float]]:
    """Held-out R^2 (lambda = 0 / lambda = 2) and RMSE (Angstrom^3) within each system
    (``info["system"]`` of the test frames). Pooled over systems of different sizes, the
    lambda = 0 R^2 mostly measures that alpha grows with the number of atoms; within one
    system it measures how well the thermal fluctuations of alpha are learned."""
    from ..models.metrics import regression_metrics

    names = np.array([atoms.info.get("system", "") for atoms in test])
    result = {}
    for name in dict.fromkeys(names):
        rows = names == name
        if rows.sum() < 3:
            continue
        m = regression_metrics(predicted[rows], reference[rows])
        result[str(name)] = {k: m[k] for k in ("n", "r2_lambda0", "r2_lambda2", "rmse_A3")}
    return result


# -- stage 3: production with the observer ----------------------------------------------
def produce(atoms: Atoms, spec: SystemSpec, model: Any, settings: DemoSettings, out: Path,
            log: _Log) -> Path:
    from ase.md.verlet import VelocityVerlet

    from ..observe import PolarizabilityObserver

    path = out / f"{spec.name}.h5"
    if path.exists():
        path.unlink()
    dyn = VelocityVerlet(atoms, settings.timestep_fs * units.fs)
    with PolarizabilityObserver(atoms, model, path, dyn=dyn, mode="w", logfile=None) as obs, \
            log.bar(settings.production_steps, f"production {spec.name}") as bar:
        dyn.attach(obs, interval=settings.observer_interval)
        dyn.attach(lambda: bar.update(1), interval=1)
        dyn.run(settings.production_steps)
    return path


# -- stage 4: analysis -------------------------------------------------------------------
def analyse(path: Path, spec: SystemSpec, settings: DemoSettings, out: Path) -> dict[str, Any]:
    from ..spectra.raman import central_peak_metrics, raman_spectrum
    from ..spectra.transport import analyse_mechanism, fit_diffusion, mean_squared_displacement
    from ..spectra.vdos import vdos
    from ..store import read_trajectory

    with read_trajectory(path) as traj:
        dt = traj.frame_interval_fs
        alpha = np.asarray(traj.polarizability)
        positions = np.asarray(traj.positions[:])
        velocities = np.asarray(traj.velocities[:])
        cells = np.asarray(traj.cells)
        symbols = traj.symbols
        masses = Atoms(symbols).get_masses()
    provenance = {"trajectory": path.name, "labels": LABEL_SOURCE, "system": spec.name}
    options = dict(sigma_cm=settings.sigma_cm, max_freq_cm=settings.max_freq_cm,
                   provenance=provenance)
    classical = raman_spectrum(alpha, dt, **options)
    bose = raman_spectrum(alpha, dt, temperature=spec.temperature_K,
                          quantum_correction="bose", **options)
    classical.to_csv(out / f"{spec.name}.raman.csv")
    bose.to_csv(out / f"{spec.name}.raman_bose.csv")
    dos = vdos(velocities, dt, masses=masses, species=symbols, sigma_cm=settings.sigma_cm,
               max_freq_cm=settings.max_freq_cm)
    dos.to_csv(out / f"{spec.name}.vdos.csv")
    msd = mean_squared_displacement(positions, symbols, dt, cells=cells)
    diffusion = {}
    for species in ("Ag", "I"):
        fit = fit_diffusion(msd.time_fs, msd.msd[species], n_series=msd.counts[species])
        diffusion[species] = {"D_cm2_s": fit.D_cm2_s, "D_err_cm2_s": fit.D_err_cm2_s,
                              "window_ps": list(fit.window_ps)}
    central = central_peak_metrics(bose, cutoff_cm=settings.cutoff_cm)
    mechanism = analyse_mechanism(positions, symbols, dt, species="Ag", cells=cells,
                                  masses=masses, raman=central)
    return {
        "temperature_K": spec.temperature_K,
        "phase": spec.phase,
        "n_atoms": len(symbols),
        "alpha_samples": int(len(alpha)),
        "sampling_interval_fs": dt,
        "D_cm2_s": diffusion["Ag"]["D_cm2_s"],
        "diffusion": diffusion,
        "central_peak": central,
        "mechanism": mechanism.species["Ag"].summary(),
        "central_peak_reference_formula": central_peak_metrics(
            classical, cutoff_cm=settings.cutoff_cm),
        "msd_final_A2": {s: float(msd.msd[s][-1]) for s in ("Ag", "I")},
        "_plot": {"raman": classical, "raman_bose": bose, "vdos": dos, "msd": msd},
    }


# -- stage 5: harmonic Raman -------------------------------------------------------------
def harmonic(model: Any, settings: DemoSettings, md_spectrum: Any, n_md_atoms: int,
             out: Path, log: _Log) -> dict[str, Any]:
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms

    from ..spectra.harmonic import harmonic_spectrum, modes_from_phonopy, raman_from_model
    from .agi import PRV_CHARGES, agi_calculator, zincblende_agi

    unit = zincblende_agi((1, 1, 1))
    phonon = Phonopy(PhonopyAtoms(symbols=unit.get_chemical_symbols(), cell=unit.cell[:],
                                  scaled_positions=unit.get_scaled_positions()),
                     supercell_matrix=np.eye(3, dtype=int) * settings.phonopy_supercell,
                     primitive_matrix=FCC_PRIMITIVE)
    phonon.generate_displacements(distance=0.01)
    calc = agi_calculator()
    forces = []
    supercells = phonon.supercells_with_displacements
    with log.bar(len(supercells), "phonopy displacements") as bar:
        for sc in supercells:
            atoms = Atoms(sc.symbols, cell=sc.cell, scaled_positions=sc.scaled_positions,
                          pbc=True)
            atoms.set_initial_charges([PRV_CHARGES[s] for s in sc.symbols])
            atoms.calc = calc
            forces.append(atoms.get_forces())
            bar.update(1)
    phonon.forces = forces
    phonon.produce_force_constants()
    modes = modes_from_phonopy(phonon)
    result = raman_from_model(modes, model)
    cells = n_md_atoms / len(modes.atoms)
    spectrum = harmonic_spectrum(result, like=md_spectrum, cells=cells)
    spectrum.to_csv(out / "zincblende_AgI_harmonic.raman.csv")
    result.write_table(out / "zincblende_AgI_harmonic.modes.csv")
    peaks = [{"frequency_cm-1": p.frequency_cm, "irrep": p.irrep,
              "activity_A4_amu": p.activity, "raman_active": p.raman_active}
             for p in result.peaks()]
    return {"modes": peaks, "_plot": spectrum}


# -- stage 6: plots, summary, verdict ---------------------------------------------------
def comparison_plot(path: Path, systems: dict[str, dict], harmonic_spectrum: Any) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 8))
    axes = fig.subplots(2, 2)
    for name, res in systems.items():
        plot = res["_plot"]
        label = f"{name} (D_Ag={res['D_cm2_s']:.1e} cm$^2$/s)"
        for ax, key in ((axes[0, 0], "raman"), (axes[0, 1], "raman_bose")):
            spec = plot[key]
            ax.plot(spec.frequencies, spec.intensity / max(spec.intensity.max(), 1e-300),
                    label=label)
        axes[1, 0].plot(plot["vdos"].frequencies, plot["vdos"].partial["Ag"], label=name)
        axes[1, 1].plot(plot["msd"].time_ps, plot["msd"].msd["Ag"], label=name)
    if harmonic_spectrum is not None:
        h = harmonic_spectrum
        axes[0, 0].plot(h.frequencies, h.intensity / max(h.intensity.max(), 1e-300), "k--",
                        label="zincblende harmonic (phonopy)")
    axes[0, 0].set_title("Raman, reference formula (no Bose factor)")
    axes[0, 1].set_title("Raman, Bose-weighted (central peak at 0)")
    axes[1, 0].set_title("VDOS of Ag")
    axes[1, 1].set_title("MSD of Ag")
    for ax in axes[0]:
        ax.set_xlabel(r"frequency (cm$^{-1}$)")
        ax.set_ylabel("intensity (normalised)")
    axes[1, 0].set_xlabel(r"frequency (cm$^{-1}$)")
    axes[1, 0].set_ylabel(r"states per cm$^{-1}$")
    axes[1, 1].set_xlabel("lag time (ps)")
    axes[1, 1].set_ylabel(r"MSD ($\AA^2$)")
    for ax in axes.flat:
        ax.legend(fontsize=7)
    fig.suptitle(f"AgI central-peak screening (alpha labels: {LABEL_SOURCE})", fontsize=10)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")


def raman_plot(path: Path, systems: dict[str, dict]) -> None:
    """The MD Raman spectra of all systems (reference formula and Bose-weighted)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4))
    axes = fig.subplots(1, 2)
    for name, res in systems.items():
        res["_plot"]["raman"].plot(ax=axes[0], label=name, polarized=False)
        res["_plot"]["raman_bose"].plot(ax=axes[1], label=name, polarized=False)
    axes[0].set_title("no Bose factor (reference formula)")
    axes[1].set_title("Bose-weighted")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")


#: Tracer D_Ag (cm^2/s) above which a system counts as diffusing in the verdict.
DIFFUSING_D_CM2_S = 1e-6


def correlation_time_ps(width_cm: float) -> float:
    """Correlation time (ps) of a Lorentzian central peak of half-width ``width_cm``:
    tau = 1 / (2 pi c Gamma)."""
    from ..spectra.signal import wavenumber_to_angular

    return 1e-3 / float(wavenumber_to_angular(width_cm))  # 1 / omega, fs -> ps


def hop_time_ps(d_cm2_s: float, lattice_A: float) -> float:
    """Mean residence time (ps) of an Ag ion on a tetrahedral site of the bcc iodide
    lattice (hops of l = a / (2 sqrt 2) between face-sharing sites) for tracer
    diffusion coefficient ``d_cm2_s``: l^2 / (6 D)."""
    hop_cm = lattice_A / (2.0 * np.sqrt(2.0)) * 1e-8
    return hop_cm**2 / (6.0 * d_cm2_s) * 1e12


def temperature_series(systems: dict[str, dict], specs: tuple[SystemSpec, ...]
                       ) -> dict[str, Any] | None:
    """How the central peak of the alpha temperature series follows D_Ag.

    Per system (by temperature): T, D_Ag, the low-frequency fraction, the fitted
    central-peak half-width Gamma and its correlation time 1 / (2 pi c Gamma), and the
    mean Ag residence time from D (:func:`hop_time_ps`); plus the Spearman rank
    correlations of the fraction and of the width with D_Ag. None without a series of at
    least two systems.
    """
    from scipy.stats import spearmanr

    from .agi import ALPHA_AGI_A

    names = sorted((s.name for s in specs if s.series and s.name in systems),
                   key=lambda n: systems[n]["temperature_K"])
    if len(names) < 2:
        return None
    rows = []
    for name in names:
        res = systems[name]
        width = float(res["central_peak"]["central_width_cm"])
        d = float(res["D_cm2_s"])
        rows.append({
            "system": name, "temperature_K": res["temperature_K"], "D_cm2_s": d,
            "low_frequency_fraction": res["central_peak"]["low_frequency_fraction"],
            "central_width_cm": width,
            "correlation_time_ps": correlation_time_ps(width) if width > 0 else None,
            "hop_time_ps": hop_time_ps(d, ALPHA_AGI_A) if d > 0 else None,
        })

    def rank_correlation(key: str) -> float:
        values = [r[key] for r in rows]
        if not np.all(np.isfinite(values)):
            return float("nan")
        return float(spearmanr(values, [r["D_cm2_s"] for r in rows]).statistic)

    return {"systems": rows,
            "fraction_vs_D_rank_correlation": rank_correlation("low_frequency_fraction"),
            "width_vs_D_rank_correlation": rank_correlation("central_width_cm")}


def verdict(systems: dict[str, dict], series: dict[str, Any] | None = None) -> list[str]:
    """Five lines: strongest/weakest central peak; whether the central peak separates
    the diffusing systems (D_Ag > :data:`DIFFUSING_D_CM2_S`) from the others; the fastest
    diffuser; whether the low-frequency fraction follows D_Ag along the temperature
    series (or, without one, the width of the fastest diffuser's peak); where the labels
    come from."""
    def fraction(name: str) -> float:
        return float(systems[name]["central_peak"]["low_frequency_fraction"])

    ranked = sorted(systems, key=lambda n: -fraction(n))
    top, bottom = ranked[0], ranked[-1]
    ratio = fraction(top) / fraction(bottom) if fraction(bottom) > 0 else float("inf")
    fastest = max(systems, key=lambda n: systems[n]["D_cm2_s"])
    moving = [n for n in systems if systems[n]["D_cm2_s"] > DIFFUSING_D_CM2_S]
    still = [n for n in systems if n not in moving]
    if moving and still:
        gap = min(fraction(n) for n in moving) - max(fraction(n) for n in still)
        separation = ("separates" if gap > 0 else "does NOT separate") + (
            f" the {len(moving)} diffusing system{'s' * (len(moving) > 1)} (D_Ag > "
            f"{DIFFUSING_D_CM2_S:g} cm^2/s) from the {len(still)} other"
            f"{'s' * (len(still) > 1)} (gap in fraction {gap:+.3f})")
    else:
        separation = "cannot separate: " + ("all" if moving else "no") + " systems diffuse"
    same = ("also shows the strongest central peak" if fastest == top
            else f"is not the strongest central peak ({fraction(fastest):.3f})")
    if series is not None:
        rows = series["systems"]
        fractions = "/".join(f"{r['low_frequency_fraction']:.3f}" for r in rows)
        temps = "/".join(f"{r['temperature_K']:g}" for r in rows)
        ds = "/".join(f"{r['D_cm2_s']:.1e}" for r in rows)
        rho = series["fraction_vs_D_rank_correlation"]
        follows = "tracks" if rho > 0.99 else "does NOT track"
        trend = (f"alpha series {temps} K: low-frequency fraction {fractions} {follows} "
                 f"D_Ag {ds} cm^2/s (rank correlation {rho:+.2f})")
    else:
        width = float(systems[fastest]["central_peak"]["central_width_cm"])
        from .agi import ALPHA_AGI_A

        d_fastest = float(systems[fastest]["D_cm2_s"])
        # the hop length l = a / (2 sqrt 2) holds for the bcc iodide lattice of alpha-AgI
        bcc = systems[fastest].get("phase", "alpha") == "alpha"
        hop = (f"; mean Ag residence time from D_Ag {hop_time_ps(d_fastest, ALPHA_AGI_A):.1f}"
               " ps" if d_fastest > 0 and bcc else "")
        trend = (f"central-peak width in {fastest}: {width:.1f} cm^-1 (correlation time "
                 f"{correlation_time_ps(width):.1f} ps{hop})" if width > 0
                 else f"no central-peak width fitted for {fastest}")
    return [
        f"strongest central peak: {top} (low-frequency fraction {fraction(top):.3f}); "
        f"weakest: {bottom} ({fraction(bottom):.3f}); ratio {ratio:.1f}x",
        f"the central peak {separation}",
        f"fastest Ag diffusion: {fastest} (D_Ag = {systems[fastest]['D_cm2_s']:.2e} cm^2/s) "
        f"{same}",
        trend,
        f"alpha labels come from the {LABEL_SOURCE}",
    ]


def run_demo(out: str | Path = "demo-output", quick: bool = False, seed: int = 0,
             quiet: bool = False) -> dict[str, Any]:
    """Run the whole demo into ``out``; returns the summary dict (also summary.json)."""
    settings = QUICK if quick else FULL
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log = _Log(quiet)
    log(f"ase-raman demo ({'quick' if quick else 'full'}), output in {out.resolve()}")

    states, snapshots = {}, []
    for k, spec in enumerate(settings.systems):
        atoms = build_system(spec, settings, seed + k)
        snaps = equilibrate(atoms, spec, settings, seed + 100 + k, log)
        for snap in snaps:
            snap.info["system"] = spec.name
        step = max(1, len(snaps) // settings.training_per_system)
        snapshots += snaps[::step][: settings.training_per_system]
        states[spec.name] = atoms
        log(f"equilibrated {spec.name}: {len(atoms)} atoms at {spec.temperature_K:g} K "
            f"(T now {atoms.get_temperature():.0f} K)")

    model, fit = label_and_fit(snapshots, settings, out, seed, log)

    systems: dict[str, dict] = {}
    for spec in settings.systems:
        path = produce(states[spec.name], spec, model, settings, out, log)
        systems[spec.name] = analyse(path, spec, settings, out)
        cp = systems[spec.name]["central_peak"]
        log(f"{spec.name}: D_Ag = {systems[spec.name]['D_cm2_s']:.2e} cm^2/s, "
            f"low-frequency fraction {cp['low_frequency_fraction']:.3f}")

    harmonic_result = None
    zb = next((s for s in settings.systems if s.phase == "zincblende"), None)
    if zb is not None:
        harmonic_result = harmonic(model, settings, systems[zb.name]["_plot"]["raman"],
                                   systems[zb.name]["n_atoms"], out, log)
        log("harmonic zincblende Raman (phonopy + same model): "
            + ", ".join(f"{m['frequency_cm-1']:.0f} cm^-1 ({m['irrep']})"
                        for m in harmonic_result["modes"] if m["raman_active"]))

    comparison_plot(out / "comparison.png", systems,
                    harmonic_result["_plot"] if harmonic_result else None)
    raman_plot(out / "raman.png", systems)
    series = temperature_series(systems, settings.systems)
    lines = verdict(systems, series)
    summary = {
        "settings": {**asdict(settings), "mode": "quick" if quick else "full", "seed": seed},
        "model": {"file": "model.npz", **fit},
        "systems": {name: {k: v for k, v in res.items() if not k.startswith("_")}
                    for name, res in systems.items()},
        "temperature_series": series,
        "harmonic_zincblende": None if harmonic_result is None else harmonic_result["modes"],
        "verdict": lines,
        "wall_time_s": time.perf_counter() - log.start,
    }
    with atomic_output(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(json_safe(summary), indent=2, allow_nan=False))
    if not quiet:
        print("\n".join(["", *lines, "", f"outputs in {out.resolve()}: summary.json, "
                         "comparison.png, raman.png, model.npz (+ parity plot), <system>.h5, "
                         "<system>.raman.csv / .raman_bose.csv / .vdos.csv"]))
    return summary
