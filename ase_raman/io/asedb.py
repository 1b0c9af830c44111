"""ASE databases (``.db``, SQLite): the polarizability of each row.

``ase.io.read`` drops a row's ``data`` and key-value pairs, so rows are read with
:func:`ase.db.connect` here. The polarizability ``alpha_key`` (default
``"polarizability"``) is looked up, in order, in

* ``row.data[alpha_key]``: 9 numbers (row-major), 6 Voigt numbers or a 3x3 array;
* the key-value pair ``alpha_key`` holding a string of 9 or 6 numbers;
* the six key-value pairs ``<alpha_key>_xx``, ``_yy``, ``_zz``, ``_yz``, ``_xz``, ``_xy``
  (a symmetric tensor; key-value pairs can only hold scalars);

in ``alpha_unit``. A dielectric tensor in ``row.data["dielectric_tensor"]`` or
``row.data["epsilon"]`` is kept symmetrised.
"""

from __future__ import annotations

import os
import sqlite3

import numpy as np
from ase import Atoms

from ..errors import InputFileError, MissingDataError
from ..tensors import checked_symmetric, tensor_from_numbers, to_angstrom3
from ._common import (
    EPSILON_KEYS,
    Index,
    ReferenceFormat,
    attach_alpha,
    check_file,
    one_line,
    select,
)
from .magnitude import warn_implausible_alpha

#: Voigt order of the six key-value-pair components.
VOIGT = ("xx", "yy", "zz", "yz", "xz", "xy")


def _row_alpha(row, key: str, where: str) -> np.ndarray | None:
    data = row.data or {}
    if key in data:
        return tensor_from_numbers(data[key], where)
    pairs = row.key_value_pairs
    if isinstance(pairs.get(key), str):
        return tensor_from_numbers(np.array(pairs[key].replace(",", " ").split(), float),
                                   where)
    if all(f"{key}_{c}" in pairs for c in VOIGT):
        return tensor_from_numbers([pairs[f"{key}_{c}"] for c in VOIGT], where)
    return None


def read_ase_db(path: str | os.PathLike, index: Index = ":", alpha_key: str | None = None,
                alpha_unit: str = "A3") -> list[Atoms]:
    """Frames (rows, in id order) of an ASE database with ``info["polarizability"]``."""
    from ase.db import connect

    p = check_file(path)
    key = alpha_key or "polarizability"
    try:
        rows = list(connect(str(p), type="db", use_lock_file=False).select())
    except (sqlite3.Error, ValueError, KeyError) as exc:
        raise InputFileError(f"{p}: cannot be read as an ASE database "
                             f"({type(exc).__name__}: {one_line(exc)})") from None
    if not rows:
        raise MissingDataError(f"{p}: the database has no rows")
    out = []
    for row in select(rows, index, p):
        where = f"{p}[id={row.id}]"
        raw = _row_alpha(row, key, where)
        if raw is None:
            found = sorted(set(row.data or {}) | set(row.key_value_pairs))
            raise MissingDataError(
                f"{where}: no {key!r} in the row's data or key-value pairs (found: "
                f"{', '.join(found) or 'none'}); pass alpha_key with its name")
        atoms = row.toatoms()
        attach_alpha(atoms, to_angstrom3(raw, alpha_unit), where)
        for ekey in EPSILON_KEYS:
            if ekey in (row.data or {}):
                atoms.info["dielectric_tensor"], _ = checked_symmetric(
                    tensor_from_numbers(row.data[ekey], where), where)
                break
        atoms.info["source"] = where
        out.append(atoms)
    warn_implausible_alpha(out, [a.info["polarizability"] for a in out], alpha_unit, str(p))
    return out


REFERENCE = ReferenceFormat(
    "ase-db", "ASE database (.db) with alpha in row.data or key-value pairs",
    by_name=lambda name: name.endswith(".db"), by_content=lambda head: False,
    read_reference=read_ase_db)
