"""Summaries and output files of the transport analysis: JSON, CSV and PNG.

The formats are a public interface (checks outside this repository read them):

* MSD CSV: a header line, then columns ``time_ps`` and one MSD column per species, named
  by the chemical symbol, in Angstrom^2. Optional extra columns follow, never between
  these: ``<X>_err`` (standard error from blocks, Angstrom^2; ``nan`` beyond the block
  length) and, with charges, ``<X>_collective`` (MSD of the summed displacement of all
  ``N`` atoms of X divided by ``N``, Angstrom^2: its slope / 6 is ``D_sigma``).
* MSD JSON: an object mapping each species symbol to its summary (see
  :func:`transport_summary` for the keys); nothing else at the top level.
* van Hove CSV: ``r_A``, then ``Gs_<t>ps`` (Angstrom^-3) for each lag, then
  ``4pir2Gs_<t>ps`` (Angstrom^-1).
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...atomic_write import atomic_output
from ...errors import UsageError
from ...units import KB_EV_K
from .arrhenius import arrhenius_fit
from .diffusion import (
    A2_PS_TO_CM2_S,
    einstein_helfand_conductivity,
    fit_diffusion,
    haven_ratio,
    nernst_einstein_conductivity,
)
from .msd import MSDResult
from .vanhove import VanHove

#: Format version of the MSD JSON summary (bump on incompatible change).
SUMMARY_VERSION = 1


def _clean(obj):
    """JSON-safe copy: numpy scalars/arrays to Python, NaN/inf to None."""
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        val = float(obj)
        return val if math.isfinite(val) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def write_json(path: str | os.PathLike, obj) -> None:
    """Write ``obj`` as indented JSON atomically (NaN becomes null)."""
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(_clean(obj), indent=2) + "\n")


def transport_summary(
    result: MSDResult,
    *,
    window_fs: tuple[float, float] | None = None,
    temperature_K: float | None = None,
) -> dict[str, dict]:
    """Per-species transport summary (the content of ``ase-raman msd --json``).

    Keys of each species object (units in the names; errors are 1-sigma):

    * always: ``D_cm2_s``, ``D_err_cm2_s``, ``D_A2_ps``, ``D_err_A2_ps``,
      ``fit_window_ps`` ``[start, end]``, ``fit_slope_A2_ps``, ``fit_intercept_A2``,
      ``error_method`` (``"gls"``: generalised least squares with the MSD covariance,
      see :func:`~ase_raman.spectra.transport.diffusion.fit_diffusion`), ``fit_chi2_dof``
      (reduced chi^2 of that fit), ``n_atoms``,
      ``n_frames``, ``dt_fs``, ``volume_A3``, ``temperature_K`` (null when not given),
      ``n_blocks``, ``summary_version``;
    * when the species has a charge (then ``temperature_K`` is required):
      ``charge_e``, ``sigma_S_cm`` and ``sigma_err_S_cm`` (Nernst-Einstein from the
      tracer D), ``D_sigma_cm2_s`` and ``D_sigma_err_cm2_s`` (from the collective MSD of
      the species), ``sigma_collective_S_cm`` and its error (``n q^2 D_sigma / k_B T``),
      ``haven_ratio`` and ``haven_ratio_err`` (``D / D_sigma``), and
      ``sigma_total_S_cm`` with its error: the conductivity of all charged species
      together from the charge-weighted collective MSD (Einstein-Helfand; the same number
      in every species object).
    """
    charges = result.charges or {}
    if charges and temperature_K is None:
        raise UsageError(
            "charges were given without a temperature: conductivity needs temperature_K"
        )
    if temperature_K is not None and not temperature_K > 0:
        raise UsageError(f"temperature must be positive, got {temperature_K} K")
    total = _total_conductivity(result, window_fs, temperature_K) if charges else None
    out: dict[str, dict] = {}
    for sym in result.species:
        fit = fit_diffusion(result.time_fs, result.msd[sym], window_fs,
                            n_series=result.counts[sym])
        out[sym] = _tracer_entry(result, sym, fit, temperature_K)
        if sym in charges:
            out[sym].update(_conduction_entry(result, sym, charges[sym], fit,
                                              temperature_K, total))
    return out


def _total_conductivity(result: MSDResult, window_fs: tuple[float, float] | None,
                        temperature_K: float | None) -> tuple[float, float] | None:
    """Einstein-Helfand conductivity (S/cm) of all charged species and its error, from
    the charge MSD (``None`` without one)."""
    if result.charge_msd is None:
        return None
    fit_q = fit_diffusion(result.time_fs, result.charge_msd, window_fs, n_series=1)
    # fit_q.D_A2_ps = slope / 6 of the charge MSD (e^2 A^2/ps)
    return (
        einstein_helfand_conductivity(fit_q.slope_A2_ps, result.volume_A3, temperature_K),
        einstein_helfand_conductivity(6 * fit_q.D_err_A2_ps, result.volume_A3, temperature_K),
    )


def _tracer_entry(result: MSDResult, sym: str, fit: Any, temperature_K: float | None
                  ) -> dict[str, Any]:
    """The keys every species object has: tracer D, its fit and the run's conditions."""
    return {
        "D_cm2_s": fit.D_cm2_s,
        "D_err_cm2_s": fit.D_err_cm2_s,
        "D_A2_ps": fit.D_A2_ps,
        "D_err_A2_ps": fit.D_err_A2_ps,
        "fit_window_ps": list(fit.window_ps),
        "fit_slope_A2_ps": fit.slope_A2_ps,
        "fit_intercept_A2": fit.intercept_A2,
        "error_method": fit.error_method,
        "fit_chi2_dof": fit.chi2_dof,
        "n_atoms": result.counts[sym],
        "n_frames": len(result.time_fs),
        "dt_fs": result.dt_fs,
        "volume_A3": result.volume_A3,
        "temperature_K": temperature_K,
        "n_blocks": result.n_blocks,
        "summary_version": SUMMARY_VERSION,
    }


def _conduction_entry(result: MSDResult, sym: str, q: float, fit: Any,
                      temperature_K: float | None, total: tuple[float, float] | None
                      ) -> dict[str, Any]:
    """The keys of a charged species: Nernst-Einstein and collective conductivity, D_sigma
    over the tracer fit's window, the Haven ratio and the total conductivity."""
    n_atoms = result.counts[sym]
    fit_c = fit_diffusion(
        result.time_fs, result.collective[sym],
        (fit.window_ps[0] * 1000.0, fit.window_ps[1] * 1000.0),
        n_particles=n_atoms, n_series=1,
    )

    def ne(d: float) -> float:
        return float(nernst_einstein_conductivity(d, n_atoms, result.volume_A3, q,
                                                  temperature_K))

    h, h_err = haven_ratio(fit.D_A2_ps, fit.D_err_A2_ps, fit_c.D_A2_ps, fit_c.D_err_A2_ps)
    return {
        "charge_e": q,
        "sigma_S_cm": ne(fit.D_A2_ps),
        "sigma_err_S_cm": ne(fit.D_err_A2_ps),
        "D_sigma_cm2_s": fit_c.D_cm2_s,
        "D_sigma_err_cm2_s": fit_c.D_err_cm2_s,
        "sigma_collective_S_cm": ne(fit_c.D_A2_ps),
        "sigma_collective_err_S_cm": ne(fit_c.D_err_A2_ps),
        "haven_ratio": h,
        "haven_ratio_err": h_err,
        "sigma_total_S_cm": float(total[0]) if total else None,
        "sigma_total_err_S_cm": float(total[1]) if total else None,
    }


def _fmt(x: float) -> str:
    return "nan" if not np.isfinite(x) else repr(float(x))


def write_msd_csv(
    path: str | os.PathLike, result: MSDResult, with_collective: bool = False
) -> None:
    """CSV: ``time_ps``, one MSD column per species (Angstrom^2), then optional extras
    (``<X>_err`` with blocks, ``<X>_collective`` when ``with_collective``)."""
    cols = {"time_ps": result.time_ps}
    n = len(result.time_fs)
    for sym in result.species:
        cols[sym] = result.msd[sym]
    for sym in result.species:
        err = result.msd_err(sym)
        if err is not None:
            full = np.full(n, np.nan)
            full[: len(err)] = err
            cols[f"{sym}_err"] = full
    if with_collective:
        for sym in result.species:
            cols[f"{sym}_collective"] = result.collective[sym] / result.counts[sym]
    with atomic_output(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(list(cols))
        data = np.column_stack(list(cols.values()))
        for row in data:
            writer.writerow([_fmt(v) for v in row])


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: str | os.PathLike) -> None:
    """Lay out ``fig``, write it atomically to ``path`` and release it."""
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp)
    plt.close(fig)


def plot_msd(path: str | os.PathLike, result: MSDResult, summary: Mapping[str, dict]) -> None:
    """PNG: MSD (Angstrom^2) against time (ps) per species, block error bands, and the
    fitted lines over their windows (dashed)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.2), dpi=120)
    t = result.time_ps
    for sym in result.species:
        (line,) = ax.plot(t, result.msd[sym], label=f"{sym} (N={result.counts[sym]})")
        err = result.msd_err(sym)
        if err is not None:
            tb = t[: len(err)]
            y = result.msd[sym][: len(err)]
            ax.fill_between(tb, y - err, y + err, color=line.get_color(), alpha=0.25, lw=0)
        info = summary.get(sym)
        if info and "fit_window_ps" in info:  # runs too short for a fit have none
            t0, t1 = info["fit_window_ps"]
            tt = np.array([t0, t1])
            d_cm = info["D_cm2_s"]
            ax.plot(tt, info["fit_slope_A2_ps"] * tt + info["fit_intercept_A2"], "--",
                    color=line.get_color(), lw=1.2, label=f"{sym} fit: D = {d_cm:.3g} cm$^2$/s")
    ax.set_xlabel("time lag (ps)")
    ax.set_ylabel(r"MSD ($\AA^2$)")
    ax.set_xlim(0, t[-1])
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    _save(plt, fig, path)


def _lag_label(t_ps: float) -> str:
    return f"{t_ps:g}ps"


def write_vanhove_csv(path: str | os.PathLike, vh: VanHove) -> None:
    """CSV: ``r_A``, ``Gs_<t>ps`` (Angstrom^-3) per lag, then ``4pir2Gs_<t>ps`` (Angstrom^-1)."""
    labels = [_lag_label(t / 1000.0) for t in vh.time_fs]
    header = ["r_A"] + [f"Gs_{lab}" for lab in labels] + [f"4pir2Gs_{lab}" for lab in labels]
    data = np.column_stack([vh.r_A, vh.g_s.T, vh.radial_probability.T])
    with atomic_output(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in data:
            writer.writerow([_fmt(v) for v in row])


def plot_vanhove(path: str | os.PathLike, grid: VanHove, chosen: VanHove, species: str) -> None:
    """PNG: heat map of ``4 pi r^2 G_s(r, t)`` (Angstrom^-1) over lag time and r from
    ``grid``, with the curves at the ``chosen`` lags beside it."""
    plt = _pyplot()
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10.0, 4.2), dpi=120)
    t_ps = grid.time_fs / 1000.0
    prob = grid.radial_probability
    positive = prob[prob > 0]
    vmax = float(np.percentile(positive, 99.5)) if positive.size else 1.0
    mesh = ax0.pcolormesh(t_ps, grid.r_A, prob.T, shading="nearest", cmap="viridis",
                          vmin=0.0, vmax=vmax)
    fig.colorbar(mesh, ax=ax0, label=r"$4\pi r^2 G_s(r,t)$ ($\AA^{-1}$)")
    for t in chosen.time_fs / 1000.0:
        ax0.axvline(t, color="w", lw=0.6, ls=":")
    ax0.set_xlabel("time lag (ps)")
    ax0.set_ylabel(r"r ($\AA$)")
    ax0.set_title(f"van Hove self-correlation, {species}")
    for j, t in enumerate(chosen.time_fs / 1000.0):
        ax1.plot(chosen.r_A, chosen.radial_probability[j], label=f"t = {t:g} ps")
    ax1.set_xlabel(r"r ($\AA$)")
    ax1.set_ylabel(r"$4\pi r^2 G_s(r,t)$ ($\AA^{-1}$)")
    ax1.legend(fontsize=8)
    _save(plt, fig, path)


# ------------------------------------------------------------------------------ mechanism
def plot_mechanism(path: str | os.PathLike, result: Any) -> None:
    """PNG of a :class:`~ase_raman.spectra.transport.mechanism.MechanismResult`: per
    species a row of MSD with its local exponent, alpha_2(t), ``4 pi r^2 G_s(r, t)`` at
    three lags (when the result kept positions), the residence-time histogram, and the
    time scales (residence, flight, vibrational period, central-peak correlation time)."""
    from .vanhove import van_hove_self

    plt = _pyplot()
    rows = list(result.species)
    fig, axes = plt.subplots(len(rows), 5, figsize=(20.0, 3.8 * len(rows)), dpi=100,
                             squeeze=False)
    t_ps = result.time_fs / 1000.0
    for row, sym in zip(axes, rows, strict=True):
        m = result.species[sym]
        reg = m.regimes
        ax = row[0]
        ax.loglog(t_ps[1:], np.maximum(result.msd[sym][1:], 1e-12), label="MSD")
        ax.set_xlabel("lag (ps)")
        ax.set_ylabel(r"MSD ($\AA^2$)")
        ax.set_title(f"{sym}: {m.verdict}")
        twin = ax.twinx()
        twin.semilogx(reg.time_ps, reg.exponent, "C1-", lw=1)
        twin.set_ylabel("d ln MSD / d ln t", color="C1")
        twin.axhline(1.0, color="C1", lw=0.5, ls=":")
        if np.isfinite(reg.crossover_time_ps) and reg.crossover_time_ps > 0:
            ax.axvline(reg.crossover_time_ps, color="k", lw=0.6, ls="--")
        row[1].semilogx(reg.time_ps, reg.alpha2)
        row[1].set_xlabel("lag (ps)")
        row[1].set_ylabel(r"$\alpha_2(t)$")
        pos = result.unwrapped.get(sym)
        if pos is not None and len(pos) > 3:
            lags = np.unique(np.geomspace(1, max(1, (len(pos) - 1) // 4), 3).round().astype(int))
            vh = van_hove_self(pos, lags, result.dt_fs, r_max=8.0, n_bins=160,
                               max_samples=200_000)
            for j, k in enumerate(vh.lags):
                row[2].plot(vh.r_A, vh.radial_probability[j],
                            label=f"{k * result.dt_fs / 1000:g} ps")
            row[2].legend(fontsize=7)
        row[2].set_xlabel(r"r ($\AA$)")
        row[2].set_ylabel(r"$4\pi r^2 G_s(r,t)$")
        res = np.asarray(m.residence_times_ps)
        if res.size:
            row[3].hist(res, bins=40, color="C2")
        row[3].set_xlabel("residence time (ps)")
        row[3].set_ylabel("count")
        names = ["residence", "flight", "vib. period", "site hop d²/6D"]
        values = [m.residence_time_ps, m.mean_flight_time_ps, m.vibrational_period_ps,
                  m.site_hop_time_ps]
        if m.raman:
            names.append("central peak")
            values.append(m.raman["correlation_time_ps"])
        shown = [(n, v) for n, v in zip(names, values, strict=True)
                 if v is not None and np.isfinite(v) and v > 0]
        if shown:
            row[4].barh([n for n, _ in shown], [v for _, v in shown], color="C4")
            row[4].set_xscale("log")
        row[4].set_xlabel("time scale (ps)")
    _save(plt, fig, path)


# ------------------------------------------------------------------------------ Arrhenius
def _entry_value(entry: Mapping, key: str, err_key: str) -> tuple[float | None, float | None]:
    val = entry.get(key)
    err = entry.get(err_key)
    return (float(val) if val is not None else None, float(err) if err is not None else None)


def arrhenius_summary(
    summaries: Sequence[tuple[str, Mapping[str, Mapping]]],
    *,
    target_temperature_K: float = 300.0,
    species: Sequence[str] | None = None,
) -> dict[str, dict]:
    """Arrhenius fits per species from several MSD JSON summaries.

    ``summaries`` is a list of ``(name, summary)`` with ``summary`` as written by
    ``ase-raman msd --json`` (each species object must record ``temperature_K``). Returns
    ``{species: {...}}`` with ``E_a_eV``, ``E_a_err_eV``, ``D0_cm2_s``,
    ``ln_D0_err``, ``target_temperature_K``, ``D_target_cm2_s`` and
    ``D_target_err_cm2_s`` (extrapolated, linear error propagation in ln D),
    ``temperatures_K``, ``D_cm2_s``, ``D_err_cm2_s``, ``error_method``, and when every
    summary holds ``sigma_S_cm``: ``sigma_E_a_eV``, ``sigma_E_a_err_eV``,
    ``sigma_prefactor_S_K_cm`` (fit of ``sigma T``), ``sigma_target_S_cm``,
    ``sigma_target_err_S_cm`` and ``sigma_S_cm``.
    """
    per_species = _entries_by_species(summaries, species)
    out: dict[str, dict] = {}
    for sym, rows in per_species.items():
        rows.sort(key=lambda r: r[0])
        temps = [r[0] for r in rows]
        if len(set(temps)) < 2:
            raise UsageError(
                f"species {sym}: need summaries at two or more temperatures, "
                f"got {sorted(set(temps))} K"
            )
        d = [_entry_value(r[1], "D_cm2_s", "D_err_cm2_s") for r in rows]
        if any(v is None or v <= 0 for v, _ in d):
            raise UsageError(f"species {sym}: a non-positive D cannot be fitted (not diffusive?)")
        errs = [e for _, e in d]
        errors = None if any(e is None or e <= 0 for e in errs) else errs
        fit = arrhenius_fit(temps, [v for v, _ in d], errors)
        d_t, d_t_err = fit.predict(target_temperature_K)
        out[sym] = {
            "E_a_eV": fit.E_a_eV,
            "E_a_err_eV": fit.E_a_err_eV,
            "D0_cm2_s": fit.prefactor,
            "ln_D0_err": fit.ln_prefactor_err,
            "target_temperature_K": float(target_temperature_K),
            "D_target_cm2_s": d_t,
            "D_target_err_cm2_s": d_t_err,
            "temperatures_K": temps,
            "D_cm2_s": [v for v, _ in d],
            "D_err_cm2_s": errs,
            "error_method": fit.error_method,
            **_conductivity_arrhenius(rows, temps, target_temperature_K),
        }
    return out


def _entries_by_species(summaries: Sequence[tuple[str, Mapping[str, Mapping]]],
                        species: Sequence[str] | None
                        ) -> dict[str, list[tuple[float, Mapping]]]:
    """``{species: [(temperature K, species object), ...]}`` of the summaries, checked."""
    per_species: dict[str, list[tuple[float, Mapping]]] = {}
    for name, summary in summaries:
        if not isinstance(summary, Mapping) or not summary:
            raise UsageError(f"{name}: not an 'ase-raman msd' JSON summary (no species objects)")
        for sym, entry in summary.items():
            if species is not None and sym not in species:
                continue
            if not isinstance(entry, Mapping) or "D_cm2_s" not in entry:
                raise UsageError(f"{name}: entry {sym!r} has no D_cm2_s (not an msd summary?)")
            temp = entry.get("temperature_K")
            if temp is None:
                raise UsageError(
                    f"{name}: species {sym} records no temperature; rerun "
                    "'ase-raman msd' with --temperature"
                )
            per_species.setdefault(sym, []).append((float(temp), entry))
    if species is not None:
        missing = [s for s in species if s not in per_species]
        if missing:
            raise UsageError(f"species {', '.join(missing)} not found in the summaries")
    if not per_species:
        raise UsageError("no species to fit")
    return per_species


def _conductivity_arrhenius(rows: list[tuple[float, Mapping]], temps: list[float],
                            target_temperature_K: float) -> dict[str, Any]:
    """The ``sigma_*`` keys (fit of sigma T) when every summary holds ``sigma_S_cm``."""
    s = [_entry_value(r[1], "sigma_S_cm", "sigma_err_S_cm") for r in rows]
    if not all(v is not None and v > 0 for v, _ in s):
        return {}
    s_errs = [e for _, e in s]
    s_errors = None if any(e is None or e <= 0 for e in s_errs) else s_errs
    sfit = arrhenius_fit(temps, [v for v, _ in s], s_errors, times_temperature=True)
    s_t, s_t_err = sfit.predict(target_temperature_K)
    return {
        "sigma_E_a_eV": sfit.E_a_eV,
        "sigma_E_a_err_eV": sfit.E_a_err_eV,
        "sigma_prefactor_S_K_cm": sfit.prefactor,
        "sigma_target_S_cm": s_t,
        "sigma_target_err_S_cm": s_t_err,
        "sigma_S_cm": [v for v, _ in s],
    }


def plot_arrhenius(path: str | os.PathLike, fits: Mapping[str, Mapping]) -> None:
    """PNG: ``log10 D`` (cm^2/s) against ``1000 / T`` with the fitted lines, extended to
    the target temperature (open symbol)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.2), dpi=120)
    for sym, info in fits.items():
        temps = np.asarray(info["temperatures_K"], dtype=float)
        d = np.asarray(info["D_cm2_s"], dtype=float)
        errs = info.get("D_err_cm2_s")
        yerr = None
        if errs is not None and all(e is not None for e in errs):
            yerr = np.asarray(errs, dtype=float)
        (pts,) = ax.plot(1000.0 / temps, d, "o", label=f"{sym}")
        if yerr is not None:
            ax.errorbar(1000.0 / temps, d, yerr=yerr, fmt="none", color=pts.get_color())
        t_target = info["target_temperature_K"]
        t_line = np.linspace(min(temps.min(), t_target), max(temps.max(), t_target), 50)
        ax.plot(1000.0 / t_line,
                info["D0_cm2_s"] * np.exp(-info["E_a_eV"] / (KB_EV_K * t_line)), "-",
                color=pts.get_color(), lw=1,
                label=f"{sym}: $E_a$ = {info['E_a_eV']:.3f} $\\pm$ {info['E_a_err_eV']:.3f} eV")
        ax.plot([1000.0 / t_target], [info["D_target_cm2_s"]], "o", mfc="none",
                color=pts.get_color())
    ax.set_yscale("log")
    ax.set_xlabel("1000 / T (1/K)")
    ax.set_ylabel(r"D (cm$^2$/s)")
    ax.legend(fontsize=8)
    _save(plt, fig, path)


__all__ = [
    "A2_PS_TO_CM2_S",
    "SUMMARY_VERSION",
    "arrhenius_summary",
    "plot_arrhenius",
    "plot_mechanism",
    "plot_msd",
    "plot_vanhove",
    "transport_summary",
    "write_json",
    "write_msd_csv",
    "write_vanhove_csv",
]
