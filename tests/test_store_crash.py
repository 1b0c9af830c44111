"""Crash safety: a writer killed with SIGKILL leaves a readable file holding every
flushed frame, and resuming it loses or duplicates no frame."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ase_raman.store import open_store, read_trajectory

N_ATOMS = 64

WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from ase_raman.store import open_store

    def frame(step, n_atoms={n_atoms}):
        rng = np.random.default_rng(step)
        return dict(step=step, time_fs=0.5 * step,
                    polarizability=np.full((3, 3), float(step)),
                    positions=rng.uniform(0, 9, size=(n_atoms, 3)),
                    cell=np.eye(3) * 9.0, velocities=rng.normal(size=(n_atoms, 3)),
                    potential_energy=float(-step))

    path, stop = sys.argv[1], int(sys.argv[2])
    store = open_store(path, "a", species=[47] * {n_atoms}, dt_fs=0.5, flush_every=10**9,
                       model_metadata={{"learner": "x"}})
    step = -1 if store.last_step is None else store.last_step
    print("start", step + 1, flush=True)
    while step < stop:
        for _ in range(5):
            step += 1
            store.append(**frame(step))
        store.flush()
        print("flushed", step, flush=True)
    store.close()
    print("done", flush=True)
    """
).format(n_atoms=N_ATOMS)


def _expected(step: int) -> np.ndarray:
    return np.random.default_rng(step).uniform(0, 9, size=(N_ATOMS, 3))


def _run_and_kill(script, path, stop, kill_after_flushes):
    """Start a writer; SIGKILL it right after its n-th flush report (it keeps writing)."""
    proc = subprocess.Popen([sys.executable, str(script), str(path), str(stop)],
                            stdout=subprocess.PIPE, text=True)
    last_flushed = None
    try:
        n = 0
        for line in proc.stdout:
            if line.startswith("flushed"):
                last_flushed = int(line.split()[1])
                n += 1
                if n >= kill_after_flushes:
                    os.kill(proc.pid, signal.SIGKILL)
                    break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    return last_flushed


def _check_contiguous(path, at_least):
    with read_trajectory(path) as traj:
        steps = traj.step
        assert len(steps) >= at_least + 1, "a flushed frame was lost"
        np.testing.assert_array_equal(steps, np.arange(len(steps)))  # no gap, no duplicate
        np.testing.assert_array_equal(traj.polarizability[:, 0, 0], steps.astype(float))
        for i in (0, len(steps) // 2, len(steps) - 1):
            np.testing.assert_array_equal(traj.positions[i], _expected(int(steps[i])))
        np.testing.assert_array_equal(traj.potential_energy_step, steps)
        return len(steps)


def test_sigkill_mid_run_then_resume(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    path = tmp_path / "run.h5"
    # three killed sessions, each resuming the previous one's file
    counts = []
    for kills in (3, 7, 4):
        last = _run_and_kill(script, path, stop=10**6, kill_after_flushes=kills)
        counts.append(_check_contiguous(path, at_least=last))
    assert counts[0] < counts[1] < counts[2]
    # a final clean session finishes the series
    out = subprocess.run([sys.executable, str(script), str(path), str(counts[-1] + 20)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == f"start {counts[-1]}"
    n = _check_contiguous(path, at_least=counts[-1] + 20)
    # the recovered file is clean again: normal (non-SWMR) readers and writers open it
    with open_store(path, "a") as store:
        assert store.n_committed == n


def test_open_while_writer_alive_is_refused(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER.replace('print("flushed", step, flush=True)',
                                     'print("flushed", step, flush=True); '
                                     'import time; time.sleep(60)'))
    path = tmp_path / "run.h5"
    proc = subprocess.Popen([sys.executable, str(script), str(path), "100"],
                            stdout=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if line.startswith("flushed"):
                break
        from ase_raman.store import StoreError

        with pytest.raises(StoreError, match="still writing"):
            open_store(path, "a")
        with read_trajectory(path) as traj:  # but reading is fine
            assert len(traj) == 5
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
