"""The screening table and plots: ``results.csv``, ``ranking.png``, ``arrhenius.png``.

Per material, over its pairs with a positive D: the Arrhenius fit of the tracer D
(:func:`~ase_raman.spectra.transport.arrhenius.arrhenius_fit`, weighted by the D errors)
gives ``Ea_eV`` with ``Ea_err_eV`` and D extrapolated to 300 K with its error (linear
propagation through the fit's covariance). ``sigma_300K_S_cm`` is the Nernst-Einstein
conductivity n q^2 D(300 K) / (k_B 300 K) with n the mobile ions per volume of the MD
cell and q the manifest charge of the mobile species (nominal +1 for Li, Na, K, Ag, Cu
when not given; recorded in ``charge_e``). It inherits the fit's error (a factor, shown
as ``sigma_300K_err_S_cm`` = sigma x relative error of D(300 K)).

With measured conductivities in the manifest (``measured_sigma_S_cm``),
:func:`compare_measured` writes the Spearman rank correlation and a parity plot.

Composite score (the seed work's form) ``S = w1 log10(sigma_300K) + w2 dV_ESW - w3 E_a
- w4 sigma_e`` with weights ``settings.weights`` (keys ``log10_sigma``, ``esw_V``,
``Ea_eV``, ``sigma_e``) and the user columns ``esw_V`` (electrochemical stability window,
V), ``sigma_e_S_cm`` (electronic conductivity) read from the manifest; a term whose
column is missing contributes nothing and is named in ``score_terms_missing``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic_write import atomic_output, write_table_csv

__all__ = ["RESULT_COLUMNS", "write_report", "material_summary"]

#: columns of results.csv (one row per material and temperature)
RESULT_COLUMNS = [
    "material", "family", "temperature_K", "status", "rank", "species", "n_atoms",
    "production_ps", "D_cm2_s", "D_err_cm2_s", "D_resolved", "melted", "sigma_T_S_cm",
    "haven_ratio", "haven_ratio_err", "Ea_eV", "Ea_err_eV", "D_300K_cm2_s",
    "sigma_300K_S_cm", "sigma_300K_err_S_cm", "sigma_300K_note", "charge_e", "verdict",
    "residence_time_ps", "verdict_reason", "low_frequency_fraction", "central_width_cm",
    "score", "score_terms_missing", "measured_sigma_S_cm", "esw_V", "band_gap_eV",
    "sigma_e_S_cm", "reason",
]
NOMINAL_CHARGES = {"Li": 1.0, "Na": 1.0, "K": 1.0, "Ag": 1.0, "Cu": 1.0, "Mg": 2.0}
T_ROOM = 300.0


def material_summary(rows: list[dict[str, Any]], charges: dict[str, float]
                     ) -> dict[str, Any]:
    """E_a, D(300 K) and sigma(300 K) of one material from its pair rows."""
    from ..errors import AseRamanError
    from ..spectra.transport.arrhenius import arrhenius_fit
    from ..spectra.transport.diffusion import nernst_einstein_conductivity
    from .analysis import RESOLVED_MSD_A2

    ok = [r for r in rows if r.get("status") in ("ok", "done", "partial")
          and (r.get("D_cm2_s") or 0) > 0]
    out: dict[str, Any] = {}
    unresolved = sorted(f"{r['temperature_K']:g} K" for r in rows if _d_unresolved(r))
    melted = sorted(f"{r['temperature_K']:g} K" for r in ok if r.get("melted"))
    notes = [f"framework melted at {', '.join(melted)}"] if melted else []
    if unresolved:
        # an MSD that stays at the vibrational plateau gives no diffusion coefficient:
        # whatever slope a fit finds there is not D, so no E_a and no extrapolation
        notes.insert(0, f"D unresolved (tracer MSD < {RESOLVED_MSD_A2:g} A^2 at half the "
                        "run, D within 2 sigma of 0, or an MSD that is not diffusive) at "
                        f"{', '.join(unresolved)}: E_a and sigma(300 K) not measured")
        out["sigma_300K_note"] = "; ".join(notes)
        out["summary_reason"] = out["sigma_300K_note"]
        return out
    out["sigma_300K_note"] = "; ".join(notes)
    if len({r["temperature_K"] for r in ok}) < 2:
        out["summary_reason"] = "needs a positive, resolved D at two temperatures"
        return out
    temps = [float(r["temperature_K"]) for r in ok]
    d = [float(r["D_cm2_s"]) for r in ok]
    errs = [r.get("D_err_cm2_s") for r in ok]
    errors = None if any(e is None or not e > 0 for e in errs) else [float(e) for e in errs]
    try:
        fit = arrhenius_fit(temps, d, errors)
    except AseRamanError as exc:
        out["summary_reason"] = str(exc)
        return out
    d300, d300_err = fit.predict(T_ROOM)
    species = ok[0]["species"]
    q = charges.get(species, NOMINAL_CHARGES.get(species))
    out.update(Ea_eV=fit.E_a_eV, Ea_err_eV=fit.E_a_err_eV, D_300K_cm2_s=d300, charge_e=q)
    if q is not None:
        n_mobile, volume = ok[0]["n_mobile"], ok[0]["volume_A3"]
        sigma = float(nernst_einstein_conductivity(d300 * 1e4, n_mobile, volume,  # A^2/ps
                                                   q, T_ROOM))
        out["sigma_300K_S_cm"] = sigma
        out["sigma_300K_err_S_cm"] = (sigma * d300_err / d300
                                      if d300 > 0 and math.isfinite(d300_err) else None)
    return out


def _d_unresolved(row: dict[str, Any]) -> bool:
    """An analysed pair (finished or partial) whose D the run did not resolve."""
    return row.get("status") in ("ok", "done", "partial") and not row.get("D_resolved", True)


def _score(row: dict[str, Any], weights: dict[str, float]) -> tuple[float | None, str]:
    sigma = row.get("sigma_300K_S_cm")
    ea = row.get("Ea_eV")
    if not sigma or sigma <= 0 or ea is None:
        return None, ""
    score = weights.get("log10_sigma", 1.0) * math.log10(sigma) - weights.get("Ea_eV", 1.0) * ea
    missing = []
    for key, column, sign in (("esw_V", "esw_V", 1.0), ("sigma_e", "sigma_e_S_cm", -1.0)):
        w = weights.get(key, 0.0)
        if not w:
            continue
        value = row.get(column)
        if value is None:
            missing.append(column)
        else:
            score += sign * w * float(value)
    return score, ",".join(missing)


def write_report(rows: list[dict[str, Any]], materials: list[Any], settings: Any,
                 out: Path) -> list[dict[str, Any]]:
    """Add per-material summaries, scores and ranks; write the CSV and the plots."""
    by_name = {m.name: m for m in materials}
    for name, m in by_name.items():
        mine = [r for r in rows if r["material"] == name]
        summary = material_summary(mine, m.charges)
        for r in mine:
            r.update({k: v for k, v in summary.items() if k != "summary_reason"})
            if "summary_reason" in summary and not r.get("reason"):
                r["reason"] = summary["summary_reason"]
            r.update(esw_V=m.esw_V, band_gap_eV=m.band_gap_eV, sigma_e_S_cm=m.sigma_e_S_cm)
            r["score"], r["score_terms_missing"] = _score(r, settings.weights)
    ranked = sorted({r["material"]: r["score"] for r in rows if r.get("score") is not None}
                    .items(), key=lambda kv: -kv[1])
    rank = {name: i for i, (name, _) in enumerate(ranked, start=1)}
    for r in rows:
        r["rank"] = rank.get(r["material"])
    _write_csv(out / "results.csv", rows)
    plot_ranking(out / "ranking.png", rows)
    plot_arrhenius(out / "arrhenius.png", rows)
    compare_measured(out, rows)
    return rows


def compare_measured(out: Path, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Spearman rank correlations with the manifest's ``measured_sigma_S_cm``.

    ``comparison.json`` holds:

    - ``primary``: the comparison a screen stands on, fixed here before any run rather
      than picked afterwards: the tracer D at the *lowest* temperature that at least 3
      materials with a measured sigma reached, every D the run did not resolve ranked
      below every resolved one (tied among themselves: an MSD that stays on its
      vibrational plateau is evidence of slow diffusion, not a missing value). The
      lowest temperature is the one closest to room temperature: at high temperatures
      a universal potential lets nearly every lattice diffuse (and some melt), which
      erases the ranking, while two or three temperatures over a few hundred K give
      E_a too imprecise to carry an extrapolation over 300-500 K;
    - ``D_by_temperature`` (keys in K, as text): the same at every temperature, with
      the materials that were ``unresolved``; ``D_at_T``: the highest temperature;
    - ``sigma_300K_ranked``: the extrapolated sigma(300 K), the materials without one
      because their D was unresolved at some temperature ranked lowest (tied);
    - ``all`` and ``resolved_only``: the extrapolated sigma(300 K) where there is one,
      with the per-material numbers in ``materials``.

    Writes ``measured_vs_predicted.png`` with 3 predicted sigma(300 K). None when
    nothing is comparable.
    """
    from ..jsonsafe import finite_or_none as finite

    measured = {r["material"]: float(r["measured_sigma_S_cm"]) for r in rows
                if (finite(r.get("measured_sigma_S_cm")) or 0) > 0}
    per = _predicted_sigma(rows, measured)
    by_t = {t: ranking for t in sorted({r["temperature_K"] for r in rows})
            if len(ranking := _d_ranking(rows, t, measured)) >= 3}
    if len(per) < 3 and not by_t:
        return None
    names = sorted(per)
    result: dict[str, Any] = {
        "all": _spearman(measured, {n: per[n]["predicted_S_cm"] for n in names}),
        "resolved_only": _spearman(measured, {n: per[n]["predicted_S_cm"] for n in names
                                              if per[n]["resolved"]}),
        "materials": per, "sigma_300K_ranked": _sigma_ranked(rows, per, measured)}
    result["D_by_temperature"] = {
        f"{t:g}": {"temperature_K": t, **_spearman(measured, d), "D_cm2_s": d,
                   "unresolved": sorted(n for n, v in d.items() if v == 0.0)}
        for t, d in by_t.items()}
    if by_t:
        lowest, highest = min(by_t), max(by_t)
        result["D_at_T"] = result["D_by_temperature"][f"{highest:g}"]
        result["primary"] = {
            "metric": "Spearman rho of measured sigma against tracer D at the lowest "
                      "temperature, unresolved D ranked lowest",
            **{k: v for k, v in result["D_by_temperature"][f"{lowest:g}"].items()
               if k != "D_cm2_s"}}
    _write_text(out / "comparison.json", json.dumps(result, indent=1, sort_keys=True))
    if len(per) >= 3:
        plot_measured_vs_predicted(out / "measured_vs_predicted.png", per,
                                   result["all"]["rho"])
    return result


def _spearman(measured: dict[str, float], predicted: dict[str, float]) -> dict[str, Any]:
    """rho and its p-value over the materials in ``predicted`` (None below 3)."""
    from scipy.stats import spearmanr

    names = sorted(predicted)
    x, y = [measured[n] for n in names], [predicted[n] for n in names]
    if len(names) < 3 or len(set(x)) == 1 or len(set(y)) == 1:  # no ranking to compare
        return {"n": len(names), "rho": None, "p_value": None}
    res = spearmanr(x, y)
    return {"n": len(names), "rho": float(res.statistic), "p_value": float(res.pvalue)}


def _predicted_sigma(rows: list[dict[str, Any]], measured: dict[str, float]
                     ) -> dict[str, dict[str, Any]]:
    """Per material with both numbers: predicted and measured sigma, error, family."""
    from ..jsonsafe import finite_or_none as finite

    per: dict[str, dict[str, Any]] = {}
    for r in rows:
        pred = finite(r.get("sigma_300K_S_cm"))
        if pred and pred > 0 and r["material"] in measured:
            per[r["material"]] = {"predicted_S_cm": pred,
                                  "measured_S_cm": measured[r["material"]],
                                  "predicted_err_S_cm": finite(r.get("sigma_300K_err_S_cm")),
                                  "family": r.get("family", ""),
                                  "resolved": not r.get("sigma_300K_note")}
    return per


def _d_ranking(rows: list[dict[str, Any]], temperature_K: float,
               measured: dict[str, float]) -> dict[str, float]:
    """Tracer D at one temperature per measured material; an unresolved D counts as 0
    (a resolved D exceeds twice its error, so it is always above 0)."""
    from ..jsonsafe import finite_or_none as finite

    return {r["material"]: (float(r["D_cm2_s"]) if r.get("D_resolved", True) else 0.0)
            for r in rows if r["temperature_K"] == temperature_K
            and finite(r.get("D_cm2_s")) is not None and r["material"] in measured}


def _sigma_ranked(rows: list[dict[str, Any]], per: dict[str, dict[str, Any]],
                  measured: dict[str, float]) -> dict[str, Any]:
    """sigma(300 K) with the materials whose D was unresolved ranked lowest (0)."""
    unresolved = {r["material"] for r in rows
                  if r["material"] in measured and _d_unresolved(r)} - set(per)
    ranked = {**{n: p["predicted_S_cm"] for n, p in per.items()},
              **dict.fromkeys(unresolved, 0.0)}
    return {**_spearman(measured, ranked), "unresolved": sorted(unresolved)}


def plot_measured_vs_predicted(path: Path, per: dict[str, dict[str, Any]],
                               rho: float | None) -> None:
    """Predicted sigma(300 K) against the measured one, log-log, with the error bars."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for n in sorted(per):
        m = per[n]
        err = m["predicted_err_S_cm"] or 0.0
        lower = min(err, 0.99 * m["predicted_S_cm"])
        ax.errorbar(m["measured_S_cm"], m["predicted_S_cm"], yerr=[[lower], [err]],
                    fmt="o" if m["resolved"] else "v", mfc="none" if not m["resolved"] else None)
        ax.annotate(n, (m["measured_S_cm"], m["predicted_S_cm"]), fontsize=6,
                    xytext=(3, 3), textcoords="offset points")
    lo = min(min(m["measured_S_cm"], m["predicted_S_cm"]) for m in per.values())
    hi = max(max(m["measured_S_cm"], m["predicted_S_cm"]) for m in per.values())
    ax.plot([lo, hi], [lo, hi], "k:", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("measured sigma(RT) (S/cm)")
    ax.set_ylabel("predicted sigma(300 K) (S/cm)")
    shown = "undefined" if rho is None else f"{rho:.2f}"
    ax.set_title(f"Spearman rho = {shown} (n = {len(per)}; open: D unresolved)", fontsize=9)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def _write_text(path: Path, text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text + "\n")


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    def fmt(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, float):
            return "" if not math.isfinite(v) else f"{v:.6g}"
        return str(v)

    write_table_csv(path, "ase-raman screen results; D in cm^2/s, sigma in S/cm, E_a in eV "
                    "(Arrhenius of D per material), times in ps, widths in cm^-1; rank by "
                    "score, largest first", RESULT_COLUMNS, rows, fmt)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_ranking(path: Path, rows: list[dict[str, Any]]) -> None:
    """Materials by score: predicted sigma(300 K) and low-frequency Raman fraction."""
    plt = _pyplot()
    names = sorted({r["material"] for r in rows if r.get("rank")},
                   key=lambda n: min(r["rank"] for r in rows if r["material"] == n))
    fig, axes = plt.subplots(1, 2, figsize=(9, 0.45 * max(3, len(names)) + 1.5), sharey=True)
    y = np.arange(len(names))
    sig = [next(r.get("sigma_300K_S_cm") for r in rows if r["material"] == n) for n in names]
    err = [next(r.get("sigma_300K_err_S_cm") or 0.0 for r in rows if r["material"] == n)
           for n in names]
    axes[0].barh(y, sig, xerr=err, color="tab:blue")
    if any(s and s > 0 for s in sig):
        axes[0].set_xscale("log")
    axes[0].set_xlabel("predicted sigma(300 K) (S/cm)")
    axes[0].set_yticks(y, names)
    axes[0].invert_yaxis()
    temps = sorted({r["temperature_K"] for r in rows})
    for k, t in enumerate(temps):
        f = [next((r.get("low_frequency_fraction") or np.nan for r in rows
                   if r["material"] == n and r["temperature_K"] == t), np.nan) for n in names]
        axes[1].barh(y + (k - (len(temps) - 1) / 2) * 0.8 / max(1, len(temps)), f,
                     height=0.8 / max(1, len(temps)), label=f"{t:g} K")
    axes[1].set_xlabel("low-frequency Raman fraction (Bose)")
    if temps:
        axes[1].legend(fontsize=8)
    failed = sorted({r["material"] for r in rows if r.get("status") == "failed"})
    fig.suptitle("ase-raman screen ranking" + (f" (failed: {', '.join(failed)})"
                                                if failed else ""), fontsize=10)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def plot_arrhenius(path: Path, rows: list[dict[str, Any]]) -> None:
    """log10 D against 1000/T per material, with the fitted lines down to 300 K."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for name in sorted({r["material"] for r in rows}):
        mine = [r for r in rows if r["material"] == name and (r.get("D_cm2_s") or 0) > 0]
        if not mine:
            continue
        t = np.array([r["temperature_K"] for r in mine], float)
        d = np.array([r["D_cm2_s"] for r in mine], float)
        e = np.array([r.get("D_err_cm2_s") or 0.0 for r in mine], float)
        line = ax.errorbar(1000 / t, d, yerr=np.minimum(e, 0.99 * d), fmt="o", label=name)
        ea, d300 = mine[0].get("Ea_eV"), mine[0].get("D_300K_cm2_s")
        if ea is not None and d300:
            x = np.linspace(1000 / t.max(), 1000 / T_ROOM, 20)
            kb = 8.617333262e-5
            ax.plot(x, d300 * np.exp(-ea / kb * (x / 1000 - 1 / T_ROOM)), "--",
                    color=line[0].get_color(), lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("1000 / T (1/K)")
    ax.set_ylabel("tracer D (cm$^2$/s)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
