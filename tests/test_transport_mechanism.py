"""Conduction mechanism on synthetic trajectories with a known answer: lattice hopping
(kinetic Monte Carlo with thermal jitter), Brownian liquid-like diffusion, a vibrating
solid; regimes; the Raman comparison."""

from __future__ import annotations

import numpy as np
import pytest

from ase_raman.spectra.transport import analyse_mechanism
from ase_raman.spectra.transport import synthetic as sy
from ase_raman.spectra.transport.mechanism import raman_comparison
from ase_raman.spectra.transport.regimes import non_gaussian_parameter
from ase_raman.spectra.transport.sites import SITE_CONTRAST_MIN

DT = 20.0  # fs
RATE = 1.0  # jumps per ps per ion
SPACING = 3.0  # Angstrom
D_TRUE_CM2_S = RATE * SPACING**2 / 6.0 * 1e-4  # 1.5 A^2/ps


def _analyse(gen, **kw):
    pos, symbols, cell = gen(seed=4, **kw)
    # the synthetic framework is static and light: no centre-of-mass correction
    return analyse_mechanism(pos, symbols, DT, species="Li", cells=cell, remove_com=False)


def test_kmc_hopping_is_recovered():
    res = _analyse(sy.kmc_hopping, rate_per_ps=RATE, spacing_A=SPACING)
    li = res.species["Li"]
    assert li.verdict == "hopping"
    assert li.n_sites == 64 and li.site_contrast > SITE_CONTRAST_MIN
    assert li.residence_time_ps == pytest.approx(1.0 / RATE, rel=0.05)
    assert li.mean_jump_length_A == pytest.approx(SPACING, rel=0.05)
    assert li.D_jump_cm2_s == pytest.approx(D_TRUE_CM2_S, rel=0.05)
    # independent jumpers: tracer D = D_jump within its error, correlation factor ~1
    assert abs(li.D_cm2_s - D_TRUE_CM2_S) < 3 * li.D_err_cm2_s
    assert li.correlation_factor == pytest.approx(1.0, abs=3 * li.D_err_cm2_s / li.D_jump_cm2_s)
    assert li.in_flight_fraction < 0.01
    # independent ions: concerted jumps only at the chance level
    assert li.concerted_fraction == pytest.approx(li.concerted_fraction_chance, abs=0.05)
    # hopping is non-Gaussian at short lags
    assert li.regimes.alpha2_peak > 1.0
    assert li.regimes.alpha2_peak_time_ps < 1.0 / RATE
    d = li.as_dict()
    for key in ("verdict", "D_cm2_s", "D_err_cm2_s", "residence_time_ps",
                "mean_jump_length_A", "in_flight_fraction", "concerted_fraction"):
        assert key in d


def test_brownian_is_liquid_like():
    res = _analyse(sy.brownian, D_A2_ps=D_TRUE_CM2_S / 1e-4)
    li = res.species["Li"]
    assert not li.sites_found and li.n_sites == 0
    assert li.verdict == "liquid-like"
    assert abs(li.D_cm2_s - D_TRUE_CM2_S) < 3 * li.D_err_cm2_s
    assert abs(li.regimes.alpha2_peak) < 0.2  # Gaussian at every lag (noise only)
    assert li.regimes.crossover_time_ps < 0.5


def test_vibrating_solid():
    li = _analyse(sy.vibrating).species["Li"]
    assert li.verdict == "vibrating"
    assert abs(li.D_cm2_s) < 2 * li.D_err_cm2_s  # consistent with zero
    assert li.n_jumps == 0 and li.sites_found


def test_alpha2_of_gaussian_and_of_jumps():
    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.normal(0, 0.1, (2000, 50, 3)), axis=0)
    assert np.all(np.abs(non_gaussian_parameter(walk, np.array([1, 10, 100]))) < 0.05)
    # half the ions jump 3 A at frame 10, half never; at a lag of 20 frames a quarter of
    # the displacements (half the ions, origins 0-9 of 0-19) are 3 A, the rest 0:
    # alpha_2 = 3 / (5 p) - 1 = 1.4 for p = 1/4
    jump = np.zeros((40, 100, 3))
    jump[10:, :50, 0] = 3.0
    assert non_gaussian_parameter(jump, np.array([20]))[0] == pytest.approx(1.4, rel=1e-9)


def test_raman_comparison_times():
    # Gamma = 1 cm^-1 -> tau = 1 / (2 pi c Gamma) = 5.31 ps
    cmp = raman_comparison({"low_frequency_fraction": 0.8, "central_width_cm": 1.0},
                           "liquid-like", 4.0)
    assert cmp["correlation_time_ps"] == pytest.approx(5.3088, rel=1e-3)
    assert cmp["times_agree"] and cmp["agree"] and cmp["raman_reads"] == "liquid-like"
    cmp = raman_comparison({"low_frequency_fraction": 0.8, "central_width_cm": 1.0},
                           "hopping", 100.0)
    assert cmp["times_agree"] is False and cmp["agree"] is False


def test_cli_mechanism_json_png_and_errors(tmp_path, capsys):
    import json

    from ase import Atoms
    from ase.io import write

    from ase_raman.cli import main

    pos, symbols, cell = sy.kmc_hopping(n_ions=16, n_frames=1201, seed=1)
    traj = tmp_path / "hop.xyz"
    write(traj, [Atoms(symbols, positions=p, cell=cell, pbc=True) for p in pos])
    raman = tmp_path / "raman.json"
    raman.write_text(json.dumps({"central_peak": {"low_frequency_fraction": 0.1,
                                                  "central_width_cm": 5.0}}))
    out = tmp_path / "mech.json"
    png = tmp_path / "mech.png"
    assert main(["mechanism", str(traj), "--species", "Li", "--dt-fs", "20",
                 "--no-drift-correction", "--raman", str(raman), "-o", str(out),
                 "--png", str(png)]) == 0
    li = json.loads(out.read_text())["species"]["Li"]
    assert li["verdict"] == "hopping" and li["raman"]["raman_reads"] == "not liquid-like"
    assert li["raman"]["agree"] is True
    assert png.stat().st_size > 10_000
    assert "Li (N=16): hopping" in capsys.readouterr().out
    # bad input: one line, exit 2, nothing written
    bad = tmp_path / "bad.json"
    assert main(["mechanism", str(traj), "--species", "Xx", "--dt-fs", "20",
                 "-o", str(bad)]) == 2
    assert not bad.exists()
    err = capsys.readouterr().err
    assert err.startswith("ase-raman: error:") and "Xx" in err and len(err.splitlines()) == 1


def test_argyrodite_li_hops_between_cages(shared_data):
    """The real Li6PS5Cl AIMD run (416 atoms, 700 frames of 0.1 ps, 500 K)."""
    from ase_raman.spectra.transport import mechanism_from_file

    path = shared_data / "argyrodite_li6ps5cl" / "XDATCAR"
    if not path.exists():
        pytest.skip("argyrodite run not present")
    li = mechanism_from_file(path, "Li", dt_fs=100.0, cage_cutoff_A=2.7).species["Li"]
    assert li.verdict == "hopping"
    assert li.sites_found and 150 <= li.n_sites <= 400  # 192 48h doublets, 384 48h sites
    assert 1.0e-5 < li.D_cm2_s < 2.0e-5 and li.D_err_cm2_s < 0.3 * li.D_cm2_s
    # the MSD still bends in the default window (correlated back-jumps): the error
    # covers the spread of D with the window start (1.22-1.64e-5 for starts of 10-1 ps)
    assert li.fit_diffusive is False and li.D_err_cm2_s > 0.15e-5
    assert li.correlation_factor < 1.0  # correlated back-jumps
    d = li.as_dict()
    # short (intra-cage) jumps are faster than the long (inter-cage) ones, and shorter
    assert d["intra_cage_rate_per_ps"] > d["inter_cage_rate_per_ps"]
    assert d["intra_cage_mean_length_A"] < 2.7 < d["inter_cage_mean_length_A"]


def test_user_sites_file(tmp_path):
    from ase import Atoms
    from ase.io import write

    from ase_raman.errors import InputFileError

    pos, symbols, cell = sy.kmc_hopping(seed=2)
    grid = np.stack(np.meshgrid(*[np.arange(4)] * 3, indexing="ij"), -1).reshape(-1, 3)
    sites = tmp_path / "sites.xyz"
    write(sites, Atoms(["Li"] * 64, positions=grid * SPACING, cell=cell, pbc=True))
    li = analyse_mechanism(pos, symbols, DT, species="Li", cells=cell, remove_com=False,
                           sites=sites).species["Li"]
    assert li.sites_source == "sites.xyz" and li.n_sites == 64 and li.verdict == "hopping"
    assert li.mean_jump_length_A == pytest.approx(SPACING, rel=1e-6)
    assert li.residence_time_ps == pytest.approx(1.0 / RATE, rel=0.05)
    with pytest.raises(InputFileError, match="no such sites file"):
        analyse_mechanism(pos, symbols, DT, species="Li", cells=cell,
                          sites=tmp_path / "missing.xyz")


def test_einstein_crystal_is_vibrating_and_unresolved():
    # correlated vibrations (damped oscillators, periods 0.5-3 ps, 3 ps run, 10 fs frames)
    pos, symbols, cell = sy.einstein_crystal(seed=3)
    res = analyse_mechanism(pos, symbols, 10.0, species="Li", cells=cell, remove_com=False)
    li = res.species["Li"]
    assert li.verdict == "vibrating"
    assert abs(li.D_cm2_s) < 2 * li.D_err_cm2_s
    assert li.fit_diffusive is False and li.as_dict()["fit_diffusive"] is False
    # 3 ps sample the slow 0.3 A oscillations unevenly: a few density maxima split, and
    # an ion moving between the halves of one split site counts as a jump
    assert li.n_jumps <= 0.1 * li.n_atoms
