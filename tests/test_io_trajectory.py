"""Streaming trajectory readers on real MD output (XDATCAR, i-PI, LAMMPS, extxyz, vasprun)."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
from ase.units import Bohr

from ase_raman.errors import InputFileError, UsageError
from ase_raman.io.trajectory import detect_trajectory_format, frame_interval_fs, iter_frames


def _lines(path, n):
    with open(path) as fh:
        return [next(fh) for _ in range(n)]


# ------------------------------------------------------------------------------- XDATCAR


def test_argyrodite_li6ps5i_species_from_species_line(shared_data):
    path = shared_data / "argyrodite_li6ps5i/XDATCAR"
    assert detect_trajectory_format(path) == "vasp-xdatcar"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a complete file must not warn
        frames = list(iter_frames(path))
    assert len(frames) == 100
    f0, last = frames[0], frames[-1]
    # species line "Li I S P" / "192 32 160 32", not the comment "Li192 P32 S160 I32"
    sym = f0.get_chemical_symbols()
    assert sym[0] == "Li" and sym[191] == "Li" and sym[192] == "I" and sym[223] == "I"
    assert sym[224] == "S" and sym[415] == "P"
    np.testing.assert_allclose(f0.cell.lengths(), [20.433] * 3)
    np.testing.assert_allclose(f0.get_scaled_positions(wrap=False)[0],
                               [0.07624489, 0.91855897, 0.96387423])  # line 9
    np.testing.assert_allclose(last.get_scaled_positions(wrap=False)[415],
                               [0.75366629, 0.74491958, 0.74385826])  # last line
    assert [f.info["configuration"] for f in frames] == list(range(1, 101))
    assert frame_interval_fs(path) is None  # no INCAR/OUTCAR beside it


def test_truncated_xdatcar_warns_and_yields_complete_frames(shared_data):
    path = shared_data / "vasp/malformed/XDATCAR.Li6PS5I.truncated_mid_frame4"
    with pytest.warns(UserWarning, match="incomplete") as rec:
        frames = list(iter_frames(path))
    assert len(frames) == 3
    msg = str(rec[0].message)
    assert "frame 3" in msg and "configuration=      4" in msg and "208 of 416" in msg
    full = next(iter_frames(shared_data / "argyrodite_li6ps5i/XDATCAR", index=2))
    np.testing.assert_array_equal(frames[2].positions, full.positions)


def test_xdatcar_index_and_every(shared_data):
    path = shared_data / "argyrodite_li6ps5i/XDATCAR"
    got = [f.info["configuration"] for f in iter_frames(path, index="10:50", every=5)]
    assert got == list(range(11, 51, 5))
    got = [f.info["configuration"] for f in iter_frames(path, index=slice(0, None, 2), every=3)]
    assert got == list(range(1, 101, 6))
    (one,) = iter_frames(path, index=99)
    assert one.info["configuration"] == 100
    with pytest.raises(UsageError, match="non-negative"):
        next(iter_frames(path, index=-1))
    with pytest.raises(UsageError, match="every"):
        next(iter_frames(path, every=0))


def test_streaming_700_frames_memory_bounded(shared_data):
    path = shared_data / "argyrodite_li6ps5cl/XDATCAR"
    size = path.stat().st_size  # 9.6 MB of text; 700 frames x 416 atoms
    tracemalloc.start()
    try:
        n = 0
        li = None
        for atoms in iter_frames(path):
            n += 1
            li = atoms.positions[0].copy()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == 700 and li is not None
    # one frame is ~416 x 3 x 8 B = 10 kB of positions; holding all would be > 7 MB
    assert peak < 1_000_000, f"peak {peak} B while streaming a {size} B file"


def test_variable_cell_xdatcar(tmp_path, shared_data):
    src = _lines(shared_data / "argyrodite_li6ps5i/XDATCAR", 7 + 2 * 417)
    header, frame1, frame2 = src[:7], src[7:424], src[424:841]
    header2 = list(header)
    header2[2:5] = ["21.0 0.0 0.0\n", "0.0 20.5 0.0\n", "0.2 0.0 20.0\n"]
    path = tmp_path / "XDATCAR"
    path.write_text("".join(header + frame1 + header2 + frame2))
    f1, f2 = iter_frames(path)
    np.testing.assert_allclose(f1.cell.array, np.eye(3) * 20.433)
    np.testing.assert_allclose(f2.cell.array, [[21, 0, 0], [0, 20.5, 0], [0.2, 0, 20]])
    frac2 = np.array([float(x) for x in frame2[1].split()])
    np.testing.assert_allclose(f2.get_scaled_positions(wrap=False)[0], frac2)
    assert f2.get_chemical_symbols()[192] == "I"


def test_xdatcar_interval_from_incar_and_outcar(tmp_path, shared_data):
    src = _lines(shared_data / "argyrodite_li6ps5i/XDATCAR", 7 + 417)
    (tmp_path / "XDATCAR").write_text("".join(src))
    assert frame_interval_fs(tmp_path / "XDATCAR") is None
    # the argyrodite run: 2 fs MD step, every 50th step stored (MANIFEST) -> 100 fs
    (tmp_path / "INCAR").write_text("IBRION = 0\nPOTIM = 2.0 ! fs\nNBLOCK = 50; TEBEG = 500\n")
    assert frame_interval_fs(tmp_path / "XDATCAR") == pytest.approx(100.0)
    (tmp_path / "INCAR").unlink()
    # OUTCAR of the LLZO ML-MD run: POTIM = 1.0, NBLOCK = 1
    outcar = shared_data / "vasp_ramannoodle/LLZO/OUTCAR_trajectory"
    (tmp_path / "OUTCAR").write_text(outcar.read_text())
    assert frame_interval_fs(tmp_path / "XDATCAR") == pytest.approx(1.0)


def test_xdatcar_bad_header(tmp_path):
    path = tmp_path / "XDATCAR"
    path.write_text("x\n1.0\n1 0 0\n0 1 0\n0 0 1\n1\nDirect configuration= 1\n0 0 0\n")
    with pytest.raises(InputFileError, match="VASP 4"):
        next(iter_frames(path))


# ---------------------------------------------------------------------------------- i-PI


def test_ipi_positions_in_bohr(shared_data):
    path = shared_data / "ipi/committee_water216/ref_simulation.pos_0.xyz"
    assert detect_trajectory_format(path) == "ipi-xyz"
    frames = list(iter_frames(path))
    assert len(frames) == 6 and len(frames[0]) == 648
    f0 = frames[0]
    np.testing.assert_allclose(f0.cell.lengths(), [35.233 * Bohr] * 3)
    np.testing.assert_allclose(f0.positions[0], np.array([3.846, 5.672, 1.323]) * Bohr)
    assert [f.info["step"] for f in frames] == [0, 2, 4, 6, 8, 10]
    assert f0.get_chemical_formula() == "H432O216"
    # input.xml: dt 0.5 fs, stride 2 -> 1 fs between stored frames
    assert frame_interval_fs(path) == pytest.approx(1.0)


def test_ipi_monomer_and_velocity_file_refused(shared_data):
    base = shared_data / "ipi/edanve_water_monomer"
    frames = list(iter_frames(base / "ref_simulation.positions_0.xyz"))
    assert len(frames) == 11
    assert frame_interval_fs(base / "ref_simulation.positions_0.xyz") == pytest.approx(1.0)
    with pytest.raises(UsageError, match="velocities"):
        next(iter_frames(base / "ref_simulation.velocities_0.xyz"))


def test_ipi_truncated(tmp_path, shared_data):
    src = (shared_data / "ipi/committee_water216/ref_simulation.pos_0.xyz").read_text()
    lines = src.splitlines(keepends=True)
    path = tmp_path / "cut.pos_0.xyz"
    path.write_text("".join(lines[: 650 * 5 + 100]))
    with pytest.warns(UserWarning, match="frame 5"):
        frames = list(iter_frames(path))
    assert len(frames) == 5


# -------------------------------------------------------------------------------- LAMMPS


def test_lammps_type_map_required_and_used(shared_data):
    path = shared_data / "lammps/spce_water_all_coords.first4frames.lammpstrj"
    with pytest.raises(UsageError, match="type_map"):
        next(iter_frames(path))
    frames = list(iter_frames(path, type_map={1: "O", 2: "H"}))
    assert len(frames) == 4
    assert frames[0].get_chemical_formula() == "H3000O1500"
    # atoms sorted by id: id 340 (first line) is index 339; the unwrapped xu yu zu
    # columns are preferred (wrapped x y z = 4.48355 0.331422 1.59231)
    np.testing.assert_allclose(frames[0].positions[339], [4.48355, 35.8378, 1.59231])
    seq = list(iter_frames(path, type_map=["O", "H"], index=slice(1, None), every=2))
    assert len(seq) == 2
    assert frame_interval_fs(path) is None


def test_lammps_element_column_and_triclinic(shared_data):
    (mol,) = iter_frames(shared_data / "lammps/mass_q_elem.lammpstrj")
    assert mol.get_chemical_formula() == "C10H14N3O3"
    (alb,) = iter_frames(shared_data / "lammps/albite_triclinic.dump", type_map=["Si"])
    np.testing.assert_allclose(alb.cell.cellpar(),
                               [17.152, 26.126, 14.473, 93.099, 115.656, 86.694], atol=2e-3)


# ----------------------------------------------------------------- extxyz and vasprun.xml


def test_extxyz_streaming_and_truncation(tmp_path, test_data):
    path = test_data / "water_bulk_200.xyz"
    assert len(list(iter_frames(path, index="::50"))) == 4
    lines = path.read_text().splitlines(keepends=True)
    cut = tmp_path / "cut.xyz"
    cut.write_text("".join(lines[: 98 * 3 + 40]))
    with pytest.warns(UserWarning, match="frame 3"):
        frames = list(iter_frames(cut))
    assert len(frames) == 3


def test_vasprun_streaming(shared_data):
    (si,) = iter_frames(shared_data / "vasp/Si_lepsilon_atomate/vasprun.xml")
    assert si.get_chemical_formula() == "Si2"
    with pytest.raises(InputFileError, match="no frames"):
        next(iter_frames(shared_data / "vasp_ramannoodle/TiO2/md_run_vasprun.xml"))
