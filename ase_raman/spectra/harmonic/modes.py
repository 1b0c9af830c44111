"""Gamma-point harmonic modes: from a phonopy object or phonopy's own output files.

A :class:`GammaModes` holds what a harmonic Raman calculation needs:

* ``atoms``: the cell the modes belong to (phonopy's primitive cell), ``ase.Atoms``,
  positions in Angstrom;
* ``masses``: (N,) in amu (phonopy's masses, not ASE's: they enter the eigenvectors);
* ``frequencies``: (n_modes,) in cm^-1 (phonopy's THz times ``THZ_TO_CM``; imaginary
  modes negative, as phonopy writes them);
* ``eigenvectors``: (n_modes, N, 3), real, orthonormal **mass-weighted** eigenvectors
  e_k of the dynamical matrix: a displacement along mode k by the normal coordinate Q
  (amu^1/2 Angstrom) moves atom i by ``Q e_k[i] / sqrt(m_i)`` Angstrom;
* ``irreps``: a label per mode (phonopy's ``ir_label`` of its degenerate set, e.g.
  ``"A1"``, ``"E"``, ``"T2g"``) or None where unknown.

Sources (:func:`load_modes`): ``mesh.yaml``, ``band.yaml``, ``qpoints.yaml`` (written
with eigenvectors) and their ``.hdf5`` forms, taking the Gamma point; a phonopy object
(:func:`modes_from_phonopy`) or a ``phonopy.yaml`` with force constants / FORCE_SETS
(:func:`load_phonopy`). The hdf5 files and some yaml files carry no structure: pass
``structure=`` (e.g. a POSCAR or the ``phonopy.yaml`` next to them).

Eigenvectors at Gamma are real up to a phase; complex ones (LAPACK's arbitrary phases,
also mixed inside degenerate sets) are turned into a real orthonormal basis of the same
(degenerate) subspace, which leaves every per-frequency sum unchanged.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from ...errors import InputFileError, MissingDataError, UsageError
from ...units import THZ_TO_CM

#: Default tolerance (cm^-1) below which two Gamma frequencies count as degenerate.
DEGENERACY_TOLERANCE_CM: float = 0.01


@dataclass
class GammaModes:
    """Gamma-point normal modes of a cell (see the module doc for units).

    ``source`` records where they came from; ``degenerate_sets`` (computed) lists the
    0-based band indices of each set of degenerate modes, in increasing frequency.
    """

    atoms: Atoms
    masses: np.ndarray
    frequencies: np.ndarray
    eigenvectors: np.ndarray
    irreps: list[str | None] | None = None
    source: str = ""
    degeneracy_tolerance_cm: float = DEGENERACY_TOLERANCE_CM
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.atoms)
        self.masses = np.asarray(self.masses, dtype=float).reshape(n)
        self.frequencies = np.asarray(self.frequencies, dtype=float).reshape(-1)
        vec = np.asarray(self.eigenvectors)
        nm = self.frequencies.size
        if vec.shape != (nm, n, 3):
            raise InputFileError(f"{self.source}: eigenvectors of shape {vec.shape}, expected "
                                 f"({nm}, {n}, 3) for {nm} modes of {n} atoms")
        if np.any(self.masses <= 0):
            raise InputFileError(f"{self.source}: non-positive atomic masses")
        self.eigenvectors = _real_basis(vec.reshape(nm, 3 * n), self.degenerate_sets()
                                        ).reshape(nm, n, 3)
        if self.irreps is not None and len(self.irreps) != nm:
            raise InputFileError(f"{self.source}: {len(self.irreps)} irrep labels for {nm} modes")

    @property
    def n_modes(self) -> int:
        """Number of modes (3 N for a complete set)."""
        return int(self.frequencies.size)

    def degenerate_sets(self) -> list[list[int]]:
        """0-based band indices grouped by frequency (within ``degeneracy_tolerance_cm``)."""
        return degenerate_sets(self.frequencies, self.degeneracy_tolerance_cm)

    def displacement(self, band: int, q: float) -> np.ndarray:
        """Cartesian displacement (N, 3) in Angstrom along 0-based ``band`` by ``q``
        amu^1/2 Angstrom: ``q e[i] / sqrt(m_i)``."""
        return q * self.eigenvectors[band] / np.sqrt(self.masses)[:, None]

    def displaced(self, band: int, q: float) -> Atoms:
        """A copy of :attr:`atoms` displaced along ``band`` by ``q`` amu^1/2 Angstrom."""
        out = self.atoms.copy()
        out.calc = None
        out.positions = out.positions + self.displacement(band, q)
        return out

    def mass_weighted_translations(self) -> np.ndarray:
        """(3, 3 N) orthonormal rigid translations in mass-weighted coordinates."""
        sq = np.sqrt(self.masses)
        t = np.zeros((3, len(self.atoms), 3))
        for a in range(3):
            t[a, :, a] = sq
        t = t.reshape(3, -1)
        return t / np.linalg.norm(t, axis=1, keepdims=True)

    def acoustic(self, threshold: float = 0.5) -> np.ndarray:
        """Boolean (n_modes,): the three modes that are (mostly) rigid translations.

        The three modes with the largest share of their mass-weighted eigenvector in the
        span of the translations, each above ``threshold`` (for a molecule in a box the
        near-zero translations and rotations mix slightly; a crystal's Gamma acoustic
        modes are pure translations).
        """
        vec = self.eigenvectors.reshape(self.n_modes, -1)
        overlap = np.sum((vec @ self.mass_weighted_translations().T) ** 2, axis=1)
        out = np.zeros(self.n_modes, dtype=bool)
        top = np.argsort(overlap)[::-1][:3]
        out[top[overlap[top] > threshold]] = True
        return out


def degenerate_sets(frequencies: np.ndarray, tolerance_cm: float) -> list[list[int]]:
    """Group 0-based indices of (sorted or not) frequencies closer than ``tolerance_cm``."""
    f = np.asarray(frequencies, dtype=float)
    order = np.argsort(f, kind="stable")
    sets: list[list[int]] = []
    for i in order:
        if sets and abs(f[i] - f[sets[-1][-1]]) <= tolerance_cm:
            sets[-1].append(int(i))
        else:
            sets.append([int(i)])
    return sets


def _real_basis(vec: np.ndarray, sets: list[list[int]]) -> np.ndarray:
    """Real orthonormal eigenvectors spanning the same degenerate subspaces."""
    vec = np.asarray(vec)
    if not np.iscomplexobj(vec) or np.max(np.abs(vec.imag), initial=0.0) < 1e-12:
        out = np.real(vec).astype(float)
    else:
        out = np.empty(vec.shape, dtype=float)
        for s in sets:
            block = vec[s]  # (d, 3N)
            stacked = np.concatenate([block.real, block.imag], axis=0)
            u, sv, vt = np.linalg.svd(stacked, full_matrices=False)
            d = len(s)
            if d < len(sv) and sv[d] > 1e-6 * sv[0]:
                raise InputFileError(
                    "complex Gamma eigenvectors do not span a real subspace (is this really "
                    "the Gamma point?)")
            basis = vt[:d]
            # keep the file's order/sign as far as possible: rotate onto the real parts
            if d == 1:
                phase = block[0] @ basis[0]
                basis = basis * np.sign(phase.real if abs(phase.real) > 0 else 1.0)
            out[s] = basis
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    if np.any(norms < 1e-8):
        raise InputFileError("an eigenvector is zero")
    return out / norms


# ---------------------------------------------------------------------------------------
# phonopy objects
# ---------------------------------------------------------------------------------------


def phonopy_atoms_to_ase(cell: Any) -> Atoms:
    """A phonopy ``PhonopyAtoms`` as ``ase.Atoms`` (periodic, same order and positions)."""
    return Atoms(symbols=list(cell.symbols), cell=np.asarray(cell.cell),
                 scaled_positions=np.asarray(cell.scaled_positions), pbc=True)


def _beside(yaml: Path, name: str) -> Path | None:
    """``name`` in the folder of ``yaml`` when it is a file there, else None."""
    candidate = yaml.parent / name
    return candidate if candidate.is_file() else None


def force_sets_atoms(path: Path) -> int | None:
    """Atom count of a type-1 FORCE_SETS (its first number); None for type 2 (no header)."""
    with open(path, errors="replace") as fh:
        for line in fh:
            fields = line.split("#")[0].split()
            if fields:
                return int(fields[0]) if len(fields) == 1 and fields[0].isdigit() else None
    return None


@contextlib.contextmanager
def _working_directory(folder: Path) -> Iterator[None]:
    """Run the block in ``folder`` (phonopy looks for FORCE_SETS/BORN in the current one)."""
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def load_phonopy(path: str | os.PathLike, force_sets: str | os.PathLike | None = None,
                 force_constants: str | os.PathLike | None = None,
                 symprec: float = 1e-5, born: str | os.PathLike | bool | None = None) -> Any:
    """``phonopy.load`` with one-line errors; force constants are produced.

    ``path`` is a ``phonopy.yaml``/``phonopy_disp.yaml`` (with force constants or a
    displacement dataset with forces), ``force_sets`` a FORCE_SETS file and
    ``force_constants`` a FORCE_CONSTANTS / force_constants.hdf5 file. Files not given
    are looked for beside ``path``, never in the current folder: ``FORCE_SETS`` (when the
    yaml has no forces or force constants; its atom count is checked against the
    supercell) and ``BORN``. ``born``: a BORN file (Born charges and dielectric tensor for
    the non-analytic term of LO-TO splitting), None = ``BORN`` beside ``path`` when
    present, False = none. Raises :class:`MissingDataError` when no force constants result.

    phonopy parses YAML with PyYAML's full (unsafe) loader: it only ever gets the text
    that :func:`ase_raman.io.safe_yaml.validated_yaml_text` checked (no tags, bounded
    aliases), handed over as a stream, never the path, so the file cannot run code.
    """
    import phonopy

    from ...io.safe_yaml import validated_yaml_text

    p = Path(path).resolve()
    if not p.is_file():
        raise InputFileError(f"{path}: file not found; pass a phonopy.yaml")
    given = [Path(f).resolve() if f is not None else None
             for f in (force_sets, force_constants)]
    for extra, original in zip(given, (force_sets, force_constants), strict=True):
        if extra is not None and not extra.is_file():
            raise InputFileError(f"{original}: file not found")
    sets, constants = given
    if not symprec > 0 or not np.isfinite(symprec):
        raise UsageError(f"symprec {symprec!r}: must be a positive tolerance in Angstrom")
    text = validated_yaml_text(p)
    if sets is None and constants is None and not ("forces:" in text
                                                   or "force_constants:" in text):
        sets = _beside(p, "FORCE_SETS")
    born_file = None
    if born is None:
        born_file = _beside(p, "BORN")
    elif born is not False:
        born_file = Path(born).resolve()
        if not born_file.is_file():
            raise InputFileError(f"{born}: BORN file not found")
    if sets is not None:  # before phonopy: older versions accept a mismatch silently
        _check_force_sets_size(sets, _yaml_supercell_atoms(text), path)
    try:
        with _working_directory(p.parent):
            phonon = phonopy.load(io.StringIO(text), force_sets_filename=sets,
                                  force_constants_filename=(None if constants is None
                                                            else str(constants)),
                                  born_filename=born_file, is_nac=born_file is not None,
                                  produce_fc=True, symprec=symprec, log_level=0)
    except Exception as exc:  # phonopy raises many kinds for bad files
        msg = " ".join(str(exc).split())
        raise InputFileError(f"{path}: phonopy cannot load it ({type(exc).__name__}: {msg})"
                             ) from None
    if sets is not None:
        _check_force_sets_size(sets, len(phonon.supercell), path)
    if phonon.force_constants is None:
        raise MissingDataError(
            f"{path}: no force constants and no forces (FORCE_SETS) in or beside this file; "
            "give a FORCE_SETS file (force_sets=) or force constants (force_constants=), "
            "or read the modes from a mesh.yaml")
    return phonon


def _yaml_supercell_atoms(text: str) -> int | None:
    """Atom count of the ``supercell`` of a phonopy yaml's text (checked safe), or None."""
    import yaml

    try:
        data = yaml.load(io.StringIO(text), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        return len(data["supercell"]["points"])
    except Exception:  # no supercell block: phonopy and the check after loading decide
        return None


def _check_force_sets_size(sets: Path, n_cell: int | None, path: str | os.PathLike) -> None:
    """A type-1 FORCE_SETS must hold forces on the supercell's atoms."""
    n_file = force_sets_atoms(sets)
    if n_file is not None and n_cell is not None and n_file != n_cell:
        raise InputFileError(f"{sets}: forces on {n_file} atoms, but the supercell of "
                             f"{path} has {n_cell}; pass the FORCE_SETS of this yaml")


def modes_from_phonopy(phonon: Any, irreps: bool = True,
                       degeneracy_tolerance_cm: float = DEGENERACY_TOLERANCE_CM,
                       source: str = "phonopy",
                       q_direction: Any = None) -> GammaModes:
    """Gamma modes of a phonopy object's primitive cell (force constants must be set).

    ``q_direction`` (3 numbers, reduced coordinates of the reciprocal cell): the direction
    along which q -> 0 for the non-analytic term when the phonopy object has NAC
    parameters (BORN): LO modes along it split from the TO modes. None: no direction
    (TO modes only, the analytic limit).

    Irrep labels come from phonopy's own ``run_irreps`` (None where phonopy has no label
    or fails, e.g. for a cell whose primitive matrix was not set).
    """
    if getattr(phonon, "force_constants", None) is None:
        raise MissingDataError(f"{source}: the phonopy object has no force constants")
    direction = None if q_direction is None else np.asarray(q_direction, dtype=float)
    if direction is not None and (direction.shape != (3,) or not np.any(direction)):
        raise UsageError(f"q direction {q_direction!r}: give three numbers, not all zero")
    phonon.run_qpoints([[0.0, 0.0, 0.0]], with_eigenvectors=True,
                       nac_q_direction=direction if phonon.nac_params else None)
    d = phonon.get_qpoints_dict()
    freqs_thz = np.asarray(d["frequencies"][0])
    vecs = np.asarray(d["eigenvectors"][0]).T  # (band, 3N)
    prim = phonon.primitive
    atoms = phonopy_atoms_to_ase(prim)
    n = len(atoms)
    labels = _phonopy_irreps(phonon, freqs_thz, degeneracy_tolerance_cm) if irreps else None
    return GammaModes(atoms=atoms, masses=np.asarray(prim.masses), frequencies=freqs_thz
                      * THZ_TO_CM, eigenvectors=vecs.reshape(-1, n, 3), irreps=labels,
                      source=source, degeneracy_tolerance_cm=degeneracy_tolerance_cm)


def _phonopy_irreps(phonon: Any, freqs_thz: np.ndarray, tol_cm: float) -> list[str | None] | None:
    """Per-band irrep labels from phonopy (None when unavailable)."""
    try:
        # run_irreps returns them (recent phonopy); older set_irreps keeps them in .irreps
        run = getattr(phonon, "run_irreps", None) or phonon.set_irreps
        ir = run([0.0, 0.0, 0.0], degeneracy_tolerance=tol_cm / THZ_TO_CM)
        if not hasattr(ir, "band_indices"):
            ir = phonon.irreps
        labels = ir._ir_labels  # phonopy keeps them only privately (per degenerate set)
        sets = ir.band_indices
    except Exception:  # no labels for this cell/point group: not an error for Raman
        return None
    if labels is None:
        return None
    out: list[str | None] = [None] * len(freqs_thz)
    for label, bands in zip(labels, sets, strict=False):
        for b in bands:
            if 0 <= b < len(out):
                out[b] = label
    return out


def _default_to_thz() -> float:
    """phonopy's factor from sqrt(eV/Angstrom^2/amu) to THz, from where the installed
    phonopy keeps it (``phonopy.physical_units`` in recent versions, ``phonopy.units`` in
    the older ones the dependency floor allows)."""
    try:
        from phonopy.physical_units import get_physical_units
    except ImportError:  # older phonopy
        from phonopy.units import VaspToTHz

        return float(VaspToTHz)
    return float(get_physical_units().DefaultToTHz)


def _phonopy_from_modes(modes: GammaModes) -> Any:
    """A 1x1x1 phonopy object whose force constants reproduce the given Gamma modes
    (used only to let phonopy assign irrep labels to modes read from a file)."""
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms

    a = modes.atoms
    cell = PhonopyAtoms(symbols=a.get_chemical_symbols(), cell=a.cell.array,
                        scaled_positions=a.get_scaled_positions(wrap=False),
                        masses=modes.masses)
    phonon = Phonopy(cell, supercell_matrix=np.eye(3, dtype=int), primitive_matrix=None,
                     log_level=0)
    factor = _default_to_thz()
    f_thz = modes.frequencies / THZ_TO_CM
    eig = np.sign(f_thz) * (f_thz / factor) ** 2
    vec = modes.eigenvectors.reshape(modes.n_modes, -1)
    dyn = vec.T @ np.diag(eig) @ vec
    sq = np.repeat(np.sqrt(modes.masses), 3)
    fc = (dyn * np.outer(sq, sq)).reshape(len(a), 3, len(a), 3).transpose(0, 2, 1, 3)
    phonon.force_constants = np.ascontiguousarray(fc)
    return phonon


def assign_irreps(modes: GammaModes) -> list[str | None] | None:
    """Phonopy's irrep labels for modes read from a file (None when unavailable)."""
    try:
        phonon = _phonopy_from_modes(modes)
    except Exception:
        return None
    return _phonopy_irreps(phonon, modes.frequencies / THZ_TO_CM, modes.degeneracy_tolerance_cm)


# ---------------------------------------------------------------------------------------
# phonopy output files (yaml / hdf5)
# ---------------------------------------------------------------------------------------


def _read_structure(path: str | os.PathLike) -> tuple[Atoms, np.ndarray | None]:
    """A structure (and masses when the file has them) from phonopy.yaml or anything ASE reads."""
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"{p}: file not found")
    if p.suffix in (".yaml", ".yml"):
        data = _load_yaml(p)
        for key in ("primitive_cell", "unit_cell"):
            if isinstance(data.get(key), dict) and "points" in data[key]:
                return _structure_from_yaml(data[key], p)
        if "points" in data and "lattice" in data:
            return _structure_from_yaml(data, p)
        raise MissingDataError(f"{p}: no primitive_cell/unit_cell/points in this yaml")
    import ase.io

    try:
        atoms = ase.io.read(p)
    except Exception as exc:
        raise InputFileError(f"{p}: cannot read a structure ({type(exc).__name__}: {exc})"
                             ) from None
    if isinstance(atoms, list):
        atoms = atoms[-1]
    atoms.calc = None
    return atoms, None


def _load_yaml(p: Path) -> dict[str, Any]:
    from ...io.safe_yaml import load_yaml

    data = load_yaml(p)
    if not isinstance(data, dict):
        raise InputFileError(f"{p}: not a phonopy yaml file (top level is not a mapping)")
    return data


def _structure_from_yaml(block: dict[str, Any], p: Path) -> tuple[Atoms, np.ndarray | None]:
    try:
        lattice = np.array(block["lattice"], dtype=float)
        points = block["points"]
        symbols = [pt["symbol"] for pt in points]
        frac = np.array([pt["coordinates"] for pt in points], dtype=float)
        masses = (np.array([pt["mass"] for pt in points], dtype=float)
                  if all("mass" in pt for pt in points) else None)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputFileError(f"{p}: malformed lattice/points block ({exc})") from None
    atoms = Atoms(symbols=symbols, cell=lattice, scaled_positions=frac, pbc=True)
    return atoms, masses


def _default_masses(atoms: Atoms) -> np.ndarray:
    """phonopy's default masses (amu) of the atoms' elements."""
    from phonopy.structure.atoms import PhonopyAtoms

    cell = PhonopyAtoms(symbols=atoms.get_chemical_symbols(), cell=atoms.cell.array,
                        scaled_positions=atoms.get_scaled_positions(wrap=False))
    return np.asarray(cell.masses, dtype=float)


def _gamma_index(qpoints: np.ndarray, p: Path) -> int:
    q = np.asarray(qpoints, dtype=float).reshape(-1, 3)
    dist = np.linalg.norm(q - np.rint(q), axis=1)
    hits = np.flatnonzero(dist < 1e-6)
    if hits.size == 0:
        raise MissingDataError(f"{p}: no Gamma point (q = 0 0 0) among its {len(q)} q-points;"
                               " run phonopy with a Gamma-centred mesh or QPOINTS = 0 0 0")
    return int(hits[0])


def load_modes(path: str | os.PathLike, structure: str | os.PathLike | Atoms | None = None,
               irreps: str | os.PathLike | bool | None = None,
               degeneracy_tolerance_cm: float = DEGENERACY_TOLERANCE_CM) -> GammaModes:
    """Gamma modes from phonopy's ``mesh``/``band``/``qpoints`` yaml or hdf5 output.

    Parameters
    ----------
    path : the file; it must hold eigenvectors (phonopy ``--eigvecs`` / ``EIGENVECTORS
        = .TRUE.``) and the Gamma point.
    structure : the cell of the modes when the file has none (all hdf5 forms): a
        ``phonopy.yaml``, POSCAR or any ASE-readable file, or an ``ase.Atoms``. Masses
        come from the file, else from the phonopy.yaml, else phonopy's default table.
    irreps : a phonopy ``irreps.yaml`` to take labels from; None (default) uses an
        ``irreps.yaml`` beside ``path`` when present, else lets phonopy assign labels;
        False for no labels.
    """
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"{p}: file not found")
    atoms: Atoms | None = None
    masses: np.ndarray | None = None
    if p.suffix in (".hdf5", ".h5"):
        freqs_thz, vecs = _modes_from_hdf5(p)
    else:
        data = _load_yaml(p)
        if "points" in data and "lattice" in data:
            atoms, masses = _structure_from_yaml(data, p)
        freqs_thz, vecs = _modes_from_yaml(data, p)
    if structure is not None:
        if isinstance(structure, Atoms):
            ref, ref_masses = structure.copy(), None
        else:
            ref, ref_masses = _read_structure(structure)
        if atoms is not None and len(ref) != len(atoms):
            raise UsageError(f"{structure}: {len(ref)} atoms, but {p} has {len(atoms)}")
        atoms = ref
        masses = masses if masses is not None else ref_masses
    if atoms is None:
        raise MissingDataError(f"{p}: the file holds no structure; pass the cell of the modes "
                               "(structure=: a POSCAR or phonopy.yaml)")
    n = len(atoms)
    if vecs.shape[1] != 3 * n:
        raise InputFileError(f"{p}: eigenvectors have {vecs.shape[1]} components, the "
                             f"structure has {n} atoms ({3 * n} expected)")
    if masses is None:
        masses = _default_masses(atoms)
    modes = GammaModes(atoms=atoms, masses=masses, frequencies=freqs_thz * THZ_TO_CM,
                       eigenvectors=vecs.reshape(-1, n, 3), source=str(p),
                       degeneracy_tolerance_cm=degeneracy_tolerance_cm)
    if irreps is False:
        return modes
    ir_path = Path(irreps) if isinstance(irreps, (str, os.PathLike)) else p.with_name("irreps.yaml")
    if ir_path.is_file():
        modes.irreps = read_irreps_yaml(ir_path, modes.n_modes)
        modes.extra["irreps_source"] = str(ir_path)
    elif isinstance(irreps, (str, os.PathLike)):
        raise InputFileError(f"{ir_path}: file not found")
    else:
        modes.irreps = assign_irreps(modes)
        modes.extra["irreps_source"] = "phonopy (from the file's eigenvectors)"
    return modes


def read_irreps_yaml(path: str | os.PathLike, n_modes: int | None = None) -> list[str | None]:
    """Per-band labels (0-based list) from phonopy's ``irreps.yaml``."""
    p = Path(path)
    data = _load_yaml(p)
    sets = data.get("normal_modes")
    if not isinstance(sets, list):
        raise InputFileError(f"{p}: no normal_modes list; not a phonopy irreps.yaml")
    n = n_modes or sum(len(s.get("band_indices", [])) for s in sets)
    labels: list[str | None] = [None] * n
    for s in sets:
        for b in s.get("band_indices", []):
            label = s.get("ir_label")
            if 1 <= int(b) <= n:
                labels[int(b) - 1] = None if label in (None, "None", "") else str(label)
    return labels


def _modes_from_yaml(data: dict[str, Any], p: Path) -> tuple[np.ndarray, np.ndarray]:
    phonon = data.get("phonon")
    if not isinstance(phonon, list) or not phonon:
        raise InputFileError(f"{p}: no 'phonon' list; not a phonopy mesh/band/qpoints yaml")
    qpts = [entry.get("q-position", [np.nan] * 3) for entry in phonon]
    entry = phonon[_gamma_index(np.array(qpts, dtype=float), p)]
    bands = entry.get("band") or []
    try:
        freqs = np.array([b["frequency"] for b in bands], dtype=float)
    except (KeyError, TypeError, ValueError):
        raise InputFileError(f"{p}: malformed band list at Gamma") from None
    if any("eigenvector" not in b for b in bands):
        raise MissingDataError(f"{p}: no eigenvectors at Gamma; rerun phonopy with --eigvecs "
                               "(EIGENVECTORS = .TRUE.)")
    try:
        vecs = np.array([np.array(b["eigenvector"], dtype=float) for b in bands])
    except (TypeError, ValueError):
        raise InputFileError(f"{p}: malformed eigenvectors at Gamma") from None
    if vecs.ndim != 4 or vecs.shape[2:] != (3, 2):
        raise InputFileError(f"{p}: eigenvectors of shape {vecs.shape}, expected "
                             "(bands, atoms, 3, [re, im])")
    cvec = (vecs[..., 0] + 1j * vecs[..., 1]).reshape(len(bands), -1)
    return freqs, cvec


def _modes_from_hdf5(p: Path) -> tuple[np.ndarray, np.ndarray]:
    import h5py

    try:
        with h5py.File(p, "r") as fh:
            if "eigenvector" not in fh:
                raise MissingDataError(f"{p}: no 'eigenvector' dataset; rerun phonopy with "
                                       "--eigvecs")
            freq = np.asarray(fh["frequency"])
            vec = np.asarray(fh["eigenvector"])
            q = np.asarray(fh["qpoint"]) if "qpoint" in fh else None
            if q is None and "path" in fh:
                q = np.asarray(fh["path"])
    except OSError as exc:
        raise InputFileError(f"{p}: not a readable hdf5 file ({exc})") from None
    nb = freq.shape[-1]
    freq = freq.reshape(-1, nb)
    vec = vec.reshape(-1, vec.shape[-2], nb)
    if q is None:
        raise InputFileError(f"{p}: no 'qpoint' (or 'path') dataset")
    i = _gamma_index(q.reshape(-1, 3), p)
    return freq[i], vec[i].T
