"""The recording pipeline: predict alpha for frames of a run and append them to a store.

Every way of recording a run goes through :class:`Recorder`: the ASE observer
(:class:`ase_raman.observe.PolarizabilityObserver`), the LAMMPS recorder
(:class:`ase_raman.engines.lammps.LammpsPolarizabilityRecorder`), the post-hoc
:func:`predict_to_store` (``ase-raman predict ... -o OUT.h5``) and the LAMMPS dump reader.
Each is a thin adapter that turns its engine's state into ``(step, time, atoms, energy)``
and hands it to :meth:`Recorder.add`. The recorder

1. checks the species of the store's atoms against the model's
   (:func:`ase_raman.models.base.check_species`);
2. predicts alpha (Angstrom^3) ``batch`` frames at a time, with the model's per-frame
   uncertainty (Angstrom^3) when it gives one
   (:func:`ase_raman.models.uncertainty.predict_frames_with_uncertainty`);
3. appends each frame to the :class:`~ase_raman.store.Store`;
4. flushes the store every ``flush_every`` frames and on :meth:`Recorder.flush`;
5. on :meth:`Recorder.finish`, warns (:class:`~ase_raman.models.uncertainty.ExtrapolationWarning`)
   when a stretch of frames lies outside the training distribution.

The i-PI driver evaluates one structure per request and returns alpha to i-PI, which
writes it; it shares step 2 (:func:`~ase_raman.models.uncertainty.predict_frames_with_uncertainty`)
and :func:`ase_raman.engines.ipi.ipi_to_store` shares steps 3-5 through
:meth:`Recorder.add_predicted`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from .errors import UsageError
from .finite import check_frames
from .models.base import TensorModel, check_species
from .models.uncertainty import (
    predict_frames_with_uncertainty,
    uncertainty_threshold,
    warn_if_extrapolating,
)
from .store import Store, StoreError, open_store

__all__ = ["Recorder", "predict_file_to_store", "predict_to_store"]


class Recorder:
    """Predict and store alpha for the frames of one run.

    Parameters
    ----------
    model : TensorModel
        The fitted model (alpha in Angstrom^3).
    store : Store
        The open H5MD store the frames go to (the caller opens and closes it).
    batch : int
        Frames predicted together (the values do not depend on it).
    flush_every : int
        Frames between writes to disk (rounded up to whole batches).
    record_uncertainty : bool
        Store the model's per-frame uncertainty when it gives one.
    source : str, optional
        How the extrapolation warning names the run and its step numbers (default:
        ``"<store path> (steps)"``).
    store_error_hint : str, optional
        Appended to a :class:`~ase_raman.store.StoreError` raised while appending (what
        the user of this front end should do about it).
    """

    def __init__(self, model: TensorModel, store: Store, *, batch: int = 8,
                 flush_every: int = 64, record_uncertainty: bool = True,
                 source: str | None = None, store_error_hint: str | None = None):
        self.model = model
        self.store = store
        self.batch = max(1, int(batch))
        self.flush_every = max(self.batch, int(flush_every))
        self.record_uncertainty = bool(record_uncertainty)
        self.source = source if source is not None else f"{store.path} (steps)"
        self.store_error_hint = store_error_hint
        if store.species is not None:
            check_species(model, Atoms(numbers=store.species), "the recorded atoms")
        self._pending: list[tuple[int, float, Atoms, float | None]] = []
        self._since_flush = 0
        #: frames stored by this recorder (re-recorded duplicates not counted)
        self.frames_recorded = 0
        #: time (fs) of the first and last frame stored by this recorder
        self.first_time_fs: float | None = None
        self.last_time_fs: float | None = None
        #: seconds spent in the model's predictions
        self.predict_seconds = 0.0
        #: (step, uncertainty in Angstrom^3) of every frame predicted with one
        self.uncertainties: list[tuple[int, float]] = []

    @property
    def n_pending(self) -> int:
        """Frames queued and not yet predicted."""
        return len(self._pending)

    def add(self, step: int, time_fs: float, atoms: Atoms,
            energy: float | None = None) -> None:
        """Queue one frame (predicted with the next full batch).

        ``atoms`` must not change afterwards (pass a snapshot); ``energy`` is the
        potential energy in eV when known.
        """
        self._pending.append((int(step), float(time_fs), atoms, energy))
        if len(self._pending) >= self.batch:
            self.drain()

    def drain(self) -> int:
        """Predict the queued frames and append them to the store; returns frames stored."""
        if not self._pending:
            return 0
        todo, self._pending = self._pending, []
        t0 = time.perf_counter()
        frames = [atoms for _, _, atoms, _ in todo]

        def name(k: int) -> str:
            return f"the frame at step {todo[k][0]}"

        if self.record_uncertainty:
            alphas, unc = predict_frames_with_uncertainty(self.model, frames, name)
        else:  # non-finite alpha is refused by Store.append, naming the step
            check_frames(frames, name)
            alphas, unc = np.asarray(self.model.predict(frames)), None
        self.predict_seconds += time.perf_counter() - t0
        stored = 0
        for k, ((step, t, atoms, energy), alpha) in enumerate(zip(todo, alphas, strict=True)):
            stored += self.add_predicted(step, t, atoms, alpha,
                                         None if unc is None else float(unc[k]), energy)
        return stored

    def add_predicted(self, step: int, time_fs: float, atoms: Atoms, alpha: np.ndarray,
                      uncertainty: float | None = None, energy: float | None = None) -> bool:
        """Append one frame whose alpha is already known; returns whether it was stored.

        Flushes the store every ``flush_every`` stored frames.
        """
        if uncertainty is not None:
            self.uncertainties.append((int(step), float(uncertainty)))
        try:
            stored = self.store.append_atoms(atoms, alpha, step, time_fs, energy, uncertainty)
        except StoreError as exc:
            if self.store_error_hint is None:
                raise
            raise StoreError(f"{exc} ({self.store_error_hint})") from None
        if stored:
            self.frames_recorded += 1
            self._since_flush += 1
            if self.first_time_fs is None:
                self.first_time_fs = float(time_fs)
            self.last_time_fs = float(time_fs)
        if self._since_flush >= self.flush_every:
            self.store.flush()
            self._since_flush = 0
        return bool(stored)

    def flush(self) -> None:
        """Predict any queued frames and write everything to disk."""
        self.drain()
        self.store.flush()
        self._since_flush = 0

    def finish(self) -> list[tuple[int, int]]:
        """Flush, then warn about stretches of frames outside the training distribution.

        Returns the stretches as half-open ranges of positions in :attr:`uncertainties`.
        """
        self.flush()
        if not self.uncertainties:
            return []
        steps, values = zip(*self.uncertainties, strict=True)
        return warn_if_extrapolating(np.array(values),
                                     uncertainty_threshold(self.model, self.store.n_atoms),
                                     frame_numbers=steps, source=self.source)


def predict_to_store(
    model: TensorModel,
    frames: Iterable[Atoms],
    path: str | os.PathLike,
    dt_fs: float,
    every: int = 1,
    *,
    batch: int = 16,
    mode: str = "w",
    first_step: int = 0,
    md_timestep_fs: float | None = None,
    engine: str | None = None,
    progress: Any = None,
    parameters: dict[str, Any] | None = None,
) -> int:
    """Predict alpha for a finished run's frames and write them to an H5MD store.

    Parameters
    ----------
    model : TensorModel
        The fitted model.
    frames : iterable of ase.Atoms
        The run's frames in order (e.g. ``ase_raman.io.iter_frames``; consumed lazily,
        ``batch`` at a time).
    path : path
        The output store.
    dt_fs : float
        Time in fs between consecutive frames of ``frames``.
    every : int
        Keep every ``every``-th frame (the first included).
    batch : int
        Frames predicted together.
    mode : {"w", "a"}
        ``"w"`` writes a temporary file renamed onto ``path`` at the end (never a
        half-written output); ``"a"`` appends to (or resumes) an existing store, skipping
        frames whose step it already holds.
    first_step : int
        Frame ``i`` of ``frames`` is stored with step ``first_step + i`` (or
        ``atoms.info["step"]`` when the reader set it) and time ``i * dt_fs`` fs (or
        ``atoms.info["time_fs"]``).
    md_timestep_fs : float, optional
        The MD timestep if known (an attribute only).
    engine : str, optional
        Stored as the ``engine`` attribute.
    progress : callable, optional
        Called as ``progress(n_frames_done)``.
    parameters : dict, optional
        Extra ``/parameters`` attributes recorded when the store is created (dicts as
        JSON).

    Returns
    -------
    int
        The number of frames written.

    Raises
    ------
    ase_raman.errors.ModelSpeciesError
        When the first frame holds species the model was not trained on (checked before
        any work).
    """
    if every < 1:
        raise UsageError(f"every must be >= 1, not {every}")
    if dt_fs is None or not np.isfinite(dt_fs) or dt_fs <= 0:
        raise UsageError("the time between frames is unknown: give it in fs (dt_fs)")
    it = iter(frames)
    try:
        first = next(it)
    except StopIteration:
        raise UsageError("the trajectory holds no frame") from None
    check_species(model, first, "the trajectory")
    path = Path(path)

    def thinned() -> Iterator[tuple[int, Atoms]]:
        yield 0, first
        for i, atoms in enumerate(it, start=1):
            if i % every == 0:
                yield i, atoms

    def run(target: Path, store_mode: str) -> int:
        store = open_store(target, store_mode, species=first, model_metadata=model.metadata,
                           dt_fs=md_timestep_fs, engine=engine, flush_every=10**9)
        try:
            if parameters and not store.initialised:
                store.set_parameters(**parameters)
            recorder = Recorder(model, store, batch=batch, flush_every=max(64, batch),
                                source=f"{path} (steps)")
            start_after = store.last_step if store_mode == "a" else None
            for i, atoms in thinned():
                step = int(atoms.info.get("step", first_step + i))
                if start_after is not None and step <= start_after:
                    continue
                energy = atoms.info.get("energy")
                recorder.add(step, float(atoms.info.get("time_fs", i * dt_fs)), atoms,
                             None if energy is None else float(energy))
                if progress is not None and recorder.n_pending == 0:
                    progress(recorder.frames_recorded)
            recorder.finish()
            if progress is not None:
                progress(recorder.frames_recorded)
        finally:
            store.close()
        return recorder.frames_recorded

    if mode == "a":
        return run(path, "a")
    if mode != "w":
        raise UsageError(f"predict_to_store: mode must be 'w' or 'a', not {mode!r}")
    from .atomic_write import atomic_output

    with atomic_output(path) as tmp:
        tmp.unlink()
        return run(tmp, "w")


#: ``/parameters`` attribute of ``OUT.h5.part`` naming the input and options it is for.
PREDICT_INPUT_ATTR = "predict_input"


def _input_id(trajectory: str | os.PathLike, index: Any, every: int, dt_fs: float,
              fmt: str | None, type_map: Any) -> dict[str, object]:
    """What a partial store must have been made from to be resumed (JSON-able)."""
    src = Path(trajectory).resolve()
    st = src.stat()
    return {"trajectory": str(src), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "index": index, "every": every, "dt_fs": dt_fs, "format": fmt,
            "type_map": type_map}


def _partial_store(output: Path, input_id: dict[str, object], restart: bool,
                   quiet: bool) -> Path:
    """Path of ``OUT.h5.part``, checked for resuming.

    Removed with ``restart``; else kept to resume when it was made from the same input
    and options (:class:`UsageError` otherwise).
    """
    import json
    import sys

    from .store import read_trajectory

    part = output.with_name(output.name + ".part")
    if restart:
        for old in [part, *output.parent.glob(f".{output.name}.*.tmp.h5")]:
            old.unlink(missing_ok=True)  # also hidden temporaries of earlier versions
        return part
    if not part.exists():
        return part
    try:
        with read_trajectory(part) as traj:
            recorded = traj.parameters.get(PREDICT_INPUT_ATTR)
            n_frames = len(traj)
    except StoreError as exc:
        raise UsageError(f"{part}: left by an interrupted run but unreadable ({exc}); pass "
                         "restart=True to start over") from None
    if recorded is None or json.loads(recorded) != json.loads(json.dumps(input_id)):
        raise UsageError(f"{part}: left by an interrupted run with another input or other "
                         "options; rerun that command to resume it, or pass restart=True")
    if not quiet:
        print(f"resuming after the {n_frames} frames in {part}", file=sys.stderr)
    return part


def predict_file_to_store(
    model: TensorModel,
    trajectory: str | os.PathLike,
    output: str | os.PathLike,
    *,
    index: str | None = None,
    every: int = 1,
    dt_fs: float | None = None,
    format: str | None = None,
    type_map: str | Any = None,
    drop_labels: Iterable[str] = (),
    lammps_units: str = "metal",
    restart: bool = False,
    quiet: bool = True,
    distribute: Any = None,
) -> int:
    """Predict alpha for the frames of a trajectory file into an H5MD store, resumably.

    The engine of ``ase-raman predict ... -o OUT.h5``. Frames are written to
    ``OUT.h5.part`` (renamed onto ``output`` at the end). A killed or interrupted run
    leaves the part file; calling again with the same input and options resumes after
    its frames, other inputs or options are refused, and ``restart=True`` removes it.

    Parameters
    ----------
    model : TensorModel
        The fitted model.
    trajectory : path
        Any trajectory :func:`ase_raman.io.iter_frames` reads.
    output : path
        The store to write (``.h5``).
    index : str, optional
        ``START:STOP:STEP`` frames of the file (default all).
    every : int
        Keep every ``every``-th selected frame.
    dt_fs : float, optional
        Time in fs between consecutive frames of the file; read from the run's files
        when they hold it.
    format, type_map, drop_labels, lammps_units
        Frame-reading options of :func:`ase_raman.io.iter_frames` (``type_map`` also as
        text, ``"O,H"`` or ``"1=O,2=H"``).
    restart : bool
        Discard a part file left by an interrupted run.
    quiet : bool
        No note on stderr when resuming.
    distribute : callable, optional
        ``distribute(model, frames) -> (model, frames)``, e.g. predictions on a Dask
        cluster ahead of the writer.

    Returns
    -------
    int
        The number of frames written.
    """
    from .errors import AseRamanError
    from .io import frame_interval_fs, iter_frames
    from .io._common import index_slice
    from .io.lammps import parse_type_map

    output = Path(output)
    selection = index_slice(index) if index is None or isinstance(index, str) else index
    mapping = parse_type_map(type_map) if isinstance(type_map, str) else type_map
    dt_file = dt_fs or frame_interval_fs(trajectory, format=format)
    if dt_file is None:
        raise UsageError(f"{trajectory}: the time between frames is not in the run's "
                         "files; pass dt_fs (fs between consecutive frames of the file)")
    dt = dt_file * (selection.step or 1)
    frames: Iterable[Atoms] = iter_frames(trajectory, format=format, index=selection,
                                          type_map=mapping, drop_labels=tuple(drop_labels),
                                          lammps_units=lammps_units)
    if distribute is not None:
        model, frames = distribute(model, frames)
    input_id = _input_id(trajectory, index, every, dt, format, type_map)
    part = _partial_store(output, input_id, restart, quiet)
    resuming = part.exists()
    try:
        n_done = predict_to_store(model, frames, part, dt_fs=dt, every=every,
                                  engine="ase-raman predict", mode="a",
                                  parameters={PREDICT_INPUT_ATTR: input_id})
    except AseRamanError:
        if not resuming:  # bad input: nothing half-written stays behind
            part.unlink(missing_ok=True)
        raise  # (an interrupted or killed run keeps OUT.h5.part to resume)
    os.replace(part, output)
    return n_done
