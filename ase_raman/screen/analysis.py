"""Analysis of one screening pair's production store (``production.h5``).

Per pair (files in the pair's folder):

* transport of the mobile species (:func:`~ase_raman.spectra.transport.report.
  transport_summary` on the all-origin MSD with 4 blocks for the error): tracer D with
  its 1-sigma error, and, when charges are given, the Nernst-Einstein sigma at the MD
  temperature, D_sigma and the Haven ratio (``transport.json``, ``msd.csv``);
* the Raman spectrum, Bose-weighted as the demo defines it (``raman_spectrum(...,
  quantum_correction="bose")``), with the central-peak metrics of
  :func:`~ase_raman.spectra.raman.central_peak_metrics` (low-frequency fraction below
  ``cutoff_cm`` and the relaxational width) (``raman_bose.csv``);
* the VDOS per species (``vdos.csv``).

* the conduction-mechanism verdict (``liquid-like``, ``hopping``, ``vibrating``), its
  reasons and the residence time on sites
  (:func:`~ase_raman.spectra.transport.mechanism.analyse_mechanism`, with the central
  peak beside it) (``mechanism.json``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..jsonsafe import finite_or_none as _finite

__all__ = ["analyse_pair"]

#: bump when the analysis changes: finished pairs are then re-analysed from their stores
ANALYSIS_VERSION = 3
#: blocks for the D error (consecutive pieces of the production)
N_BLOCKS = 4
#: tracer MSD (Angstrom^2) at half the run below which D counts as unresolved
RESOLVED_MSD_A2 = 1.0
#: framework MSD (Angstrom^2) at half the run above which the lattice counts as melted
MELT_MSD_A2 = 4.0


def analyse_pair(production: Path, folder: Path, temperature_K: float, species: list[str],
                 charges: dict[str, float], settings: Any) -> dict[str, Any]:
    """Analyse ``production`` into ``folder``; returns the pair's results row."""
    from ase import Atoms

    from ..spectra.raman import central_peak_metrics, raman_spectrum
    from ..spectra.transport import mean_squared_displacement
    from ..spectra.transport.report import transport_summary, write_json, write_msd_csv
    from ..spectra.vdos import vdos
    from ..store import read_trajectory

    with read_trajectory(production) as traj:
        n = len(traj)
        dt = float(traj.frame_interval_fs)
        alpha = np.asarray(traj.polarizability, dtype=float)
        positions = np.asarray(traj.positions[:])
        velocities = np.asarray(traj.velocities[:]) if traj.velocities is not None else None
        cells = np.asarray(traj.cells)
        symbols = list(traj.symbols)
    row: dict[str, Any] = {"n_frames": n, "production_ps": n * dt / 1000.0,
                           "n_atoms": len(symbols), "species": species[0]}
    if n < 8:
        raise ValueError(f"{production}: only {n} frames stored: too short to analyse")
    mobile_charges = {s: q for s, q in charges.items() if s in symbols} or None
    n_blocks = N_BLOCKS if n >= 16 * N_BLOCKS else 1
    msd = mean_squared_displacement(positions, symbols, dt, cells=cells,
                                    charges=mobile_charges, n_blocks=n_blocks)
    summary = transport_summary(msd, temperature_K=temperature_K)
    summary = {k: v for k, v in summary.items() if k in species}
    write_json(folder / "transport.json", summary)
    write_msd_csv(folder / "msd.csv", msd)
    t = summary[species[0]]
    row.update(
        D_cm2_s=_finite(t.get("D_cm2_s")), D_err_cm2_s=_finite(t.get("D_err_cm2_s")),
        sigma_T_S_cm=_finite(t.get("sigma_S_cm")),
        sigma_T_err_S_cm=_finite(t.get("sigma_err_S_cm")),
        haven_ratio=_finite(t.get("haven_ratio")),
        haven_ratio_err=_finite(t.get("haven_ratio_err")),
        msd_final_A2=_finite(msd.msd[species[0]][len(msd.time_fs) // 2]),
        n_mobile=int(msd.counts[species[0]]), volume_A3=float(msd.volume_A3),
    )
    framework = [s for s in msd.species if s not in species]
    half = len(msd.time_fs) // 2  # the MSD at half the run: many time origins
    row["framework_msd_A2"] = max((_finite(msd.msd[s][half]) or 0.0 for s in framework),
                                  default=None)
    # a tracer MSD below ~1 A^2 at half the run is vibration, not diffusion, and a D
    # not above twice its error (the GLS error includes the diffusive-regime test) is
    # not resolved either: D is then an upper bound; a framework MSD above MELT_MSD_A2
    # means the lattice melted
    d, d_err = row["D_cm2_s"], row["D_err_cm2_s"]
    row["D_resolved"] = bool((row["msd_final_A2"] or 0.0) >= RESOLVED_MSD_A2
                             and d is not None and d > 2.0 * (d_err or 0.0))
    row["melted"] = bool((row["framework_msd_A2"] or 0.0) >= MELT_MSD_A2)
    good = np.all(np.isfinite(alpha.reshape(len(alpha), -1)), axis=1)
    row["alpha_nan_frames"] = int((~good).sum())
    if good.sum() >= 8:
        a = alpha if good.all() else _fill(alpha, good)
        sigma_cm = _resolution(settings.sigma_cm, (len(a) - 1) * dt)
        row["raman_sigma_cm"] = sigma_cm
        spec = raman_spectrum(a, dt, temperature=temperature_K, quantum_correction="bose",
                              sigma_cm=sigma_cm, max_freq_cm=_nyquist(dt),
                              provenance={"trajectory": production.name,
                                          "labels": settings.alpha})
        spec.to_csv(folder / "raman_bose.csv")
        cp = central_peak_metrics(spec, cutoff_cm=settings.cutoff_cm)
        write_json(folder / "raman.json", {"central_peak": cp})
        row.update(low_frequency_fraction=_finite(cp.get("low_frequency_fraction")),
                   central_width_cm=_finite(cp.get("central_width_cm")),
                   central_to_phonon_ratio=_finite(cp.get("central_to_phonon_ratio")))
    if velocities is not None:
        masses = Atoms(symbols).get_masses()
        dos = vdos(velocities, dt, masses=masses, species=symbols,
                   sigma_cm=_resolution(settings.sigma_cm, (n - 1) * dt),
                   max_freq_cm=_nyquist(dt))
        dos.to_csv(folder / "vdos.csv")
    row.update(_mechanism(positions, symbols, cells, dt, species[0], folder))
    return row


def _resolution(sigma_cm: float, duration_fs: float) -> float:
    """The requested Gaussian smoothing (cm^-1), widened as far as a run of
    ``duration_fs`` needs (:func:`~ase_raman.spectra.signal.minimum_duration_fs`)."""
    from ..spectra.signal import minimum_duration_fs

    sigma = float(sigma_cm)
    while minimum_duration_fs(sigma) > duration_fs:
        sigma *= 1.1
    return sigma


def _nyquist(dt_fs: float) -> float:
    """Highest frequency a series sampled every ``dt_fs`` resolves (cm^-1)."""
    return 0.99 / (2 * dt_fs * 1e-15 * 2.99792458e10)


def _fill(alpha: np.ndarray, good: np.ndarray) -> np.ndarray:
    """Frames where the DID solve failed (NaN) get the previous good frame's alpha."""
    out = alpha.copy()
    last = alpha[np.argmax(good)]
    for i in range(len(out)):
        if good[i]:
            last = out[i]
        else:
            out[i] = last
    return out


def _mechanism(positions: np.ndarray, symbols: list[str], cells: np.ndarray, dt: float,
               species: str, folder: Path) -> dict[str, Any]:
    """Verdict and residence time (:mod:`ase_raman.spectra.transport.mechanism`), with
    the Raman central peak of the same run beside them; ``mechanism.json``."""
    from ..spectra.transport.mechanism import analyse_mechanism
    from ..spectra.transport.report import write_json

    raman = folder / "raman.json"
    result = analyse_mechanism(positions, symbols, dt, species=species, cells=cells,
                               raman=raman if raman.exists() else None)
    write_json(folder / "mechanism.json", result.as_dict())
    m = result.species[species]
    return {"verdict": m.verdict, "residence_time_ps": _finite(m.residence_time_ps),
            "verdict_reason": "; ".join(m.reasons)}
