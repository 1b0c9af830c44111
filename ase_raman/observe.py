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
H5MD store (:mod:`ase_raman.store`), flushed every ``flush_every`` frames, at the end
of each ``dyn.run(...)``, and on :meth:`~PolarizabilityObserver.close`, which prints a
one-line summary.

Resuming: open the same file (``mode="a"``, the default) and start the dynamics from
``ase_raman.store.restart_atoms(path)``: the step series continues after the last
stored step, the re-recorded starting frame is skipped, nothing is duplicated.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from ase import Atoms, units

from .errors import ModelSpeciesError, UsageError
from .models.uncertainty import (
    predict_frames_with_uncertainty,
    uncertainty_threshold,
    warn_if_extrapolating,
)
from .store import Store, StoreError, open_store

__all__ = ["PolarizabilityObserver"]


class PolarizabilityObserver:
    """Predict and store alpha (Angstrom^3) of ``atoms`` each time it is called.

    Parameters
    ----------
    atoms:
        The atoms the dynamics moves (read at each call; never modified).
    model:
        A :class:`~ase_raman.models.base.TensorModel` (e.g. from ``load_model``).
    path:
        The H5MD output file (or an open :class:`~ase_raman.store.Store`).
    dyn:
        The ASE dynamics; its ``nsteps`` gives the step and ``dt`` the timestep.
        Without it, pass ``dt_fs`` and the observer counts its own calls times
        ``interval``.
    interval:
        MD steps between calls (stored as an attribute; taken from ``dyn.observers``
        when attached, else needed only without ``dyn``).
    dt_fs:
        MD timestep in fs (default: ``dyn.dt / ase.units.fs``).
    batch:
        frames predicted together (1 = predict at each call).
    flush_every:
        frames between writes to disk (rounded up to whole batches); a crash loses at
        most these.
    mode:
        ``"a"`` resume or create (default), ``"w"`` overwrite, ``"x"`` new file only.
    step_offset:
        added to ``dyn.nsteps``; default 0 for a new file, and when resuming, the last
        stored step minus ``dyn.nsteps`` at the first call.
    logfile:
        where the closing summary goes (default stdout; None for silence).
    record_uncertainty:
        also store the model's per-frame uncertainty of alpha (Angstrom^3) when it gives
        one (the lambda-soap learner does), and warn on close, naming the MD steps, when
        a stretch of frames lies outside the training distribution
        (:mod:`ase_raman.models.uncertainty`).
    """

    def __init__(
        self,
        atoms: Atoms,
        model: Any,
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
        self.record_uncertainty = bool(record_uncertainty)
        self._uncertainties: list[tuple[int, float]] = []
        self.dyn = dyn
        self.batch = max(1, int(batch))
        self.interval = interval
        if dt_fs is None:
            if dyn is None or getattr(dyn, "dt", None) is None:
                raise UsageError("PolarizabilityObserver needs dyn= (with a timestep) or dt_fs=")
            dt_fs = float(dyn.dt) / units.fs
        self.dt_fs = float(dt_fs)
        self._check_species()
        meta = getattr(model, "metadata", None)
        from ase.md.md import MolecularDynamics

        #: record velocities: always inside MD (zero before the first step if unset)
        self.record_velocities = isinstance(dyn, MolecularDynamics) or atoms.has("momenta")
        if isinstance(path, Store):
            self.store = path
        else:
            self.store = open_store(
                path, mode, species=atoms, pbc=atoms.pbc, model_metadata=meta,
                dt_fs=self.dt_fs, sampling_interval=interval, engine="ase",
                velocities=self.record_velocities,
                flush_every=max(1, int(flush_every)) * 10**6,  # we flush ourselves
            )
        self.flush_every = max(self.batch, int(flush_every))
        self._resuming = self.store.last_step is not None
        self._step_offset = step_offset
        self._pending: list[tuple[int, float, Atoms, float | None]] = []
        self._since_flush = 0
        self._calls = 0
        self._recorded = 0
        self._first_time: float | None = None
        self._last_time: float | None = None
        self.predict_seconds = 0.0
        self.observer_seconds = 0.0
        self._logfile = logfile
        self._closed = False
        self._end_hook_attached = False

    # -- the call ASE makes --------------------------------------------------------------
    def __call__(self) -> None:
        t0 = time.perf_counter()
        if not self._end_hook_attached and self.dyn is not None and hasattr(self.dyn, "attach"):
            # runs after this observer at every step: flush when dyn.run() ends, so the
            # file holds the whole run even before close()
            self.dyn.attach(self._flush_at_end_of_run, interval=1)
            self._end_hook_attached = True
        step = self._current_step()
        snap = Atoms(numbers=self.atoms.numbers, positions=self.atoms.positions,
                     cell=self.atoms.cell.array, pbc=self.atoms.pbc)
        if self.record_velocities:
            snap.set_masses(self.atoms.get_masses())
            snap.set_momenta(self.atoms.get_momenta())  # zeros when the atoms have none
        self._pending.append((step, step * self.dt_fs, snap, self._energy_if_known()))
        self._calls += 1
        if len(self._pending) >= self.batch:
            self._drain()
        self.observer_seconds += time.perf_counter() - t0

    def _flush_at_end_of_run(self) -> None:
        if self._closed:
            return
        max_steps = getattr(self.dyn, "max_steps", None)
        if max_steps is not None and self.dyn.nsteps >= max_steps and (
                self._pending or self._since_flush):
            self.flush()

    def _current_step(self) -> int:
        if self.dyn is not None and hasattr(self.dyn, "nsteps"):
            nsteps = int(self.dyn.nsteps)
        else:
            if self.interval is None:
                raise UsageError("without dyn=, PolarizabilityObserver needs interval=")
            nsteps = self._calls * int(self.interval)
        if self._step_offset is None:
            self._step_offset = (self.store.last_step - nsteps) if self._resuming else 0
        if self.interval is None and self.dyn is not None:
            for entry in getattr(self.dyn, "observers", []):
                if entry[0] is self:
                    self.interval = int(entry[1])
                    if not self.store.initialised:  # attributes only before SWMR writing
                        self.store.set_parameters(sampling_interval_steps=self.interval)
        return self._step_offset + nsteps

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

    def _check_species(self) -> None:
        allowed = (getattr(self.model, "metadata", {}) or {}).get("species")
        if allowed:
            missing = sorted(set(self.atoms.get_chemical_symbols()) - set(allowed))
            if missing:
                raise ModelSpeciesError(
                    f"the atoms contain {', '.join(missing)}, which the model was not trained "
                    f"on (model species: {', '.join(allowed)})")

    def _drain(self) -> None:
        if not self._pending:
            return
        todo, self._pending = self._pending, []
        t0 = time.perf_counter()
        snaps = [snap for _, _, snap, _ in todo]
        if self.record_uncertainty:
            alphas, unc = predict_frames_with_uncertainty(self.model, snaps)
        else:
            alphas, unc = np.asarray(self.model.predict(snaps)), None
        self.predict_seconds += time.perf_counter() - t0
        for k, ((step, t, snap, energy), alpha) in enumerate(zip(todo, alphas, strict=True)):
            frame_unc = None if unc is None else float(unc[k])
            if frame_unc is not None:
                self._uncertainties.append((step, frame_unc))
            try:
                stored = self.store.append_atoms(snap, alpha, step, t, energy, frame_unc)
            except StoreError as exc:
                raise StoreError(
                    f"{exc} (the observer records step_offset + dyn.nsteps = {step}; when "
                    "resuming, start the dynamics from ase_raman.store.restart_atoms(path) "
                    "or pass step_offset=, or mode='w' for a new run)") from None
            if stored:
                self._recorded += 1
                self._since_flush += 1
                if self._first_time is None:
                    self._first_time = t
                self._last_time = t
        if self._since_flush >= self.flush_every:
            self.store.flush()
            self._since_flush = 0

    # -- public --------------------------------------------------------------------------
    def flush(self) -> None:
        """Predict any pending frames and write everything to disk."""
        t0 = time.perf_counter()
        self._drain()
        self.store.flush()
        self._since_flush = 0
        self.observer_seconds += time.perf_counter() - t0

    def summary(self) -> dict[str, Any]:
        """Frames recorded in this session, time covered (fs), the file and totals."""
        covered = 0.0 if self._first_time is None else self._last_time - self._first_time
        return {
            "file": str(self.store.path),
            "frames_recorded": self._recorded,
            "frames_in_file": self.store.n_frames,
            "first_time_fs": self._first_time,
            "last_time_fs": self._last_time,
            "time_covered_fs": covered,
            "predict_seconds": self.predict_seconds,
            "observer_seconds": self.observer_seconds,
        }

    def close(self) -> dict[str, Any]:
        """Flush, close the store and print (to ``logfile``) and return the summary."""
        if self._closed:
            return self.summary()
        try:
            self.flush()
        finally:
            self.store.close()
            self._closed = True
        if self._uncertainties:
            steps, values = zip(*self._uncertainties, strict=True)
            warn_if_extrapolating(np.array(values),
                                  uncertainty_threshold(self.model, self.store.n_atoms),
                                  frame_numbers=steps, source=f"{self.store.path} (MD steps)")
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

    def __del__(self) -> None:  # best effort: never lose buffered frames silently
        if not getattr(self, "_closed", True):
            try:
                self.close()
            except Exception:
                pass
