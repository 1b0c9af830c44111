"""Reading a store: :func:`read_trajectory`, lazy per-frame arrays, restarts."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from ase import Atoms

from .repair import _h5_open_read
from .schema import UNCERTAINTY_GROUP, StoreError, _text


class LazyFrames:
    """Per-frame array data read from the file on demand, never all at once.

    Index like an array (``x[i]``, ``x[i:j]``, ``x[[i, j]]``) to read those frames only,
    or iterate blocks with :meth:`iter_chunks`. ``np.asarray(x)`` reads everything.
    """

    def __init__(self, dataset: h5py.Dataset, n_frames: int):
        self._ds = dataset
        self._n = n_frames

    @property
    def shape(self) -> tuple[int, ...]:
        return (self._n, *self._ds.shape[1:])

    @property
    def dtype(self) -> np.dtype:
        return self._ds.dtype

    @property
    def chunk_frames(self) -> int:
        """Frames per HDF5 chunk: the natural block size for streaming."""
        return int(self._ds.chunks[0]) if self._ds.chunks else 1

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: Any) -> np.ndarray:
        if isinstance(index, tuple):
            first, rest = index[0], index[1:]
        else:
            first, rest = index, ()
        if isinstance(first, (int, np.integer)):
            i = int(first)
            if i < 0:
                i += self._n
            if not 0 <= i < self._n:
                raise IndexError(f"frame {first} out of range for {self._n} frames")
            return self._ds[(i, *rest)]
        if isinstance(first, slice):
            start, stop, step = first.indices(self._n)
            if step == 1:
                return self._ds[(slice(start, stop), *rest)]
            idx = np.arange(start, stop, step)
        else:
            idx = np.asarray(first)
            if idx.dtype == bool:
                idx = np.flatnonzero(idx[: self._n])
            idx = np.where(idx < 0, idx + self._n, idx)
            if np.any((idx < 0) | (idx >= self._n)):
                raise IndexError(f"frame index out of range for {self._n} frames")
        if idx.size == 0:
            return np.empty((0, *self._ds.shape[1:]), self._ds.dtype)[(slice(None), *rest)]
        order = np.argsort(idx, kind="stable")
        uniq, inverse = np.unique(idx[order], return_inverse=True)
        data = self._ds[(uniq.tolist(), *rest)]
        out = np.empty((len(idx), *data.shape[1:]), data.dtype)
        out[order] = data[inverse]
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = self._ds[: self._n]
        return arr if dtype is None else arr.astype(dtype)

    def iter_chunks(self, frames: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(start, block)`` with at most ``frames`` frames per block (default: the
        file's chunk size), so memory stays bounded whatever the file size."""
        size = max(1, int(frames or self.chunk_frames))
        for start in range(0, self._n, size):
            yield start, self._ds[start : min(start + size, self._n)]

    def __iter__(self) -> Iterator[np.ndarray]:
        for _, block in self.iter_chunks():
            yield from block

    def __repr__(self) -> str:
        return f"<LazyFrames shape={self.shape} dtype={self.dtype}>"


class StoredTrajectory:
    """A store opened for reading (see :func:`read_trajectory`).

    Arrays in memory (small, per frame): ``step`` (n,) int, ``time_fs`` (n,) fs,
    ``polarizability`` (n, 3, 3) Angstrom^3, ``cells`` (n, 3, 3) Angstrom,
    ``polarizability_uncertainty`` (k,) Angstrom^3 with ``polarizability_uncertainty_step``
    (k,) (when the model gave one), ``frame_interval_fs`` (fs between stored frames),
    ``potential_energy`` (m,) eV with ``potential_energy_step`` (m,).
    Lazy (read on demand, in chunks): ``positions`` (n, N, 3) Angstrom and
    ``velocities`` (n, N, 3) Angstrom/fs or None.
    Other members: ``species`` (N,) atomic numbers, ``symbols``, ``pbc``, ``dt_fs`` (the
    MD timestep, fs, or None), ``sampling_interval`` (steps), ``model_metadata`` (dict),
    ``parameters`` (all stored attributes). Close it (or use ``with``) when done;
    :meth:`refresh` picks up frames a live writer has flushed since.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._h5 = _h5_open_read(self.path)
        try:
            self._load()
        except KeyError as exc:
            self._h5.close()
            what = " ".join(str(exc).split())
            if "Unable to" in what and "component not found" not in what:
                # h5py reports a damaged object as a KeyError
                raise StoreError(f"{self.path}: damaged store ({what}); copy it again from "
                                 "the original") from None
            raise StoreError(f"{self.path}: not an ase-raman H5MD store (missing {what})") \
                from None
        except (OSError, ValueError) as exc:
            self._h5.close()
            what = " ".join(str(exc).split())
            raise StoreError(f"{self.path}: damaged store ({what}); copy it again from the "
                             "original") from None

    def _load(self) -> None:
        h5 = self._h5
        pol = h5["observables/polarizability"]
        pos = h5["particles/all/position"]
        n = min(pol["step"].shape[0], pol["value"].shape[0], pos["step"].shape[0],
                pos["value"].shape[0])
        self.step = pol["step"][:n]
        self.time_fs = pol["time"][:n]
        self.polarizability = pol["value"][:n]
        self.cells = h5["particles/all/box/edges/value"][:n]
        self.positions = LazyFrames(pos["value"], n)
        self.velocities = (LazyFrames(h5["particles/all/velocity/value"], n)
                           if "particles/all/velocity" in h5 else None)
        self.species = h5["particles/all/species"][()]
        self.pbc = np.array([_text(b) == "periodic" for b in
                             h5["particles/all/box"].attrs["boundary"]])
        self.potential_energy_step, self.potential_energy = self._sparse(
            "observables/potential_energy", n)
        self.polarizability_uncertainty_step, self.polarizability_uncertainty = self._sparse(
            UNCERTAINTY_GROUP, n)
        params = dict(h5["parameters"].attrs) if "parameters" in h5 else {}
        self.parameters = {k: (v.item() if isinstance(v, np.generic) else v)
                           for k, v in params.items()}
        dt = self.parameters.get("md_timestep_fs")
        self.dt_fs = None if dt is None else float(dt)
        si = self.parameters.get("sampling_interval_steps")
        self.sampling_interval = None if si is None else int(si)
        raw = self.parameters.get("model_metadata")
        self.model_metadata = json.loads(raw) if raw else {}

    def _sparse(self, group: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Steps and values of an observable recorded on some frames only (up to frame n)."""
        h5 = self._h5
        if group not in h5:
            return np.empty(0, np.int64), np.empty(0)
        eg = h5[group]
        m = min(eg["step"].shape[0], eg["value"].shape[0])
        e_steps = eg["step"][:m]
        m = int(np.searchsorted(e_steps, self.step[-1], side="right")) if n else 0
        return e_steps[:m], eg["value"][:m]

    @property
    def frame_interval_fs(self) -> float | None:
        """Time between consecutive stored frames, fs: the sampling interval to give the
        spectra (``raman_spectrum(traj.polarizability, traj.frame_interval_fs)``), not the
        MD timestep ``dt_fs``. None with fewer than two frames; a clear error when the
        stored frames are not evenly spaced."""
        if len(self.time_fs) < 2:
            return None
        steps = np.diff(self.time_fs)
        if not np.allclose(steps, steps[0], rtol=1e-6, atol=1e-9):
            raise StoreError(f"{self.path}: stored frames are not evenly spaced in time "
                             f"({steps.min():g} to {steps.max():g} fs apart)")
        return float(steps[0])

    def refresh(self) -> int:
        """Re-read the frame count (frames a live SWMR writer flushed since); returns it."""
        if self._h5.swmr_mode:
            for obj in ("observables/polarizability/step", "observables/polarizability/value",
                        "observables/polarizability/time", "particles/all/position/step",
                        "particles/all/position/value", "particles/all/box/edges/value",
                        "particles/all/velocity/value", "observables/potential_energy/step",
                        "observables/potential_energy/value"):
                if obj in self._h5:
                    self._h5[obj].refresh()
        self._load()
        return len(self)

    @property
    def symbols(self) -> list[str]:
        from ase.data import chemical_symbols

        return [chemical_symbols[z] for z in self.species]

    @property
    def n_atoms(self) -> int:
        return int(len(self.species))

    def __len__(self) -> int:
        return int(len(self.step))

    def atoms(self, index: int) -> Atoms:
        """The frame ``index`` as :class:`ase.Atoms` (velocities set when stored;
        ``info`` holds step, time_fs and polarizability)."""
        from ase import units

        i = int(index) + (len(self) if index < 0 else 0)
        if not 0 <= i < len(self):
            raise IndexError(f"frame {index} out of range for {len(self)} frames")
        atoms = Atoms(numbers=self.species, positions=self.positions[i], cell=self.cells[i],
                      pbc=self.pbc)
        if self.velocities is not None:
            atoms.set_velocities(self.velocities[i] / units.fs)
        atoms.info.update(step=int(self.step[i]), time_fs=float(self.time_fs[i]),
                          polarizability=self.polarizability[i].copy())
        return atoms

    def iter_atoms(self, chunk: int | None = None) -> Iterator[Atoms]:
        """Every frame as Atoms (see :meth:`atoms`), read chunk by chunk (bounded memory)."""
        from ase import units

        vel_blocks = self.velocities.iter_chunks(chunk) if self.velocities is not None else None
        for start, block in self.positions.iter_chunks(chunk):
            vblock = next(vel_blocks)[1] if vel_blocks is not None else None
            for j, pos in enumerate(block):
                i = start + j
                atoms = Atoms(numbers=self.species, positions=pos, cell=self.cells[i],
                              pbc=self.pbc)
                if vblock is not None:
                    atoms.set_velocities(vblock[j] / units.fs)
                atoms.info.update(step=int(self.step[i]), time_fs=float(self.time_fs[i]),
                                  polarizability=self.polarizability[i].copy())
                yield atoms

    def close(self) -> None:
        self._h5.close()

    def __enter__(self) -> StoredTrajectory:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<StoredTrajectory {self.path} frames={len(self)} atoms={self.n_atoms} "
                f"steps={self.step[:1].tolist()}..{self.step[-1:].tolist()}>")


def read_trajectory(path: str | os.PathLike) -> StoredTrajectory:
    """Open a store for reading: small per-frame arrays in memory, positions and
    velocities lazily (see :class:`StoredTrajectory`). Works while a writer appends."""
    return StoredTrajectory(path)


def restart_atoms(path: str | os.PathLike) -> Atoms:
    """The last stored frame as Atoms (positions, cell, velocities): start the resumed
    dynamics from it, and a :class:`~ase_raman.observe.PolarizabilityObserver` in mode
    ``"a"`` continues the step series without a gap or a duplicate."""
    with read_trajectory(path) as traj:
        if len(traj) == 0:
            raise StoreError(f"{path}: the store holds no frame")
        return traj.atoms(-1)
