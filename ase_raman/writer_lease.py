"""The writer lease of a store: who is writing an H5MD file, so a second writer is refused.

HDF5's own protection against two writers is a file lock, which is off on many shared
file systems (``HDF5_USE_FILE_LOCKING=FALSE`` on NFS/Lustre). Without it, a second writer
that "recovers" the file (clears the superblock flags a killed writer leaves) would
silently mix its frames into those of a writer that is still running. So every writer
records a lease in the file itself and keeps it fresh:

* ``/parameters`` attributes ``writer_host`` and ``writer_pid`` (who; the host is stored
  as :func:`host_id`, a hash of its name, unless the store was opened with
  ``record_identity=True``), and
* the dataset ``/parameters/writer_lease``: float64 ``[pid, start, heartbeat, active]``,
  ``start``/``heartbeat`` in seconds since the epoch (UTC), ``active`` 1 while open
  (all zeros once the writer closed the file).

The writer rewrites the heartbeat when it opens the file, on every flush and at least
every :data:`HEARTBEAT_S` seconds while frames arrive, and sets ``active`` to 0 when it
closes. Before opening a store to write (and before any repair of its superblock),
:func:`live_writer` reads the lease; the file is held when ``active`` is 1 and

* the lease is from this host and its process is alive (a dead pid is stale), or
* the lease is from another host and its heartbeat is younger than the timeout
  (:data:`DEFAULT_TIMEOUT_S`, or the environment variable ``ASE_RAMAN_LEASE_TIMEOUT_S``
  in seconds; the hosts' clocks must agree to much better than that).

A stale lease is taken over. Two writers starting within the same few milliseconds can
still both pass the check: only a working file lock closes that window.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import time
from dataclasses import dataclass

import h5py
import numpy as np

#: Path of the lease dataset inside the store.
LEASE_DATASET = "parameters/writer_lease"
#: A writer with frames arriving rewrites its heartbeat at least this often, seconds.
HEARTBEAT_S = 30.0
#: A lease from another host whose heartbeat is older than this is stale, seconds.
DEFAULT_TIMEOUT_S = 600.0
TIMEOUT_ENV = "ASE_RAMAN_LEASE_TIMEOUT_S"


@dataclass
class Lease:
    """A writer lease as stored in the file (times in seconds since the epoch)."""

    host: str
    pid: int
    start: float
    heartbeat: float
    active: bool


def host_id() -> str:
    """This host as recorded in a lease by default: a hash of its name (the same on every
    call on this host, the name itself not readable from the file)."""
    digest = hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()
    return f"sha256:{digest[:16]}"


def is_this_host(recorded: str) -> bool:
    """Whether a recorded ``writer_host`` (name or :func:`host_id`) is this host."""
    return recorded in (socket.gethostname(), host_id())


def lease_timeout_s() -> float:
    """The stale-lease timeout for other hosts, seconds (environment or default)."""
    raw = os.environ.get(TIMEOUT_ENV)
    if raw is None:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_TIMEOUT_S
    return value if np.isfinite(value) and value >= 0 else DEFAULT_TIMEOUT_S


def read_lease(path: str | os.PathLike) -> Lease | None:
    """The lease recorded in ``path``, or None (no lease, older file, unreadable file)."""
    with contextlib.suppress(OSError, KeyError, ValueError, TypeError):
        with h5py.File(path, "r", swmr=True) as f:
            if LEASE_DATASET not in f:
                return None
            pid, start, beat, active = (float(x) for x in f[LEASE_DATASET][()])
            host = f["parameters"].attrs.get("writer_host", "")
            host = host.decode() if isinstance(host, bytes) else str(host)
            return Lease(host=host, pid=int(pid), start=start, heartbeat=beat,
                         active=bool(active))
    return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def live_writer(path: str | os.PathLike, now: float | None = None) -> str | None:
    """A one-line description of the live writer holding ``path``, or None when none does
    (no lease, a closed one, a stale one, or our own process)."""
    lease = read_lease(path)
    if lease is None or not lease.active:
        return None
    now = time.time() if now is None else now
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(lease.start))
    who = f"process {lease.pid} on host {lease.host!r} (since {started})"
    if is_this_host(lease.host):
        if lease.pid == os.getpid() or not pid_alive(lease.pid):
            return None
        return who
    age = now - lease.heartbeat
    if age > lease_timeout_s():
        return None
    return f"{who}, last heartbeat {age:.0f} s ago"


class LeaseWriter:
    """Writes this process's lease into an open store file and keeps it fresh."""

    def __init__(self, h5: h5py.File, record_host: bool = False):
        self._h5 = h5
        self._start = time.time()
        self._last = 0.0
        params = h5.require_group("parameters")
        params.attrs["writer_pid"] = np.int64(os.getpid())
        params.attrs["writer_host"] = socket.gethostname() if record_host else host_id()
        if LEASE_DATASET not in h5:
            params.create_dataset("writer_lease", data=np.zeros(4))
        self.beat(force=True)

    def _write(self) -> None:
        now = time.time()
        self._h5[LEASE_DATASET][...] = np.array([os.getpid(), self._start, now, 1.0])
        self._last = now

    def beat(self, force: bool = False, flush: bool = True) -> None:
        """Rewrite the heartbeat (when :data:`HEARTBEAT_S` passed, or ``force``); ``flush``
        makes it visible to other processes at once."""
        if force or time.time() - self._last >= HEARTBEAT_S:
            self._write()
            if flush:
                self._h5.flush()

    def release(self) -> None:
        """Clear the lease (the file is about to be closed): all zeros, so a closed store
        holds no times or pids and the same frames give the same bytes."""
        with contextlib.suppress(OSError, KeyError, ValueError):
            self._h5[LEASE_DATASET][...] = np.zeros(4)

