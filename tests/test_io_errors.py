"""Bad input gives one-line ase_raman.errors naming the file, never a raw traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from ase_raman.errors import (
    InputFileError,
    MissingDataError,
    TensorError,
    UsageError,
)
from ase_raman.io import read_reference


def _check_message(exc: pytest.ExceptionInfo, path: Path) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    assert path.name in msg
    return msg


@pytest.mark.parametrize(
    "name, needle",
    [
        ("OUTCAR.Si_lepsilon.truncated_half", "truncated"),
        ("OUTCAR.Si_lepsilon.truncated_in_dielectric_block", "inside the dielectric block"),
        ("vasprun.SnO2_born.truncated_in_born_charges.xml", "truncated"),
        ("vasprun.SnO2_born.truncated_half.xml", "truncated"),
        ("vasprun.custodian_empty_stub.xml", "not a vasprun.xml"),
    ],
)
def test_vasp_malformed_corpus(shared_data, name, needle):
    path = shared_data / "vasp/malformed" / name
    with pytest.raises(InputFileError) as exc:
        read_reference(path)
    assert needle in _check_message(exc, path)


def test_truncated_half_outcar_is_not_missing_data(shared_data):
    """It holds one complete early block, but the file is cut: InputFileError, not a value."""
    path = shared_data / "vasp/malformed/OUTCAR.Si_lepsilon.truncated_half"
    with pytest.raises(InputFileError) as exc:
        read_reference(path, format="vasp-out")
    assert not isinstance(exc.value, MissingDataError)


@pytest.mark.parametrize("name", ["LLZO/LLZO_OUTCAR", "LLZO/OUTCAR_trajectory"])
def test_llzo_outcars_without_eps(shared_data, name):
    path = shared_data / "vasp_ramannoodle" / name
    with pytest.raises(MissingDataError) as exc:
        read_reference(path)
    assert "LEPSILON" in _check_message(exc, path)


@pytest.mark.parametrize(
    "name",
    [
        "vasp.outcar/invalid_positions_OUTCAR",
        "vasp.outcar/invalid_positions_lattice_OUTCAR",
        "vasp.outcar/no_elements_OUTCAR",
        "vasp.outcar/no_ion_count_OUTCAR",
        "vasprun.xml",
        "empty_file",
    ],
)
def test_ramannoodle_malformed_corpus(shared_data, name):
    path = shared_data / "vasp_ramannoodle/malformed" / name
    with pytest.raises(InputFileError) as exc:
        read_reference(path)
    _check_message(exc, path)


@pytest.mark.parametrize(
    "name",
    ["bogus_element", "bogus_ion_count", "bogus_label", "missing_atoms", "missing_basis",
     "missing_count", "missing_ion", "missing_label", "no_elements", "too_many_labels"],
)
def test_ramannoodle_malformed_poscars(shared_data, name):
    """POSCARs go to ASE (format 'vasp'): broken ones, and valid ones without alpha, raise."""
    path = shared_data / "vasp_ramannoodle/malformed/vasp.poscar" / name
    with pytest.raises(InputFileError) as exc:
        read_reference(path, format="vasp")
    _check_message(exc, path)


def test_missing_file(tmp_path):
    path = tmp_path / "OUTCAR"
    with pytest.raises(InputFileError, match="not found") as exc:
        read_reference(path)
    _check_message(exc, path)


def test_unknown_format(test_data):
    path = test_data / "water_monomer_200.xyz"
    with pytest.raises(UsageError, match="unknown format") as exc:
        read_reference(path, format="no-such-format")
    _check_message(exc, path)


def test_unknown_unit(test_data):
    with pytest.raises(TensorError, match="unknown polarizability unit"):
        read_reference(test_data / "water_monomer_200.xyz", alpha_key="alpha",
                       alpha_unit="furlong3")


def test_missing_key_names_keys_found(test_data):
    path = test_data / "water_monomer_200.xyz"
    with pytest.raises(MissingDataError) as exc:
        read_reference(path)  # default key "polarizability" is absent
    msg = _check_message(exc, path)
    assert "'polarizability'" in msg and "alpha" in msg and "alpha_key" in msg


def test_truncated_extxyz(tmp_path, test_data):
    lines = (test_data / "water_bulk_200.xyz").read_text().splitlines(keepends=True)
    path = tmp_path / "cut.xyz"
    path.write_text("".join(lines[: 98 * 3 + 40]))  # 3 frames and part of the 4th
    with pytest.raises(InputFileError) as exc:
        read_reference(path, alpha_key="alpha", alpha_unit="bohr3")
    _check_message(exc, path)


def test_far_from_symmetric_tensor(tmp_path, test_data):
    lines = (test_data / "water_monomer_200.xyz").read_text().splitlines(keepends=True)
    head = lines[1]
    start = head.index('alpha="') + len('alpha="')
    end = head.index('"', start)
    bad = "10 5 0 -5 10 0 0 0 10"  # antisymmetric xy part: 35 % relative asymmetry
    lines[1] = head[:start] + bad + head[end:]
    path = tmp_path / "asym.xyz"
    path.write_text("".join(lines[:5]))
    with pytest.raises(TensorError, match="far from symmetric") as exc:
        read_reference(path, alpha_key="alpha")
    msg = _check_message(exc, path)
    assert ":2" in msg  # names the line of the frame


def test_truncated_qe_output(tmp_path, test_data):
    lines = (test_data / "AlAs_raman.ph.out").read_text().splitlines(keepends=True)
    inside = tmp_path / "inside.ph.out"
    inside.write_text("".join(lines[:376]))  # header of the last block (line 375) + 1 line
    with pytest.raises(InputFileError, match="incomplete") as exc:
        read_reference(inside, format="espresso-ph")
    _check_message(exc, inside)
    before_done = tmp_path / "nodone.ph.out"
    before_done.write_text("".join(lines[:420]))
    with pytest.raises(InputFileError, match="JOB DONE"):
        read_reference(before_done, format="espresso-ph")


def test_pw_output_is_not_ph_output(shared_data):
    path = shared_data / "qe/example05_AlAs_raman/alas.scf.out"
    with pytest.raises(InputFileError, match="not a ph.x output"):
        read_reference(path, format="espresso-ph")


def test_bad_index(test_data):
    with pytest.raises(UsageError, match="out of range"):
        read_reference(test_data / "SnO2_born_vasprun.xml", index=3)


def test_zero_cell_with_pbc_is_read_as_a_molecule(tmp_path, small_model):
    """An extxyz ``Lattice`` of zeros (as in published molecular data sets) turns pbc on in
    ASE: the frame is an isolated molecule, read with pbc off and one warning per file,
    and predicts the same alpha as the same molecule written without a cell."""
    import ase.io
    import numpy as np
    from conftest import labelled_water_molecules

    from ase_raman.io import iter_frames

    frames = labelled_water_molecules(3, seed=7)
    for a in frames:
        a.info.pop("polarizability")
    ase.io.write(tmp_path / "molecules.xyz", frames)
    text = (tmp_path / "molecules.xyz").read_text().splitlines()
    zero = "Lattice=\"0.0 0.0 0.0 0.0 0.0 0.0 0.0 0.0 0.0\" "
    lines = [zero + line.replace('pbc="F F F"', "") if line.startswith("Properties=")
             else line for line in text]
    (tmp_path / "zero_cell.xyz").write_text("\n".join(lines) + "\n")
    assert all(a.pbc.all() for a in ase.io.read(tmp_path / "zero_cell.xyz", ":"))

    with pytest.warns(UserWarning, match="all-zero cell") as record:
        read = list(iter_frames(tmp_path / "zero_cell.xyz"))
    assert len([w for w in record if "all-zero cell" in str(w.message)]) == 1
    assert [a.pbc.any() for a in read] == [False] * 3
    plain = list(iter_frames(tmp_path / "molecules.xyz"))
    np.testing.assert_allclose(small_model.predict(read), small_model.predict(plain))
