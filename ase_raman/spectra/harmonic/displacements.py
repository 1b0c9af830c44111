"""Displaced structures for an external DFPT code, and gathering their results back.

:func:`generate_displacements` writes, for every optical mode that symmetry allows to be
Raman-active (both members of each degenerate set), the structures displaced by
``-step`` and ``+step`` (amu^1/2 Angstrom) along its mass-weighted eigenvector, as
``POSCAR-BBBB-01`` / ``POSCAR-BBBB-02`` (VASP, the Phonopy-Spectroscopy scheme: BBBB the
1-based band, 01 = -step, 02 = +step) or ``disp-BBBB-01.extxyz`` ..., plus an index file
``displacements.json`` (reference cell, masses, and one entry per file: band, frequency,
irrep, step, maximum Cartesian displacement).

:func:`gather_displacements` reads every dielectric result in a folder (any names, any
order: OUTCAR, vasprun.xml, ph.x output), matches each to an index entry by its actual
displacement (minimum image, within ``tolerance`` Angstrom) and refuses an incomplete set
with a message naming the missing files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from ...atomic_write import atomic_output
from ...errors import InputFileError, MissingDataError, UsageError
from .core import DEFAULT_STEP
from .fit import displacements, read_dielectric_folder
from .modes import GammaModes
from .symmetry import raman_allowed

INDEX_NAME = "displacements.json"
_FORMATS = {"vasp": ("POSCAR-{band:04d}-{sign}", "vasp"),
            "extxyz": ("disp-{band:04d}-{sign}.extxyz", "extxyz")}


def generate_displacements(modes: GammaModes, directory: str | os.PathLike,
                           step: float = DEFAULT_STEP, bands: list[int] | None = None,
                           fmt: str = "vasp", symprec: float = 1e-5) -> list[Path]:
    """Write +-``step`` structures along the selected modes and an index; returns paths.

    ``bands`` are 1-based band numbers (default: every optical mode that is not
    Raman-forbidden by symmetry). ``fmt``: ``"vasp"`` (POSCAR, direct coordinates) or
    ``"extxyz"``. Files are written atomically; an existing index is overwritten.
    """
    import ase.io

    if not np.isfinite(step) or step <= 0:
        raise UsageError(f"the displacement step must be positive (amu^1/2 Angstrom), got {step}")
    if fmt not in _FORMATS:
        raise UsageError(f"unknown format {fmt!r}; use one of {', '.join(_FORMATS)}")
    acoustic = modes.acoustic()
    if bands is None:
        allowed, _ = raman_allowed(modes, symprec)
        chosen = [b for b in range(modes.n_modes) if not acoustic[b] and allowed[b] != 0]
    else:
        chosen = []
        for b in bands:
            if not 1 <= int(b) <= modes.n_modes:
                raise UsageError(f"band {b} does not exist (1..{modes.n_modes})")
            chosen.append(int(b) - 1)
    if not chosen:
        raise UsageError("no mode to displace (all acoustic or Raman-forbidden)")
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    pattern, ase_fmt = _FORMATS[fmt]
    entries = []
    paths = []
    for b in chosen:
        for sign, q in (("01", -step), ("02", +step)):
            name = pattern.format(band=b + 1, sign=sign)
            atoms = modes.displaced(b, q)
            disp = modes.displacement(b, q)
            with atomic_output(out_dir / name) as tmp:
                if ase_fmt == "vasp":
                    ase.io.write(tmp, atoms, format="vasp", direct=True, sort=False)
                else:
                    ase.io.write(tmp, atoms, format="extxyz")
            paths.append(out_dir / name)
            entries.append({
                "file": name, "band": b + 1,
                "frequency_cm-1": float(modes.frequencies[b]),
                "irrep": modes.irreps[b] if modes.irreps else None,
                "q_amu_half_A": float(q),
                "max_cartesian_displacement_A": float(np.max(np.linalg.norm(disp, axis=1))),
            })
    ref = modes.atoms
    index = {
        "format": "ase-raman displacements 1",
        "description": "structures displaced along Gamma modes by q (amu^1/2 Angstrom); "
                       "compute eps_inf (DFPT) of each and run gather_displacements",
        "modes_source": modes.source,
        "step_amu_half_A": float(step),
        "reference": {"symbols": ref.get_chemical_symbols(), "cell": ref.cell.array.tolist(),
                      "positions": ref.positions.tolist()},
        "masses_amu": modes.masses.tolist(),
        "displacements": entries,
    }
    with atomic_output(out_dir / INDEX_NAME) as tmp:
        tmp.write_text(json.dumps(index, indent=1) + "\n")
    return paths


def read_index(path: str | os.PathLike) -> dict[str, Any]:
    """The index written by :func:`generate_displacements` (a file or its folder)."""
    p = Path(path)
    if p.is_dir():
        p = p / INDEX_NAME
    try:
        data = json.loads(p.read_text())
    except OSError as exc:
        raise InputFileError(f"{p}: cannot read the displacement index ({exc.strerror})"
                             ) from None
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{p}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict) or "displacements" not in data or "reference" not in data:
        raise InputFileError(f"{p}: not an ase-raman displacement index")
    return data


def gather_displacements(index: str | os.PathLike, results: str | os.PathLike | None = None,
                         tolerance: float = 2e-3) -> tuple[list[Atoms], Atoms]:
    """Collect the dielectric results of an indexed displacement set, in index order.

    ``index`` is the index file or its folder; ``results`` the folder holding the
    results (default: the index's folder; searched recursively, names free). Each result
    is assigned to the index entry whose expected displacement it matches (largest
    per-atom deviation below ``tolerance`` Angstrom and a quarter of the entry's largest
    displacement; an undisplaced reference result is
    kept as well). Returns ``(frames, reference)``: the matched structures (with
    ``info["displacement"]`` = the entry) followed by any undisplaced reference result,
    and the reference structure. Raises :class:`MissingDataError` naming every missing
    displacement, :class:`InputFileError` for a result that matches no entry.
    """
    import ase.io

    data = read_index(index)
    idx_path = Path(index)
    folder = Path(results) if results is not None else (
        idx_path if idx_path.is_dir() else idx_path.parent)
    ref_data = data["reference"]
    ref = Atoms(symbols=ref_data["symbols"], cell=ref_data["cell"],
                positions=ref_data["positions"], pbc=True)
    entries = data["displacements"]
    frames = read_dielectric_folder(folder)
    u = displacements(ref, frames)
    base = idx_path if idx_path.is_dir() else idx_path.parent
    expected = []
    for e in entries:
        f = base / e["file"]
        if not f.is_file():
            raise InputFileError(f"{f}: the displaced structure listed in the index is gone; "
                                 "cannot tell which result belongs to it")
        expected.append(displacements(ref, [ase.io.read(f)])[0])
    expected_arr = np.array(expected)
    smallest = float(np.min(np.max(np.linalg.norm(expected_arr, axis=2), axis=1)))
    matched: dict[int, Atoms] = {}
    references: list[Atoms] = []
    for k, atoms in enumerate(frames):
        dev = np.max(np.linalg.norm(expected_arr - u[k][None], axis=2), axis=1)
        j = int(np.argmin(dev))
        where = atoms.info.get("file", atoms.info.get("source", f"result {k}"))
        size = np.max(np.linalg.norm(expected_arr[j], axis=1))
        if dev[j] <= min(tolerance, 0.25 * size):
            if j in matched:
                raise InputFileError(f"{where}: a second result for displacement "
                                     f"{entries[j]['file']} (first: {matched[j].info.get('file')})")
            atoms.info["displacement"] = entries[j]
            matched[j] = atoms
        elif np.max(np.linalg.norm(u[k], axis=1)) <= min(tolerance, 0.25 * smallest):
            references.append(atoms)
        else:
            raise InputFileError(f"{where}: its structure matches no displacement of the "
                                 f"index (closest {entries[j]['file']}, off by {dev[j]:.2g} "
                                 "Angstrom)")
    missing = [e for j, e in enumerate(entries) if j not in matched]
    if missing:
        text = ", ".join(f"{e['file']} (band {e['band']}, Q = {e['q_amu_half_A']:+g})"
                         for e in missing)
        raise MissingDataError(f"{folder}: {len(missing)} of {len(entries)} displacements have "
                               f"no dielectric result: {text}")
    return [matched[j] for j in range(len(entries))] + references, ref
