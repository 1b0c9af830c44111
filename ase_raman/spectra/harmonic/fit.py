"""Raman tensors from dielectric results of displaced structures computed elsewhere.

Displaced sets follow no single naming scheme (Phonopy-Spectroscopy displaces along
mode eigenvectors, phonopy along atoms, ramannoodle its own way), so nothing here relies
on file names. Every result carries its own positions; each is matched to the reference
structure by its displacement (minimum image) and the atomic Raman tensors are fitted by
least squares:

1. ``x = sqrt(m) u`` (mass-weighted displacement, amu^1/2 Angstrom) of every structure,
   ``y`` its polarizability (Angstrom^3, 9 components). Both are centred over the set
   (an intercept: no undisplaced reference calculation is needed).
2. Acoustic sum rule: the rigid translations are projected out of ``x`` (a translation
   never changes alpha), so the fitted ``d(alpha)/dx`` sums to zero over atoms.
3. Truncated SVD: singular values below ``rcond`` (default 1e-2) times the largest are
   dropped. This is the regularisation: VASP OUTCARs print positions to 5 decimals
   (~1e-5 Angstrom), so a set that displaces only some modes still moves every other
   mode by ~1e-5 amu^1/2 Angstrom of rounding noise; an untruncated fit divides the
   dielectric noise by that and returns activities of 1e7-1e8 Angstrom^4/amu on
   undisplaced modes (quartz, tested).
4. Mode k's tensor is ``R_k = e_k . d(alpha)/dx``; it is *determined* when more than
   ``1 - span_tolerance`` of e_k (of its whole degenerate set) lies in the span kept by
   the SVD. Undetermined modes that symmetry forbids are reported as zero; an
   undetermined Raman-allowed mode is refused (:class:`MissingDataError` naming the
   missing displacements) unless ``allow_undetermined=True``.

The reference may be another cell than the modes' (``reference=``: a supercell, or the
same cell with atoms in another order): each reference atom is mapped onto the atom of
the modes' cell it repeats, and Gamma eigenvectors are spread over the copies. Tensors
are always reported per modes' cell.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from ...errors import InputFileError, MissingDataError, UsageError
from .core import ZERO_TOLERANCE, HarmonicRaman
from .modes import GammaModes
from .symmetry import raman_allowed

#: formats of :func:`ase_raman.io.detect_format` that hold dielectric tensors with positions.
DIELECTRIC_FORMATS = ("vasp-out", "vasp-xml", "espresso-ph")
#: default relative cutoff of the truncated SVD.
DEFAULT_RCOND: float = 1e-2


def read_dielectric_folder(directory: str | os.PathLike, recursive: bool = True) -> list[Atoms]:
    """Every dielectric result (VASP OUTCAR / vasprun.xml, QE ph.x output) in a folder.

    Files are recognised by :func:`ase_raman.io.detect_format` (other files, e.g. POSCARs
    or an index file, are skipped), read with :func:`ase_raman.io.read_reference` (their
    own positions, ``info["polarizability"]`` in Angstrom^3), in sorted path order.
    Raises :class:`InputFileError` when the folder holds none, or one of them is broken.
    """
    from ...io import detect_format, read_reference

    d = Path(directory)
    if not d.is_dir():
        raise InputFileError(f"{d}: not a folder; pass the folder of dielectric results")
    paths = sorted(p for p in (d.rglob("*") if recursive else d.iterdir()) if p.is_file())
    frames: list[Atoms] = []
    for p in paths:
        if p.stat().st_size == 0:
            continue
        try:
            fmt = detect_format(p)
        except Exception:
            continue
        if fmt not in DIELECTRIC_FORMATS:
            continue
        for atoms in read_reference(p, format=fmt, index=":"):
            atoms.info.setdefault("source", str(p))
            atoms.info["file"] = str(p)
            frames.append(atoms)
    if not frames:
        raise InputFileError(f"{d}: no dielectric results found (VASP OUTCAR / vasprun.xml"
                             " from LEPSILON runs, QE ph.x output)")
    return frames


def map_to_modes_cell(reference: Atoms, cell: Atoms, tolerance: float = 1e-3) -> np.ndarray:
    """For each reference atom, the index of the atom of ``cell`` it repeats.

    The reference must be ``cell`` (any atom order) or a supercell of it with the same
    origin. Raises :class:`UsageError` naming the first atom that matches nothing.
    """
    inv = np.linalg.inv(cell.cell.array)
    frac_ref = reference.positions @ inv
    frac_cell = cell.positions @ inv
    sym_ref = reference.get_chemical_symbols()
    sym_cell = cell.get_chemical_symbols()
    out = np.empty(len(reference), dtype=int)
    for j, f in enumerate(frac_ref):
        diff = f - frac_cell
        diff -= np.rint(diff)
        dist = np.linalg.norm(diff @ cell.cell.array, axis=1)
        dist[[s != sym_ref[j] for s in sym_cell]] = np.inf
        i = int(np.argmin(dist))
        if dist[i] > tolerance:
            raise UsageError(
                f"reference atom {j} ({sym_ref[j]} at {np.round(reference.positions[j], 4)}) "
                "is no atom of the modes' cell or of a copy of it: the reference must be "
                "that cell or a supercell of it with the same origin")
        out[j] = i
    counts = np.bincount(out, minlength=len(cell))
    if np.any(counts != counts[0]) or counts[0] * len(cell) != len(reference):
        raise UsageError("the reference is not a whole number of copies of the modes' cell")
    return out


def displacements(reference: Atoms, frames: Sequence[Atoms],
                  max_displacement: float = 0.5, cell_tolerance: float = 1e-3) -> np.ndarray:
    """Minimum-image displacements (n_frames, N, 3) in Angstrom of frames from reference.

    Every frame must have the reference's atoms in the same order and the same cell
    (relative ``cell_tolerance``); no atom may move more than ``max_displacement``.
    """
    ref_sym = reference.get_chemical_symbols()
    ref_cell = reference.cell.array
    inv = np.linalg.inv(ref_cell)
    out = np.empty((len(frames), len(reference), 3))
    for k, atoms in enumerate(frames):
        where = atoms.info.get("source", f"structure {k}")
        if len(atoms) != len(reference) or atoms.get_chemical_symbols() != ref_sym:
            raise UsageError(f"{where}: its {len(atoms)} atoms ({atoms.get_chemical_formula()})"
                             f" do not match the reference ({reference.get_chemical_formula()}"
                             ", same order needed); pass the reference structure of these "
                             "displacements")
        scale = np.max(np.abs(ref_cell))
        if np.max(np.abs(atoms.cell.array - ref_cell)) > cell_tolerance * scale:
            raise UsageError(f"{where}: its cell differs from the reference cell (strained "
                             "structures cannot be matched); pass the reference structure of these "
                             "displacements")
        diff = (atoms.positions - reference.positions) @ inv
        diff -= np.rint(diff)
        u = diff @ ref_cell
        big = float(np.max(np.linalg.norm(u, axis=1)))
        if big > max_displacement:
            raise UsageError(f"{where}: an atom is {big:.3g} Angstrom from its reference "
                             f"position (> {max_displacement:g}): not a small displacement of "
                             "this reference; pass the reference structure of these displacements")
        out[k] = u
    return out


def raman_from_dielectric(
    modes: GammaModes,
    frames: Sequence[Atoms] | str | os.PathLike,
    reference: Atoms | None = None,
    rcond: float = DEFAULT_RCOND,
    span_tolerance: float = 0.05,
    allow_undetermined: bool = False,
    symprec: float = 1e-5,
    zero_tolerance: float = ZERO_TOLERANCE,
    max_displacement: float = 0.5,
) -> HarmonicRaman:
    """Fit atomic Raman tensors to displaced structures and project them on the modes.

    Parameters
    ----------
    modes : the Gamma modes (their cell is the default reference).
    frames : structures with ``info["polarizability"]`` (Angstrom^3) and their own
        positions, or a folder read with :func:`read_dielectric_folder`.
    reference : the undisplaced structure the frames were displaced from, when it is not
        the modes' cell (a supercell, another atom order).
    rcond : relative singular-value cutoff of the truncated SVD (module doc, step 3);
        0 disables the regularisation (for tests only).
    span_tolerance : a mode is determined when at most this fraction of its eigenvector
        lies outside the fitted span.
    allow_undetermined : report Raman-allowed modes outside the span as not determined
        (NaN) instead of refusing the set.

    Returns a :class:`HarmonicRaman` whose ``details`` hold the fit diagnostics: number
    of structures, singular values, rank, residual RMS (Angstrom^3), per-mode coverage.
    """
    if isinstance(frames, (str, os.PathLike)):
        source = str(frames)
        frames = read_dielectric_folder(frames)
    else:
        source = "structures given"
        frames = list(frames)
    if len(frames) < 2:
        raise MissingDataError(f"{source}: need at least two displaced structures, got "
                               f"{len(frames)}")
    ref = modes.atoms if reference is None else reference
    mapping = map_to_modes_cell(ref, modes.atoms)
    n_cells = len(ref) // len(modes.atoms)
    u = displacements(ref, frames, max_displacement=max_displacement)
    alpha = _displaced_alpha(frames)
    grad, sv, keep, vr, residual = _alpha_gradient(u, alpha, modes.masses[mapping], rcond,
                                                   source)
    # Gamma eigenvectors on the reference cell (normalised), then tensors per modes' cell
    e_ref = modes.eigenvectors[:, mapping, :].reshape(modes.n_modes, -1) / np.sqrt(n_cells)
    tensors = (e_ref @ grad).reshape(-1, 3, 3) / np.sqrt(n_cells)
    coverage = np.sum((e_ref @ vr.T) ** 2, axis=1)
    determined = _determined_modes(modes, coverage, span_tolerance)
    tensors[~determined] = np.nan
    tensors[modes.acoustic()] = 0.0
    allowed, n_ops = raman_allowed(modes, symprec)
    details: dict[str, Any] = {
        "source": source,
        "n_structures": len(frames),
        "files": sorted({str(a.info.get("file", a.info.get("source", ""))) for a in frames}),
        "rcond": float(rcond),
        "singular_values": sv.tolist(),
        "rank": int(np.count_nonzero(keep)),
        "residual_rms_A3": float(np.sqrt(np.mean(residual**2))),
        "coverage": coverage.tolist(),
        "n_cells_in_reference": int(n_cells),
        "n_symmetry_operations": n_ops,
    }
    result = HarmonicRaman(
        modes=modes, raman_tensors=tensors, determined=determined, allowed=allowed,
        method=f"least-squares atomic Raman tensors (acoustic sum rule, truncated SVD rcond "
        f"{rcond:g}) from {len(frames)} displaced structures in {source}",
        details=details, zero_tolerance=zero_tolerance)
    if not allow_undetermined:
        _refuse_undetermined(result, source)
    return result


def _determined_modes(modes: Any, coverage: np.ndarray, span_tolerance: float
                      ) -> np.ndarray:
    """Modes whose degenerate set lies in the fitted span (within ``span_tolerance``),
    and the acoustic ones (zero by the sum rule)."""
    determined = np.zeros(modes.n_modes, bool)
    for bands in modes.degenerate_sets():
        determined[bands] = np.mean(coverage[bands]) >= 1.0 - span_tolerance
    return determined | modes.acoustic()


def _refuse_undetermined(result: HarmonicRaman, source: str) -> None:
    """:class:`MissingDataError` naming the Raman-allowed bands the fit left open."""
    missing = [p for p in result.peaks() if not p.determined and not p.acoustic]
    if missing:
        text = "; ".join(f"band{'s' if len(p.bands) > 1 else ''} "
                         f"{' '.join(str(b) for b in p.bands)} ({p.irrep or '?'}, "
                         f"{p.frequency_cm:.1f} cm^-1)" for p in missing)
        raise MissingDataError(
            f"{source}: the displaced structures leave Raman-allowed modes undetermined: "
            f"{text}; add structures displaced along them (generate_displacements writes "
            "them) or pass allow_undetermined")


def _displaced_alpha(frames: list[Atoms]) -> np.ndarray:
    """The alpha (n, 9) of every displaced structure; refuses one without a tensor."""
    alpha = np.empty((len(frames), 9))
    for k, atoms in enumerate(frames):
        value = atoms.info.get("polarizability")
        if value is None:
            raise MissingDataError(f"{atoms.info.get('source', f'structure {k}')}: no "
                                   "polarizability / dielectric tensor")
        alpha[k] = np.asarray(value, dtype=float).reshape(9)
    return alpha


def _alpha_gradient(u: np.ndarray, alpha: np.ndarray, masses: np.ndarray, rcond: float,
                    source: str) -> tuple[np.ndarray, ...]:
    """Least-squares d(alpha)/dx (3N, 9) over mass-weighted displacements ``u`` (n, N, 3).

    The data are centred (an intercept), rigid translations are projected out (acoustic
    sum rule) and the fit is a truncated SVD (singular values below ``rcond`` times the
    largest dropped). Returns ``(gradient, singular values, kept mask, kept right
    singular vectors, residual)``.
    """
    n_frames, n_atoms = u.shape[:2]
    x = (u * np.sqrt(masses)[None, :, None]).reshape(n_frames, -1)
    xc = x - x.mean(axis=0)
    yc = alpha - alpha.mean(axis=0)
    trans = np.zeros((3, n_atoms, 3))
    for a in range(3):
        trans[a, :, a] = np.sqrt(masses)
    trans = trans.reshape(3, -1)
    trans /= np.linalg.norm(trans, axis=1, keepdims=True)
    xc = xc - (xc @ trans.T) @ trans
    u_svd, sv, vt = np.linalg.svd(xc, full_matrices=False)
    if sv.size == 0 or sv[0] <= 0:
        raise MissingDataError(f"{source}: the structures are not displaced from each other")
    keep = sv > max(float(rcond), 0.0) * sv[0] if rcond > 0 else sv > 1e-14 * sv[0]
    ur, sr, vr = u_svd[:, keep], sv[keep], vt[keep]
    grad = vr.T @ ((ur.T @ yc) / sr[:, None])  # d(alpha)/dx, (3N_ref, 9)
    return grad, sv, keep, vr, yc - xc @ grad
