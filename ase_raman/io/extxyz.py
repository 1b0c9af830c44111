"""Extended XYZ reference sets: per-frame polarizability (and dielectric tensor) keys.

* The polarizability is the comment-line key ``polarizability`` (or ``alpha_key``): 9
  numbers row-major (xx xy xz yx yy yz zx zy zz) or 6 Voigt numbers (xx yy zz yz xz xy),
  in ``alpha_unit`` (``"A3"``, ``"bohr3"``, ``"e2A2/eV"``: :data:`ase_raman.tensors.ALPHA_UNITS`),
  converted to Angstrom^3 and symmetrised (asymmetry kept in
  ``info["polarizability_asymmetry"]``).
* A dielectric tensor under ``dielectric_tensor`` or ``epsilon`` (dimensionless, 9 or 6
  numbers) is stored symmetrised as ``info["dielectric_tensor"]``.
* The numbers are taken **from the raw comment line**, not from ASE's parsed value:
  depending on the parser and key, ASE may reshape 9 numbers into a 3x3 array in Fortran
  (column-major) order, which would transpose an asymmetric tensor. The source keys
  (``alpha_key`` and the epsilon key) are removed from ``info`` to leave one unambiguous
  copy in ``polarizability`` / ``dielectric_tensor``.
* An all-zero ``Lattice`` (TENSOAP gas-phase clusters) makes ASE set ``pbc=True``; such
  frames get ``pbc=False``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms

from ..errors import InputFileError, MissingDataError, TensorError
from ..tensors import ALPHA_UNITS, checked_symmetric, tensor_from_numbers, to_angstrom3
from ._common import (
    EPSILON_KEYS,
    Index,
    ReferenceFormat,
    attach_alpha,
    check_file,
    decompressed,
    one_line,
    open_text,
    select,
)
from .magnitude import warn_implausible_alpha


def raw_comment_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, comment_line)`` for each complete frame of an (ext)xyz file."""
    with open_text(path) as fh:
        lineno = 0
        while True:
            head = fh.readline()
            if not head:
                return
            lineno += 1
            if not head.strip():
                continue  # trailing blank lines
            try:
                natoms = int(head.split()[0])
            except ValueError:
                raise InputFileError(
                    f"{path}:{lineno}: expected an atom count, got {head.strip()[:40]!r};"
                    " not an (ext)xyz file or a frame has the wrong number of lines"
                ) from None
            comment = fh.readline()
            lineno += 1
            for _ in range(natoms):
                if not fh.readline():
                    return  # truncated frame: ASE reports it
            yield lineno, comment.rstrip("\n")
            lineno += natoms


def raw_key(comment: str, key: str) -> str | None:
    """The raw text of ``key=value`` (quoted, braced or bare) in an extxyz comment line."""
    m = re.search(
        rf'(?:^|\s){re.escape(key)}=(?:"([^"]*)"|\{{([^}}]*)\}}|(\S+))', comment
    )
    if m is None:
        return None
    return next(g for g in m.groups() if g is not None)


def _numbers(text: str, where: str) -> np.ndarray:
    """Numbers of a raw value: space/comma separated, or ASE's ``_JSON [[...], ...]`` form
    (how ``ase.io.write`` stores a 3x3 array in ``info``; rows in order, i.e. row-major)."""
    try:
        if text.startswith("_JSON "):
            return np.asarray(json.loads(text[len("_JSON "):]), dtype=float).reshape(-1)
        return np.array([float(x) for x in text.replace(",", " ").split()])
    except (ValueError, TypeError):
        raise TensorError(f"{where}: value {text[:60]!r} is not a list of numbers") from None


def read_extxyz(
    path: str | os.PathLike,
    index: Index = ":",
    alpha_key: str | None = None,
    alpha_unit: str = "A3",
) -> list[Atoms]:
    """Frames of an extxyz reference set with ``info["polarizability"]`` in Angstrom^3."""
    p = check_file(path)
    key = alpha_key or "polarizability"
    if alpha_unit not in ALPHA_UNITS:
        to_angstrom3(np.zeros((3, 3)), alpha_unit)  # raises TensorError naming the units
    try:
        with decompressed(p) as plain:
            images = ase.io.read(plain, index=":", format="extxyz")
    except Exception as exc:  # ASE raises XYZError, ValueError, IndexError, ...
        raise InputFileError(
            f"{p}: cannot be read as extxyz ({type(exc).__name__}: {one_line(exc)});"
            " the file is truncated or malformed"
        ) from exc
    comments = list(raw_comment_lines(p))
    if len(comments) != len(images):
        raise InputFileError(
            f"{p}: frame {len(comments)} is incomplete (truncated file?); remove it or"
            " copy the file again"
        )
    frames = select(list(zip(images, comments, strict=True)), index, p)
    out = []
    for atoms, (lineno, comment) in frames:
        where = f"{p}:{lineno}"
        text = raw_key(comment, key)
        if text is None:
            found = sorted(k for k in atoms.info)
            if atoms.calc is not None:
                found += sorted(atoms.calc.results)
            hint = f"; keys found: {', '.join(found)}" if found else ""
            raise MissingDataError(
                f"{where}: no {key!r} key in this frame{hint}; pass alpha_key= with the"
                " name of the polarizability key"
            )
        alpha = tensor_from_numbers(_numbers(text, where), where)
        attach_alpha(atoms, to_angstrom3(alpha, alpha_unit), where)
        if key != "polarizability":
            atoms.info.pop(key, None)
        for ekey in EPSILON_KEYS:
            etext = raw_key(comment, ekey)
            if etext is not None:
                eps = tensor_from_numbers(_numbers(etext, where), where)
                atoms.info.pop(ekey, None)
                atoms.info["dielectric_tensor"], _ = checked_symmetric(eps, where)
                break
        if atoms.calc is not None and "dielectric_tensor" in atoms.calc.results:
            atoms.calc.results.pop("dielectric_tensor")
        if not atoms.cell.array.any():
            atoms.pbc = False
        atoms.info["source"] = where
        out.append(atoms)
    warn_implausible_alpha(out, [a.info["polarizability"] for a in out], alpha_unit, str(p))
    return out


def _extxyz_content(head: str) -> bool:
    lines = head.splitlines()
    return len(lines) > 1 and lines[0].strip().isdigit() and "=" in lines[1]


REFERENCE = ReferenceFormat(
    "extxyz", "extended XYZ with a polarizability key per frame",
    by_name=lambda name: name.endswith((".extxyz", ".xyz")), by_content=_extxyz_content,
    read_reference=read_extxyz)
