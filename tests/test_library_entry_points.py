"""The library entry points below the command line (``raman``, ``msd``, ``predict``):
the same files as the commands, errors in parameter names, the CLI's in option names."""

from __future__ import annotations

import json

import ase.io
import numpy as np
import pytest
from ase import Atoms

from ase_raman.cli import main
from ase_raman.errors import UsageError

DT_FS = 10.0


@pytest.fixture(scope="module")
def walk(tmp_path_factory, small_model):
    """Water molecules whose centres random-walk, and their predicted alpha store."""
    from ase_raman.store import predict_to_store

    root = tmp_path_factory.mktemp("entry")
    rng = np.random.default_rng(3)
    template = np.array([[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    centres = rng.uniform(0, 9.0, (8, 3))
    frames = []
    for _ in range(80):
        centres = centres + rng.normal(scale=0.05, size=centres.shape)
        pos = (centres[:, None, :] + template[None]).reshape(-1, 3)
        frames.append(Atoms("OH2" * 8, positions=pos, cell=[9.0] * 3, pbc=True))
    ase.io.write(root / "walk.xyz", frames, format="extxyz")
    small_model.save(root / "water.npz")
    predict_to_store(small_model, frames, root / "alpha.h5", dt_fs=DT_FS)
    return root


def one_line_error(capsys, code: int) -> str:
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("ase-raman: error: ")
    assert len(err.strip().splitlines()) == 1
    return err


def test_raman_from_file_writes_what_the_command_writes(walk, tmp_path):
    from ase_raman.spectra.raman_file import raman_from_file, raman_summary, write_raman_outputs

    assert main(["raman", str(walk / "alpha.h5"), "-o", str(tmp_path / "cli.csv"), "--json",
                 str(tmp_path / "cli.json"), "--sigma", "50", "--cutoff", "100"]) == 0
    spectrum = raman_from_file(walk / "alpha.h5", sigma_cm=50.0)
    summary = raman_summary(spectrum, 100.0, tmp_path / "cli.csv")
    write_raman_outputs(spectrum, tmp_path / "lib.csv", json=tmp_path / "lib.json",
                        summary=summary)
    assert (tmp_path / "lib.csv").read_bytes() == (tmp_path / "cli.csv").read_bytes()
    assert (tmp_path / "lib.json").read_bytes() == (tmp_path / "cli.json").read_bytes()


def test_msd_from_file_writes_what_the_command_writes(walk, tmp_path):
    from ase_raman.spectra.transport.msd_file import msd_from_file, write_msd_outputs

    assert main(["msd", str(walk / "walk.xyz"), "--dt-fs", str(DT_FS), "--species", "O",
                 "--temperature", "300", "--charges", "O=-0.8,H=0.4", "--blocks", "2",
                 "-o", str(tmp_path / "cli.csv"), "--json", str(tmp_path / "cli.json"),
                 "--quiet"]) == 0
    report = msd_from_file(walk / "walk.xyz", dt_fs=DT_FS, species=["O"], temperature_K=300.0,
                           charges={"O": -0.8, "H": 0.4}, blocks=2)
    write_msd_outputs(report, tmp_path / "lib.csv", json=tmp_path / "lib.json")
    assert (tmp_path / "lib.csv").read_bytes() == (tmp_path / "cli.csv").read_bytes()
    assert (tmp_path / "lib.json").read_bytes() == (tmp_path / "cli.json").read_bytes()
    assert json.loads((tmp_path / "lib.json").read_text())["O"]["D_cm2_s"] > 0


def test_predict_file_to_store_writes_what_the_command_writes(walk, small_model, tmp_path):
    from ase_raman.recording import predict_file_to_store
    from ase_raman.store import read_trajectory

    assert main(["predict", str(walk / "water.npz"), str(walk / "walk.xyz"), "-o",
                 str(tmp_path / "cli.h5"), "--dt-fs", str(DT_FS), "--index", "::2",
                 "--quiet"]) == 0
    n = predict_file_to_store(small_model, walk / "walk.xyz", tmp_path / "lib.h5",
                              dt_fs=DT_FS, index="::2")
    assert n == 40
    with read_trajectory(tmp_path / "cli.h5") as a, read_trajectory(tmp_path / "lib.h5") as b:
        np.testing.assert_allclose(b.polarizability, a.polarizability, rtol=1e-12)
        np.testing.assert_array_equal(b.time_fs, a.time_fs)
        assert b.parameters["predict_input"] == a.parameters["predict_input"]


def test_library_errors_name_parameters(walk):
    from ase_raman.io._common import index_slice
    from ase_raman.io.lammps import parse_type_map
    from ase_raman.spectra.raman_file import load_polarizability, raman_from_file, raman_summary
    from ase_raman.spectra.transport.msd_file import msd_from_file, parse_fit_window

    with pytest.raises(UsageError, match=r"^cutoff_cm 1e\+06 must lie inside"):
        raman_summary(raman_from_file(walk / "alpha.h5", sigma_cm=50.0), 1e6)
    with pytest.raises(UsageError, match="dt_fs 3 contradicts the stored"):
        load_polarizability(walk / "alpha.h5", 3.0)
    with pytest.raises(UsageError, match=r"^fit_window_ps '5:1': need"):
        parse_fit_window("5:1")
    with pytest.raises(UsageError, match=r"^species Xx: not in the trajectory \(it has O, H\)"):
        msd_from_file(walk / "walk.xyz", dt_fs=DT_FS, species=["Xx"])
    with pytest.raises(UsageError, match=r"^blocks 40: 80 frames are too few"):
        msd_from_file(walk / "walk.xyz", dt_fs=DT_FS, blocks=40)
    with pytest.raises(UsageError, match="charges need temperature_K"):
        msd_from_file(walk / "walk.xyz", dt_fs=DT_FS, charges={"O": -1})
    with pytest.raises(UsageError, match=r"^index 'a:b': expected"):
        index_slice("a:b")
    with pytest.raises(UsageError, match=r"^type_map 'Qq': Qq is not"):
        parse_type_map("Qq")


@pytest.mark.parametrize(("command", "needle"), [
    (["raman", "{alpha}", "--json", "{tmp}/r.json", "--sigma", "50", "--cutoff", "1e6"],
     "--cutoff 1e+06 must lie inside"),
    (["raman", "{alpha}", "--dt-fs", "3"], "--dt-fs 3 contradicts the stored"),
    (["msd", "{walk}", "--dt-fs", "10", "--species", "Xx"], "--species Xx: not in the"),
    (["msd", "{walk}", "--dt-fs", "10", "--fit-window", "5:1"], "--fit-window '5:1': need"),
    (["msd", "{walk}", "--dt-fs", "10", "--blocks", "40"], "--blocks 40: 80 frames"),
    (["predict", "{model}", "{walk}", "--index", "a:b"], "--index 'a:b': expected"),
    (["predict", "{model}", "{walk}", "--type-map", "Qq"], "--type-map 'Qq': Qq is not"),
])
def test_command_errors_name_options(walk, tmp_path, capsys, command, needle):
    names = {"alpha": walk / "alpha.h5", "walk": walk / "walk.xyz",
             "model": walk / "water.npz", "tmp": tmp_path}
    argv = [a.format(**names) for a in command] + ["-o", str(tmp_path / "out.h5" if
                                                            command[0] == "predict"
                                                            else tmp_path / "out.csv")]
    assert needle in one_line_error(capsys, main(argv))
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "out.h5").exists()
