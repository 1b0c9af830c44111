"""The ``--scheduler`` option shared by ``predict``, ``raman``, ``vdos`` and ``msd``.

Each command gets it with two or three lines:

* ``add_scheduler_argument(parser)`` in its ``add_arguments``;
* ``predict``: ``model, frames = on_scheduler(args, model, frames, every=...)`` just
  before its writer: frames go to the cluster in fixed chunks, the writer stays here;
* ``raman``/``vdos``/``msd``: ``if args.scheduler: return run_on_scheduler(args, run)``
  at the top of ``run``: the whole command runs as one task on a worker (its input and
  output paths must be on a filesystem the worker sees), which moves the memory and CPU
  of a long analysis off the submitting machine. Its output files are written by that
  one task with the same code as in-process, so they do not depend on the cluster.
  Many trajectories in parallel: ``ase-raman batch``.

Without dask installed, ``--scheduler`` is a one-line error naming
``pip install ase-raman[dask]``; dask is imported only when the option is used.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import io
import os
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from ._deps import require_dask

SCHEDULER_HELP = ("run on Dask: local (one single-threaded worker per core), local:N (N "
                  "workers), tcp://HOST:PORT (a running scheduler, e.g. from "
                  "dask-jobqueue) or a scheduler file .json; needs ase-raman[dask]")

_CWD_LOCK = threading.Lock()


def add_scheduler_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--scheduler SPEC`` (default: none, run in this process)."""
    parser.add_argument("--scheduler", default=None, metavar="SPEC", help=SCHEDULER_HELP)


def on_scheduler(args: argparse.Namespace, model: Any, frames: Iterable[Any],
                 every: int = 1) -> tuple[Any, Iterable[Any]]:
    """``(model, frames)`` unchanged without ``--scheduler``; else predictions on Dask.

    With ``args.scheduler``, a client is opened (a local cluster is started), the model
    file ``args.model`` is shipped to the workers, and the returned pair streams
    ``frames`` through unchanged while every ``every``-th of them (those the writer
    keeps) is predicted on the workers ahead of the writer (see
    :func:`ase_raman.parallel.predict.prefetch_predictions`). The cluster is closed
    when the stream ends, is closed, or at exit.
    """
    scheduler = getattr(args, "scheduler", None)
    if not scheduler:
        return model, frames
    require_dask()
    from .cluster import scheduler_client
    from .predict import prefetch_predictions

    stack = contextlib.ExitStack()
    client = stack.enter_context(scheduler_client(scheduler))
    atexit.register(stack.close)
    try:
        return prefetch_predictions(client, args.model, frames, every,
                                    metadata=getattr(model, "metadata", None),
                                    on_close=stack.close)
    except BaseException:
        stack.close()
        raise


def _run_command_task(run: Callable[[argparse.Namespace], int], args: argparse.Namespace,
                      cwd: str) -> tuple[int, str, str]:
    """On a worker: ``run(args)`` in ``cwd``; returns (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with _CWD_LOCK:
        here = os.getcwd()
        os.chdir(cwd)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                status = int(run(args) or 0)
        finally:
            os.chdir(here)
    return status, out.getvalue(), err.getvalue()


def run_command(client: Any, run: Callable[[argparse.Namespace], int],
                args: argparse.Namespace, cwd: str | None = None) -> int:
    """Run a sub-command's ``run(args)`` as one task on ``client``'s cluster.

    Relative paths in ``args`` are taken relative to ``cwd`` (default: this process's
    working directory), which the worker must see. The task's stdout/stderr are printed
    here; an :class:`~ase_raman.errors.AseRamanError` raised there is raised here.
    Returns the command's exit status.
    """
    clean = argparse.Namespace(**{k: v for k, v in vars(args).items()
                                  if not k.startswith("_")})
    clean.scheduler = None
    future = client.submit(_run_command_task, run, clean, cwd or os.getcwd(), pure=False)
    status, out, err = future.result()
    sys.stdout.write(out)
    sys.stderr.write(err)
    return status


def run_on_scheduler(args: argparse.Namespace, run: Callable[[argparse.Namespace], int]) -> int:
    """``--scheduler`` for ``raman``/``vdos``/``msd``: the command as one Dask task."""
    require_dask()
    from .cluster import scheduler_client

    with scheduler_client(args.scheduler) as client:
        return run_command(client, run, args)
