"""The tables of the formats ase-raman reads itself (as ASE's ``io/formats.py``).

Each format module (:mod:`.xdatcar`, :mod:`.lammps`, :mod:`.ipi`) exposes ``sniff``,
``iter_frames`` and ``frame_interval`` and one :class:`~ase_raman.io._common.TrajectoryFormat`
record, ``FORMAT``, registered here. :mod:`.trajectory` detects a file's format by
asking each record in order, then any format ASE reads (extxyz, vasprun.xml, ...).
Reference data the same way: :mod:`.extxyz`, :mod:`.vasp` (OUTCAR, vasprun.xml),
:mod:`.espresso` and :mod:`.asedb` each register a
:class:`~ase_raman.io._common.ReferenceFormat` in :data:`REFERENCE_FORMATS`, which
:func:`ase_raman.io.detect_format` and :func:`ase_raman.io.read_reference` use.
A new format is one module plus one line in a table.
"""

from __future__ import annotations

from . import asedb, espresso, extxyz, ipi, lammps, vasp, xdatcar
from ._common import ReferenceFormat, TrajectoryFormat

__all__ = ["REFERENCE_FORMATS", "ReferenceFormat", "TRAJECTORY_FORMATS", "TrajectoryFormat"]

#: Our trajectory readers by format name, in detection order.
TRAJECTORY_FORMATS: dict[str, TrajectoryFormat] = {
    module.FORMAT.name: module.FORMAT for module in (xdatcar, lammps, ipi)
}


#: Our reference-data readers by format name (name checks first, then content checks).
REFERENCE_FORMATS: dict[str, ReferenceFormat] = {
    fmt.name: fmt for fmt in (extxyz.REFERENCE, vasp.OUTCAR, vasp.VASPRUN, espresso.REFERENCE,
                              asedb.REFERENCE)
}
