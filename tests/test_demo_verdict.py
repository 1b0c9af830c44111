"""The demo's verdict and temperature-series summary, on hand-made results (no MD)."""

from __future__ import annotations

import math

import pytest

from ase_raman.demo.run import (
    correlation_time_ps,
    hop_time_ps,
    temperature_series,
    verdict,
)
from ase_raman.demo.settings import SystemSpec


def _system(t, d, fraction, width):
    return {"temperature_K": t, "D_cm2_s": d,
            "central_peak": {"low_frequency_fraction": fraction, "central_width_cm": width}}


SPECS = (SystemSpec("a350", "alpha", 350.0, series=True),
         SystemSpec("a500", "alpha", 500.0, series=True),
         SystemSpec("a600", "alpha", 600.0, series=True),
         SystemSpec("zb", "zincblende", 300.0))


def test_series_and_verdict_when_the_fraction_tracks_d():
    systems = {"a500": _system(500, 2e-5, 0.57, 3.9), "zb": _system(300, 1e-9, 0.19, 20.0),
               "a350": _system(350, 8e-7, 0.51, 6.2), "a600": _system(600, 2.1e-5, 0.58, 3.4)}
    series = temperature_series(systems, SPECS)
    assert [r["system"] for r in series["systems"]] == ["a350", "a500", "a600"]
    assert series["fraction_vs_D_rank_correlation"] == pytest.approx(1.0)
    assert series["width_vs_D_rank_correlation"] == pytest.approx(-1.0)
    lines = verdict(systems, series)
    assert len(lines) == 5
    assert lines[0].startswith("strongest central peak: a600")
    assert "separates the 2 diffusing systems" in lines[1]
    assert "a600" in lines[2] and "also shows the strongest" in lines[2]
    assert "tracks D_Ag" in lines[3] and "NOT" not in lines[3]


def test_verdict_says_when_it_disagrees():
    systems = {"a350": _system(350, 5e-6, 0.75, 1.9), "a600": _system(600, 2e-5, 0.62, 3.5),
               "zb": _system(300, 1e-9, 0.7, 20.0)}
    series = temperature_series(systems, SPECS)
    lines = verdict(systems, series)
    assert "does NOT separate" in lines[1]
    assert "is not the strongest central peak" in lines[2]
    assert "does NOT track" in lines[3]
    assert temperature_series({"a350": systems["a350"]}, SPECS) is None
    assert len(verdict({"a350": systems["a350"], "zb": systems["zb"]})) == 5


def test_residence_time_only_for_an_alpha_lattice():
    """Without a series the verdict gives the fastest system's width, and the Ag residence
    time from D only where the hop length of the bcc alpha lattice applies."""
    alpha = {**_system(500, 2e-5, 0.8, 1.5), "phase": "alpha"}
    wurtzite = {**_system(300, 3e-5, 0.4, 9.0), "phase": "wurtzite"}
    zb = {**_system(300, 1e-9, 0.2, 20.0), "phase": "zincblende"}
    line = verdict({"a": alpha, "zb": zb})[3]
    assert "central-peak width in a: 1.5" in line and "residence time" in line
    line = verdict({"w": wurtzite, "zb": zb})[3]
    assert "central-peak width in w: 9.0" in line and "residence time" not in line


def test_time_scales():
    # Gamma = 1 cm^-1 <-> tau = 1 / (2 pi c) = 5.3 ps
    assert correlation_time_ps(1.0) == pytest.approx(1e12 / (2 * math.pi * 2.99792458e10),
                                                     rel=1e-6)
    # a = 5.07 A: l = 1.79 A; D = 1e-5 cm^2/s -> l^2 / 6D = 5.36 ps
    assert hop_time_ps(1e-5, 5.07) == pytest.approx((5.07e-8 / 2**1.5) ** 2 / 6e-5 * 1e12)
