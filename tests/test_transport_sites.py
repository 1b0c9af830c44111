"""Site types and interstitial sites of the host sublattice: an fcc host whose
tetrahedral and octahedral holes are known analytically, and ions hopping between them
with a different residence time in each."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.io import write

from ase_raman.cli import main
from ase_raman.spectra.transport import analyse_mechanism
from ase_raman.spectra.transport import synthetic as sy
from ase_raman.spectra.transport.host import environment_labels, interstitial_sites

A = 5.0  # fcc lattice constant (Angstrom)
DT = 20.0  # fs
TET_RATE, OCT_RATE = 1.0, 1 / 0.3  # per ps


def test_interstitial_sites_of_fcc_host_are_its_tetrahedral_and_octahedral_holes():
    host = bulk("Cu", "fcc", a=A, cubic=True).repeat(2)
    cell = np.array(host.cell)
    rng = np.random.default_rng(0)  # small thermal disorder of the host
    frac = (host.get_scaled_positions() + rng.normal(0, 0.02 / (2 * A), (len(host), 3))) % 1
    sites = interstitial_sites(frac, cell)
    labels = environment_labels(sites, cell, frac, np.array(host.get_chemical_symbols()))
    assert Counter(labels.tolist()) == {"CN4-Cu4": 8 * 8, "CN6-Cu6": 4 * 8}
    # every tetrahedral hole is a sqrt(3)/4 from its 4 host atoms, every octahedral a/2
    pos = sites @ cell
    d = pos[:, None, :] - host.get_positions()[None]
    d -= np.rint(d / (2 * A)) * 2 * A
    nearest = np.sort(np.linalg.norm(d, axis=2), axis=1)
    tet = labels == "CN4-Cu4"
    np.testing.assert_allclose(nearest[tet, :4], A * np.sqrt(3) / 4, atol=0.1)
    np.testing.assert_allclose(nearest[~tet, :6], A / 2, atol=0.1)


@pytest.fixture(scope="module")
def two_types():
    return sy.fcc_interstitial_hopping(seed=1, lattice_A=A, tet_rate_per_ps=TET_RATE,
                                       oct_rate_per_ps=OCT_RATE, dt_fs=DT)


@pytest.mark.parametrize("sites", ["interstitial", "auto"])
def test_two_site_types_have_their_residence_times(two_types, sites):
    pos, symbols, cell = two_types
    li = analyse_mechanism(pos, symbols, DT, species="Li", cells=cell, remove_com=False,
                           sites=sites).species["Li"]
    assert li.verdict == "hopping" and li.n_sites == 96
    tet, octa = li.site_types["CN4-S4"], li.site_types["CN6-S6"]
    assert (tet["n_sites"], octa["n_sites"]) == (64, 32)
    assert tet["residence_time_ps"] == pytest.approx(sy.discrete_residence_ps(TET_RATE, DT),
                                                     rel=0.05)
    assert octa["residence_time_ps"] == pytest.approx(sy.discrete_residence_ps(OCT_RATE, DT),
                                                      rel=0.05)
    for entry in (tet, octa):
        assert entry["mean_jump_length_A"] == pytest.approx(A * np.sqrt(3) / 4, rel=0.02)
        assert np.mean(entry["residence_times_ps"]) == pytest.approx(
            entry["residence_time_ps"], rel=0.1)
    # time share on each type: residence x visits, visits alternate tet/oct
    assert tet["occupancy_fraction"] == pytest.approx(1.0 / (1.0 + TET_RATE / OCT_RATE),
                                                      abs=0.03)
    assert set(li.as_dict()["site_types"]) == {"CN4-S4", "CN6-S6"}
    assert "residence_times_ps" not in li.summary()["site_types"]["CN4-S4"]


def test_interstitial_keeps_only_visited_holes():
    # ions that never leave their tetrahedral holes: the octahedral holes are dropped
    pos, symbols, cell = sy.fcc_interstitial_hopping(n_frames=201, seed=2, lattice_A=A,
                                                     tet_rate_per_ps=0.0)
    li = analyse_mechanism(pos, symbols, DT, species="Li", cells=cell, remove_com=False,
                           sites="interstitial").species["Li"]
    occupied = {tuple(np.round(p / A * 4).astype(int) % 8) for p in pos[0, :48]}
    assert li.n_sites == len(occupied) and set(li.site_types) == {"CN4-S4"}
    assert li.n_jumps == 0


def test_sites_file_labels_are_site_types(two_types, tmp_path, capsys):
    pos, symbols, cell = two_types
    host = bulk("S", "fcc", a=A, cubic=True).repeat(2)
    holes = interstitial_sites(host.get_scaled_positions(), np.array(host.cell))
    kinds = environment_labels(holes, np.array(host.cell), host.get_scaled_positions(),
                               np.array(host.get_chemical_symbols()))
    sites = Atoms("Li" * len(holes), scaled_positions=holes, cell=host.cell, pbc=True)
    sites.new_array("labels", np.where(kinds == "CN4-S4", "tet", "oct").astype(str))
    path = tmp_path / "holes.extxyz"
    write(path, sites, format="extxyz")
    traj = tmp_path / "run.extxyz"
    frames = [Atoms(symbols, positions=p, cell=cell, pbc=True) for p in pos[:1501:3]]
    write(traj, frames, format="extxyz")
    out = tmp_path / "m.json"
    assert main(["mechanism", str(traj), "--species", "Li", "--dt-fs", str(3 * DT),
                 "--sites", str(path), "--no-drift-correction", "-o", str(out),
                 "--quiet"]) == 0
    types = json.loads(out.read_text())["species"]["Li"]["site_types"]
    assert set(types) == {"tet", "oct"} and types["tet"]["n_sites"] == 64
    assert types["tet"]["residence_time_ps"] > 2 * types["oct"]["residence_time_ps"]
    # and the same run with the interstitial sites of the host, from the command line
    out2 = tmp_path / "m2.json"
    assert main(["mechanism", str(traj), "--species", "Li", "--dt-fs", str(3 * DT),
                 "--sites", "interstitial", "--no-drift-correction", "-o", str(out2),
                 "--quiet"]) == 0
    li = json.loads(out2.read_text())["species"]["Li"]
    assert li["sites_source"] == "interstitial" and li["n_sites"] == 96


def test_interstitial_sites_need_host_atoms():
    from ase_raman.errors import UsageError

    pos, symbols, cell = sy.fcc_interstitial_hopping(n_frames=20, seed=3, lattice_A=A)
    ions = pos[:, :48]
    with pytest.raises(UsageError, match="host atoms"):
        analyse_mechanism(ions, symbols[:48], DT, species="Li", cells=cell,
                          remove_com=False, sites="interstitial")
