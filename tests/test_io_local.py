"""read_reference on the small files in tests/data (runs without ../shared/data)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.io import write

from ase_raman.io import detect_format, read_reference
from ase_raman.io.extxyz import raw_key
from ase_raman.tensors import BOHR3_TO_A3


def test_training_sets_have_200_labelled_frames(test_data):
    bulk = read_reference(test_data / "water_bulk_200.xyz", alpha_key="alpha",
                          alpha_unit="bohr3")
    mono = read_reference(test_data / "water_monomer_200.xyz", alpha_key="alpha",
                          alpha_unit="bohr3")
    assert len(bulk) == 200 and len(mono) == 200
    assert all(len(f) == 96 and f.pbc.all() for f in bulk)
    assert all(len(f) == 3 and not f.pbc.any() for f in mono)
    for f in bulk + mono:
        a = f.info["polarizability"]
        assert a.shape == (3, 3) and np.allclose(a, a.T)
    assert all("dielectric_tensor" in f.info for f in bulk)
    # frame 199 of the monomer file is the last frame copied (lines 996-1000)
    assert mono[-1].info["source"].endswith(":997")


def test_units_bohr3_vs_a3(test_data):
    path = test_data / "water_monomer_200.xyz"
    (a3,) = read_reference(path, index=5, alpha_key="alpha", alpha_unit="A3")
    (b3,) = read_reference(path, index=5, alpha_key="alpha", alpha_unit="bohr3")
    np.testing.assert_allclose(b3.info["polarizability"], a3.info["polarizability"] * BOHR3_TO_A3)
    assert BOHR3_TO_A3 == pytest.approx(0.148185, rel=1e-5)


def test_row_major_from_raw_line_and_voigt(tmp_path, test_data):
    """9 numbers are row-major whatever ASE does with them; 6 numbers are Voigt."""
    lines = (test_data / "water_monomer_200.xyz").read_text().splitlines(keepends=True)[:5]
    head = lines[1]
    nine = "10.0 0.30 0.20 0.31 11.0 0.10 0.21 0.11 12.0"  # slightly asymmetric
    six = "10.0 11.0 12.0 0.10 0.20 0.30"
    head9 = head.replace("alpha=", f'polarizability="{nine}" alpha=')
    head6 = head.replace("alpha=", f'polarizability="{six}" alpha=')
    assert raw_key(head9, "polarizability") == nine
    path = tmp_path / "two.xyz"
    path.write_text("".join([lines[0], head9, *lines[2:5], lines[0], head6, *lines[2:5]]))
    f9, f6 = read_reference(path)
    expected = np.array([[10.0, 0.305, 0.205], [0.305, 11.0, 0.105], [0.205, 0.105, 12.0]])
    np.testing.assert_allclose(f9.info["polarizability"], expected, atol=1e-12)
    raw = np.array(nine.split(), dtype=float).reshape(3, 3)
    asym = np.linalg.norm(raw - raw.T) / (2 * np.linalg.norm(raw))
    assert f9.info["polarizability_asymmetry"] == pytest.approx(asym)
    voigt = np.array([[10.0, 0.3, 0.2], [0.3, 11.0, 0.1], [0.2, 0.1, 12.0]])
    np.testing.assert_allclose(f6.info["polarizability"], voigt, atol=1e-12)
    assert f6.info["polarizability_asymmetry"] == 0.0


def test_quartz_outcar_copy(test_data):
    (frame,) = read_reference(test_data / "quartz_OUTCAR.0015.002")
    # lines 5653-5655 of the final block == Raman.yaml band 15 step 2 (lines 204-206)
    np.testing.assert_allclose(np.diag(frame.info["dielectric_tensor"]),
                               [2.508842, 2.508842, 2.541821], atol=1e-9)
    vol = frame.get_volume()
    assert vol == pytest.approx(110.5384, abs=1e-3)
    assert frame.info["polarizability"][2, 2] == pytest.approx(vol * 1.541821 / (4 * np.pi))


def test_sno2_copy_and_format_detection(test_data):
    path = test_data / "SnO2_born_vasprun.xml"
    assert detect_format(path) == "vasp-xml"
    (frame,) = read_reference(path)
    assert frame.info["dielectric_tensor"][0, 0] == pytest.approx(4.42038879)


def test_qe_copy_last_block(test_data):
    path = test_data / "AlAs_raman.ph.out"
    assert detect_format(path) == "espresso-ph"
    (frame,) = read_reference(path)
    assert frame.info["dielectric_tensor"][0, 0] == pytest.approx(8.811591229, abs=1e-12)
    assert frame.get_chemical_symbols() == ["Al", "As"]


def test_generic_ase_format_roundtrip(tmp_path, test_data):
    frames = read_reference(test_data / "water_monomer_200.xyz", index=":3", alpha_key="alpha",
                            alpha_unit="bohr3")
    path = tmp_path / "frames.traj"
    write(path, frames)
    back = read_reference(path)
    assert len(back) == 3
    for a, b in zip(frames, back, strict=True):
        np.testing.assert_allclose(b.info["polarizability"], a.info["polarizability"])


def test_index_forms(test_data):
    path = test_data / "water_monomer_200.xyz"
    kw = {"alpha_key": "alpha", "alpha_unit": "bohr3"}
    assert len(read_reference(path, index="::10", **kw)) == 20
    assert len(read_reference(path, index=slice(0, 7), **kw)) == 7
    (last,) = read_reference(path, index=-1, **kw)
    (last_s,) = read_reference(path, index="-1", **kw)
    np.testing.assert_array_equal(last.positions, last_s.positions)


def test_extxyz_written_by_ase_with_a_3x3_array_reads_back(tmp_path):
    """ase.io.write stores a 3x3 info array as `_JSON [[...]]`: read it row by row."""
    from ase.build import molecule
    from ase.io import write

    from ase_raman.io import read_reference

    atoms = molecule("H2O")
    atoms.center(vacuum=3.0)
    alpha = np.array([[1.0, 2.0, 3.0], [2.0, 5.0, 6.0], [3.0, 6.0, 9.0]])
    atoms.info["polarizability"] = alpha
    write(tmp_path / "frames.xyz", [atoms, atoms], format="extxyz")
    frames = read_reference(tmp_path / "frames.xyz")
    assert len(frames) == 2
    np.testing.assert_array_equal(frames[1].info["polarizability"], alpha)
