"""The table of trajectory formats ase-raman reads itself (as ASE's ``io/formats.py``).

Each format module (:mod:`.xdatcar`, :mod:`.lammps`, :mod:`.ipi`) exposes ``sniff``,
``iter_frames`` and ``frame_interval`` and one :class:`~ase_raman.io._common.TrajectoryFormat`
record, ``FORMAT``, registered here. :mod:`.trajectory` detects a file's format by
asking each record in order, then any format ASE reads (extxyz, vasprun.xml, ...).
A new format is one module plus one line in :data:`TRAJECTORY_FORMATS`.
"""

from __future__ import annotations

from . import ipi, lammps, xdatcar
from ._common import TrajectoryFormat

__all__ = ["TRAJECTORY_FORMATS", "TrajectoryFormat"]

#: Our trajectory readers by format name, in detection order.
TRAJECTORY_FORMATS: dict[str, TrajectoryFormat] = {
    module.FORMAT.name: module.FORMAT for module in (xdatcar, lammps, ipi)
}
