"""The screening table's per-material numbers against analytic cases (no MD)."""

from __future__ import annotations

import json
import math

import pytest
from ase import units

from ase_raman.screen.pipeline import Material, ScreenSettings
from ase_raman.screen.report import compare_measured, material_summary, write_report


def _rows(name, ea, d0=1e-2, temps=(700.0, 1000.0), n_mobile=20, volume=1000.0):
    return [{"material": name, "temperature_K": t, "status": "ok", "species": "Li",
             "D_cm2_s": d0 * math.exp(-ea / (units.kB * t)), "D_err_cm2_s": None,
             "D_resolved": True, "n_mobile": n_mobile, "volume_A3": volume} for t in temps]


def test_arrhenius_extrapolation_and_nernst_einstein_at_300k():
    summary = material_summary(_rows("x", 0.3), {"Li": 1.0})
    assert summary["Ea_eV"] == pytest.approx(0.3, rel=1e-9)
    d300 = 1e-2 * math.exp(-0.3 / (units.kB * 300.0))
    assert summary["D_300K_cm2_s"] == pytest.approx(d300, rel=1e-9)
    # sigma = n q^2 D / (k_B T), by hand in SI: n = 20 / 1000 A^3
    n = 20 / 1000e-30
    sigma_si = n * (1.602176634e-19) ** 2 * d300 * 1e-4 / (1.380649e-23 * 300.0)
    assert summary["sigma_300K_S_cm"] == pytest.approx(sigma_si / 100, rel=1e-6)
    assert summary["sigma_300K_note"] == ""


def test_unresolved_diffusion_is_flagged_not_hidden():
    rows = _rows("slow", 0.8)
    rows[0]["D_resolved"] = False
    summary = material_summary(rows, {})
    assert "unresolved" in summary["sigma_300K_note"] and "700 K" in summary["sigma_300K_note"]
    assert "Ea_eV" not in summary and "sigma_300K_S_cm" not in summary
    assert material_summary(_rows("ok", 0.8), {})["charge_e"] == 1.0  # nominal Li+


def test_score_rank_and_spearman_against_measured(tmp_path):
    materials, rows = [], []
    for name, ea, measured in (("fast", 0.2, 1e-2), ("mid", 0.4, 1e-5), ("slow", 0.6, 1e-9)):
        materials.append(Material(name, "", measured_sigma_S_cm=measured))
        rows += [{**r, "measured_sigma_S_cm": measured} for r in _rows(name, ea)]
    out = write_report(rows, materials, ScreenSettings(), tmp_path)
    ranks = {r["material"]: r["rank"] for r in out}
    assert ranks == {"fast": 1, "mid": 2, "slow": 3}
    result = json.loads((tmp_path / "comparison.json").read_text())
    assert result["all"]["rho"] == pytest.approx(1.0) and result["all"]["n"] == 3
    for name in ("results.csv", "ranking.png", "arrhenius.png", "measured_vs_predicted.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert compare_measured(tmp_path, rows[:2]) is None  # one material: no correlation


def test_high_temperature_proxy_when_only_one_temperature_ran(tmp_path):
    materials, rows = [], []
    for name, ea, measured in (("a", 0.2, 1e-2), ("b", 0.4, 1e-6), ("c", 0.6, 1e-4)):
        materials.append(Material(name, "", measured_sigma_S_cm=measured))
        rows += [{**r, "measured_sigma_S_cm": measured}
                 for r in _rows(name, ea, temps=(1000.0,))]
    write_report(rows, materials, ScreenSettings(), tmp_path)
    result = json.loads((tmp_path / "comparison.json").read_text())
    assert result["all"]["n"] == 0
    assert result["D_at_T"]["temperature_K"] == 1000.0
    assert result["D_at_T"]["rho"] == pytest.approx(0.5)  # ranks (1, 3, 2) vs (1, 2, 3)
    rows[1]["D_resolved"] = False  # b's D unresolved: ranks last, as measured
    write_report(rows, materials, ScreenSettings(), tmp_path)
    result = json.loads((tmp_path / "comparison.json").read_text())
    assert result["D_at_T"]["rho"] == pytest.approx(1.0)


def test_primary_ranking_is_d_at_the_lowest_temperature_with_unresolved_lowest(tmp_path):
    # three temperatures; at the lowest one the slowest material does not diffuse yet,
    # at the highest every material has the same D (saturated)
    materials, rows = [], []
    for name, ea, measured in (("fast", 0.2, 1e-2), ("mid", 0.4, 1e-5), ("slow", 0.6, 1e-9),
                               ("nodata", 0.3, None)):
        materials.append(Material(name, "", measured_sigma_S_cm=measured))
        rows += [{**r, "measured_sigma_S_cm": measured}
                 for r in _rows(name, ea, temps=(600.0, 800.0, 1000.0))]
    for r in rows:
        if r["temperature_K"] == 1000.0:
            r["D_cm2_s"] = 1e-4
        if r["material"] == "slow" and r["temperature_K"] == 600.0:
            r["D_resolved"] = False
    write_report(rows, materials, ScreenSettings(), tmp_path)
    result = json.loads((tmp_path / "comparison.json").read_text())
    primary = result["primary"]
    assert primary["temperature_K"] == 600.0 and primary["n"] == 3
    assert primary["rho"] == pytest.approx(1.0) and primary["unresolved"] == ["slow"]
    assert result["D_by_temperature"]["800"]["rho"] == pytest.approx(1.0)
    assert result["D_at_T"]["temperature_K"] == 1000.0
    assert result["D_at_T"]["rho"] is None  # all equal at 1000 K: no ranking
    # slow has no sigma(300 K) (unresolved at 600 K): ranked lowest in sigma_300K_ranked
    assert result["all"]["n"] == 2
    ranked = result["sigma_300K_ranked"]
    assert ranked["n"] == 3 and ranked["unresolved"] == ["slow"]
    assert ranked["rho"] == pytest.approx(1.0)
    csv_text = (tmp_path / "results.csv").read_text()
    assert "D within 2 sigma of 0" in csv_text
