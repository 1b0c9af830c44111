"""Two writers on one store, with HDF5 file locking off (as on NFS/Lustre): the second is
refused by the writer lease while the first lives (same host: its pid; another host: its
heartbeat), and takes a stale lease over (dead pid, or a heartbeat past the timeout)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np

from ase_raman.store import read_trajectory

N_ATOMS = 8

#: First writer: 10 frames (alpha = step), reports, waits for a line on stdin, 10 more.
FIRST = textwrap.dedent(
    """
    import sys
    import numpy as np
    from ase_raman.store import open_store

    store = open_store(sys.argv[1], "a", species=[47] * {n}, dt_fs=1.0, flush_every=10**9)
    def add(step):
        store.append(step=step, time_fs=float(step), polarizability=np.full((3, 3), step),
                     positions=np.full(({n}, 3), float(step)), cell=np.eye(3) * 9.0)
    for step in range(10):
        add(step)
    store.flush()
    print("flushed", flush=True)
    sys.stdin.readline()
    for step in range(10, 20):
        add(step)
    store.close()
    print("done", flush=True)
    """
).format(n=N_ATOMS)

#: Second writer: optionally pretends to run on another host, tries to append 5 frames
#: with alpha = -1 after the last stored step.
SECOND = textwrap.dedent(
    """
    import socket, sys
    import numpy as np
    if sys.argv[2] != "-":
        socket.gethostname = lambda: sys.argv[2]
    from ase_raman.store import StoreError, open_store

    try:
        store = open_store(sys.argv[1], "a", species=[47] * {n}, dt_fs=1.0)
    except StoreError as exc:
        print("refused", exc)
        sys.exit(3)
    first = (store.last_step or 0) + 1
    for step in range(first, first + 5):
        store.append(step=step, time_fs=float(step), polarizability=np.full((3, 3), -1.0),
                     positions=np.zeros(({n}, 3)), cell=np.eye(3) * 9.0)
    store.close()
    print("wrote", first)
    """
).format(n=N_ATOMS)


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, HDF5_USE_FILE_LOCKING="FALSE")
    env.update(extra)
    return env


def _scripts(tmp_path):
    (tmp_path / "first.py").write_text(FIRST)
    (tmp_path / "second.py").write_text(SECOND)
    return tmp_path / "first.py", tmp_path / "second.py"


def _start_first(script, path):
    proc = subprocess.Popen([sys.executable, str(script), str(path)], env=_env(),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "flushed"
    return proc


def _second(script, path, host="-", **env):
    return subprocess.run([sys.executable, str(script), str(path), host], env=_env(**env),
                          capture_output=True, text=True, timeout=300)


def test_second_writer_refused_while_first_lives(tmp_path):
    first, second = _scripts(tmp_path)
    path = tmp_path / "run.h5"
    proc = _start_first(first, path)
    try:
        same_host = _second(second, path)
        other_host = _second(second, path, host="elsewhere.example")
        # a long timeout does not matter on the same host: the pid decides
        same_host_stale = _second(second, path, ASE_RAMAN_LEASE_TIMEOUT_S="0")
        out, _ = proc.communicate("go\n", timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=60)
    for res in (same_host, other_host, same_host_stale):
        assert res.returncode == 3, res.stdout + res.stderr
        line = res.stdout.strip()
        assert line.startswith("refused") and "still writing" in line and "\n" not in line
        assert f"process {proc.pid}" in line
    assert "last heartbeat" in other_host.stdout
    assert out.strip() == "done" and proc.returncode == 0
    # the first writer's file is intact: its 20 frames, nothing of the refused writers
    with read_trajectory(path) as traj:
        assert len(traj) == 20
        np.testing.assert_array_equal(traj.step, np.arange(20))
        alpha = np.asarray(traj.polarizability)
        np.testing.assert_array_equal(alpha[:, 0, 0], np.arange(20.0))
    # closed: the lease is released, a later writer appends normally
    res = _second(second, path)
    assert res.returncode == 0 and res.stdout.strip() == "wrote 20", res.stderr


def test_stale_lease_taken_over(tmp_path):
    first, second = _scripts(tmp_path)
    path = tmp_path / "run.h5"
    proc = _start_first(first, path)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    # another host, heartbeat younger than the timeout: still refused (pid unknowable)
    res = _second(second, path, host="elsewhere.example", ASE_RAMAN_LEASE_TIMEOUT_S="3600")
    assert res.returncode == 3 and "still writing" in res.stdout
    # another host, heartbeat past the timeout: taken over, the file recovered
    res = _second(second, path, host="elsewhere.example", ASE_RAMAN_LEASE_TIMEOUT_S="0")
    assert res.returncode == 0 and res.stdout.strip() == "wrote 10", res.stdout + res.stderr
    # same host, dead pid: taken over as well (the writer above closed cleanly anyway)
    proc = _start_first(first, tmp_path / "run2.h5")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    res = _second(second, tmp_path / "run2.h5")
    assert res.returncode == 0 and res.stdout.strip() == "wrote 10", res.stdout + res.stderr
    for p in (path, tmp_path / "run2.h5"):
        with read_trajectory(p) as traj:
            np.testing.assert_array_equal(traj.step, np.arange(15))
            alpha = np.asarray(traj.polarizability)[:, 0, 0]
            np.testing.assert_array_equal(alpha, [*range(10), *[-1.0] * 5])
