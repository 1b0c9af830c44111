"""Writing a store: :class:`Store` (buffer, flush in SWMR mode, resume) and
:func:`open_store`."""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from ase import Atoms

from ..errors import UsageError
from ..writer_lease import LeaseWriter, is_this_host, live_writer, pid_alive
from .jsonutil import _canonical_json
from .reader import StoredTrajectory, read_trajectory
from .repair import _check_complete, _is_crash_flag_error, clear_status_flags
from .schema import (
    CHUNK_BYTES,
    CHUNK_CACHE_BYTES,
    H5MD_VERSION,
    SAME_FRAME_ATOL,
    SPARSE_OBSERVABLES,
    UNCERTAINTY_GROUP,
    UNIT_ENERGY,
    UNIT_LENGTH,
    UNIT_POLARIZABILITY,
    UNIT_TIME,
    UNIT_VELOCITY,
    StoreError,
    _text,
)


def _fixed(text: str) -> np.bytes_:
    """``text`` as a fixed-length ASCII string attribute (what H5MD asks for strings)."""
    return np.bytes_(text.encode("ascii", "replace"))


def _species_numbers(species: Atoms | Sequence[int] | Sequence[str]) -> np.ndarray:
    if isinstance(species, Atoms):
        return species.get_atomic_numbers().astype(np.int32)
    arr = list(species)
    if arr and isinstance(arr[0], str):
        return Atoms(arr).get_atomic_numbers().astype(np.int32)
    return np.asarray(arr, dtype=np.int32)


def _chunk_frames(bytes_per_frame: int) -> int:
    return int(max(1, min(4096, CHUNK_BYTES // max(1, bytes_per_frame))))


#: Unit of each sparse observable's value.
SPARSE_UNITS = {"observables/potential_energy": UNIT_ENERGY,
                UNCERTAINTY_GROUP: UNIT_POLARIZABILITY}


@dataclass
class _Frame:
    step: int
    time_fs: float
    polarizability: np.ndarray
    positions: np.ndarray
    cell: np.ndarray
    velocities: np.ndarray | None
    potential_energy: float | None
    uncertainty: float | None = None


class Store:
    """An H5MD file open for appending frames; make it with :func:`open_store`.

    Frames go into a memory buffer (:meth:`append`, :meth:`extend`) and reach the file on
    :meth:`flush` (automatic every ``flush_every`` frames, and on :meth:`close`). Use as a
    context manager to close (and flush) on exit.
    """

    def __init__(
        self,
        path: Path,
        h5: h5py.File,
        *,
        species: np.ndarray | None,
        pbc: np.ndarray | None,
        has_velocities: bool | None,
        flush_every: int,
        compression: str | None,
        record_identity: bool = False,
    ):
        self.path = path
        self._record_identity = record_identity
        self._warned_sparse: dict[str, bool] = {}
        self._h5 = h5
        self._species = species
        self._pbc = pbc
        self._has_velocities = has_velocities
        self._flush_every = max(1, int(flush_every))
        self._compression = compression
        self._buffer: list[_Frame] = []
        self._committed = 0
        self._last_step: int | None = None
        self._last_positions: np.ndarray | None = None
        self._warned_velocities = False
        self._closed = False
        if "particles/all/position" in h5:
            self._attach_existing()
        self._lease = LeaseWriter(h5, record_host=record_identity)

    # -- layout ------------------------------------------------------------------------
    @property
    def initialised(self) -> bool:
        """Whether the datasets exist (they are made with the first frame otherwise)."""
        return "observables/polarizability" in self._h5

    def _attach_existing(self) -> None:
        h5 = self._h5
        self._species = h5["particles/all/species"][()]
        self._has_velocities = "particles/all/velocity" in h5
        boundary = h5["particles/all/box"].attrs["boundary"]
        self._pbc = np.array([_text(b) == "periodic" for b in boundary])
        self._committed = int(h5["observables/polarizability/step"].shape[0])
        if self._committed:
            self._last_step = int(h5["observables/polarizability/step"][self._committed - 1])
            self._last_positions = h5["particles/all/position/value"][self._committed - 1]

    def _make_element(self, group: h5py.Group, shape: tuple[int, ...], unit: str | None,
                      dtype: Any = np.float64, with_times: bool = True) -> None:
        nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        kw = {"compression": self._compression} if self._compression else {}
        value = group.create_dataset(
            "value", shape=(0, *shape), maxshape=(None, *shape), dtype=dtype,
            chunks=(_chunk_frames(nbytes), *shape), **kw,
        )
        if unit:
            value.attrs["unit"] = unit
        if not with_times:
            return
        group.create_dataset("step", shape=(0,), maxshape=(None,), dtype=np.int64,
                             chunks=(4096,))
        time = group.create_dataset("time", shape=(0,), maxshape=(None,), dtype=np.float64,
                                    chunks=(4096,))
        time.attrs["unit"] = UNIT_TIME

    def _create_layout(self, frames: list[_Frame]) -> None:
        """Create every group and dataset from the first frames to be written."""
        from .. import __version__

        first = frames[0]
        h5 = self._h5
        n_atoms = first.positions.shape[0]
        if self._species is None:
            raise StoreError("the species of the atoms are needed to create a store")
        if len(self._species) != n_atoms:
            raise StoreError(f"{self.path}: {n_atoms} positions for {len(self._species)} species")
        if self._has_velocities is None:
            self._has_velocities = first.velocities is not None
        pbc = np.ones(3, bool) if self._pbc is None else np.asarray(self._pbc, bool)
        root = h5.require_group("h5md")
        root.attrs["version"] = np.array(H5MD_VERSION, dtype=np.int32)
        author = root.require_group("author")
        author.attrs["name"] = _fixed(os.environ.get("USER", "unknown") if self._record_identity
                                      else "anonymous")
        creator = root.require_group("creator")
        creator.attrs["name"] = _fixed("ase-raman")
        creator.attrs["version"] = _fixed(__version__)
        units = root.require_group("modules/units")
        units.attrs["version"] = np.array([1, 0], dtype=np.int32)
        units.attrs["system"] = "ase-raman: Angstrom, fs, eV"
        part = h5.require_group("particles/all")
        species = part.create_dataset("species", data=self._species.astype(np.int32))
        species.attrs["description"] = "atomic numbers"
        box = part.create_group("box")
        box.attrs["dimension"] = np.int32(3)
        box.attrs["boundary"] = np.array(["periodic" if p else "none" for p in pbc],
                                         dtype="S8")  # fixed-length strings, as H5MD asks
        self._make_element(part.create_group("position"), (n_atoms, 3), UNIT_LENGTH)
        edges = box.create_group("edges")
        self._make_element(edges, (3, 3), UNIT_LENGTH, with_times=False)
        edges["step"] = part["position/step"]  # hard links: the box changes with position
        edges["time"] = part["position/time"]
        if self._has_velocities:
            self._make_element(part.create_group("velocity"), (n_atoms, 3), UNIT_VELOCITY)
        obs = h5.require_group("observables")
        self._make_element(obs.create_group("polarizability"), (3, 3), UNIT_POLARIZABILITY)
        # a sparse observable exists only when the first frames give it data: HDF5 cannot
        # add datasets once SWMR writing started (later data for it is dropped, warned)
        for group, attr in SPARSE_OBSERVABLES.items():
            if any(getattr(f, attr) is not None for f in frames):
                self._make_element(obs.create_group(group.split("/")[1]), (),
                                   SPARSE_UNITS[group])
        self._pbc = pbc
        self._start_swmr()

    def _start_swmr(self) -> None:
        self._lease.beat(force=True, flush=False)
        if not self._h5.swmr_mode:
            self._h5.swmr_mode = True

    # -- metadata ----------------------------------------------------------------------
    @property
    def n_frames(self) -> int:
        """Frames committed to the file plus frames still buffered."""
        return self._committed + len(self._buffer)

    @property
    def n_committed(self) -> int:
        """Frames written and flushed to the file."""
        return self._committed

    @property
    def last_step(self) -> int | None:
        """The step of the last frame appended (buffered or stored), or None."""
        if self._buffer:
            return self._buffer[-1].step
        return self._last_step

    @property
    def species(self) -> np.ndarray | None:
        """Atomic numbers of the stored atoms (None before the first frame of a new file)."""
        return self._species

    @property
    def n_atoms(self) -> int | None:
        """Atoms per frame (None before the first frame of a new file)."""
        return None if self._species is None else len(self._species)

    @property
    def dt_fs(self) -> float | None:
        """The MD timestep in fs stored in the file, if any."""
        if "parameters" not in self._h5:
            return None
        val = self._h5["parameters"].attrs.get("md_timestep_fs")
        return None if val is None else float(val)

    @property
    def model_metadata(self) -> dict[str, Any] | None:
        """The metadata of the model whose predictions the file holds."""
        if "parameters" not in self._h5:
            return None
        raw = self._h5["parameters"].attrs.get("model_metadata")
        return None if raw is None else json.loads(raw)

    # -- appending ---------------------------------------------------------------------
    def append(
        self,
        step: int,
        time_fs: float,
        polarizability: np.ndarray,
        positions: np.ndarray,
        cell: np.ndarray,
        velocities: np.ndarray | None = None,
        potential_energy: float | None = None,
        uncertainty: float | None = None,
    ) -> bool:
        """Buffer one frame; returns False when it was skipped as already stored.

        ``polarizability`` (3, 3) Angstrom^3, ``positions`` (N, 3) Angstrom, ``cell``
        (3, 3) Angstrom (rows = cell vectors), ``velocities`` (N, 3) Angstrom/fs,
        ``potential_energy`` eV, ``time_fs`` fs, ``uncertainty`` the model's per-frame
        uncertainty of alpha in Angstrom^3 (when it gives one). Steps must increase;
        re-appending the last stored frame (same step and positions) is a no-op, anything
        else not after the last step raises :class:`StoreError`.
        """
        self._check_open()
        step = int(step)
        positions = np.asarray(positions, dtype=np.float64)
        last = self.last_step
        if last is not None and step <= last:
            last_pos = self._buffer[-1].positions if self._buffer else self._last_positions
            if (step == last and last_pos is not None and last_pos.shape == positions.shape
                    and np.allclose(last_pos, positions, rtol=0, atol=SAME_FRAME_ATOL)):
                return False
            raise StoreError(
                f"{self.path}: step {step} is not after the last stored step {last}; "
                "restart the dynamics from the last stored frame "
                "(ase_raman.store.restart_atoms), drop the later frames "
                "(open_store(path, 'a', truncate_after=STEP)), or write a new file (mode='w')"
            )
        alpha = np.asarray(polarizability, dtype=np.float64).reshape(3, 3)
        if velocities is not None:
            velocities = np.asarray(velocities, dtype=np.float64).reshape(positions.shape)
        frame = _Frame(step, float(time_fs), alpha, positions,
                       np.asarray(cell, dtype=np.float64).reshape(3, 3), velocities,
                       None if potential_energy is None else float(potential_energy),
                       None if uncertainty is None else float(uncertainty))
        if self._species is not None and positions.shape != (len(self._species), 3):
            raise StoreError(
                f"{self.path}: frame at step {step} has {positions.shape[0]} atoms, the store "
                f"holds {len(self._species)}"
            )
        for name, value in (("positions", frame.positions), ("polarizability", alpha),
                            ("cell", frame.cell)):
            if not np.all(np.isfinite(value)):
                raise StoreError(
                    f"{self.path}: frame at step {step} has non-finite {name} (NaN or inf); "
                    "nothing of it was stored: check the input frame (or the model)")
        self._buffer.append(frame)
        self._lease.beat()
        if len(self._buffer) >= self._flush_every:
            self.flush()
        return True

    def append_atoms(self, atoms: Atoms, polarizability: np.ndarray, step: int,
                     time_fs: float, potential_energy: float | None = None,
                     uncertainty: float | None = None) -> bool:
        """Buffer one frame taken from ``atoms`` (positions, cell, velocities if set)."""
        from ase import units

        vel = atoms.get_velocities() * units.fs if atoms.has("momenta") else None
        if self._species is not None and not np.array_equal(
                atoms.get_atomic_numbers(), self._species):
            raise StoreError(f"{self.path}: the atoms at step {step} are not the stored species")
        return self.append(step, time_fs, polarizability, atoms.positions, atoms.cell.array,
                           vel, potential_energy, uncertainty)

    def extend(self, frames: Iterable[dict[str, Any]]) -> int:
        """Append several frames given as dicts of :meth:`append`'s keywords."""
        return sum(bool(self.append(**f)) for f in frames)

    def flush(self) -> None:
        """Write the buffered frames and flush the file (they then survive a crash)."""
        self._check_open()
        if not self._buffer:
            self._lease.beat(force=True, flush=False)
            self._h5.flush()
            return
        frames = self._buffer
        if not self.initialised:
            self._create_layout(frames)
        h5 = self._h5
        n0, k = self._committed, len(frames)
        if self._has_velocities and any(f.velocities is None for f in frames):
            raise StoreError(f"{self.path}: the store records velocities but a frame has none")
        if not self._has_velocities and any(f.velocities is not None for f in frames) \
                and not self._warned_velocities:
            warnings.warn(f"{self.path}: the store was created without velocities; "
                          "velocities are not recorded", stacklevel=2)
            self._warned_velocities = True
        steps = np.array([f.step for f in frames], dtype=np.int64)
        times = np.array([f.time_fs for f in frames], dtype=np.float64)
        groups = {
            "particles/all/position": np.stack([f.positions for f in frames]),
            "particles/all/box/edges": np.stack([f.cell for f in frames]),
            "observables/polarizability": np.stack([f.polarizability for f in frames]),
        }
        if self._has_velocities:
            groups["particles/all/velocity"] = np.stack([f.velocities for f in frames])
        # 1) values, 2) times, 3) steps (polarizability's step last = commit marker)
        for name, data in groups.items():
            ds = h5[name]["value"]
            ds.resize(n0 + k, axis=0)
            ds[n0:] = data
            ds.flush()
        timed = [name for name in groups if name != "particles/all/box/edges"]  # linked
        for name in timed:
            ds = h5[name]["time"]
            ds.resize(n0 + k, axis=0)
            ds[n0:] = times
            ds.flush()
        for group, attr in SPARSE_OBSERVABLES.items():
            rows = [(f.step, f.time_fs, getattr(f, attr)) for f in frames
                    if getattr(f, attr) is not None]
            if rows and group not in h5 and not self._warned_sparse.get(group):
                warnings.warn(f"{self.path}: {group.split('/')[1]} arrived after the first "
                              "frames, which had none; it is not recorded", stacklevel=2)
                self._warned_sparse[group] = True
            if rows and group in h5:
                eg = h5[group]
                m0 = eg["step"].shape[0]
                for key, col in (("value", 2), ("time", 1), ("step", 0)):
                    ds = eg[key]
                    ds.resize(m0 + len(rows), axis=0)
                    ds[m0:] = np.array([r[col] for r in rows])
                    ds.flush()
        for name in [n for n in timed if n != "observables/polarizability"] + \
                ["observables/polarizability"]:
            ds = h5[name]["step"]
            ds.resize(n0 + k, axis=0)
            ds[n0:] = steps
            ds.flush()
        self._lease.beat(force=True, flush=False)
        h5.flush()
        self._committed = n0 + k
        self._last_step = int(steps[-1])
        self._last_positions = frames[-1].positions
        self._buffer = []

    def set_parameters(self, **attrs: Any) -> None:
        """Store run parameters (e.g. ``md_timestep_fs``) as attributes of ``/parameters``.

        Only before SWMR writing started (i.e. by :func:`open_store`); dicts become JSON.
        """
        params = self._h5.require_group("parameters")
        for key, val in attrs.items():
            if val is None:
                continue
            params.attrs[key] = _canonical_json(val) if isinstance(val, dict) else val

    def _truncate(self, keep_until_step: int | None, n_keep: int | None = None) -> int:
        """Shrink every element to the committed frames (optionally <= a step)."""
        h5 = self._h5
        if not self.initialised:
            return 0
        pol_steps = h5["observables/polarizability/step"][()]
        n = len(pol_steps) if n_keep is None else min(n_keep, len(pol_steps))
        if keep_until_step is not None:
            n = int(np.searchsorted(pol_steps[:n], keep_until_step, side="right"))
        names = ["particles/all/position", "particles/all/box/edges",  # edges: linked times
                 "observables/polarizability"]
        if "particles/all/velocity" in h5:
            names.append("particles/all/velocity")
        for name in names:
            for key in ("value", "time", "step"):
                ds = h5[name][key]
                if ds.shape[0] != n:
                    ds.resize(n, axis=0)
        last_step = int(pol_steps[n - 1]) if n else None
        for group in SPARSE_OBSERVABLES:
            if group not in h5:
                continue
            eg = h5[group]
            e_steps = eg["step"][()]
            m = 0 if last_step is None else int(
                np.searchsorted(e_steps, last_step, side="right"))
            m = min(m, eg["value"].shape[0], eg["time"].shape[0], len(e_steps))
            for key in ("value", "time", "step"):
                if eg[key].shape[0] != m:
                    eg[key].resize(m, axis=0)
        dropped = len(pol_steps) - n
        self._committed = n
        self._last_step = last_step
        self._last_positions = h5["particles/all/position/value"][n - 1] if n else None
        return dropped

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"{self.path}: the store is closed")

    def close(self) -> None:
        """Flush the buffer and close the file (idempotent)."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            self._lease.release()
            self._h5.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Store {self.path} frames={self.n_frames} last_step={self.last_step}>"


def open_store(
    path: str | os.PathLike,
    mode: str = "a",
    *,
    species: Atoms | Sequence[int] | Sequence[str] | None = None,
    pbc: Sequence[bool] | None = None,
    model_metadata: dict[str, Any] | None = None,
    dt_fs: float | None = None,
    sampling_interval: int | None = None,
    engine: str | None = None,
    velocities: bool | None = None,
    flush_every: int = 64,
    compression: str | None = None,
    truncate_after: int | None = None,
    record_identity: bool = False,
) -> Store | StoredTrajectory:
    """Open an H5MD store to write (``"w"``, ``"x"``), append/resume (``"a"``) or read (``"r"``).

    ``species``: the atoms (an :class:`ase.Atoms`, symbols or atomic numbers); taken from
    the first frame's atoms when omitted. ``pbc`` defaults to the atoms' (or all True).
    ``model_metadata``: the model's ``metadata`` dict, stored as JSON. ``dt_fs``: the MD
    timestep in fs; ``sampling_interval``: MD steps between recorded frames (both stored as
    attributes). ``velocities``: record velocities (default: when the first frame has
    them). ``flush_every``: frames buffered before an automatic flush.
    ``truncate_after``: in mode ``"a"``, drop stored frames after this step first (to
    resume from an earlier checkpoint without duplicates). ``record_identity``: record the
    user name (``/h5md/author``) and host name (writer lease) in the file; by default the
    author is ``anonymous`` and the host is stored only as a hash (privacy).

    Re-opening an existing store (``"a"``) checks ``species``, ``dt_fs`` and
    ``model_metadata`` against the stored ones and raises :class:`StoreError` on a
    mismatch; a file left by a killed writer is recovered (frames after its last flush
    are dropped). Mode ``"r"`` returns :func:`read_trajectory`'s object.
    """
    path = Path(path)
    if mode == "r":
        return read_trajectory(path)
    if mode not in ("a", "w", "x"):
        raise UsageError(f"open_store: mode must be 'r', 'a', 'w' or 'x', not {mode!r}")
    if mode == "x" and path.exists():
        raise StoreError(f"{path}: file exists (use mode 'a' to resume or 'w' to overwrite)")
    species_arr = None if species is None else _species_numbers(species)
    if pbc is None and isinstance(species, Atoms):
        pbc = species.pbc
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        _refuse_live_writer(path, overwrite=mode == "w" or path.stat().st_size == 0)
    if mode == "a" and path.exists() and path.stat().st_size > 0:
        h5 = _open_for_append(path)
    else:
        if mode == "a" and path.exists():
            path.unlink()
        h5 = h5py.File(path, "w", libver="latest", rdcc_nbytes=CHUNK_CACHE_BYTES)
    try:
        store = Store(path, h5, species=species_arr,
                      pbc=None if pbc is None else np.asarray(pbc, bool),
                      has_velocities=velocities, flush_every=flush_every,
                      compression=compression, record_identity=record_identity)
        if store.initialised:
            _check_resume(store, species_arr, dt_fs, model_metadata)
            store._truncate(truncate_after)
        store.set_parameters(
            md_timestep_fs=None if dt_fs is None else float(dt_fs),
            sampling_interval_steps=None if sampling_interval is None
            else np.int64(sampling_interval),
            engine=engine,
            model_metadata=model_metadata,
        )
        if "parameters" in h5 and "ase_raman_version" not in h5["parameters"].attrs:
            from .. import __version__

            h5["parameters"].attrs["ase_raman_version"] = __version__
        if store.initialised:
            store._start_swmr()
    except BaseException:
        h5.close()
        raise
    return store


def _refuse_live_writer(path: Path, overwrite: bool = False) -> None:
    """:class:`StoreError` when another live process holds the writer lease of ``path``
    (see :mod:`ase_raman.writer_lease`), whatever the HDF5 file-locking setting; also
    when the file is truncated or damaged, unless it is to be overwritten. Only a file
    whose superblock says a writer has it open (status flags set) can have a live one."""
    try:
        sb = _check_complete(path)
    except StoreError:
        if not overwrite:
            raise
        return
    if sb is None or sb.flags == 0:
        return
    holder = live_writer(path)
    if holder is not None:
        raise StoreError(
            f"{path}: {holder} is still writing this store; a second writer is refused (wait "
            "for it to finish or stop it, or write to another file)")


def _open_for_append(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "a", libver="latest", rdcc_nbytes=CHUNK_CACHE_BYTES)
    except OSError as exc:
        if not _is_crash_flag_error(exc):
            raise StoreError(f"{path}: cannot open for appending ({exc})") from exc
    # a writer holds it, or one was killed: look at who wrote it last
    with contextlib.suppress(OSError), h5py.File(path, "r", swmr=True) as f:
        params = f["parameters"].attrs if "parameters" in f else {}
        pid = int(params.get("writer_pid", -1))
        host = str(params.get("writer_host", ""))
        if pid > 0 and is_this_host(_text(host)) and pid != os.getpid() and pid_alive(pid):
            raise StoreError(
                f"{path}: process {pid} on this host is still writing this file; stop it "
                "first (or, if that process is not an ase-raman writer, run h5clear -s on it)"
            )
    _refuse_live_writer(path)  # again, right before the repair
    clear_status_flags(path)
    try:
        return h5py.File(path, "a", libver="latest", rdcc_nbytes=CHUNK_CACHE_BYTES)
    except OSError as exc:
        raise StoreError(f"{path}: cannot recover the file of a killed writer ({exc})") from exc


def _check_resume(store: Store, species: np.ndarray | None, dt_fs: float | None,
                  model_metadata: dict[str, Any] | None) -> None:
    path = store.path
    if species is not None and not np.array_equal(species, store.species):
        raise StoreError(
            f"{path}: the atoms differ from the stored ones ({len(species)} atoms vs "
            f"{len(store.species)} stored, or another species order); write a new file"
        )
    stored_dt = store.dt_fs
    if dt_fs is not None and stored_dt is not None and not np.isclose(dt_fs, stored_dt):
        raise StoreError(f"{path}: MD timestep {dt_fs} fs differs from the stored {stored_dt} fs")
    stored_meta = store.model_metadata
    if model_metadata is not None and stored_meta is not None:
        new = json.loads(_canonical_json(model_metadata))
        if new != stored_meta:
            keys = sorted(k for k in set(new) | set(stored_meta)
                          if new.get(k) != stored_meta.get(k))
            raise StoreError(
                f"{path}: the model differs from the one that wrote this store (metadata "
                f"keys differ: {', '.join(keys)}); use the same model file or a new store"
            )
