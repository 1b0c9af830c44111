"""The trajectory format table: one record per format module, found by ``sniff``, and the
readers that moved from ``engines/`` still importable there."""

from __future__ import annotations

import pytest

from ase_raman.io.formats import TRAJECTORY_FORMATS
from ase_raman.io.trajectory import detect_trajectory_format, frame_interval_fs


def test_every_format_module_exposes_the_same_names():
    from ase_raman.io import ipi, lammps, xdatcar

    assert list(TRAJECTORY_FORMATS) == ["vasp-xdatcar", "lammps-dump-text", "ipi-xyz"]
    for module in (xdatcar, lammps, ipi):
        assert callable(module.sniff) and module.FORMAT is TRAJECTORY_FORMATS[module.FORMAT.name]
        assert callable(module.FORMAT.iter_frames) and callable(module.FORMAT.frame_interval)


@pytest.mark.parametrize(("name", "expected"), [
    ("kinisi_example_drift.XDATCAR", "vasp-xdatcar"),
    ("mdanalysis_wat.lammpstrj", "lammps-dump-text"),
    ("water_bulk_200.xyz", "extxyz"),
])
def test_detection_goes_through_the_table(test_data, name, expected):
    assert detect_trajectory_format(test_data / name) == expected
    fmt = TRAJECTORY_FORMATS.get(expected)
    if fmt is not None:
        path = test_data / name
        with open(path) as fh:
            head = [fh.readline() for _ in range(2)]
        assert fmt.sniff(path.name.lower(), head)


def test_ipi_files_are_sniffed_from_their_comment_line(test_data):
    files = sorted((test_data / "ipi_cavmd").glob("*.pos_*"))
    if not files:
        pytest.skip("no i-PI positions file in tests/data/ipi_cavmd")
    assert detect_trajectory_format(files[0]) == "ipi-xyz"
    assert frame_interval_fs(test_data / "water_bulk_200.xyz") is None


def test_reference_formats_are_one_table():
    from ase_raman.io import FORMATS
    from ase_raman.io.formats import REFERENCE_FORMATS

    assert list(FORMATS) == ["extxyz", "vasp-out", "vasp-xml", "espresso-ph", "ase-db"]
    assert list(REFERENCE_FORMATS) == list(FORMATS)
    assert all(callable(f.read_reference) for f in REFERENCE_FORMATS.values())


@pytest.mark.parametrize(("name", "expected"), [
    ("water_bulk_200.xyz", "extxyz"), ("quartz_OUTCAR.0015.002", "vasp-out"),
    ("SnO2_born_vasprun.xml", "vasp-xml"), ("AlAs_raman.ph.out", "espresso-ph"),
])
def test_reference_detection_goes_through_the_table(test_data, name, expected):
    from ase_raman.io import detect_format, read_reference

    assert detect_format(test_data / name) == expected
    if expected != "vasp-xml":  # that file holds a Born-charge run, not epsilon
        key = "alpha" if expected == "extxyz" else None
        frames = read_reference(test_data / name, index="-1", alpha_key=key)
        assert frames[0].info["polarizability"].shape == (3, 3)


def test_readers_moved_to_io_keep_their_old_import_paths():
    from ase_raman.engines import ipi as engines_ipi
    from ase_raman.engines import lammps as engines_lammps
    from ase_raman.io import ipi, lammps

    assert engines_lammps.iter_lammps_dump is lammps.iter_lammps_dump
    assert engines_lammps.LAMMPS_UNITS is lammps.LAMMPS_UNITS
    assert engines_lammps.TypeMap is lammps.TypeMap
    assert engines_ipi.iter_ipi_extras is ipi.iter_ipi_extras
    assert engines_ipi.iter_ipi_velocities is ipi.iter_ipi_velocities
    assert engines_ipi.ipi_timestep_fs is ipi.ipi_timestep_fs
