"""Benchmark: Dask predict scaling and overhead (issue 11). Prints one JSON line.

Same 128-atom alpha-AgI frames, same model file, same H5MD writer
(:func:`ase_raman.store.predict_to_store` in-process,
:func:`ase_raman.parallel.predict.predict_to_store_distributed` on a LocalCluster), all
in this process, best of ``REPEATS`` runs after a warm-up run. Only the cluster being
timed is alive while it is timed: idle clusters (their schedulers run in this process,
their workers and nannies heartbeat) would take CPU from a 2-worker run on 2 cores.

* ``speedup_2_workers``: frames/s on 2 single-threaded workers over 1 single-threaded
  worker (featomic's rayon pool and BLAS pinned to 1 thread per worker). Goal >= 1.8.
* ``overhead_1_worker``: time on 1 worker using all the cores' threads -- one
  single-threaded task per core, Dask's way of using a worker's threads -- over the plain
  in-process path (featomic and BLAS on all cores), minus 1. Goal <= 0.1.
  ``overhead_1_worker_threaded_task`` is the same for a worker running one task at a time
  with featomic and BLAS on all cores (featomic gains only ~1.2x from a second thread
  here, and the client's own work competes with both threads).
* ``malloc_trim_65536_slowdown``: 1 single-threaded worker with Dask's default
  ``MALLOC_TRIM_THRESHOLD_=65536`` over the same worker without it (our default), minus
  1: why the clusters we start do not export it.

Other keys: frames/s of every configuration, ``n_frames``, ``n_atoms``, ``cores``,
``load_avg`` (1-minute load at the start: figures from a loaded machine are noisy).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _structures import alpha_agi, bond_polarizability_label  # noqa: E402

from ase_raman.parallel.predict import CHUNK_FRAMES  # noqa: E402

HYPERS = {"cutoff": 5.0, "max_radial": 6, "max_angular": 4}  # the field notes' 62 ms/frame
N_TRAIN, N_FRAMES, REPEATS = 24, 1024, 3
CHUNK = CHUNK_FRAMES  # the package default


def main() -> None:
    from distributed import Client

    from ase_raman.models.lambda_soap import LambdaSoapRidge
    from ase_raman.models.registry import load_model
    from ase_raman.parallel.cluster import start_local_cluster
    from ase_raman.parallel.predict import predict_to_store_distributed
    from ase_raman.store import predict_to_store

    cores = os.cpu_count() or 1
    load_avg = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    train = [alpha_agi((4, 4, 2), seed=s) for s in range(N_TRAIN)]
    for atoms in train:
        atoms.info["polarizability"] = bond_polarizability_label(atoms)
    model_path = work / "agi.npz"
    LambdaSoapRidge(hypers=HYPERS, n_folds=3).fit(train).save(model_path)
    frames = [alpha_agi((4, 4, 2), seed=1000 + s) for s in range(N_FRAMES)]
    model = load_model(model_path)

    configs = {
        "1x1": {"n_workers": 1, "threads_per_worker": 1},
        "2x1": {"n_workers": 2, "threads_per_worker": 1},
        # one task at a time, featomic and BLAS on all cores: like the in-process path
        f"1x{cores}": {"n_workers": 1, "threads_per_worker": 1, "threads_per_task": cores},
        # one worker running one single-threaded task per core
        f"1w{cores}t": {"n_workers": 1, "threads_per_worker": cores, "threads_per_task": 1},
        "1x1_trim65536": {"n_workers": 1, "threads_per_worker": 1,
                          "malloc_trim_threshold": 65536},
    }

    def best_of(run: Callable[[], None]) -> float:
        run()  # warm-up: model shipped and loaded, imports done
        best = float("inf")
        for _ in range(REPEATS):
            start = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - start)
        return best

    best: dict[str, float] = {}
    for name, options in configs.items():
        with start_local_cluster(**options) as cluster, Client(cluster) as client:
            out = work / f"{name}.h5"
            best[name] = best_of(lambda c=client, o=out: predict_to_store_distributed(
                c, model_path, frames, o, dt_fs=10.0, chunk_frames=CHUNK))
    best["plain"] = best_of(lambda: predict_to_store(model, frames, work / "plain.h5",
                                                     dt_fs=10.0))
    fps = {name: N_FRAMES / t for name, t in best.items()}
    print(json.dumps({
        "speedup_2_workers": round(best["1x1"] / best["2x1"], 3),
        "overhead_1_worker": round(best[f"1w{cores}t"] / best["plain"] - 1.0, 3),
        "overhead_1_worker_threaded_task": round(best[f"1x{cores}"] / best["plain"] - 1.0, 3),
        "malloc_trim_65536_slowdown": round(best["1x1_trim65536"] / best["1x1"] - 1.0, 3),
        "frames_per_s": {k: round(v, 2) for k, v in fps.items()},
        "n_frames": N_FRAMES, "n_atoms": len(frames[0]), "chunk_frames": CHUNK,
        "hypers": HYPERS, "cores": cores, "repeats": REPEATS, "load_avg": round(load_avg, 2),
    }, sort_keys=True))


if __name__ == "__main__":
    main()
