"""Read the positions of a whole trajectory into memory, for transport analyses.

:func:`load_frames` reads any trajectory :mod:`ase_raman.io.trajectory` streams (XDATCAR,
extxyz, vasprun.xml, LAMMPS dump, i-PI) or an ase-raman H5MD store into a :class:`Frames`
(positions, cells, symbols, masses, pbc, the time between frames when the run's files
say it); :func:`resolve_dt` settles that time against a given one. Used by ``ase-raman
msd``, ``vanhove``, ``mechanism`` and
:func:`ase_raman.spectra.transport.mechanism.mechanism_from_file`.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import AseRamanError, InputFileError, UsageError

__all__ = ["Frames", "load_frames", "resolve_dt"]

#: Relative tolerance when a file's time step and a given one are compared.
_DT_RTOL = 1e-6


@dataclass
class Frames:
    """Positions of a trajectory in memory: ``positions`` (n, N, 3) Angstrom, ``cells``
    (n, 3, 3) Angstrom, ``symbols`` (N,), ``masses`` (N,) amu, ``pbc`` (3,), and
    ``dt_file_fs``: the time between the frames read (fs, already times ``every``) when
    the run's files say so, else None."""

    positions: np.ndarray
    cells: np.ndarray
    symbols: list[str]
    masses: np.ndarray
    pbc: np.ndarray
    dt_file_fs: float | None


def _is_h5(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in (".h5", ".hdf5", ".h5md")


def _read_h5(path: str, every: int) -> Frames:
    from ase.data import atomic_masses

    from ..store import read_trajectory  # lazily: h5py only when needed

    with read_trajectory(path) as traj:
        n = len(traj)
        if n == 0:
            raise InputFileError(f"{path}: the store holds no frame")
        pos = np.asarray(traj.positions[::every], dtype=float)
        cells = np.asarray(traj.cells[::every], dtype=float)
        times = np.asarray(traj.time_fs[::every], dtype=float)
        dt = None
        if len(times) > 1:
            steps = np.diff(times)
            if np.allclose(steps, steps[0], rtol=1e-6, atol=1e-9) and steps[0] > 0:
                dt = float(steps[0])
        _check_finite(path, pos, cells, every)
        species = np.asarray(traj.species)
        return Frames(pos, cells, list(traj.symbols), atomic_masses[species],
                      np.asarray(traj.pbc, dtype=bool), dt)


def _check_finite(path: str, positions: np.ndarray, cells: np.ndarray, every: int) -> None:
    """Non-finite positions or cells would give ``D = null`` with exit 0: refuse them."""
    from ..finite import require_finite

    for what, values in (("positions", positions), ("cell", cells)):
        require_finite(values, what, lambda i: f"{path}: frame {i * every}")


def _frame_source(path: str, fmt: str | None, every: int, reading: dict[str, Any]):
    """(iterator of Atoms, dt of the file in fs or None) from the streaming readers of
    :mod:`ase_raman.io.trajectory` (dt from the run's INCAR/OUTCAR or i-PI input)."""
    from .trajectory import frame_interval_fs, iter_frames

    dt = frame_interval_fs(path, format=fmt)
    return iter_frames(path, format=fmt, every=every, **reading), dt


def load_frames(path: str, fmt: str | None = None, every: int = 1, quiet: bool = True,
                reading: dict[str, Any] | None = None) -> Frames:
    """Read all frames of ``path`` (every ``every``-th) into a :class:`Frames`;
    ``reading``: ``type_map``/``drop_labels`` for :func:`ase_raman.io.iter_frames`."""
    if every < 1:
        raise UsageError(f"every must be a positive integer, got {every}")
    if not os.path.exists(path):
        raise InputFileError(f"{path}: no such file")
    if _is_h5(path):
        return _read_h5(path, every)
    source, dt = _frame_source(path, fmt, every, reading or {})
    positions, cells = [], []
    first = None
    try:
        from tqdm import tqdm

        bar = tqdm(source, desc="reading frames", unit="frame",
                   disable=quiet or not sys.stderr.isatty())
        for i, atoms in enumerate(bar):
            if first is None:
                first = atoms
                symbols = atoms.get_chemical_symbols()
            elif len(atoms) != len(first) or atoms.get_chemical_symbols() != symbols:
                raise InputFileError(
                    f"{path}: frame {i * every} has different atoms than frame 0 "
                    "(an MSD needs the same atoms in the same order)"
                )
            positions.append(atoms.get_positions())
            cells.append(atoms.cell.array.copy())
    except AseRamanError:
        raise
    except Exception as exc:  # any reader failure is a file problem, in one line
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFileError(f"{path}: cannot read frames ({msg})") from None
    if first is None:
        raise InputFileError(f"{path}: no frames found")
    _check_finite(path, np.asarray(positions, dtype=float), np.asarray(cells, dtype=float),
                  every)
    return Frames(
        positions=np.asarray(positions, dtype=float),
        cells=np.asarray(cells, dtype=float),
        symbols=symbols,
        masses=first.get_masses(),
        pbc=np.asarray(first.pbc, dtype=bool),
        dt_file_fs=None if dt is None else float(dt) * every,
    )


def resolve_dt(frames: Frames, dt_fs: float | None, every: int) -> float:
    """Time between the frames read (fs): ``dt_fs x every``, or the file's value."""
    if dt_fs is not None:
        if not dt_fs > 0:
            raise UsageError(f"the time between frames must be positive, got {dt_fs} fs")
        dt = dt_fs * every
        if frames.dt_file_fs is not None and not np.isclose(dt, frames.dt_file_fs,
                                                            rtol=_DT_RTOL):
            print(f"ase-raman: warning: the given {dt_fs} fs between frames differs from the "
                  f"run's files ({frames.dt_file_fs / every:g} fs); using the given value",
                  file=sys.stderr)
        return dt
    if frames.dt_file_fs is None:
        raise UsageError(
            "the trajectory does not say how far apart its frames are: give the time "
            "between consecutive frames of the file (dt_fs; e.g. POTIM x NBLOCK for an "
            "XDATCAR)"
        )
    return frames.dt_file_fs
