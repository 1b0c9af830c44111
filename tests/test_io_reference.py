"""read_reference against real DFT outputs and labelled sets in ../shared/data.

Expected numbers are the ones printed in the files (line numbers from the MANIFESTs).
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from ase_raman.io import read_reference
from ase_raman.tensors import BOHR3_TO_A3


def _alpha(eps: np.ndarray, volume: float) -> np.ndarray:
    return volume * (np.asarray(eps) - np.eye(3)) / (4.0 * np.pi)


def test_si_outcar_final_macroscopic_block(shared_data):
    path = shared_data / "vasp/Si_lepsilon_atomate/OUTCAR"
    (frame,) = read_reference(path)
    assert frame.get_chemical_formula() == "Si2"
    eps = frame.info["dielectric_tensor"]
    # OUTCAR lines 21764-21766 (symmetrised): not the HEAD OF MICROSCOPIC block (13.834058)
    np.testing.assert_allclose(np.diag(eps), [13.232451, 13.232459, 13.232456], atol=1e-6)
    np.testing.assert_allclose(eps[1, 2], 0.000008, atol=1e-9)
    assert frame.info["source"].endswith("OUTCAR:21762")
    vol = frame.get_volume()
    assert vol == pytest.approx(40.9036, abs=1e-3)
    # alpha = V (eps - 1) / (4 pi) = 40.9036 * 12.23245 / (4 pi) = 39.8167 A^3
    assert frame.info["polarizability"][0, 0] == pytest.approx(39.8167, abs=1e-3)
    np.testing.assert_allclose(frame.info["polarizability"], _alpha(eps, vol), atol=1e-10)
    assert 0.0 <= frame.info["polarizability_asymmetry"] < 1e-6


def test_si_vasprun_matches_outcar(shared_data):
    (xml,) = read_reference(shared_data / "vasp/Si_lepsilon_atomate/vasprun.xml")
    (out,) = read_reference(shared_data / "vasp/Si_lepsilon_atomate/OUTCAR")
    # varray "epsilon" (line 12821), not epsilon_rpa (13.834)
    assert xml.info["dielectric_tensor"][0, 0] == pytest.approx(13.23245131, abs=1e-9)
    np.testing.assert_allclose(xml.info["dielectric_tensor"], out.info["dielectric_tensor"],
                               atol=1e-6)
    np.testing.assert_allclose(xml.info["polarizability"], out.info["polarizability"], atol=1e-4)
    np.testing.assert_allclose(xml.positions, out.positions, atol=1e-5)


def test_sno2_vasprun(shared_data):
    (frame,) = read_reference(shared_data / "vasp/SnO2_born_phonopy/vasprun.xml",
                              format="vasp-xml")
    assert frame.get_chemical_formula() == "O4Sn2"
    np.testing.assert_allclose(frame.cell.lengths(), [4.77258, 4.77258, 3.21638], atol=1e-5)
    eps = frame.info["dielectric_tensor"]
    np.testing.assert_allclose(np.diag(eps), [4.42038879, 4.42038879, 4.77663396], atol=1e-8)
    vol = 4.77258125**2 * 3.21637939
    assert frame.info["polarizability"][2, 2] == pytest.approx(vol * 3.77663396 / (4 * np.pi),
                                                               rel=1e-6)


def test_quartz_outcars_match_raman_yaml(shared_data):
    """Every one of the 40 quartz OUTCARs gives the epsilon_static of Raman.yaml."""
    folder = shared_data / "quartz_phonopy_spectroscopy"
    sets = yaml.safe_load((folder / "Raman.yaml").read_text())["displacement_sets"]
    checked = 0
    for dset in sets:
        for step, disp in enumerate(dset["displacements"], start=1):
            path = folder / "OUTCARs" / f"OUTCAR.{dset['band_index']:04d}.{step:03d}"
            (frame,) = read_reference(path)
            ref = np.array(disp["epsilon_static"])
            np.testing.assert_allclose(frame.info["dielectric_tensor"], (ref + ref.T) / 2,
                                       atol=1e-9, err_msg=str(path))
            assert frame.get_volume() == pytest.approx(110.5384, abs=1e-3)
            checked += 1
    assert checked == 40


def test_quartz_outcar_0004_001_asymmetry_kept(shared_data):
    (frame,) = read_reference(shared_data / "quartz_phonopy_spectroscopy/OUTCARs/OUTCAR.0004.001")
    eps = frame.info["dielectric_tensor"]
    # lines 8783-8788: xy -0.000578, yx -0.000577
    assert eps[0, 1] == pytest.approx(-0.0005775, abs=1e-10)
    assert eps[0, 0] == pytest.approx(2.512810, abs=1e-9)
    assert frame.info["polarizability_asymmetry"] > 0.0
    alpha = frame.info["polarizability"]
    np.testing.assert_allclose(alpha, alpha.T)


def test_ramannoodle_eps_outcar_and_fused_first_block(shared_data):
    base = shared_data / "vasp_ramannoodle"
    (good,) = read_reference(base / "EPS_OUTCAR")
    assert good.info["dielectric_tensor"][1, 1] == pytest.approx(5.704472, abs=1e-9)
    assert len(good) == 135
    # invalid_eps_OUTCAR: only its first block has fused numbers; the final block is read
    (bad,) = read_reference(base / "malformed/vasp.outcar/invalid_eps_OUTCAR")
    np.testing.assert_array_equal(bad.info["dielectric_tensor"], good.info["dielectric_tensor"])


def test_ramannoodle_tio2_reference(shared_data):
    (frame,) = read_reference(shared_data / "vasp_ramannoodle/TiO2/ref_eps_OUTCAR")
    assert frame.get_chemical_formula() == "O72Ti36"
    assert frame.info["dielectric_tensor"].shape == (3, 3)
    assert np.all(np.diag(frame.info["dielectric_tensor"]) > 1.0)


@pytest.mark.parametrize(
    "sub, eps_value, line",
    [
        ("example02_AlAs_dispersion/alas.ph.out", 13.742216934, 220),
        # last block (8.811591229), not the first evaluation (8.814742885 at line 154)
        ("example05_AlAs_raman/alas.ph.out", 8.811591229, 375),
        ("example04_CH4_normal_modes/ch4.nm.out", 1.071770080, 326),
    ],
)
def test_qe_ph_output(shared_data, sub, eps_value, line):
    (frame,) = read_reference(shared_data / "qe" / sub)
    eps = frame.info["dielectric_tensor"]
    np.testing.assert_allclose(eps, eps_value * np.eye(3), atol=1e-12)
    assert frame.info["source"].endswith(f":{line}")
    np.testing.assert_allclose(frame.info["polarizability"], _alpha(eps, frame.get_volume()))


def test_qe_alas_structure(shared_data):
    (frame,) = read_reference(shared_data / "qe/example02_AlAs_dispersion/alas.ph.out",
                              format="espresso-ph")
    assert frame.get_chemical_symbols() == ["Al", "As"]
    alat = 10.5 * 0.52917721  # Angstrom
    # FCC primitive cell: V = alat^3 / 4; unit-cell volume printed as 289.4062 (a.u.)^3
    assert frame.get_volume() == pytest.approx(289.4062 * 0.52917721**3, rel=1e-5)
    np.testing.assert_allclose(frame.positions[1], [alat / 4] * 3, atol=1e-5)


def test_qe_ch4_polarizability_in_a3(shared_data):
    (frame,) = read_reference(shared_data / "qe/example04_CH4_normal_modes/ch4.nm.out")
    assert frame.get_chemical_formula() == "CH4"
    # extensive V (eps - 1)/(4 pi) with V = (15 bohr)^3; ph.x prints the Clausius-Mossotti
    # value 2.7896 A^3, 2.3 % lower (factor 3/(eps + 2))
    v = (15 * 0.52917721) ** 3
    assert frame.info["polarizability"][0, 0] == pytest.approx(v * 0.07177008 / (4 * np.pi),
                                                               rel=1e-6)
    cm = frame.info["polarizability"][0, 0] * 3 / (1.07177008 + 2)
    assert cm == pytest.approx(2.7896, abs=1e-3)


def test_water_monomer_frame0_matches_raw_line(shared_data):
    path = shared_data / "water_tensoap/water_monomer_coords_1000.xyz"
    frames = read_reference(path, alpha_key="alpha", alpha_unit="bohr3")
    assert len(frames) == 1000
    f0 = frames[0]
    raw = [9.812358, -0.000000, 0.019696, -0.000000, 10.287476, 0.000000,
           0.019696, 0.000000, 9.460413]  # line 2
    np.testing.assert_allclose(f0.info["polarizability"],
                               np.reshape(raw, (3, 3)) * BOHR3_TO_A3, atol=1e-12)
    assert not f0.pbc.any()
    assert "alpha" not in f0.info and f0.info["potential"] == pytest.approx(-76.3489282585)
    np.testing.assert_allclose(f0.positions[0], [0.066334, 0.0, 0.003701])
    iso = np.mean([np.trace(f.info["polarizability"]) / 3 for f in frames]) / BOHR3_TO_A3
    assert iso == pytest.approx(10.29965, abs=1e-4)  # MANIFEST statistics


def test_water_zundel_asymmetric_offdiagonals(shared_data):
    (f0,) = read_reference(shared_data / "water_tensoap/water_zundel_coords_1000.xyz",
                           index=0, alpha_key="alpha", alpha_unit="bohr3")
    a = f0.info["polarizability"] / BOHR3_TO_A3
    np.testing.assert_allclose(a[0], [16.731864, -2.811301, 1.557647], atol=1e-6)
    np.testing.assert_allclose(a[1, 2], -1.417489, atol=1e-6)


def test_water_bulk_alpha_and_epsilon(shared_data):
    path = shared_data / "water_bulk_tensoap/coords_1000.xyz"
    frames = read_reference(path, index="::100", alpha_key="alpha", alpha_unit="bohr3")
    assert len(frames) == 10
    f0 = frames[0]
    assert f0.pbc.all() and len(f0) == 96
    raw_alpha = np.array([44.6509465746, 0.243399192651, 0.334889547807, 0.247233078747,
                          43.3603881834, 0.683776936475, 0.341375078359, 0.698283223123,
                          44.4678410713]).reshape(3, 3)
    np.testing.assert_allclose(f0.info["polarizability"],
                               (raw_alpha + raw_alpha.T) / 2 * BOHR3_TO_A3, rtol=1e-12)
    asym = np.linalg.norm(raw_alpha - raw_alpha.T) / (2 * np.linalg.norm(raw_alpha))
    assert f0.info["polarizability_asymmetry"] == pytest.approx(asym, rel=1e-9)
    assert f0.info["dielectric_tensor"][0, 1] == pytest.approx(
        (0.0064998554906 + 0.00660149373411) / 2, rel=1e-12)
    assert "epsilon" not in f0.info
