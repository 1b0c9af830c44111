"""H5MD 1.1 time-series store for polarizabilities along molecular dynamics.

One file holds one run: the per-frame polarizability alpha (3x3, Angstrom^3) and the
structure it was predicted for (positions, velocities when known, the cell), laid out
per the H5MD 1.1 specification (de Buyl, Colberg and Höfling, Comput. Phys. Commun. 185,
1546 (2014))::

    /h5md                      attrs version=[1, 1]; groups author (name), creator
                               (name, version), modules/units (version, system)
    /particles/all/species     (N,) int32 atomic numbers (time-independent)
    /particles/all/position    step (n,) int64, time (n,) float64 [fs], value (n, N, 3) [Angstrom]
    /particles/all/velocity    same layout, value [Angstrom fs-1] (only when the run has them)
    /particles/all/box         attrs dimension=3, boundary=("periodic"|"none",)*3;
                               edges/{step, time, value (n, 3, 3)} [Angstrom], rows = cell vectors
    /observables/polarizability  step, time, value (n, 3, 3) [Angstrom+3]
    /observables/potential_energy  step, time, value (m,) [eV] (frames where the MD
                               calculator already had the energy; m <= n)
    /observables/polarizability_uncertainty  step, time, value (k,) [Angstrom+3]: the
                               model's per-frame uncertainty, when it gives one (k <= n)
    /parameters                attrs md_timestep_fs, sampling_interval_steps, engine,
                               model_metadata (JSON), ase_raman_version

Every time-dependent dataset is chunked and resizable along the frame axis.

Writing (:func:`open_store`) buffers frames in memory and writes them on
:meth:`Store.flush`. The file is written in HDF5 SWMR mode, so

* readers (:func:`read_trajectory`) may open it while the writer appends;
* a writer killed with SIGKILL leaves a file that opens and holds every frame up to its
  last flush. Within a flush, values are written before ``time`` and ``step``, and the
  polarizability's ``step`` dataset last: its length is the number of committed frames.
* re-opening with mode ``"a"`` resumes: a crashed file's status flags are cleared
  (what the HDF5 tool ``h5clear -s -m`` does), frames past the committed count are
  dropped, and the step series continues. A different species list, MD timestep or
  model is refused with :class:`StoreError`. Appending a step that is not after the last
  stored step is refused, except the exact re-recording of the last frame (same step and
  positions), which is skipped: no frame is ever lost or stored twice.

Units at this API: lengths Angstrom, time fs, velocities Angstrom/fs, energies eV,
alpha Angstrom^3.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from ase import Atoms

from .errors import AseRamanError, UsageError
from .writer_lease import LeaseWriter, is_this_host, live_writer, pid_alive

__all__ = [
    "StoreError",
    "Store",
    "StoredTrajectory",
    "LazyFrames",
    "open_store",
    "read_trajectory",
    "restart_atoms",
    "predict_to_store",  # noqa: F822 (lazy: see __getattr__)
    "clear_status_flags",
]

H5MD_VERSION = (1, 1)
UNIT_LENGTH = "Angstrom"
UNIT_TIME = "fs"
UNIT_VELOCITY = "Angstrom fs-1"
UNIT_POLARIZABILITY = "Angstrom+3"
UNIT_ENERGY = "eV"

#: target size in bytes of one chunk of a per-frame dataset (a partially filled chunk is
#: rewritten on every flush, so keep this modest).
CHUNK_BYTES = 256 * 1024
#: HDF5 raw-data chunk cache per open dataset, bytes.
CHUNK_CACHE_BYTES = 4 * 1024 * 1024
#: positions must agree to this (Angstrom) for a re-recorded last frame to be skipped.
SAME_FRAME_ATOL = 1e-8


class StoreError(AseRamanError):
    """A store file cannot be opened, resumed or appended to as asked."""


# --------------------------------------------------------------------------------------
# crash recovery: clear the superblock status flags (what `h5clear -s -m` does)
# --------------------------------------------------------------------------------------
_M32 = 0xFFFFFFFF


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _M32


def _lookup3(data: bytes, initval: int = 0) -> int:
    """Bob Jenkins' lookup3 ``hashlittle``, the checksum HDF5 puts on its superblock."""
    length = len(data)
    a = b = c = (0xDEADBEEF + length + initval) & _M32
    if length == 0:
        return c
    padded = data + b"\0" * ((-length) % 12)
    words = struct.unpack(f"<{len(padded) // 4}I", padded)
    nblocks = (length - 1) // 12  # full blocks before the (non-empty) last one
    for i in range(nblocks):
        a = (a + words[3 * i]) & _M32
        b = (b + words[3 * i + 1]) & _M32
        c = (c + words[3 * i + 2]) & _M32
        a = (a - c) & _M32; a ^= _rot(c, 4); c = (c + b) & _M32  # noqa: E702
        b = (b - a) & _M32; b ^= _rot(a, 6); a = (a + c) & _M32  # noqa: E702
        c = (c - b) & _M32; c ^= _rot(b, 8); b = (b + a) & _M32  # noqa: E702
        a = (a - c) & _M32; a ^= _rot(c, 16); c = (c + b) & _M32  # noqa: E702
        b = (b - a) & _M32; b ^= _rot(a, 19); a = (a + c) & _M32  # noqa: E702
        c = (c - b) & _M32; c ^= _rot(b, 4); b = (b + a) & _M32  # noqa: E702
    i = nblocks
    a = (a + words[3 * i]) & _M32
    b = (b + words[3 * i + 1]) & _M32
    c = (c + words[3 * i + 2]) & _M32
    c ^= b; c = (c - _rot(b, 14)) & _M32  # noqa: E702
    a ^= c; a = (a - _rot(c, 11)) & _M32  # noqa: E702
    b ^= a; b = (b - _rot(a, 25)) & _M32  # noqa: E702
    c ^= b; c = (c - _rot(b, 16)) & _M32  # noqa: E702
    a ^= c; a = (a - _rot(c, 4)) & _M32  # noqa: E702
    b ^= a; b = (b - _rot(a, 14)) & _M32  # noqa: E702
    c ^= b; c = (c - _rot(b, 24)) & _M32  # noqa: E702
    return c


@dataclass
class _Superblock:
    """The fields of an HDF5 version 2/3 superblock this module needs."""

    body: bytearray  # the bytes the checksum covers
    size_of_offsets: int
    flags: int  # non-zero: a writer has (or had, if killed) the file open
    eoa: int  # end-of-file address the file records, bytes
    checksum_ok: bool

    @property
    def eoa_at(self) -> int:
        return 12 + 2 * self.size_of_offsets


def _read_superblock(path: Path) -> _Superblock | None:
    """The superblock of ``path`` when it is HDF5 with a version 2/3 superblock at byte
    0 (the only versions with status flags), else None."""
    with open(path, "rb") as fh:
        head = fh.read(48)
    if len(head) < 12 or head[:8] != b"\x89HDF\r\n\x1a\n" or head[8] not in (2, 3) \
            or head[9] not in (4, 8):
        return None
    size_of_offsets = head[9]
    body_len = 12 + 4 * size_of_offsets
    if len(head) < body_len + 4:
        return None
    body = bytearray(head[:body_len])
    (stored_sum,) = struct.unpack("<I", head[body_len:body_len + 4])
    fmt = {4: "<I", 8: "<Q"}[size_of_offsets]
    eoa_at = 12 + 2 * size_of_offsets
    (eoa,) = struct.unpack(fmt, body[eoa_at:eoa_at + size_of_offsets])
    return _Superblock(body, size_of_offsets, head[11], eoa,
                       _lookup3(bytes(body)) == stored_sum)


def clear_status_flags(path: str | os.PathLike, eoa_margin: int = 1 << 20) -> bool:
    """Clear the "open for write" flags a killed HDF5 writer leaves in the superblock.

    Also raises the recorded end-of-allocation to ``max(recorded, file size) + eoa_margin``
    bytes, so space the dead writer used after its last flush is never handed out twice
    (``h5clear -s -m``), and grows the file (sparse) to that size. Only superblock
    versions 2 and 3 (files written with ``libver="latest"``, as this module does) carry
    such flags. Returns True when the
    file was changed.
    """
    path = Path(path)
    sb = _read_superblock(path)
    if sb is None:
        return False
    if not sb.checksum_ok:
        raise StoreError(f"{path}: HDF5 superblock checksum mismatch; the file is damaged")
    if sb.flags == 0:
        return False
    fmt = {4: "<I", 8: "<Q"}[sb.size_of_offsets]
    new_eoa = max(sb.eoa, os.path.getsize(path)) + eoa_margin
    body = sb.body
    body[11] = 0
    body[sb.eoa_at:sb.eoa_at + sb.size_of_offsets] = struct.pack(fmt, new_eoa)
    with open(path, "r+b") as fh:
        fh.truncate(new_eoa)  # grow (sparse) so the file is not seen as truncated
        fh.seek(0)
        fh.write(bytes(body) + struct.pack("<I", _lookup3(bytes(body))))
        fh.flush()
        os.fsync(fh.fileno())
    return True


# --------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------
def json_default(obj: Any, lenient: bool = False) -> Any:
    """``default=`` of :func:`json.dumps` for numpy values: scalars become Python numbers,
    arrays lists. Anything else becomes ``str(obj)`` when ``lenient`` (store metadata
    never fails to serialise), else a TypeError."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if lenient:
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj)}")


def _canonical_json(meta: dict[str, Any] | None) -> str:
    return json.dumps(meta or {}, sort_keys=True,
                      default=lambda obj: json_default(obj, lenient=True))


def _fixed(text: str) -> np.bytes_:
    """``text`` as a fixed-length ASCII string attribute (what H5MD asks for strings)."""
    return np.bytes_(text.encode("ascii", "replace"))


def _text(value: Any) -> str:
    """A string attribute read back (fixed-length bytes or variable-length str)."""
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)


def _species_numbers(species: Atoms | Sequence[int] | Sequence[str]) -> np.ndarray:
    if isinstance(species, Atoms):
        return species.get_atomic_numbers().astype(np.int32)
    arr = list(species)
    if arr and isinstance(arr[0], str):
        return Atoms(arr).get_atomic_numbers().astype(np.int32)
    return np.asarray(arr, dtype=np.int32)


def _chunk_frames(bytes_per_frame: int) -> int:
    return int(max(1, min(4096, CHUNK_BYTES // max(1, bytes_per_frame))))


def _is_crash_flag_error(exc: OSError) -> bool:
    msg = str(exc)
    return "already open for write" in msg or "file consistency flags" in msg


#: Opening a store to read: attempts, and the wait before the first retry (doubling), s.
OPEN_ATTEMPTS = 5
OPEN_RETRY_S = 0.1


def _check_complete(path: Path) -> _Superblock | None:
    """:class:`StoreError` (one line) when ``path`` is not an HDF5 file or is shorter than
    its superblock says (cut short). A file a writer has open may be caught mid-flush:
    re-checked :data:`OPEN_ATTEMPTS` times over about 3 s before it is called truncated.
    Returns the superblock (None for other HDF5 superblock versions)."""
    size = path.stat().st_size
    if size < 8:
        raise StoreError(f"{path}: {size} bytes, not an HDF5 store (empty or cut short); "
                         "pass the .h5 file ase-raman wrote")
    for attempt in range(OPEN_ATTEMPTS):
        sb = _read_superblock(path)
        if sb is None:
            return None
        if not sb.checksum_ok:
            raise StoreError(f"{path}: HDF5 superblock checksum mismatch: the file is damaged "
                             "(copy it again from the original)")
        size = path.stat().st_size
        if size >= sb.eoa:
            return sb
        if sb.flags == 0 or attempt == OPEN_ATTEMPTS - 1:
            break
        time.sleep(OPEN_RETRY_S * 2**attempt)
    raise StoreError(f"{path}: truncated store: {size} bytes on disk, its HDF5 superblock "
                     f"records {sb.eoa}; the file was cut short (interrupted copy or full "
                     "disk?): copy it again from the original")


def _h5_open_read(path: Path) -> h5py.File:
    """Open for reading; SWMR read where a writer has the file open (works while it
    appends), a plain read otherwise (HDF5's SWMR reader retries damaged metadata for a
    long time; the plain reader fails at once)."""
    if not path.exists():
        raise StoreError(f"{path}: no such store file")
    if not path.is_file():
        raise StoreError(f"{path}: is not a file (a folder?); pass the .h5 store")
    sb = _check_complete(path)
    modes: tuple[dict[str, Any], ...] = ({"swmr": True}, {})
    if sb is None or sb.flags == 0:
        modes = ({},) if sb is None else ({}, {"swmr": True})
    errors = []
    for kwargs in modes:
        try:
            return h5py.File(path, "r", rdcc_nbytes=CHUNK_CACHE_BYTES, **kwargs)
        except OSError as exc:  # not SWMR-capable, or not HDF5 at all
            errors.append(exc)
    msg = " ".join(str(errors[-1]).split())
    raise StoreError(f"{path}: cannot open as an HDF5 store ({msg})")


# --------------------------------------------------------------------------------------
# writer
# --------------------------------------------------------------------------------------
#: Observables recorded only on the frames that have them: H5MD group -> _Frame field.
UNCERTAINTY_GROUP = "observables/polarizability_uncertainty"
SPARSE_OBSERVABLES = {"observables/potential_energy": "potential_energy",
                      UNCERTAINTY_GROUP: "uncertainty"}
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
        from . import __version__

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
            from . import __version__

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


# --------------------------------------------------------------------------------------
# reader
# --------------------------------------------------------------------------------------
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


def __getattr__(name: str) -> Any:
    """``predict_to_store`` lives in :mod:`ase_raman.recording` (re-exported lazily, so
    that the store does not import the models)."""
    if name == "predict_to_store":
        from .recording import predict_to_store

        return predict_to_store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
