"""Benchmark: Dask predict scaling and overhead. Prints one JSON line.

Same alpha-AgI frames, same model file, same H5MD writer
(:func:`ase_raman.store.predict_to_store` in-process,
:func:`ase_raman.parallel.predict.predict_to_store_distributed` on a LocalCluster), all
in this process, best of ``REPEATS`` runs after a warm-up run. Only the cluster being
timed is alive while it is timed: idle clusters (their schedulers run in this process,
their workers and nannies heartbeat) would take CPU from a 2-worker run on 2 cores.

* ``speedup_2_workers``: frames/s on 2 single-threaded workers over 1 single-threaded
  worker (featomic's rayon pool and BLAS pinned to 1 thread per worker), on the demo's
  full-size 256-atom cells. Goal >= 1.8. ``speedup_2_workers_128_atoms``: the same on
  128-atom cells. On 2 cores the client (the single writer, Dask's scheduler and comms:
  about 0.2-0.3 ms of CPU per frame) shares the cores with 2 workers but has a core to
  itself beside 1 worker, so the speedup is 2 / (1 + client share): the smaller the
  frames, the larger that share (featurising a 128-atom frame takes ~3.5 ms here).
* ``overhead_1_worker`` (256 atoms): time on 1 worker using all the cores' threads -- one
  single-threaded task per core, Dask's way of using a worker's threads -- over the plain
  in-process path (featomic and BLAS on all cores), minus 1. Goal <= 0.1.
  ``overhead_1_worker_threaded_task`` is the same for a worker running one task at a time
  with featomic and BLAS on all cores (featomic gains only ~1.2x from a second thread
  here, and the client's own work competes with both threads).
* ``malloc_trim_65536_slowdown``: 1 single-threaded worker with Dask's default
  ``MALLOC_TRIM_THRESHOLD_=65536`` over the same worker without it (our default), minus
  1: why the clusters we start do not export it.

Other keys: frames/s of every configuration per cell size, ``n_frames``, ``n_atoms``
(of the headline figures), ``cores``,
``load_avg`` (1-minute load at the start: figures from a loaded machine are noisy).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _structures import alpha_agi, bond_polarizability_label  # noqa: E402
from _timing import best_time  # noqa: E402

from ase_raman.parallel.predict import CHUNK_FRAMES  # noqa: E402

HYPERS = {"cutoff": 5.0, "max_radial": 6, "max_angular": 4}  # the field notes' 62 ms/frame
N_TRAIN, REPEATS = 24, 3
#: alpha-AgI cells timed: the demo's full-size 256-atom cell (the headline figures),
#: then the 128-atom cell for ``speedup_2_workers_128_atoms``; frames of each.
SIZES, N_FRAMES = ((4, 4, 4), (4, 4, 2)), (512, 1024)
CHUNK = CHUNK_FRAMES  # the package default


def _time_clusters(configs: dict[str, dict], model_path: Path, frames: list, work: Path
                   ) -> dict[str, float]:
    """Best time of predict_to_store_distributed on each configuration, one cluster
    alive at a time."""
    from distributed import Client

    from ase_raman.parallel.cluster import start_local_cluster
    from ase_raman.parallel.predict import predict_to_store_distributed

    best: dict[str, float] = {}
    for name, options in configs.items():
        with start_local_cluster(**options) as cluster, Client(cluster) as client:
            out = work / f"{name}.h5"
            best[name] = best_time(lambda c=client, o=out: predict_to_store_distributed(
                c, model_path, frames, o, dt_fs=10.0, chunk_frames=CHUNK), REPEATS, warmup=True)
    return best


def main() -> None:
    from ase_raman.models.lambda_soap import LambdaSoapRidge
    from ase_raman.models.registry import load_model
    from ase_raman.store import predict_to_store

    cores = os.cpu_count() or 1
    load_avg = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    train = [alpha_agi((4, 4, 2), seed=s) for s in range(N_TRAIN)]
    for atoms in train:
        atoms.info["polarizability"] = bond_polarizability_label(atoms)
    model_path = work / "agi.npz"
    LambdaSoapRidge(hypers=HYPERS, n_folds=3).fit(train).save(model_path)
    model = load_model(model_path)
    scaling = {"1x1": {"n_workers": 1, "threads_per_worker": 1},
               "2x1": {"n_workers": 2, "threads_per_worker": 1}}
    others = {
        # one task at a time, featomic and BLAS on all cores: like the in-process path
        f"1x{cores}": {"n_workers": 1, "threads_per_worker": 1, "threads_per_task": cores},
        # one worker running one single-threaded task per core
        f"1w{cores}t": {"n_workers": 1, "threads_per_worker": cores, "threads_per_task": 1},
        "1x1_trim65536": {"n_workers": 1, "threads_per_worker": 1,
                          "malloc_trim_threshold": 65536},
    }
    results: dict[int, dict[str, float]] = {}
    for repeat, n_frames in ((SIZES[0], N_FRAMES[0]), (SIZES[1], N_FRAMES[1])):
        frames = [alpha_agi(repeat, seed=1000 + s) for s in range(n_frames)]
        n_atoms = len(frames[0])
        configs = {**scaling, **others} if repeat == SIZES[0] else scaling
        best = _time_clusters(configs, model_path, frames, work)
        if repeat == SIZES[0]:
            best["plain"] = best_time(lambda f=frames: predict_to_store(
                model, f, work / "plain.h5", dt_fs=10.0), REPEATS, warmup=True)
        results[n_atoms] = {name: n_frames / t for name, t in best.items()}  # frames/s
    main_atoms, small_atoms = sorted(results, reverse=True)
    fps = results[main_atoms]
    print(json.dumps({
        "speedup_2_workers": round(fps["2x1"] / fps["1x1"], 3),
        "speedup_2_workers_128_atoms": round(results[small_atoms]["2x1"]
                                             / results[small_atoms]["1x1"], 3),
        "overhead_1_worker": round(fps["plain"] / fps[f"1w{cores}t"] - 1.0, 3),
        "overhead_1_worker_threaded_task": round(fps["plain"] / fps[f"1x{cores}"] - 1.0, 3),
        "malloc_trim_65536_slowdown": round(fps["1x1"] / fps["1x1_trim65536"] - 1.0, 3),
        "frames_per_s": {str(n): {k: round(v, 2) for k, v in r.items()}
                         for n, r in results.items()},
        "n_frames": dict(zip((str(main_atoms), str(small_atoms)), N_FRAMES, strict=True)),
        "n_atoms": main_atoms, "chunk_frames": CHUNK, "hypers": HYPERS, "cores": cores,
        "repeats": REPEATS, "load_avg": round(load_avg, 2),
    }, sort_keys=True))


if __name__ == "__main__":
    main()
