"""Any other format ASE reads, when frames carry a polarizability in ``info`` or calc results.

The polarizability is looked up under ``alpha_key`` (default ``"polarizability"``) in
``atoms.info``, then in ``atoms.calc.results``; it may be 9 numbers (row-major), 6 Voigt
numbers or a 3x3 array, in ``alpha_unit``. A dielectric tensor under
``dielectric_tensor`` or ``epsilon`` (info or calc results) is kept symmetrised.
"""

from __future__ import annotations

import os

import ase.io
from ase import Atoms

from ..errors import InputFileError, MissingDataError
from ..tensors import checked_symmetric, tensor_from_numbers, to_angstrom3
from ._common import (
    EPSILON_KEYS,
    Index,
    attach_alpha,
    check_file,
    decompressed,
    one_line,
    parse_index,
)
from .magnitude import warn_implausible_alpha


def _lookup(atoms: Atoms, key: str) -> object | None:
    if key in atoms.info:
        return atoms.info[key]
    if atoms.calc is not None and key in getattr(atoms.calc, "results", {}):
        return atoms.calc.results[key]
    return None


def read_with_ase(
    path: str | os.PathLike,
    format: str | None,
    index: Index = ":",
    alpha_key: str | None = None,
    alpha_unit: str = "A3",
) -> list[Atoms]:
    """Read ``path`` with :func:`ase.io.read` and attach the polarizability found in each frame."""
    p = check_file(path)
    key = alpha_key or "polarizability"
    idx = parse_index(index)
    try:
        with decompressed(p) as plain:
            images = ase.io.read(plain, index=idx, format=format)
    except Exception as exc:  # whatever the ASE reader raises for a bad file
        raise InputFileError(
            f"{p}: cannot be read as {format or 'an ASE format'} ({type(exc).__name__}:"
            f" {one_line(exc)}); check the file and the format name"
        ) from exc
    if isinstance(images, Atoms):
        images = [images]
    out = []
    for i, atoms in enumerate(images):
        where = f"{p}[frame {i}]"
        raw = _lookup(atoms, key)
        if raw is None:
            raise MissingDataError(
                f"{where}: no {key!r} in atoms.info or calculator results; pass alpha_key="
                " with the name under which this file stores the polarizability"
            )
        alpha = tensor_from_numbers(raw, where)
        attach_alpha(atoms, to_angstrom3(alpha, alpha_unit), where)
        for ekey in EPSILON_KEYS:
            eps = _lookup(atoms, ekey)
            if eps is not None:
                atoms.info["dielectric_tensor"], _ = checked_symmetric(
                    tensor_from_numbers(eps, where), where
                )
                break
        atoms.info["source"] = where
        out.append(atoms)
    warn_implausible_alpha(out, [a.info["polarizability"] for a in out], alpha_unit, str(p))
    return out
