"""ASE I/O plugin: ``ase.io.read("run.h5", ":")`` and ``ase gui run.h5`` open an
ase-raman H5MD store.

Registered under ASE's entry-point group ``ase.ioformats`` as ``ase-raman-h5``
(``pyproject.toml``). ASE recognises the file by its first bytes: the HDF5 signature
followed, in the file's header, by ``ase-raman`` (the ``/h5md/creator`` name our stores
write), so other H5MD and HDF5 files are left to other readers. Each frame gives
positions and cell (Angstrom), velocities when stored, and ``info`` with
``polarizability`` (3x3, Angstrom^3), ``step`` and ``time_fs``.

This module imports nothing from ASE's I/O at import time: ASE loads it while
``ase.io.formats`` itself is being imported.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from ase.utils.plugins import ExternalIOFormat

#: HDF5 signature, then our creator name within the first bytes ASE reads (50 kB).
MAGIC_REGEX = rb"\x89HDF\r\n\x1a\n.*ase-raman"

#: The format ASE registers (entry point ``ase-raman-h5``).
ASE_RAMAN_H5 = ExternalIOFormat(
    desc="ase-raman H5MD store (positions, cell, velocities, polarizability)",
    code="+S",
    module="ase_raman.ase_format",
    magic_regex=MAGIC_REGEX,
)


def read_ase_raman_h5(filename: str | os.PathLike, index: Any = -1) -> Iterator[Any]:
    """The frames ``index`` (an int or a slice, as ASE passes it) of a store as Atoms."""
    from .store import read_trajectory

    with read_trajectory(filename) as traj:
        n = len(traj)
        picked = range(n)[index] if isinstance(index, slice) else [index]
        for i in picked:
            yield traj.atoms(i)
