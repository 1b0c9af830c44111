"""Dask path of predict/raman/batch: same bytes on 1 and 2 workers and
in-process, a worker killed mid-run, --scheduler on the command line, batch entries as
parallel tasks, the missing-dask error.

One LocalCluster (2 single-threaded worker processes) is started and stopped by this
module; the 1-worker run scales it down.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import labelled_water_molecules

from ase_raman.errors import ModelSpeciesError, UsageError
from ase_raman.parallel.cluster import parse_scheduler

pytest.importorskip("distributed")

HYPERS = {"cutoff": 3.0, "max_radial": 2, "max_angular": 2}


def water_trajectory(n: int, seed: int = 3):
    frames = labelled_water_molecules(n, seed=seed)
    for atoms in frames:
        atoms.info.pop("polarizability")
    return frames


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, small_model) -> Path:
    path = tmp_path_factory.mktemp("model") / "water.npz"
    small_model.save(path)
    return path


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client

    from ase_raman.parallel.cluster import close_local, start_local_cluster

    cl = start_local_cluster(n_workers=2, threads_per_worker=1)
    client = Client(cl)
    try:
        yield cl, client
    finally:
        close_local(client, cl)


def wait_workers(client, n: int, timeout: float = 60.0) -> None:
    client.wait_for_workers(n, timeout=timeout)
    deadline = time.monotonic() + timeout
    while len(client.scheduler_info()["workers"]) != n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"cluster did not reach {n} workers")
        time.sleep(0.1)


def test_parse_scheduler():
    assert parse_scheduler("local").n_workers is None
    assert parse_scheduler("local:3").n_workers == 3
    assert parse_scheduler("tcp://10.0.0.1:8786").address == "tcp://10.0.0.1:8786"
    for bad in ("local:0", "local:x", "slurm", ""):
        with pytest.raises(UsageError):
            parse_scheduler(bad)


def _wait(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


def test_close_tolerates_worker_removal_race():
    """Issue 20: the distributed race (the scheduler removes a worker the cluster's
    bookkeeping no longer lists: KeyError in SpecCluster._update_worker_status) kills a
    plain LocalCluster's watcher and re-raises from close(); close_local finishes the close."""
    from distributed import Client, LocalCluster

    from ase_raman.parallel.cluster import close_local

    cl = LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None)
    client = Client(cl)
    client.wait_for_workers(2, timeout=60)
    _wait(lambda: len(cl.scheduler_info["workers"]) == 2, "cluster lists 2 workers")
    gone = sorted(cl.scheduler_info["workers"])[0]
    del cl.scheduler_info["workers"][gone]  # the state the race leaves behind
    client.retire_workers([gone])
    _wait(cl._watch_worker_status_task.done, "watcher hit the KeyError")
    assert isinstance(cl._watch_worker_status_task.exception(), KeyError)
    close_local(client, cl)
    assert cl.status.name == "closed"


def test_our_local_cluster_ignores_unlisted_removal():
    """The clusters start_local_cluster makes never hit the race: a removal of a worker
    they do not list is ignored, the watcher lives on and close() is clean."""
    from distributed import Client

    from ase_raman.parallel.cluster import close_local, start_local_cluster

    cl = start_local_cluster(n_workers=1, processes=False)
    client = Client(cl)
    client.wait_for_workers(1, timeout=60)
    cl._update_worker_status("remove", "inproc://192.0.2.1/1/1")  # would raise KeyError
    assert not cl._watch_worker_status_task.done()
    close_local(client, cl)
    assert cl.status.name == "closed"


def test_workers_pin_threads(cluster):
    _, client = cluster

    def env():
        from threadpoolctl import threadpool_info

        blas = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
        return (os.environ.get("RAYON_NUM_THREADS"), os.environ.get("MALLOC_TRIM_THRESHOLD_"),
                blas)

    for rayon, trim, _ in client.run(env).values():
        assert rayon == "1"
        assert trim is None  # Dask's 65536 default is deliberately not exported


def test_quiet_local_cluster_config(cluster):
    """The clusters we start turn off the dashboard profiler and slow the tick check."""
    _, client = cluster

    def settings():
        import dask

        return (dask.config.get("distributed.worker.profile.enabled"),
                dask.config.get("distributed.admin.tick.interval"))

    for enabled, tick in client.run(settings).values():
        assert enabled is False
        assert tick == "1s"


def test_payload_round_trip_with_different_sizes():
    """A chunk's frames travel as five packed arrays, whatever their sizes."""
    from ase.build import bulk, molecule

    from ase_raman.parallel._worker import frames_payload, payload_frames

    frames = [bulk("Si", cubic=True) * (1, 1, 2), molecule("H2O"), bulk("NaCl", "rocksalt", 5.6)]
    frames[1].pbc = (True, False, True)
    frames[1].cell = [6.0, 7.0, 8.0]
    payload = frames_payload(frames)
    assert len(payload) == 5 and all(isinstance(v, np.ndarray) for v in payload.values())
    back = payload_frames(payload)
    for a, b in zip(frames, back, strict=True):
        assert list(a.numbers) == list(b.numbers)
        np.testing.assert_array_equal(a.positions, b.positions)
        np.testing.assert_array_equal(a.cell.array, b.cell.array)
        assert list(a.pbc) == list(b.pbc)


def test_same_bytes_on_1_and_2_workers_and_in_process(cluster, model_file, tmp_path):
    from ase_raman.models.registry import load_model
    from ase_raman.parallel.predict import predict_distributed, predict_to_store_distributed
    from ase_raman.store import predict_to_store, read_trajectory

    cl, client = cluster
    frames = water_trajectory(90)
    ref = tmp_path / "inprocess.h5"
    model = load_model(model_file)
    assert predict_to_store(model, frames, ref, dt_fs=2.0, every=2) == 45

    two = tmp_path / "two.h5"
    n = predict_to_store_distributed(client, model_file, water_trajectory(90), two, dt_fs=2.0,
                                     every=2, chunk_frames=8)
    assert n == 45
    with read_trajectory(two) as traj:
        assert traj.step.tolist() == list(range(0, 90, 2))
        assert np.allclose(traj.time_fs, 2.0 * traj.step)
        assert np.abs(traj.polarizability).max() > 0.01
    alpha = predict_distributed(client, model_file, water_trajectory(90)[::2], chunk_frames=8)
    np.testing.assert_array_equal(alpha, model.predict(water_trajectory(90)[::2]))

    cl.scale(1)
    wait_workers(client, 1)
    one = tmp_path / "one.h5"
    predict_to_store_distributed(client, model_file, water_trajectory(90), one, dt_fs=2.0,
                                 every=2, chunk_frames=8)
    cl.scale(2)
    wait_workers(client, 2)
    assert digest(one) == digest(two) == digest(ref)


def test_worker_killed_mid_run_gives_complete_identical_file(cluster, model_file, tmp_path):
    from ase_raman.models.registry import load_model
    from ase_raman.parallel.predict import predict_to_store_distributed
    from ase_raman.store import predict_to_store, read_trajectory

    _, client = cluster
    wait_workers(client, 2)
    n_frames = 400
    ref = tmp_path / "ref.h5"
    predict_to_store(load_model(model_file), water_trajectory(n_frames), ref, dt_fs=1.0)
    before = set(client.scheduler_info()["workers"])
    killed: list[str] = []

    def kill_busy_worker(done: int) -> None:
        if killed or done < 32:
            return
        busy = [w for w, tasks in client.processing().items() if tasks]
        if not busy:  # a snapshot between tasks (seen under load): try at the next chunk
            return
        killed.append(busy[0])

        async def die() -> None:  # a hard crash of the worker process, no clean-up
            os._exit(1)

        client.run(die, workers=[busy[0]], wait=False)
        time.sleep(0.5)  # let it die while its task is in flight

    out = tmp_path / "killed.h5"
    n = predict_to_store_distributed(client, model_file, water_trajectory(n_frames), out,
                                     dt_fs=1.0, chunk_frames=4, max_in_flight=8,
                                     progress=kill_busy_worker)
    assert killed and n == n_frames
    with read_trajectory(out) as traj:
        assert len(traj) == n_frames and traj.step.tolist() == list(range(n_frames))
    assert digest(out) == digest(ref)
    wait_workers(client, 2)
    after = set(client.scheduler_info()["workers"])
    assert killed[0] not in after and after != before  # the nanny replaced it


def test_species_error_on_cluster(cluster, model_file, tmp_path):
    from ase import Atoms

    from ase_raman.parallel.predict import predict_to_store_distributed

    _, client = cluster
    frames = [Atoms("NaCl", positions=[[0, 0, 0], [2.8, 0, 0]])] * 3
    with pytest.raises(ModelSpeciesError, match="Na"):
        predict_to_store_distributed(client, model_file, frames, tmp_path / "x.h5", dt_fs=1.0)
    assert not (tmp_path / "x.h5").exists()


def test_cli_scheduler_address(cluster, model_file, tmp_path, capsys):
    """predict and raman with --scheduler tcp://... write what the in-process path does."""
    import ase.io

    from ase_raman.cli import main

    cl, _ = cluster
    traj = tmp_path / "traj.xyz"
    ase.io.write(traj, water_trajectory(120))
    address = cl.scheduler_address
    for extra, name in (([], "plain"), (["--scheduler", address], "dask")):
        assert main(["predict", str(model_file), str(traj), "-o", str(tmp_path / f"{name}.h5"),
                     "--dt-fs", "5", *extra]) == 0
        assert main(["predict", str(model_file), str(traj), "-o",
                     str(tmp_path / f"{name}.xyz"), "--every", "2", *extra]) == 0
    assert digest(tmp_path / "plain.h5") == digest(tmp_path / "dask.h5")
    assert (tmp_path / "plain.xyz").read_text() == (tmp_path / "dask.xyz").read_text()
    assert len(ase.io.read(tmp_path / "dask.xyz", ":")) == 60

    old = os.getcwd()
    os.chdir(tmp_path)  # relative paths: the task runs in the client's folder
    try:
        for extra, name in (([], "plain"), (["--scheduler", address], "dask")):
            assert main(["raman", "plain.h5", "-o", f"raman_{name}.csv", "--json",
                         f"raman_{name}.json", "--sigma", "100", *extra]) == 0
    finally:
        os.chdir(old)
    assert "wrote raman_dask.csv" in capsys.readouterr().out  # the worker's stdout, here
    assert (tmp_path / "raman_plain.csv").read_bytes() == (tmp_path / "raman_dask.csv"
                                                           ).read_bytes()
    assert main(["raman", str(tmp_path / "nope.h5"), "-o", str(tmp_path / "r.csv"),
                 "--scheduler", address]) == 2
    assert "nope.h5: no such file" in capsys.readouterr().err


def test_pipeline_bounded_in_flight(cluster, model_file):
    """The writer never lets more than max_in_flight chunks run ahead of it."""
    from ase_raman.parallel.predict import prefetch_predictions

    _, client = cluster
    pulled = []
    lock = threading.Lock()

    def source():
        for i, atoms in enumerate(water_trajectory(64)):
            with lock:
                pulled.append(i)
            yield atoms

    model, stream = prefetch_predictions(client, model_file, source(), chunk_frames=4,
                                         max_in_flight=3)
    first = next(stream)
    assert len(pulled) <= 3 * 4  # three chunks read and sent, no more
    rest = list(stream)
    assert len(rest) == 63
    assert model.predict([first, *rest]).shape == (64, 3, 3)


def test_missing_dask_is_one_line(tmp_path, model_file):
    """Without dask, --scheduler fails with one line naming the extra to install."""
    code = (
        "import sys; sys.modules['distributed'] = None; sys.modules['dask'] = None\n"
        "from ase_raman.cli import main\n"
        f"sys.exit(main(['raman', {str(model_file)!r}, '-o', 'x.csv', '--scheduler', 'local']))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install ase-raman[dask]" in lines[0], proc.stderr


def data_lines(path: Path) -> list[str]:
    return [ln for ln in path.read_text().splitlines() if not ln.startswith("#")]


def test_batch_on_cluster_matches_in_process(cluster, model_file, tmp_path):
    """Entries as parallel tasks give the rows and files of the in-process batch."""
    pytest.importorskip("yaml")
    from test_batch import random_walk_water

    from ase_raman.parallel.batch import BatchEntry, run_batch
    from ase_raman.store import read_trajectory

    _, client = cluster
    wait_workers(client, 2)
    entries = []
    for temp, step in ((300, 0.04), (400, 0.08)):
        traj = tmp_path / f"w{temp}.xyz"
        random_walk_water(traj, step=step, n_frames=120, seed=temp)
        entries.append(BatchEntry(name=f"w{temp}", trajectory=str(traj), temperature_K=temp,
                                  species=["O"], model=str(model_file), dt_fs=20.0,
                                  material="water", sigma_cm=50.0, cutoff_cm=100.0))
    local = run_batch(entries, tmp_path / "local")
    remote = run_batch(entries, tmp_path / "dask", client=client)
    assert [r["status"] for r in remote] == ["ok", "ok"]
    for a, b in zip(local, remote, strict=True):
        assert a == b
        for name in ("raman.csv", "msd.csv"):  # the headers name the (different) folders
            assert data_lines(tmp_path / "local" / a["name"] / name) == \
                data_lines(tmp_path / "dask" / b["name"] / name)
        with read_trajectory(tmp_path / "local" / a["name"] / "alpha.h5") as x, \
                read_trajectory(tmp_path / "dask" / b["name"] / "alpha.h5") as y:
            np.testing.assert_array_equal(x.polarizability, y.polarizability)
    assert (tmp_path / "local" / "results.csv").read_text() == \
        (tmp_path / "dask" / "results.csv").read_text()
