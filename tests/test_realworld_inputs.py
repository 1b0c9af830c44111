"""Issue 20, defects 1-9 and point 12: files other projects published, read right or
refused in one CLI-speaking line (the files are in tests/data, see its README)."""

from __future__ import annotations

import bz2
import csv
import gzip
import json
import lzma
import shutil
import warnings

import numpy as np
import pytest
from ase import Atoms
from ase.io import write
from ase.units import Bohr

from ase_raman.cli import main
from ase_raman.errors import InputFileError, MissingDataError
from ase_raman.io import iter_frames, read_reference

OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def one_line_error(capsys, code: int) -> str:
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("ase-raman: error: ")
    assert len(err.strip().splitlines()) == 1
    assert "ase-raman: error: ase-raman" not in err
    return err


def csv_rows(path):
    with open(path, newline="") as fh:
        rows = list(csv.reader(line for line in fh if not line.startswith("#")))
    return rows[0], np.array(rows[1:], dtype=float)


def compressed_copy(src, folder, suffix):
    dest = folder / (src.name + suffix)
    with open(src, "rb") as fin, OPENERS[suffix](dest, "wb") as fout:
        shutil.copyfileobj(fin, fout)
    return dest


# -- 1: i-PI non-element labels ----------------------------------------------------------

def test_ipi_cavity_photon_labels_named_then_dropped(test_data, tmp_path, capsys):
    traj = test_data / "ipi_cavmd" / "ref_simulation.pos_c.xyz"
    err = one_line_error(capsys, main(["msd", str(traj), "-o", str(tmp_path / "m.csv")]))
    assert "L are not chemical elements" in err and "--drop-labels L" in err
    assert main(["msd", str(traj), "--drop-labels", "L", "-o", str(tmp_path / "m.csv"),
                 "--quiet"]) == 0
    header, rows = csv_rows(tmp_path / "m.csv")
    assert header == ["time_ps", "O", "H"] and len(rows) == 11
    frames = list(iter_frames(traj, drop_labels=["L"]))
    assert [a.get_chemical_formula() for a in frames] == ["H2O"] * 11
    # dt from input.xml beside (0.5 fs x stride 1), unaffected by the labels
    assert rows[1, 0] == pytest.approx(0.0005)
    with pytest.raises(MissingDataError, match="i-PI trajectory"):
        read_reference(traj)


# -- 2, 3: LAMMPS dumps -------------------------------------------------------------------

@pytest.mark.parametrize("command", [["msd"], ["vanhove", "--species", "O", "--lags-ps",
                                                "0.001"], ["vdos"], ["select", "--n", "1"]])
def test_type_only_dump_asks_for_type_map_in_cli_terms(test_data, tmp_path, capsys,
                                                       command):
    dump = test_data / "mdanalysis_wat.lammpstrj"
    argv = [command[0], str(dump), *command[1:], "-o", str(tmp_path / "out"), "--dt-fs", "1"]
    if command[0] == "select":
        argv = argv[:-2]
    err = one_line_error(capsys, main(argv))
    assert "--type-map O,H" in err and "type_map={" not in err


def test_type_map_reads_the_dump_on_every_command(test_data, tmp_path, capsys):
    dump = str(test_data / "mdanalysis_wat.lammpstrj")  # type 1 = H, type 2 = O
    assert main(["msd", dump, "--type-map", "H,O", "--dt-fs", "1", "--quiet",
                 "-o", str(tmp_path / "m.csv")]) == 0
    header, rows = csv_rows(tmp_path / "m.csv")
    assert header == ["time_ps", "O", "H"] and len(rows) == 3
    assert main(["vanhove", dump, "--type-map", "1=H,2=O", "--dt-fs", "1", "--species", "O",
                 "--lags-ps", "0.001,0.002", "-o", str(tmp_path / "g.csv"), "--quiet"]) == 0
    assert main(["select", dump, "--type-map", "H,O", "--n", "2",
                 "-o", str(tmp_path / "sel")]) == 0
    assert (tmp_path / "sel" / "POSCAR-0001").is_file()
    frames = list(iter_frames(dump, type_map=["H", "O"]))
    assert [a.get_chemical_formula() for a in frames] == ["H16O8"] * 3
    capsys.readouterr()
    err = one_line_error(capsys, main(["msd", dump, "--type-map", "H,Xx", "-o", "x.csv"]))
    assert "Xx is not a chemical element" in err


def test_dump_without_coordinates_or_types_says_which_columns(test_data, capsys, tmp_path):
    out = str(tmp_path / "m.csv")
    err = one_line_error(capsys, main(["msd", str(test_data / "mdanalysis_spce_no_coords"
                                                          ".lammpstrj"), "-o", out]))
    assert "no x, xs, xu or xsu column" in err and "columns: id type" in err
    err = one_line_error(capsys, main(["msd", str(test_data / "mdanalysis_additional_columns"
                                                          ".lammpstrj"), "-o", out]))
    assert "no type or element column" in err and "columns: id x y z q p" in err


# -- 4: compressed input ------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz"])
def test_compressed_reference_files_read_like_the_plain_ones(test_data, tmp_path, suffix):
    cases = [("quartz_OUTCAR.0015.002", {}), ("SnO2_born_vasprun.xml", {}),
             ("AlAs_raman.ph.out", {}),
             ("water_monomer_200.xyz", {"alpha_key": "alpha", "alpha_unit": "bohr3"})]
    for name, options in cases:
        plain = read_reference(test_data / name, **options)
        packed = read_reference(compressed_copy(test_data / name, tmp_path, suffix), **options)
        assert len(packed) == len(plain), name
        np.testing.assert_allclose(packed[-1].info["polarizability"],
                                   plain[-1].info["polarizability"], err_msg=name)
        np.testing.assert_allclose(packed[-1].positions, plain[-1].positions, err_msg=name)


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz"])
def test_compressed_trajectories_read_like_the_plain_ones(test_data, tmp_path, suffix):
    cases = [("kinisi_example_drift.XDATCAR", {}),
             ("mdanalysis_wat.lammpstrj", {"type_map": ["H", "O"]}),
             ("water_bulk_200.xyz", {"index": slice(0, 3)})]
    for name, options in cases:
        plain = list(iter_frames(test_data / name, **options))
        packed = list(iter_frames(compressed_copy(test_data / name, tmp_path, suffix),
                                  **options))
        assert len(packed) == len(plain) > 0, name
        for a, b in zip(packed, plain, strict=True):
            assert a.get_chemical_symbols() == b.get_chemical_symbols()
            np.testing.assert_allclose(a.positions, b.positions, err_msg=name)
    ipi = tmp_path / "ipi"
    ipi.mkdir()
    shutil.copy(test_data / "ipi_cavmd" / "input.xml", ipi)
    packed = compressed_copy(test_data / "ipi_cavmd" / "ref_simulation.pos_c.xyz", ipi, suffix)
    assert len(list(iter_frames(packed, drop_labels=["L"]))) == 11


def test_upstream_gzipped_outcar(shared_data):
    folder = shared_data / "realworld" / "atomate" / "raman_wf_3"
    if not (folder / "OUTCAR.gz").is_file():
        pytest.skip("realworld/atomate not in the shared data")
    packed, = read_reference(folder / "OUTCAR.gz")
    plain, = read_reference(folder / "OUTCAR")
    np.testing.assert_allclose(packed.info["dielectric_tensor"], plain.info["dielectric_tensor"])
    assert packed.get_volume() == pytest.approx(40.9036, abs=1e-4)  # the POSCAR's volume


# -- 5, 6: phonopy file sets, BORN, no Raman-active mode --------------------------------

def test_force_sets_and_born_beside_the_yaml_not_the_current_folder(test_data, tmp_path,
                                                                    monkeypatch):
    from ase_raman.spectra.harmonic import load_phonopy, modes_from_phonopy

    yaml = test_data / "phonopy_NaCl" / "phonopy_disp.yaml"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "FORCE_SETS").write_text("2\n1\n\n1\n0.01 0 0\n0 0 0\n0 0 0\n")
    monkeypatch.chdir(elsewhere)
    phonon = load_phonopy(yaml)
    assert phonon.nac_params is not None  # BORN beside the yaml, by default
    modes = modes_from_phonopy(phonon)
    optical = modes.frequencies[3:]
    np.testing.assert_allclose(optical, 153.99, atol=0.01)  # T1u TO (phonopy's example)
    lo = modes_from_phonopy(phonon, q_direction=[1, 0, 0]).frequencies[3:]
    assert lo.max() > optical.max() + 50.0  # LO split from TO by the non-analytic term
    assert load_phonopy(yaml, born=False).nac_params is None
    with pytest.raises(InputFileError, match="64 atoms|has 64|forces on 2 atoms"):
        load_phonopy(yaml, force_sets=elsewhere / "FORCE_SETS")


def test_force_constants_option(test_data, tmp_path):
    from phonopy.file_IO import write_FORCE_CONSTANTS

    from ase_raman.spectra.harmonic import load_phonopy, modes_from_phonopy

    yaml = test_data / "phonopy_NaCl" / "phonopy_disp.yaml"
    reference = modes_from_phonopy(load_phonopy(yaml, born=False)).frequencies
    fc_dir = tmp_path / "fc"
    fc_dir.mkdir()
    shutil.copy(yaml, fc_dir)  # no FORCE_SETS beside this copy
    phonon = load_phonopy(yaml, born=False)
    write_FORCE_CONSTANTS(phonon.force_constants, filename=str(tmp_path / "FORCE_CONSTANTS"),
                          p2s_map=phonon.primitive.p2s_map)
    with pytest.raises(MissingDataError, match="force_constants="):
        load_phonopy(fc_dir / "phonopy_disp.yaml")
    phonon = load_phonopy(fc_dir / "phonopy_disp.yaml",
                          force_constants=tmp_path / "FORCE_CONSTANTS")
    np.testing.assert_allclose(modes_from_phonopy(phonon).frequencies, reference, atol=1e-4)


def test_rock_salt_without_raman_active_mode(test_data, tmp_path, capsys):
    did = pytest.importorskip("ase_raman_did.model")
    model = tmp_path / "did_nacl.npz"
    did.DipoleInducedDipole({"fit": "none"}).save(model)
    yaml = test_data / "phonopy_NaCl" / "phonopy_disp.yaml"
    table = tmp_path / "modes.csv"
    assert main(["harmonic", "--phonopy", str(yaml), "--model", str(model),
                 "--table", str(table)]) == 0
    text = table.read_text()
    assert "model file did_nacl.npz (learner dipole-induced-dipole)" in text
    assert "breaks the symmetry" not in text
    assert "Raman-inactive by symmetry: zero" in text
    assert "T1u" in text


# -- 7: ph.x volume -----------------------------------------------------------------------

def test_ph_x_cell_volume_from_the_precise_numbers(test_data):
    atoms, = read_reference(test_data / "qe_ph_2d_BN.ph.out")
    assert atoms.get_volume() / Bohr**3 == pytest.approx(761.8048, rel=2e-7)
    np.testing.assert_allclose(np.diag(atoms.info["dielectric_tensor"]),
                               [1.586683511, 1.586683511, 1.098241678], rtol=1e-8)


# -- 8: short runs ------------------------------------------------------------------------

def test_msd_and_vanhove_of_a_four_frame_run(test_data, tmp_path, capsys):
    traj = str(test_data / "kinisi_example_drift.XDATCAR")
    out, summary = tmp_path / "m.csv", tmp_path / "m.json"
    assert main(["msd", traj, "--dt-fs", "1", "-o", str(out), "--json", str(summary),
                 "--png", str(tmp_path / "m.png")]) == 0
    assert "4 frames are too few to fit D" in capsys.readouterr().err
    header, rows = csv_rows(out)
    assert header == ["time_ps", "H", "He"] and len(rows) == 4
    data = json.loads(summary.read_text())
    assert "D_cm2_s" not in data["He"] and "too few to fit D" in data["He"]["no_fit_reason"]
    # the 8 He drift together (kinisi's drift case): drift removed, they stay put
    assert rows[-1, 2] < 0.01
    assert main(["vanhove", traj, "--dt-fs", "1", "--species", "H", "--lags-ps", "0.003",
                 "-o", str(tmp_path / "g.csv"), "--quiet"]) == 0
    one_frame = tmp_path / "one.xyz"
    write(one_frame, Atoms("He", cell=[5, 5, 5], pbc=True))
    err = one_line_error(capsys, main(["msd", str(one_frame), "--dt-fs", "1",
                                       "-o", str(out)]))
    assert "at least 2" in err


# -- 9: alpha in bohr^3 read as Angstrom^3 ------------------------------------------------

def test_qm7x_alpha_unit_warning(test_data):
    path = test_data / "qm7x_reduced_first10.xyz"
    with pytest.warns(UserWarning, match="pass alpha_unit=.bohr3."):
        read_reference(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frames = read_reference(path, alpha_unit="bohr3")
    assert len(frames) == 10


# -- 12: extxyz velocity columns for the VDOS ---------------------------------------------

def _oscillator_frames(n=600, dt_fs=2.0):
    """Two atoms oscillating at 1000 cm^-1: positions and exact velocities (Angstrom/fs)."""
    omega = 2 * np.pi * 2.99792458e-5 * 1000.0  # rad/fs
    t = np.arange(n) * dt_fs
    frames = []
    for k in range(n):
        x = 0.05 * np.sin(omega * t[k])
        v = 0.05 * omega * np.cos(omega * t[k])
        atoms = Atoms("OH", positions=[[5 + x, 5, 5], [6 - x, 5, 5]], cell=[10] * 3, pbc=True)
        atoms.arrays["vel"] = np.array([[v, 0, 0], [-v, 0, 0]])
        frames.append(atoms)
    return frames


def test_vdos_reads_velocity_columns_and_notes_the_fallback(tmp_path, capsys):
    frames = _oscillator_frames()
    with_v = tmp_path / "vel.xyz"
    write(with_v, frames, format="extxyz")
    assert main(["vdos", str(with_v), "--dt-fs", "2", "--sigma", "40",
                 "-o", str(tmp_path / "v.csv")]) == 0
    out = capsys.readouterr()
    assert "'vel' column" in out.out and "finite differences" not in out.err
    for a in frames:
        del a.arrays["vel"]
    bare = tmp_path / "bare.xyz"
    write(bare, frames, format="extxyz")
    assert main(["vdos", str(bare), "--dt-fs", "2", "--sigma", "40",
                 "-o", str(tmp_path / "p.csv")]) == 0
    assert "finite differences of the positions" in capsys.readouterr().err
    _, v = csv_rows(tmp_path / "v.csv")
    assert v[np.argmax(v[:, 1]), 0] == pytest.approx(1000.0, abs=10.0)



# -- 14: LAMMPS unit styles, no assert in parsing -----------------------------------------

DUMP = """ITEM: TIMESTEP
0
ITEM: NUMBER OF ATOMS
2
ITEM: BOX BOUNDS pp pp pp
0 10
0 10
0 10
ITEM: ATOMS id type x y z vx vy vz
1 1 1.0 2.0 3.0 0.1 0 0
2 2 4.0 5.0 6.0 0 0.2 0
"""


@pytest.mark.parametrize("style", ["metal", "real", "electron", "nano", "si", "cgs", "micro"])
def test_every_lammps_unit_style_ase_knows(tmp_path, style):
    from ase import units
    from ase.calculators.lammps import convert

    from ase_raman.engines.lammps import iter_lammps_dump

    path = tmp_path / "d.lammpstrj"
    path.write_text(DUMP)
    atoms, = iter_lammps_dump(path, ["O", "H"], lammps_units=style)
    length = convert(1.0, "distance", style, "ASE")
    np.testing.assert_allclose(atoms.positions[0], np.array([1.0, 2.0, 3.0]) * length,
                               rtol=1e-11)
    np.testing.assert_allclose(atoms.cell.lengths(), [10 * length] * 3, rtol=1e-11)
    velocity = convert(0.1, "velocity", style, "ASE")  # ASE units
    assert atoms.get_velocities()[0, 0] == pytest.approx(velocity, rel=1e-10)
    assert atoms.get_velocities()[0, 0] * units.fs > 0


def test_damaged_dump_header_is_caught_under_python_O(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "d.lammpstrj"
    path.write_text(DUMP + DUMP.replace("ITEM: NUMBER OF ATOMS", "ITEM: NUMBER OF ATOMZ"))
    code = ("import warnings, sys; from ase_raman.engines.lammps import iter_lammps_dump\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            f"    frames = list(iter_lammps_dump({str(path)!r}, ['O', 'H']))\n"
            "print(len(frames), str(w[0].message))")
    out = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.startswith("1 ") and "incomplete header" in out


# -- 15: i-PI input.xml parsed as XML, units from i-PI ------------------------------------

def test_ipi_timestep_from_xml_not_from_a_comment(test_data, tmp_path):
    from ase_raman.io.ipi import ipi_timestep_fs, ipi_unit_factor

    text = (test_data / "ipi_cavmd" / "input.xml").read_text()
    assert ipi_timestep_fs(test_data / "ipi_cavmd" / "input.xml") == pytest.approx(0.5)
    commented = text.replace("<simulation", "<!-- <timestep units='femtosecond'>9</timestep>"
                             " -->\n<simulation", 1)
    (tmp_path / "input.xml").write_text(commented)
    assert ipi_timestep_fs(tmp_path / "input.xml") == pytest.approx(0.5)
    (tmp_path / "input.xml").write_text(text.replace("units='femtosecond'>0.5",
                                                     "units='picosecond'>0.0005"))
    assert ipi_timestep_fs(tmp_path / "input.xml") == pytest.approx(0.5)
    assert ipi_unit_factor("time", "atomic_unit", "x") == pytest.approx(0.02418884326, rel=1e-8)
    assert ipi_unit_factor("length", "atomic_unit", "x") == pytest.approx(Bohr, rel=1e-6)
    (tmp_path / "input.xml").write_text(text.replace("units='femtosecond'", "units='parsec'"))
    with pytest.raises(InputFileError, match="parsec"):
        ipi_timestep_fs(tmp_path / "input.xml")


# -- 13: ASE databases --------------------------------------------------------------------

def test_ase_db_alpha_from_data_or_key_value_pairs(test_data, tmp_path, capsys):
    from ase.db import connect

    frames = read_reference(test_data / "water_monomer_200.xyz", index="0:6",
                            alpha_key="alpha", alpha_unit="bohr3")
    path = tmp_path / "water.db"
    db = connect(path)
    for k, atoms in enumerate(frames):
        alpha = atoms.info["polarizability"] / Bohr**3  # stored in bohr^3, as the source
        clean = Atoms(atoms.symbols, atoms.positions)
        if k % 3 == 0:
            db.write(clean, data={"polarizability": alpha})
        elif k % 3 == 1:
            db.write(clean, polarizability=" ".join(f"{x:.17g}" for x in alpha.ravel()))
        else:
            voigt = {"xx": alpha[0, 0], "yy": alpha[1, 1], "zz": alpha[2, 2],
                     "yz": alpha[1, 2], "xz": alpha[0, 2], "xy": alpha[0, 1]}
            db.write(clean, **{f"polarizability_{c}": v for c, v in voigt.items()})
    back = read_reference(path, alpha_unit="bohr3")
    assert len(back) == 6
    for a, b in zip(back, frames, strict=True):
        np.testing.assert_allclose(a.info["polarizability"], b.info["polarizability"],
                                   rtol=1e-12)
        np.testing.assert_allclose(a.positions, b.positions)
    # fit reads it the same way
    model = tmp_path / "m.npz"
    assert main(["fit", str(path), "--alpha-unit", "bohr3", "-o", str(model),
                 "--hypers", '{"cutoff": 3.0, "max_radial": 2, "max_angular": 2}']) == 0
    assert model.is_file()
    with pytest.raises(MissingDataError, match="no 'alpha'"):
        read_reference(path, alpha_key="alpha")


def test_lammps_units_option_on_the_command_line(tmp_path):
    path = tmp_path / "d.lammpstrj"
    path.write_text(DUMP + DUMP.replace("TIMESTEP\n0", "TIMESTEP\n1").replace(
        "1.0 2.0 3.0", "1.5 2.0 3.0"))
    assert main(["msd", str(path), "--type-map", "O,H", "--lammps-units", "electron",
                 "--dt-fs", "1", "--species", "O", "-o", str(tmp_path / "m.csv"),
                 "--quiet", "--no-drift-correction"]) == 0
    _, rows = csv_rows(tmp_path / "m.csv")
    assert rows[1, 1] == pytest.approx((0.5 * Bohr) ** 2, rel=1e-9)  # 0.5 bohr step
