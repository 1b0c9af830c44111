"""Opening stores safely after a crash: the HDF5 superblock checks and the repair
of its status flags (what the HDF5 tool ``h5clear -s -m`` does)."""

from __future__ import annotations

import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py

from .schema import CHUNK_CACHE_BYTES, StoreError

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
