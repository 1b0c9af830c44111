"""Record the polarizability along any ASE dynamics: :class:`PolarizabilityObserver`.

Usage::

    from ase_raman import PolarizabilityObserver, load_model

    dyn = VelocityVerlet(atoms, timestep=2 * units.fs)
    with PolarizabilityObserver(atoms, load_model("model.npz"), "run.h5", dyn=dyn) as obs:
        dyn.attach(obs, interval=10)
        dyn.run(50_000)

Each call snapshots the atoms (step ``dyn.nsteps``, time ``step * dt`` in fs, positions,
velocities when the atoms have momenta, the cell, and the potential energy when the MD
calculator already holds it for these positions: never a new force call). Snapshots
are predicted ``batch`` at a time (the same values as one by one) and written to an
H5MD store (:mod:`ase_raman.store`), flushed every ``flush_every`` frames and on
:meth:`~PolarizabilityObserver.close`, which prints a one-line summary. Close it by
using it as a context manager (above), by calling ``close()``, or by closing the
dynamics: when the dynamics offers ``closelater`` (every ASE dynamics does), the
observer is registered there, so ``dyn.close()`` or ``with VelocityVerlet(...) as dyn:``
closes it too.

Only ASE's public dynamics API is used: ``dyn.attach`` (by you), ``dyn.nsteps``,
``dyn.dt`` and ``dyn.closelater``. The sampling interval stored in the file is the
``interval=`` given, else the difference of ``dyn.nsteps`` between the first two calls
(the first frame waits for the second call so that the interval is known before the
file's layout is written).

Resuming: open the same file (``mode="a"``, the default) and start the dynamics from
``ase_raman.store.restart_atoms(path)``: the step series continues after the last
stored step, the re-recorded starting frame is skipped, nothing is duplicated.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any, TextIO

from ase import Atoms, units

from .errors import UsageError
from .models.base import TensorModel, check_species
from .recording import Recorder
from .store import Store, open_store

__all__ = ["PolarizabilityObserver"]

_RESUME_HINT = ("the observer records step_offset + dyn.nsteps; when resuming, start the "
                "dynamics from ase_raman.store.restart_atoms(path) or pass step_offset=, or "
                "mode='w' for a new run")


class PolarizabilityObserver:
    """Predict and store alpha (Angstrom^3) of ``atoms`` each time it is called.

    A thin adapter over :class:`ase_raman.recording.Recorder`: it snapshots the atoms at
    each call and hands the snapshot to the recorder.

    Parameters
    ----------
    atoms : ase.Atoms
        The atoms the dynamics moves (read at each call; never modified).
    model : TensorModel
        The fitted model (e.g. from ``load_model``).
    path : path or Store
        The H5MD output file (or an open :class:`~ase_raman.store.Store`).
    dyn : ase.md.md.MolecularDynamics, optional
        The ASE dynamics; its ``nsteps`` gives the step and ``dt`` the timestep. When it
        offers ``closelater``, the observer is closed with it. Without it, pass ``dt_fs``
        and the observer counts its own calls times ``interval``.
    interval : int, optional
        MD steps between calls (stored as an attribute; learned from ``dyn.nsteps`` of
        the first two calls when not given; needed without ``dyn``).
    dt_fs : float, optional
        MD timestep in fs (default: ``dyn.dt / ase.units.fs``).
    batch : int
        Frames predicted together (1 = predict at each call).
    flush_every : int
        Frames between writes to disk (rounded up to whole batches); a crash loses at
        most these.
    mode : {"a", "w", "x"}
        ``"a"`` resume or create (default), ``"w"`` overwrite, ``"x"`` new file only.
    step_offset : int, optional
        Added to ``dyn.nsteps``; default 0 for a new file, and when resuming, the last
        stored step minus ``dyn.nsteps`` at the first call.
    logfile : file, "-" or None
        Where the closing summary goes (default stdout; None for silence).
    record_uncertainty : bool
        Also store the model's per-frame uncertainty of alpha (Angstrom^3) when it gives
        one, and warn on close, naming the MD steps, when a stretch of frames lies outside
        the training distribution (:mod:`ase_raman.models.uncertainty`).
    """

    def __init__(
        self,
        atoms: Atoms,
        model: TensorModel,
        path: str | os.PathLike | Store,
        dyn: Any = None,
        *,
        interval: int | None = None,
        dt_fs: float | None = None,
        batch: int = 8,
        flush_every: int = 64,
        mode: str = "a",
        step_offset: int | None = None,
        logfile: TextIO | None | str = "-",
        record_uncertainty: bool = True,
    ):
        self.atoms = atoms
        self.model = model
        self.dyn = dyn
        self.interval = interval
        if dt_fs is None:
            if dyn is None or getattr(dyn, "dt", None) is None:
                raise UsageError("PolarizabilityObserver needs dyn= (with a timestep) or dt_fs=")
            dt_fs = float(dyn.dt) / units.fs
        self.dt_fs = float(dt_fs)
        check_species(model, atoms, "the atoms")
        from ase.md.md import MolecularDynamics

        #: record velocities: always inside MD (zero before the first step if unset)
        self.record_velocities = isinstance(dyn, MolecularDynamics) or atoms.has("momenta")
        if isinstance(path, Store):
            self.store = path
        else:
            self.store = open_store(
                path, mode, species=atoms, pbc=atoms.pbc, model_metadata=model.metadata,
                dt_fs=self.dt_fs, sampling_interval=interval, engine="ase",
                velocities=self.record_velocities,
                flush_every=10**9,  # the recorder flushes
            )
        self.recorder = Recorder(model, self.store, batch=batch, flush_every=flush_every,
                                 record_uncertainty=record_uncertainty,
                                 source=f"{self.store.path} (MD steps)",
                                 store_error_hint=_RESUME_HINT)
        self._resuming = self.store.last_step is not None
        self._step_offset = step_offset
        self._calls = 0
        self.observer_seconds = 0.0
        self._logfile = logfile
        self._closed = False
        #: the first call's frame and its ``dyn.nsteps``, held until the interval is known
        self._held: tuple[int, tuple] | None = None
        closelater = getattr(dyn, "closelater", None)
        if callable(closelater):
            closelater(self)  # dyn.close() closes the observer too

    @property
    def batch(self) -> int:
        """Frames predicted together."""
        return self.recorder.batch

    @property
    def flush_every(self) -> int:
        """Frames between writes to disk."""
        return self.recorder.flush_every

    @property
    def record_uncertainty(self) -> bool:
        """Whether the model's per-frame uncertainty is stored."""
        return self.recorder.record_uncertainty

    @property
    def predict_seconds(self) -> float:
        """Seconds spent in the model's predictions."""
        return self.recorder.predict_seconds

    # -- the call ASE makes --------------------------------------------------------------
    def __call__(self) -> None:
        """Snapshot the atoms at the current MD step and queue them for prediction."""
        t0 = time.perf_counter()
        nsteps = self._nsteps()
        step = self._step(nsteps)
        snap = Atoms(numbers=self.atoms.numbers, positions=self.atoms.positions,
                     cell=self.atoms.cell.array, pbc=self.atoms.pbc)
        if self.record_velocities:
            snap.set_masses(self.atoms.get_masses())
            snap.set_momenta(self.atoms.get_momenta())  # zeros when the atoms have none
        self._calls += 1
        frame = (step, step * self.dt_fs, snap, self._energy_if_known())
        if self.interval is None and self._held is None and not self.store.initialised:
            self._held = (nsteps, frame)  # recorded when the interval is known
        else:
            self._learn_interval(nsteps)
            self.recorder.add(*frame)
        self.observer_seconds += time.perf_counter() - t0

    def _nsteps(self) -> int:
        """The dynamics' step count, or this observer's calls times ``interval``."""
        if self.dyn is not None and hasattr(self.dyn, "nsteps"):
            return int(self.dyn.nsteps)
        if self.interval is None:
            raise UsageError("without dyn=, PolarizabilityObserver needs interval=")
        return self._calls * int(self.interval)

    def _step(self, nsteps: int) -> int:
        """The stored step of ``nsteps``: after the file's last step when resuming."""
        if self._step_offset is None:
            self._step_offset = (self.store.last_step - nsteps) if self._resuming else 0
        return self._step_offset + nsteps

    def _learn_interval(self, nsteps: int | None) -> None:
        """Record the held first frame (if any).

        Its distance in steps to ``nsteps`` (the second call) is the sampling interval
        when none was given.
        """
        if self._held is None:
            return
        first, frame = self._held
        self._held = None
        if (self.interval is None and nsteps is not None and nsteps > first
                and not self.store.initialised):  # attributes only before SWMR writing
            self.interval = nsteps - first
            self.store.set_parameters(sampling_interval_steps=self.interval)
        self.recorder.add(*frame)

    def _energy_if_known(self) -> float | None:
        """The potential energy (eV) the calculator already has for these positions."""
        calc = self.atoms.calc
        results = getattr(calc, "results", None)
        if not results or "energy" not in results or not hasattr(calc, "check_state"):
            return None
        try:
            if calc.check_state(self.atoms):
                return None
        except Exception:  # a calculator with an unusual state check: do not guess
            return None
        return float(results["energy"])

    # -- public --------------------------------------------------------------------------
    def flush(self) -> None:
        """Predict any pending frames and write everything to disk."""
        t0 = time.perf_counter()
        self._learn_interval(None)
        self.recorder.flush()
        self.observer_seconds += time.perf_counter() - t0

    def summary(self) -> dict[str, Any]:
        """Frames recorded in this session, time covered (fs), the file and totals."""
        rec = self.recorder
        first, last = rec.first_time_fs, rec.last_time_fs
        return {
            "file": str(self.store.path),
            "frames_recorded": rec.frames_recorded,
            "frames_in_file": self.store.n_frames,
            "first_time_fs": first,
            "last_time_fs": last,
            "time_covered_fs": 0.0 if first is None else last - first,
            "predict_seconds": rec.predict_seconds,
            "observer_seconds": self.observer_seconds,
        }

    def close(self) -> dict[str, Any]:
        """Flush, close the store and print (to ``logfile``) and return the summary."""
        if self._closed:
            return self.summary()
        try:
            t0 = time.perf_counter()
            self._learn_interval(None)
            self.recorder.finish()
            self.observer_seconds += time.perf_counter() - t0
        finally:
            self.store.close()
            self._closed = True
        info = self.summary()
        log = sys.stdout if self._logfile == "-" else self._logfile
        if log is not None:
            print(f"PolarizabilityObserver: {info['frames_recorded']} frames "
                  f"({info['time_covered_fs']:.6g} fs covered) written to "
                  f"{Path(info['file'])} ({info['frames_in_file']} frames in file)",
                  file=log, flush=True)
        return info

    def __enter__(self) -> PolarizabilityObserver:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        """Warn (no I/O here) when the observer was never closed."""
        if not getattr(self, "_closed", True):
            pending = self.recorder.n_pending if hasattr(self, "recorder") else 0
            warnings.warn(
                f"PolarizabilityObserver for {self.store.path} was not closed: frames after "
                f"its last flush ({pending} not yet predicted) are not in the file; use it "
                "as a context manager or call close()", ResourceWarning, stacklevel=2)
