"""Readers of reference polarizability data (and, in :mod:`.trajectory`, MD trajectories).

:func:`read_reference` is the one entry point: it returns ``ase.Atoms`` frames with

* ``info["polarizability"]``: 3x3, symmetrised, Angstrom^3;
* ``info["polarizability_asymmetry"]``: relative asymmetry of the raw tensor (float);
* ``info["dielectric_tensor"]``: 3x3 symmetrised eps, where the source has one;
* ``info["source"]``: file (and line) the tensor came from.

One small module per code: :mod:`.extxyz`, :mod:`.vasp` (OUTCAR, vasprun.xml),
:mod:`.espresso` (ph.x output), :mod:`.asedb` (ASE databases), :mod:`.generic` (anything
else ASE reads). gzip, bzip2 and xz files are read transparently.

:func:`iter_frames` streams MD trajectories (XDATCAR, i-PI xyz, extxyz, vasprun.xml,
LAMMPS dumps) one frame at a time; :func:`frame_interval_fs` finds the time between
stored frames when the run's files record it. See :mod:`.trajectory`.
"""

from __future__ import annotations

import os
from pathlib import Path

from ase import Atoms
from ase.io.formats import ioformats

from ..errors import MissingDataError, UsageError
from ._common import Index, ase_filetype, check_file, checked_cells, open_text, plain_name
from .espresso import read_ph_out  # noqa: F401 (public here as before)
from .extxyz import read_extxyz  # noqa: F401 (public here as before)
from .formats import REFERENCE_FORMATS
from .generic import read_with_ase
from .ipi import is_ipi_comment
from .trajectory import detect_trajectory_format, frame_interval_fs, iter_frames
from .vasp import read_outcar, read_vasprun  # noqa: F401 (public here as before)

__all__ = [
    "FORMATS",
    "detect_format",
    "detect_trajectory_format",
    "frame_interval_fs",
    "iter_frames",
    "read_reference",
]

#: Format names handled by our own readers (any other ASE format name goes to ASE).
FORMATS: dict[str, str] = {name: fmt.description for name, fmt in REFERENCE_FORMATS.items()}

_ALIASES = {"db": "ase-db", "outcar": "vasp-out", "vasprun": "vasp-xml", "ph.x": "espresso-ph",
            "xyz": "extxyz"}


def detect_format(path: str | os.PathLike) -> str:
    """Guess the format of ``path`` from its name, then from its first bytes.

    Returns one of :data:`FORMATS` or an ASE format name; raises
    :class:`ase_raman.errors.InputFileError` for a missing/empty file and
    :class:`ase_raman.errors.UsageError` when nothing matches.
    """
    p = check_file(path)
    name = plain_name(p)
    for fmt in REFERENCE_FORMATS.values():
        if fmt.by_name(name):
            return fmt.name
    with open_text(p) as fh:
        head = fh.read(4096)
    for fmt in REFERENCE_FORMATS.values():
        if fmt.by_content(head):
            return fmt.name
    return ase_filetype(p, "cannot tell the file format from its name or content; pass "
                        f"format= (one of {', '.join(FORMATS)} or an ASE format name)")


def _is_ipi_trajectory(path: Path) -> bool:
    """True when the second line of ``path`` is an i-PI xyz comment line."""
    with open_text(path) as fh:
        fh.readline()
        return is_ipi_comment(fh.readline())


def read_reference(
    path: str | os.PathLike,
    format: str | None = None,
    index: Index = ":",
    alpha_key: str | None = None,
    alpha_unit: str = "A3",
) -> list[Atoms]:
    """Read reference frames with polarizabilities from a DFT output or a labelled set.

    Parameters
    ----------
    path:
        The file (OUTCAR, vasprun.xml, ph.x output, extxyz, or any ASE-readable file).
    format:
        ``"extxyz"``, ``"vasp-out"``, ``"vasp-xml"``, ``"espresso-ph"`` or any ASE format
        name; guessed by :func:`detect_format` when None.
    index:
        Which frames: int, slice or ASE string (``":"``, ``"-1"``, ``"::10"``). A list is
        always returned.
    alpha_key, alpha_unit:
        Key and unit (``"A3"``, ``"bohr3"``, ``"e2A2/eV"``) of the polarizability in
        extxyz/ASE files (default key ``"polarizability"``). Ignored for DFT outputs, whose
        alpha is computed as ``V (eps - 1) / (4 pi)`` in Angstrom^3.

    Returns
    -------
    Frames with ``info["polarizability"]`` (3x3, Angstrom^3, symmetrised),
    ``info["polarizability_asymmetry"]`` and, where known, ``info["dielectric_tensor"]``.

    Raises
    ------
    InputFileError, MissingDataError, TensorError, UsageError (all from
    :mod:`ase_raman.errors`), each with a one-line message naming the file.
    """
    p = Path(path)
    fmt = detect_format(p) if format is None else _ALIASES.get(format.lower(), format)
    if fmt == "extxyz" and _is_ipi_trajectory(p):
        raise MissingDataError(
            f"{p}: this is an i-PI trajectory (positions and cell only), not reference data:"
            " a reference file needs a polarizability per frame (extxyz, OUTCAR, vasprun.xml,"
            " ph.x output); predict alpha along it with `ase-raman predict MODEL.npz`")
    if fmt in REFERENCE_FORMATS:
        frames = REFERENCE_FORMATS[fmt].read_reference(p, index, alpha_key, alpha_unit)
    elif fmt in ioformats:
        frames = read_with_ase(p, fmt, index, alpha_key, alpha_unit)
    else:
        raise UsageError(
            f"{p}: unknown format {format!r}; use one of {', '.join(FORMATS)} or an ASE"
            " format name (see `ase info --formats`)"
        )
    return list(checked_cells(frames, p))
