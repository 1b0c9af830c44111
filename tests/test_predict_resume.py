"""``ase-raman predict`` to .h5 is resumable: an interrupted run leaves OUT.h5.part (no
hidden file); the same command resumes after its frames and gives the file an
uninterrupted run gives; another input is refused; ``--restart`` starts clean."""

from __future__ import annotations

import ase.io
import numpy as np
import pytest
from conftest import labelled_water_molecules

import ase_raman.io
from ase_raman.cli import main
from ase_raman.store import read_trajectory

N_FRAMES = 300


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, small_model):
    d = tmp_path_factory.mktemp("resume")
    small_model.save(d / "m.npz")
    frames = labelled_water_molecules(N_FRAMES, seed=5)
    for atoms in frames:
        atoms.info.pop("polarizability")
    ase.io.write(d / "traj.xyz", frames)
    ref = d / "ref.h5"
    assert main(["predict", str(d / "m.npz"), str(d / "traj.xyz"), "-o", str(ref),
                 "--dt-fs", "2", "--quiet"]) == 0
    return d


def _interrupt_after(monkeypatch, n):
    real = ase_raman.io.iter_frames

    def interrupted(*args, **kwargs):
        for i, atoms in enumerate(real(*args, **kwargs)):
            if i == n:
                raise KeyboardInterrupt
            yield atoms

    monkeypatch.setattr(ase_raman.io, "iter_frames", interrupted)


def _same(a, b):
    with read_trajectory(a) as x, read_trajectory(b) as y:
        np.testing.assert_array_equal(x.step, y.step)
        np.testing.assert_array_equal(x.time_fs, y.time_fs)
        np.testing.assert_array_equal(np.asarray(x.polarizability),
                                      np.asarray(y.polarizability))
        np.testing.assert_array_equal(np.asarray(x.positions), np.asarray(y.positions))


def test_interrupted_predict_resumes(inputs, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run.h5"
    argv = ["predict", str(inputs / "m.npz"), str(inputs / "traj.xyz"), "-o", str(out),
            "--dt-fs", "2"]
    with monkeypatch.context() as m:
        _interrupt_after(m, 170)
        assert main(argv) == 130
    part = tmp_path / "run.h5.part"
    assert not out.exists() and part.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5.part"]  # nothing hidden
    with read_trajectory(part) as traj:
        done = len(traj)
    assert 0 < done < N_FRAMES
    capsys.readouterr()
    assert main(argv) == 0
    assert f"resuming after the {done} frames" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5"]
    _same(out, inputs / "ref.h5")


def test_partial_from_other_options_refused_then_restart(inputs, tmp_path, monkeypatch,
                                                          capsys):
    out = tmp_path / "run.h5"
    argv = ["predict", str(inputs / "m.npz"), str(inputs / "traj.xyz"), "-o", str(out),
            "--dt-fs", "2", "--quiet"]
    with monkeypatch.context() as m:
        _interrupt_after(m, 100)
        assert main(argv) == 130
    (tmp_path / ".run.h5.abcd.tmp.h5").write_bytes(b"left by an older version")
    capsys.readouterr()
    assert main([*argv, "--every", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--restart" in err and not out.exists()
    assert main([*argv, "--restart"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5"]
    _same(out, inputs / "ref.h5")


KILLED_RUN = """
import os, signal, sys
import ase_raman.io
from ase_raman.cli import main

real = ase_raman.io.iter_frames

def killed(*args, **kwargs):
    for i, atoms in enumerate(real(*args, **kwargs)):
        if i == {kill_at}:
            os.kill(os.getpid(), signal.SIGKILL)  # no handler, no finally, no flush
        yield atoms

ase_raman.io.iter_frames = killed
sys.exit(main(sys.argv[1:]))
"""


def test_sigkilled_predict_resumes(inputs, tmp_path, capsys):
    """A real SIGKILL in the middle of the run (in a child process, at a fixed frame, so
    nothing depends on timing): the rerun resumes from the frames the .part holds and
    gives the file an uninterrupted run gives."""
    import signal
    import subprocess
    import sys

    out = tmp_path / "run.h5"
    argv = ["predict", str(inputs / "m.npz"), str(inputs / "traj.xyz"), "-o", str(out),
            "--dt-fs", "2"]
    child = subprocess.run([sys.executable, "-c", KILLED_RUN.format(kill_at=230), *argv],
                           capture_output=True, text=True, timeout=600)
    assert child.returncode == -signal.SIGKILL, child.stderr
    part = tmp_path / "run.h5.part"
    assert not out.exists() and part.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5.part"]  # nothing hidden
    with read_trajectory(part) as traj:
        done = len(traj)
    assert 0 < done <= 230
    capsys.readouterr()
    assert main(argv) == 0
    assert f"resuming after the {done} frames" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5"]
    _same(out, inputs / "ref.h5")
