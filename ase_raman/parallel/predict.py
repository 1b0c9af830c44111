"""Predict alpha along a trajectory on a Dask cluster, written by one writer in order.

Data flow::

    frames (read here, streamed) -> fixed chunks of CHUNK_FRAMES frames
      -> predict_chunk on the workers (featurise + ridge; the model file was shipped once
         per worker by a worker plugin)
      -> results collected here in frame order -> ase_raman.store.predict_to_store
         (the same writer as the in-process path: steps, times, resume, atomic rename)

Determinism: the chunks depend only on the frames and ``chunk_frames`` (never on the
number of workers), each chunk is computed by the same code with the same model file,
and a single writer appends them in order, so 1 worker, 4 workers or a remote cluster
give the same file (byte-identical when written by the same process; from different
processes only the ``writer_pid``/``writer_host`` attributes differ). At most
``max_in_flight`` chunks are submitted ahead of the writer, so memory stays bounded
whatever the trajectory length. A worker killed mid-task is replaced and its chunks
are recomputed elsewhere by Dask (the scheduler's ``allowed-failures``, default 3).

Units: alpha in Angstrom^3, times in fs.
"""

from __future__ import annotations

import itertools
import os
import weakref
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from ..errors import UsageError
from ..models.base import check_model_species
from ._deps import require_dask

__all__ = [
    "CHUNK_FRAMES",
    "PrefetchedModel",
    "predict_distributed",
    "predict_to_store_distributed",
    "prefetch_predictions",
    "ship_model",
]

#: Frames per task. Fixed (not derived from the worker count) so that the same chunks
#: are computed whatever the cluster; large enough that Dask's per-task cost (a few ms)
#: is small next to featurisation.
CHUNK_FRAMES = 32

#: client -> keys of the model files already registered through it.
_SHIPPED: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
#: model SHA-256 -> metadata, loaded once per process for the writer.
_METADATA: dict[str, dict[str, Any]] = {}


def ship_model(client: Any, model_path: str | os.PathLike) -> str:
    """Send the model file to every worker (now and later ones) once; returns its key.

    The file's bytes travel inside a worker plugin registered with the scheduler, so a
    worker that replaces a killed one loads it too. Registering the same file again is
    a no-op.
    """
    require_dask()
    from ._worker import ModelPlugin

    path = Path(model_path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        from ..errors import ModelFileError

        raise ModelFileError(f"{model_path}: cannot read the model file ({exc})") from None
    plugin = ModelPlugin(data, suffix=path.suffix or ".npz")
    shipped = _SHIPPED.setdefault(client, set())
    if plugin.key not in shipped:  # the scheduler keeps it for workers that join later
        client.register_plugin(plugin, name=plugin.name)
        shipped.add(plugin.key)
    return plugin.key


def _chunks(frames: Iterable[Atoms], size: int) -> Iterator[list[Atoms]]:
    it = iter(frames)
    while True:
        chunk = list(itertools.islice(it, size))
        if not chunk:
            return
        yield chunk


class _Pipeline:
    """Submit chunks ahead, hand results back in order; cancel leftovers on close."""

    def __init__(self, client: Any, key: str, chunk_frames: int, max_in_flight: int | None):
        from ._worker import frames_payload, predict_chunk

        if chunk_frames < 1:
            raise UsageError(f"chunk_frames must be >= 1, got {chunk_frames}")
        self.client = client
        self.key = key
        self.chunk_frames = int(chunk_frames)
        if max_in_flight is None:
            from .cluster import total_threads

            max_in_flight = 2 * total_threads(client) + 1
        self.max_in_flight = max(1, int(max_in_flight))
        self._payload = frames_payload
        self._task = predict_chunk
        self._futures: deque[Any] = deque()
        self._token = os.urandom(6).hex()
        self._n_submitted = 0

    def submit(self, chunk: list[Atoms]) -> Any:
        fut = self.client.submit(self._task, self.key, self._payload(chunk), pure=False,
                                 key=f"ase-raman-predict-{self._token}-{self._n_submitted}")
        self._n_submitted += 1
        self._futures.append(fut)
        return fut

    def run(self, chunks: Iterable[list[Atoms]]) -> Iterator[tuple[list[Atoms], np.ndarray]]:
        """Yield ``(chunk, results (k, 2, 3, 3))`` in input order: alpha and its standard
        deviation (NaN when the model gives none), Angstrom^3."""
        pending: deque[tuple[list[Atoms], Any]] = deque()
        try:
            for chunk in chunks:
                pending.append((chunk, self.submit(chunk)))
                while len(pending) >= self.max_in_flight:
                    done, fut = pending.popleft()
                    yield done, fut.result()
                    fut.release()
            while pending:
                done, fut = pending.popleft()
                yield done, fut.result()
                fut.release()
        finally:
            self.close()

    def close(self) -> None:
        live = [f for f in self._futures if not f.done()]
        if live:
            self.client.cancel(live)
        self._futures.clear()


def predict_distributed(client: Any, model_path: str | os.PathLike, frames: Iterable[Atoms],
                        chunk_frames: int = CHUNK_FRAMES,
                        max_in_flight: int | None = None) -> np.ndarray:
    """alpha (n, 3, 3), Angstrom^3, of ``frames`` computed on the workers of ``client``.

    ``model_path``: a model file (shipped once per worker, see :func:`ship_model`).
    ``frames`` may be any iterable (consumed ``chunk_frames`` at a time, at most
    ``max_in_flight`` chunks ahead; default twice the cluster's threads plus one).
    """
    require_dask()
    key = ship_model(client, model_path)
    pipe = _Pipeline(client, key, chunk_frames, max_in_flight)
    parts = [results[:, 0] for _, results in pipe.run(_chunks(frames, pipe.chunk_frames))]
    return np.concatenate(parts) if parts else np.zeros((0, 3, 3))


class PrefetchedModel:
    """Stands in for the model in the in-process writers
    (:func:`ase_raman.store.predict_to_store`, ``ase-raman predict``'s extxyz writer):
    ``predict(frames)`` returns the workers' results for frames that
    :func:`prefetch_predictions` already streamed. ``metadata`` is the model's."""

    def __init__(self, metadata: dict[str, Any] | None):
        self.metadata = metadata
        #: the model's training summary (its uncertainty threshold, for the writers)
        self.training = dict((metadata or {}).get("training", {}) or {})
        self._results: dict[int, np.ndarray] = {}

    def put(self, frames: list[Atoms], results: np.ndarray) -> None:
        """Keep the workers' ``results`` (k, 2, 3, 3): alpha and its standard deviation."""
        for atoms, result in zip(frames, results, strict=True):
            self._results[id(atoms)] = result

    def _take(self, frames: list[Atoms]) -> np.ndarray:
        try:
            return np.stack([self._results.pop(id(a)) for a in frames])
        except KeyError:
            raise RuntimeError("a frame reached the writer without a prediction: pass the "
                               "same 'every' to prefetch_predictions as to the writer") from None

    def predict(self, frames: Iterable[Atoms]) -> np.ndarray:
        return self._take(list(frames))[:, 0]

    def predict_with_uncertainty(self, frames: Iterable[Atoms]
                                 ) -> tuple[np.ndarray, np.ndarray]:
        """alpha and its standard deviation, as the model's own method gives them."""
        frames = list(frames)
        first = self._results.get(id(frames[0])) if frames else None
        if first is not None and np.isnan(first[1]).any():
            raise UsageError("the model gives no uncertainty")  # nothing taken yet
        results = self._take(frames)
        return results[:, 0], results[:, 1]


def prefetch_predictions(client: Any, model_path: str | os.PathLike, frames: Iterable[Atoms],
                         every: int = 1, *, metadata: dict[str, Any] | None = None,
                         chunk_frames: int = CHUNK_FRAMES, max_in_flight: int | None = None,
                         on_close: Any = None) -> tuple[PrefetchedModel, Iterator[Atoms]]:
    """``(model, frames)`` to hand to an in-process writer that calls ``model.predict``.

    ``frames`` are streamed through unchanged and in order; every ``every``-th of them
    (the first included: those the writer will keep) is sent to the workers in fixed
    chunks of ``chunk_frames`` kept frames, at most ``max_in_flight`` chunks ahead, and a
    chunk's frames are yielded only once its alpha (Angstrom^3) has come back, so the
    returned model's ``predict`` finds them. The species of the first frame are checked
    against the model's. ``metadata``: the model's (default: loaded from the file).
    ``on_close``: called once when the stream ends or is closed (e.g. to stop a
    cluster). Frames the writer drops must be exactly the non-kept ones.
    """
    require_dask()
    from ..models.modelfile import read_model_file

    if every < 1:
        raise UsageError(f"every must be >= 1, not {every}")
    _, file_meta = read_model_file(model_path)
    species = list(file_meta.get("species") or [])
    key = ship_model(client, model_path)
    if metadata is None:
        if key not in _METADATA:
            from ..models.registry import load_model

            _METADATA[key] = load_model(model_path).metadata
        metadata = _METADATA[key]
    proxy = PrefetchedModel(metadata)

    def groups() -> Iterator[tuple[list[Atoms], list[Atoms]]]:
        """(all frames, kept frames) with chunk_frames kept frames per group."""
        allf: list[Atoms] = []
        kept: list[Atoms] = []
        for i, atoms in enumerate(frames):
            if i == 0:
                check_model_species(species, atoms, "the trajectory")
            allf.append(atoms)
            if i % every == 0:
                kept.append(atoms)
                if len(kept) == chunk_frames:
                    yield allf, kept
                    allf, kept = [], []
        if allf:
            yield allf, kept

    def stream() -> Iterator[Atoms]:
        try:
            pipe = _Pipeline(client, key, chunk_frames, max_in_flight)
            for (allf, kept), alphas in _ordered(pipe, groups()):
                proxy.put(kept, alphas)
                yield from allf
        finally:
            if on_close is not None:
                on_close()

    return proxy, stream()


def _ordered(pipe: _Pipeline, groups: Iterator[tuple[list[Atoms], list[Atoms]]]
             ) -> Iterator[tuple[tuple[list[Atoms], list[Atoms]], np.ndarray]]:
    """Run the kept frames of each group through ``pipe``; yield (group, alpha) in order."""
    held: deque[tuple[list[Atoms], list[Atoms]]] = deque()

    def kept_chunks() -> Iterator[list[Atoms]]:
        for group in groups:
            held.append(group)
            yield group[1]

    for _, alphas in pipe.run(kept_chunks()):
        yield held.popleft(), alphas
    while held:  # a trailing group without kept frames
        yield held.popleft(), np.zeros((0, 2, 3, 3))


def predict_to_store_distributed(
    client: Any,
    model_path: str | os.PathLike,
    frames: Iterable[Atoms],
    path: str | os.PathLike,
    dt_fs: float,
    every: int = 1,
    *,
    chunk_frames: int = CHUNK_FRAMES,
    max_in_flight: int | None = None,
    batch: int = 16,
    mode: str = "w",
    first_step: int = 0,
    md_timestep_fs: float | None = None,
    engine: str | None = None,
    progress: Any = None,
) -> int:
    """:func:`ase_raman.store.predict_to_store` with the predictions made on a cluster.

    Same arguments and file as the in-process function (``dt_fs``: fs between
    consecutive frames of ``frames``; ``every``: keep every ``every``-th frame, the first
    included; steps and times as there), plus ``client`` (a
    :class:`distributed.Client`), ``model_path`` (the model file, shipped once per
    worker), ``chunk_frames`` (kept frames per task) and ``max_in_flight`` (chunks
    submitted ahead of the writer). Only kept frames are sent to the workers. Returns
    the number of frames written.
    """
    require_dask()
    from ..store import predict_to_store

    proxy, stream = prefetch_predictions(client, model_path, frames, every,
                                         chunk_frames=chunk_frames,
                                         max_in_flight=max_in_flight)
    try:
        return predict_to_store(proxy, stream, path, dt_fs, every=every, batch=batch,
                                mode=mode, first_step=first_step,
                                md_timestep_fs=md_timestep_fs, engine=engine,
                                progress=progress)
    finally:
        stream.close()
