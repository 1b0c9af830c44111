"""Code that runs on the Dask workers (imported there by name: keep it importable).

The model file travels to each worker once, as bytes inside a worker plugin
(:class:`ModelPlugin`): the plugin writes it to the worker's local directory and loads
it with :func:`ase_raman.models.registry.load_model` (model files hold arrays and JSON
only, so loading cannot run code). Workers that join later, or replace a killed one,
get it from the scheduler the same way. Tasks (:func:`predict_chunk`) find the loaded
model by the SHA-256 of the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from typing import Any

import numpy as np
from distributed.diagnostics.plugin import WorkerPlugin

#: model SHA-256 -> loaded model, in this worker process.
_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()


def model_key(data: bytes) -> str:
    """The identity of a model file: SHA-256 of its bytes (hex)."""
    return hashlib.sha256(data).hexdigest()


def pin_threads(nthreads: int) -> None:
    """Size featomic's rayon pool to ``nthreads`` unless the environment already does.

    Effective only before featomic's first computation in this process (rayon reads
    ``RAYON_NUM_THREADS`` once); BLAS is limited per task with threadpoolctl.
    """
    os.environ.setdefault("RAYON_NUM_THREADS", str(max(1, int(nthreads))))


class ModelPlugin(WorkerPlugin):
    """Ship one model file (bytes) to every worker and load it there once."""

    def __init__(self, data: bytes, suffix: str = ".npz"):
        self.data = data
        self.suffix = suffix
        self.key = model_key(data)
        self.name = f"ase-raman-model-{self.key[:16]}"

    def setup(self, worker: Any) -> None:
        pin_threads(getattr(worker.state, "nthreads", None) or worker.nthreads)
        load_model_bytes(self.data, self.suffix, getattr(worker, "local_directory", None))


def load_model_bytes(data: bytes, suffix: str = ".npz", folder: str | None = None) -> Any:
    """Load (once per process) the model whose file content is ``data``."""
    from ..models.registry import load_model

    key = model_key(data)
    with _LOCK:
        model = _MODELS.get(key)
        if model is None:
            fd, name = tempfile.mkstemp(prefix="ase-raman-model-", suffix=suffix, dir=folder)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                model = load_model(name)
            finally:
                os.unlink(name)
            _MODELS[key] = model
    return model


def get_model(key: str) -> Any:
    """The model loaded on this worker by :class:`ModelPlugin` (clear error if absent)."""
    model = _MODELS.get(key)
    if model is None:
        raise RuntimeError(f"model {key[:16]} is not loaded on this worker; register it "
                           "with ase_raman.parallel.predict.ship_model(client, path) first")
    return model


def frames_payload(frames: list[Any]) -> dict[str, np.ndarray]:
    """What a task needs of a chunk of frames, packed into five arrays (Dask serialises
    every array as its own message frame, so one array per frame and field would cost
    the client more than the data itself): ``counts`` (k,) atoms per frame, ``numbers``
    and ``positions`` (Angstrom) of all frames concatenated, ``cells`` (k, 3, 3),
    ``pbc`` (k, 3)."""
    return {
        "counts": np.array([len(a) for a in frames], dtype=np.int64),
        "numbers": np.concatenate([a.numbers for a in frames]),
        "positions": np.concatenate([a.positions for a in frames]),
        "cells": np.array([a.cell.array for a in frames], dtype=float).reshape(-1, 3, 3),
        "pbc": np.array([a.pbc for a in frames], dtype=bool).reshape(-1, 3),
    }


def payload_frames(payload: dict[str, np.ndarray]) -> list[Any]:
    """The :class:`ase.Atoms` of a :func:`frames_payload`."""
    from ase import Atoms

    bounds = np.concatenate(([0], np.cumsum(payload["counts"])))
    return [Atoms(numbers=payload["numbers"][a:b], positions=payload["positions"][a:b],
                  cell=cell, pbc=pbc)
            for a, b, cell, pbc in zip(bounds[:-1], bounds[1:], payload["cells"],
                                       payload["pbc"], strict=True)]


def predict_chunk(key: str, payload: dict[str, np.ndarray], nthreads: int | None = None
                  ) -> np.ndarray:
    """alpha and its standard deviation, (k, 2, 3, 3) in Angstrom^3, of a chunk, on a worker.

    ``[:, 0]`` is alpha; ``[:, 1]`` the model's per-component standard deviation, NaN
    when the model gives none (see :mod:`ase_raman.models.uncertainty`). BLAS runs with
    ``nthreads`` threads (default: the worker's ``RAYON_NUM_THREADS``, i.e. as many as
    featomic uses, else the worker's thread count).
    """
    from threadpoolctl import threadpool_limits

    from ..errors import AseRamanError
    from ..models.uncertainty import supports_uncertainty

    model = get_model(key)
    frames = payload_frames(payload)
    if nthreads is None:
        nthreads = _worker_nthreads()
    std = None
    with threadpool_limits(limits=max(1, int(nthreads)), user_api="blas"):
        if supports_uncertainty(model):
            try:
                alpha, std = model.predict_with_uncertainty(frames)
            except AseRamanError:  # e.g. a model file without posterior arrays
                alpha = model.predict(frames)
        else:
            alpha = model.predict(frames)
    alpha = np.asarray(alpha, dtype=np.float64).reshape(len(frames), 3, 3)
    std = np.full_like(alpha, np.nan) if std is None else np.asarray(
        std, dtype=np.float64).reshape(len(frames), 3, 3)
    return np.stack([alpha, std], axis=1)


def _worker_nthreads() -> int:
    """Threads a task may use here: RAYON_NUM_THREADS (as featomic), else the worker's."""
    with contextlib.suppress(KeyError, ValueError):
        return max(1, int(os.environ["RAYON_NUM_THREADS"]))
    try:
        from distributed import get_worker

        worker = get_worker()
        return int(getattr(worker.state, "nthreads", None) or worker.nthreads)
    except (ImportError, ValueError, AttributeError):
        return 1
