"""Reading a store streams positions/velocities chunk by chunk in bounded memory.

The default test writes a ~200 MB store; the ``slow`` one (``pytest -m slow``) writes
``$ASE_RAMAN_STREAM_GB`` GB (default 10) and prints the peak memory of the reader.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

WRITE = textwrap.dedent(
    """
    import sys
    import numpy as np
    from ase_raman.store import open_store

    path, n_frames, n_atoms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 20, size=(n_atoms, 3))
    with open_store(path, "w", species=[14] * n_atoms, dt_fs=2.0, flush_every=32) as s:
        for i in range(n_frames):
            s.append(step=10 * i, time_fs=20.0 * i, polarizability=np.eye(3) * i,
                     positions=base + 1e-3 * i, cell=np.eye(3) * 20.0,
                     velocities=np.full((n_atoms, 3), float(i)))
    """
)

READ = textwrap.dedent(
    """
    import json, resource, sys, time
    import numpy as np
    from ase_raman.store import read_trajectory

    def peak_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    traj = read_trajectory(sys.argv[1])
    n = len(traj)
    # touch the small arrays first: they are meant to be in memory
    assert traj.polarizability.shape == (n, 3, 3)
    base = peak_mb()
    t0 = time.perf_counter()
    total_pos, total_vel, frames = 0.0, 0.0, 0
    for start, block in traj.positions.iter_chunks():
        total_pos += float(block[:, 0, 0].sum())
        frames += len(block)
    for start, block in traj.velocities.iter_chunks():
        total_vel += float(block[:, 0, 0].sum())
    seconds = time.perf_counter() - t0
    nbytes = 2 * n * traj.n_atoms * 3 * 8
    print(json.dumps({"frames": frames, "n_atoms": traj.n_atoms, "bytes_streamed": nbytes,
                      "baseline_peak_mb": base, "peak_mb": peak_mb(),
                      "growth_mb": peak_mb() - base, "seconds": seconds,
                      "vel_sum": total_vel}))
    """
)


def _stream(tmp_path, n_frames, n_atoms):
    path = tmp_path / "big.h5"
    (tmp_path / "w.py").write_text(WRITE)
    (tmp_path / "r.py").write_text(READ)
    subprocess.run([sys.executable, str(tmp_path / "w.py"), str(path), str(n_frames),
                    str(n_atoms)], check=True, timeout=3000)
    out = subprocess.run([sys.executable, str(tmp_path / "r.py"), str(path)], check=True,
                         capture_output=True, text=True, timeout=3000)
    info = json.loads(out.stdout)
    info["file_mb"] = path.stat().st_size / 2**20
    assert info["frames"] == n_frames
    assert info["vel_sum"] == pytest.approx(n_frames * (n_frames - 1) / 2)
    return info


def test_streaming_read_is_bounded(tmp_path):
    info = _stream(tmp_path, n_frames=2000, n_atoms=2048)  # ~190 MB of positions+velocities
    assert info["file_mb"] > 150
    # reading 190 MB grew the reader's peak memory by far less than the file
    assert info["growth_mb"] < 40, info


@pytest.mark.slow
def test_streaming_read_large(tmp_path):
    gb = float(os.environ.get("ASE_RAMAN_STREAM_GB", "10"))
    n_atoms = 20_000
    n_frames = int(gb * 1e9 / (2 * n_atoms * 3 * 8))
    info = _stream(tmp_path, n_frames=n_frames, n_atoms=n_atoms)
    print(json.dumps(info))
    assert info["growth_mb"] < 100, info
