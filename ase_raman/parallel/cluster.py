"""From a ``--scheduler`` string to a :class:`distributed.Client`.

Accepted forms:

* ``local`` / ``local:N``: start a :class:`distributed.LocalCluster` of ``N`` worker
  processes (default: one per CPU core) with ``threads_per_worker`` threads each
  (default 1), and stop it when done;
* ``tcp://HOST:PORT`` (or ``tls://``, ``ucx://``, ``inproc://``): connect to a running
  scheduler, e.g. one started by ``dask-jobqueue`` (``SLURMCluster``/``PBSCluster``,
  ``cluster.scheduler_address``) or ``dask scheduler``; the cluster is left running;
* a path ending in ``.json``: a scheduler file (``dask scheduler --scheduler-file``,
  ``dask-mpi``).

Threads. featomic computes structures in parallel with rayon's global thread pool
(sized by ``RAYON_NUM_THREADS`` when the pool is first used) and BLAS has its own
pool. On the workers we start, both are pinned to the worker's thread count:
``RAYON_NUM_THREADS``, ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and
``MKL_NUM_THREADS`` are set in the worker environment, and every task also limits BLAS
with threadpoolctl. On workers of an existing cluster, the worker plugin
(:mod:`._worker`) sets ``RAYON_NUM_THREADS`` to the worker's ``nthreads`` when it is not
set yet; set it in the job script otherwise (see ``docs/dask.md``).

Memory trimming. Dask's nanny exports ``MALLOC_TRIM_THRESHOLD_=65536`` to the workers it
spawns by default; that fixed threshold also turns off glibc's adaptive mmap threshold,
and in one probe it alone doubled featomic's time in a worker. The local clusters we
start set it deliberately: by default (:data:`MALLOC_TRIM_THRESHOLD`, None) it is not
exported, so the workers run with glibc's default adaptive malloc, as the in-process
path does; pass an integer (bytes) to restore a fixed threshold.

Closing. :func:`close_local` closes the client first, then the cluster. The clusters we
start (:func:`start_local_cluster`) ignore a scheduler message removing a worker the
cluster no longer lists: in distributed's ``SpecCluster._update_worker_status`` that
message raises ``KeyError`` (a known race between the scheduler's worker-removal stream and
the cluster's own bookkeeping while workers are scaled, restarted or closed under load),
which kills the cluster's watcher task and then re-raises from ``cluster.close()`` after
the work is done. :func:`close_local` also tolerates that ``KeyError`` from clusters it
did not start.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError
from ._deps import require_dask

logger = logging.getLogger(__name__)

#: Value of MALLOC_TRIM_THRESHOLD_ (bytes) given to the workers of the local clusters we
#: start; None = not exported (glibc's adaptive default). Dask's own default is 65536.
MALLOC_TRIM_THRESHOLD: int | None = None

#: Dask settings of the local clusters we start. Every Dask process runs periodic
#: callbacks: an event-loop "tick" check every 20 ms and, on workers, a statistical
#: profiler sampling the task thread every 10 ms (for the dashboard, which we do not
#: start). On 2 cores they took about 12 % of a core from an idle 2-worker cluster
#: (client 5 %, each worker 4 %), CPU time taken from featurisation; with these
#: settings, 4 %.
LOCAL_CLUSTER_CONFIG = {
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.profile.enabled": False,
}

#: Environment variables that size the thread pools of featomic (rayon) and BLAS.
THREAD_ENV_VARS = ("RAYON_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                   "MKL_NUM_THREADS")

_REMOTE_PREFIXES = ("tcp://", "tls://", "ucx://", "inproc://")


@dataclass(frozen=True)
class SchedulerSpec:
    """A parsed ``--scheduler`` value: ``kind`` is ``"local"`` (``n_workers`` None = one
    per core) or ``"address"`` (``address``: a scheduler URL or scheduler-file path)."""

    kind: str
    n_workers: int | None = None
    address: str | None = None


def parse_scheduler(text: str) -> SchedulerSpec:
    """Parse ``local``, ``local:N``, ``tcp://HOST:PORT`` or ``SCHEDULER.json``."""
    value = (text or "").strip()
    if value == "local":
        return SchedulerSpec("local")
    if value.startswith("local:"):
        count = value.partition(":")[2]
        try:
            n = int(count)
        except ValueError:
            n = 0
        if n < 1:
            raise UsageError(f"scheduler={text!r}: expected local:N with N >= 1 workers")
        return SchedulerSpec("local", n_workers=n)
    if value.startswith(_REMOTE_PREFIXES):
        return SchedulerSpec("address", address=value)
    if value.endswith(".json"):
        if not os.path.isfile(value):
            raise UsageError(f"scheduler={text!r}: no such scheduler file")
        return SchedulerSpec("address", address=value)
    raise UsageError(f"scheduler={text!r}: expected local, local:N, tcp://HOST:PORT or a "
                     "scheduler file (.json)")


_CLUSTER_CLASS: Any = None


def _local_cluster_class() -> Any:
    """``distributed.LocalCluster`` that ignores the removal of a worker it no longer lists.

    Built on first use (distributed is an optional dependency)."""
    global _CLUSTER_CLASS
    if _CLUSTER_CLASS is None:
        from distributed import LocalCluster

        class QuietCloseLocalCluster(LocalCluster):
            """A LocalCluster whose worker-status watcher survives a duplicate removal."""

            def _update_worker_status(self, op: str, msg: Any) -> None:
                if op == "remove" and msg not in self.scheduler_info.get("workers", {}):
                    logger.debug("ignoring removal of unlisted worker %s", msg)
                    return
                super()._update_worker_status(op, msg)

        _CLUSTER_CLASS = QuietCloseLocalCluster
    return _CLUSTER_CLASS


def close_local(client: Any, cluster: Any, timeout: float = 60.0) -> None:
    """Close ``client`` (if not None), then ``cluster``, never raising the distributed
    ``KeyError`` race of ``_update_worker_status`` (see the module docstring).

    When the race has already broken the cluster's watcher, the scheduler and the workers
    are closed by the time the ``KeyError`` reaches us; what is left (the cluster's
    event-loop thread) is stopped here and the cluster marked closed.
    """
    if client is not None:
        try:
            client.close(timeout=timeout)
        except (OSError, TimeoutError) as exc:  # the cluster is closed next anyway
            logger.debug("closing the Dask client: %s", exc)
    try:
        cluster.close(timeout=timeout)
    except KeyError as exc:
        logger.debug("distributed worker-removal race while closing (%r); finishing", exc)
        from distributed.core import Status

        cluster.status = Status.closed
        loop_runner = getattr(cluster, "_loop_runner", None)
        if loop_runner is not None and not getattr(cluster, "asynchronous", False):
            loop_runner.stop()


def worker_environment(threads_per_worker: int) -> dict[str, str]:
    """Environment for worker processes: every thread pool sized ``threads_per_worker``."""
    return {name: str(int(threads_per_worker)) for name in THREAD_ENV_VARS}


def start_local_cluster(n_workers: int | None = None, threads_per_worker: int = 1,
                        malloc_trim_threshold: int | None = MALLOC_TRIM_THRESHOLD,
                        processes: bool = True, threads_per_task: int | None = None,
                        **kwargs: Any):
    """Start a :class:`distributed.LocalCluster` set up for featomic work.

    ``n_workers``: worker processes (default: CPU cores // ``threads_per_worker``, at
    least 1); ``threads_per_worker``: tasks a worker runs at once; ``threads_per_task``:
    threads one task's featomic and BLAS may use (default ``threads_per_worker``; e.g.
    one worker running one task at a time on all cores: ``threads_per_worker=1,
    threads_per_task=cores``). Thread pools are pinned (:func:`worker_environment`);
    ``malloc_trim_threshold`` (bytes, None = not exported) replaces Dask's default
    ``MALLOC_TRIM_THRESHOLD_=65536`` (see the module docstring). No dashboard, quiet
    logs. Extra ``kwargs`` go to ``LocalCluster``. Close it (or use ``with``) when done.
    """
    require_dask()
    import dask

    local_cluster = _local_cluster_class()
    if threads_per_worker < 1:
        raise UsageError(f"threads_per_worker must be >= 1, got {threads_per_worker}")
    if n_workers is None:
        n_workers = max(1, (os.cpu_count() or 1) // threads_per_worker)
    pre_spawn = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
    pre_spawn["MALLOC_TRIM_THRESHOLD_"] = (None if malloc_trim_threshold is None
                                          else int(malloc_trim_threshold))
    for name in THREAD_ENV_VARS:  # passed per cluster through env= below instead
        pre_spawn[name] = None
    options: dict[str, Any] = {
        "n_workers": int(n_workers), "threads_per_worker": int(threads_per_worker),
        "processes": processes, "dashboard_address": None,
        "silence_logs": logging.ERROR,
    }
    if processes:
        options["env"] = worker_environment(threads_per_task or threads_per_worker)
    options.update(kwargs)
    saved = os.environ.get("MALLOC_TRIM_THRESHOLD_")
    with dask.config.set({**LOCAL_CLUSTER_CONFIG,
                          "distributed.nanny.pre-spawn-environ": pre_spawn}), \
            warnings.catch_warnings():
        # no dashboard is wanted; its HTTP server still binds a port, maybe a busy one
        warnings.filterwarnings("ignore", message=r"Port \d+ is already in use")
        try:
            if malloc_trim_threshold is None and saved is not None and saved == "65536":
                # left in this process by an earlier Dask nanny: do not pass it on
                os.environ.pop("MALLOC_TRIM_THRESHOLD_")
            return local_cluster(**options)
        finally:
            if saved is not None:
                os.environ["MALLOC_TRIM_THRESHOLD_"] = saved


@contextlib.contextmanager
def scheduler_client(scheduler: Any, threads_per_worker: int = 1,
                     **cluster_kwargs: Any) -> Iterator[Any]:
    """A :class:`distributed.Client` for ``scheduler``; cleans up what it started.

    ``scheduler``: a ``--scheduler`` string (see :func:`parse_scheduler`) or an existing
    ``distributed.Client`` (yielded as is, never closed here). A local cluster is started
    with ``threads_per_worker`` threads per worker and stopped on exit; a remote one is
    only disconnected from.
    """
    require_dask()
    from distributed import Client

    if isinstance(scheduler, Client):
        yield scheduler
        return
    spec = parse_scheduler(str(scheduler))
    if spec.kind == "local":
        cluster = start_local_cluster(spec.n_workers, threads_per_worker, **cluster_kwargs)
        client = None
        try:
            client = Client(cluster)
            yield client
        finally:
            close_local(client, cluster)
        return
    try:
        if spec.address.endswith(".json"):
            client = Client(scheduler_file=spec.address, timeout="30s")
        else:
            client = Client(spec.address, timeout="30s")
    except OSError as exc:
        raise UsageError(f"scheduler={scheduler!r}: cannot connect ({exc})") from None
    try:
        yield client
    finally:
        client.close()


def total_threads(client: Any) -> int:
    """Worker threads the scheduler knows of now (at least 1)."""
    info = client.scheduler_info(n_workers=-1) if _accepts_n_workers(client) \
        else client.scheduler_info()
    return max(1, sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values()))


def _accepts_n_workers(client: Any) -> bool:
    import inspect

    try:
        return "n_workers" in inspect.signature(client.scheduler_info).parameters
    except (TypeError, ValueError):
        return False
