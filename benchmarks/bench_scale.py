"""Benchmark: Dask predict scaling and overhead (issue 11). Prints one JSON line.

Same 128-atom alpha-AgI frames, same model file, same H5MD writer
(:func:`ase_raman.store.predict_to_store` in-process,
:func:`ase_raman.parallel.predict.predict_to_store_distributed` on a LocalCluster), all
in this process, runs interleaved, best of ``REPEATS``:

* ``speedup_2_workers``: frames/s on 2 single-threaded workers over 1 single-threaded
  worker (featomic's rayon pool and BLAS pinned to 1 thread per worker). Goal >= 1.8.
* ``overhead_1_worker``: time on 1 worker using all the cores' threads over the plain
  in-process path (which also uses all threads), minus 1. Goal <= 0.1.
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _structures import alpha_agi, bond_polarizability_label  # noqa: E402

HYPERS = {"cutoff": 5.0, "max_radial": 6, "max_angular": 4}  # the field notes' 62 ms/frame
N_TRAIN, N_FRAMES, REPEATS = 24, 256, 5
CHUNK = 16


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

    clusters = {
        "1x1": start_local_cluster(1, threads_per_worker=1),
        "2x1": start_local_cluster(2, threads_per_worker=1),
        # one task at a time, featomic and BLAS on all cores: like the in-process path
        f"1x{cores}": start_local_cluster(1, threads_per_worker=1, threads_per_task=cores),
        "1x1_trim65536": start_local_cluster(1, threads_per_worker=1,
                                             malloc_trim_threshold=65536),
    }
    clients = {name: Client(cl) for name, cl in clusters.items()}

    def dask_run(name: str) -> float:
        out = work / f"{name}.h5"
        start = time.perf_counter()
        predict_to_store_distributed(clients[name], model_path, frames, out, dt_fs=10.0,
                                     chunk_frames=CHUNK)
        return time.perf_counter() - start

    def plain_run() -> float:
        start = time.perf_counter()
        predict_to_store(model, frames, work / "plain.h5", dt_fs=10.0)
        return time.perf_counter() - start

    runs = {name: (lambda n=name: dask_run(n)) for name in clients}
    runs["plain"] = plain_run
    try:
        for fn in runs.values():  # warm-up: model shipped and loaded, imports done
            fn()
        best = {name: float("inf") for name in runs}
        for _ in range(REPEATS):
            for name, fn in runs.items():
                best[name] = min(best[name], fn())
    finally:
        for client in clients.values():
            client.close()
        for cl in clusters.values():
            cl.close()
    fps = {name: N_FRAMES / t for name, t in best.items()}
    print(json.dumps({
        "speedup_2_workers": round(best["1x1"] / best["2x1"], 3),
        "overhead_1_worker": round(best[f"1x{cores}"] / best["plain"] - 1.0, 3),
        "malloc_trim_65536_slowdown": round(best["1x1_trim65536"] / best["1x1"] - 1.0, 3),
        "frames_per_s": {k: round(v, 2) for k, v in fps.items()},
        "n_frames": N_FRAMES, "n_atoms": len(frames[0]), "chunk_frames": CHUNK,
        "hypers": HYPERS, "cores": cores, "repeats": REPEATS, "load_avg": round(load_avg, 2),
    }, sort_keys=True))


if __name__ == "__main__":
    main()
