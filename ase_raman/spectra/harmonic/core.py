"""Raman tensors and activities of Gamma modes; the per-frequency mode table.

Units and definitions
---------------------
* Normal coordinate Q of mode k in amu^1/2 Angstrom (mass-weighted eigenvector e_k,
  atom i moves by ``Q e_k[i] / sqrt(m_i)``).
* Raman tensor ``R_k = d(alpha)/dQ_k`` in Angstrom^3 / (amu^1/2 Angstrom) =
  Angstrom^2 amu^-1/2, alpha the extensive polarizability of the modes' cell
  (``V (eps - 1) / (4 pi)`` for a DFPT dielectric tensor).
* Activity ``45 a'^2 + 7 gamma'^2`` in Angstrom^4 / amu with ``a' = tr(R) / 3`` and
  ``gamma'^2`` the anisotropy of the symmetric part of R
  (:func:`ase_raman.tensors.invariants`), summed over degenerate modes (the sum is
  independent of the basis chosen inside a degenerate set).

Acoustic modes are zero by translation invariance (never computed); modes whose set is
Raman-forbidden by symmetry (:mod:`.symmetry`) are zero when the computed activity is
below ``zero_tolerance`` times the largest activity or below the absolute floor
:data:`ZERO_ACTIVITY_FLOOR` (else the table says the symmetry is broken by the structure
or the polarizability source).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase import Atoms

from ...atomic_write import atomic_output
from ...errors import UsageError
from ...tensors import invariants
from ...units import E2A2_PER_EV_TO_A3
from .modes import GammaModes
from .symmetry import raman_allowed

#: Columns of the mode table written by :meth:`HarmonicRaman.write_table` (the first five
#: are the public interface: band, frequency, irrep, activity, Raman activity).
TABLE_COLUMNS = ("band", "frequency_cm-1", "irrep", "activity_A4_amu", "raman_active",
                 "bands", "degeneracy", "isotropic_A4_amu", "anisotropic_A4_amu",
                 "depolarization_ratio", "determined", "status")
#: Default step of the central finite difference along a mode, amu^1/2 Angstrom.
DEFAULT_STEP: float = 0.05
#: Default relative tolerance below which an activity counts as zero.
ZERO_TOLERANCE: float = 1e-6
#: Absolute floor (Angstrom^4/amu) below which an activity counts as zero whatever the
#: largest activity: finite-difference round-off of a crystal with no Raman-active mode
#: (rock-salt NaCl) is far below it, a real Raman line (>= 1e-4) far above.
ZERO_ACTIVITY_FLOOR: float = 1e-8


def activity(raman_tensor: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(45 a'^2 + 7 gamma'^2, a'^2, gamma'^2)`` of Raman tensors (..., 3, 3).

    Units: the square of the tensor's (Angstrom^4 / amu for Angstrom^2 amu^-1/2).
    Only the symmetric part of the tensor is used.
    """
    mean, gamma2 = invariants(np.asarray(raman_tensor, dtype=float))
    a2 = mean**2
    return 45.0 * a2 + 7.0 * gamma2, a2, gamma2


@dataclass
class ModePeak:
    """One row of the mode table: a set of degenerate Gamma modes (summed).

    ``bands`` are 1-based (phonopy's numbering); ``frequency_cm`` the mean frequency
    (cm^-1); ``activity`` 45 a'^2 + 7 gamma'^2 summed over the set (Angstrom^4/amu, NaN
    when not determined); ``isotropic``/``anisotropic`` the summed 45 a'^2 and 7 gamma'^2
    parts; ``raman_active`` the selection rule (symmetry, else the activity);
    ``status`` a plain-words explanation.
    """

    bands: list[int]
    frequency_cm: float
    irrep: str | None
    activity: float
    isotropic: float
    anisotropic: float
    raman_active: bool
    determined: bool
    acoustic: bool
    status: str

    @property
    def depolarization_ratio(self) -> float:
        """3 gamma'^2 / (45 a'^2 + 4 gamma'^2) (0 .. 3/4; NaN for a zero activity)."""
        g2 = self.anisotropic / 7.0
        den = self.isotropic + 4.0 * g2
        return 3.0 * g2 / den if den > 0 else float("nan")

    def row(self) -> dict[str, Any]:
        """The table row (see :data:`TABLE_COLUMNS`)."""
        return {
            "band": self.bands[0],
            "frequency_cm-1": f"{self.frequency_cm:.6f}",
            "irrep": self.irrep or "",
            "activity_A4_amu": f"{self.activity:.8g}",
            "raman_active": "true" if self.raman_active else "false",
            "bands": " ".join(str(b) for b in self.bands),
            "degeneracy": len(self.bands),
            "isotropic_A4_amu": f"{self.isotropic:.8g}",
            "anisotropic_A4_amu": f"{self.anisotropic:.8g}",
            "depolarization_ratio": f"{self.depolarization_ratio:.6g}",
            "determined": "true" if self.determined else "false",
            "status": self.status,
        }


@dataclass
class HarmonicRaman:
    """Raman tensors of all Gamma modes and what is known about each.

    ``raman_tensors`` (n_modes, 3, 3) in Angstrom^2 amu^-1/2 (NaN where not determined,
    0 for acoustic modes); ``determined`` (n_modes,) bool; ``allowed`` (n_modes,) int:
    1 Raman-allowed by symmetry, 0 forbidden, -1 unknown; ``method`` and ``details``
    record how the tensors were obtained (step, fit diagnostics, files).
    """

    modes: GammaModes
    raman_tensors: np.ndarray
    determined: np.ndarray
    allowed: np.ndarray
    method: str
    details: dict[str, Any] = field(default_factory=dict)
    zero_tolerance: float = ZERO_TOLERANCE

    @property
    def acoustic(self) -> np.ndarray:
        """(n_modes,) bool: rigid translations."""
        return self.modes.acoustic()

    def activities(self) -> np.ndarray:
        """Per band (n_modes,): 45 a'^2 + 7 gamma'^2 in Angstrom^4/amu (NaN: not
        determined; 0: acoustic, or forbidden by symmetry and zero within tolerance)."""
        act, _, _ = activity(np.nan_to_num(self.raman_tensors))
        act = np.where(self.determined, act, np.nan)
        act[self.acoustic] = 0.0
        return act

    def peaks(self) -> list[ModePeak]:
        """One :class:`ModePeak` per set of degenerate modes, by increasing frequency."""
        modes = self.modes
        act_all, a2_all, g2_all = activity(np.nan_to_num(self.raman_tensors))
        acoustic = self.acoustic
        ok = self.determined & ~acoustic
        scale = float(np.max(act_all[ok], initial=0.0))
        tol = max(self.zero_tolerance * scale, ZERO_ACTIVITY_FLOOR)
        out = []
        for bands in modes.degenerate_sets():
            freq = float(np.mean(modes.frequencies[bands]))
            labels = {modes.irreps[b] for b in bands} if modes.irreps else {None}
            labels.discard(None)
            irrep = "+".join(sorted(str(x) for x in labels)) if labels else None
            det = bool(np.all(self.determined[bands]))
            act = float(np.sum(act_all[bands]))
            iso = float(45.0 * np.sum(a2_all[bands]))
            aniso = float(7.0 * np.sum(g2_all[bands]))
            allowed = {int(self.allowed[b]) for b in bands}
            sym = 1 if 1 in allowed else (0 if allowed == {0} else -1)
            imag = " (imaginary frequency)" if freq < -1.0 and not np.all(acoustic[bands]) else ""
            if np.all(acoustic[bands]):
                status, active, act, iso, aniso, det = (
                    "acoustic: zero by translation invariance", False, 0.0, 0.0, 0.0, True)
            elif sym == 0:
                active = False
                if not det or act <= tol:
                    status = "Raman-inactive by symmetry: zero"
                    if not det:
                        status += " (not displaced, not needed)"
                    act, iso, aniso, det = 0.0, 0.0, 0.0, True
                else:
                    status = (f"Raman-inactive by symmetry, but the computed activity "
                              f"{act:.3g} is not zero: the structure or the polarizability "
                              "source breaks the symmetry")
            elif not det:
                active = sym == 1
                status = "not determined: outside the span of the displacements"
                act = iso = aniso = float("nan")
            elif act <= tol:
                active = False if sym == -1 else True
                status = ("Raman-allowed by symmetry, activity zero within tolerance"
                          if sym == 1 else "activity zero within tolerance (symmetry unknown)")
                act, iso, aniso = 0.0, 0.0, 0.0
            else:
                active = True
                status = "Raman-active" + ("" if sym == 1 else " (symmetry unknown)")
            out.append(ModePeak(bands=[b + 1 for b in bands], frequency_cm=freq,
                                irrep=irrep, activity=act, isotropic=iso, anisotropic=aniso,
                                raman_active=active, determined=det,
                                acoustic=bool(np.all(acoustic[bands])), status=status + imag))
        return out

    def table_rows(self) -> list[dict[str, Any]]:
        """The mode table as a list of dicts (:data:`TABLE_COLUMNS`)."""
        return [p.row() for p in self.peaks()]

    def write_table(self, path: str | os.PathLike) -> None:
        """Write the mode table CSV (one row per degenerate set; see :data:`TABLE_COLUMNS`).

        A commented header states the units, the method and the source of the modes.
        """
        rows = self.table_rows()
        with atomic_output(path) as tmp:
            with open(tmp, "w", newline="") as fh:
                fh.write("# ase-raman harmonic mode table: one row per set of degenerate "
                         "Gamma modes (activities summed)\n")
                fh.write("# units: frequency_cm-1 in cm^-1; activity_A4_amu = 45 a'^2 + 7 "
                         "gamma'^2 of d(alpha)/dQ in Angstrom^4/amu (Q in amu^1/2 "
                         "Angstrom); isotropic = 45 a'^2, anisotropic = 7 gamma'^2\n")
                fh.write(f"# method: {self.method}; modes: {self.modes.source}\n")
                writer = csv.DictWriter(fh, fieldnames=list(TABLE_COLUMNS))
                writer.writeheader()
                writer.writerows(rows)

    def spectrum(self, **kwargs: Any) -> Any:
        """Broadened spectrum: see :func:`ase_raman.spectra.harmonic.harmonic_spectrum`."""
        from .spectrum import harmonic_spectrum

        return harmonic_spectrum(self, **kwargs)


# ---------------------------------------------------------------------------------------
# polarizability sources
# ---------------------------------------------------------------------------------------


def describe_source(source: Any, path: str | os.PathLike | None = None) -> str:
    """A polarizability source in words: ``model file water.npz (learner lambda-soap)``
    when loaded from ``path``, the learner name of a model object, else the class name."""
    learner = getattr(source, "name", None) if hasattr(source, "predict") else None
    about = f" (learner {learner})" if learner else ""
    if path is not None:
        return f"model file {os.path.basename(os.fspath(path))}{about}"
    return f"a {type(source).__name__} model{about}" if learner else type(source).__name__


def _load_model_deprecated(path: str | os.PathLike) -> Any:
    """Deprecated: a model file path as a polarizability source (kept working)."""
    import importlib
    import warnings

    warnings.warn("passing a model file path to the harmonic Raman functions is deprecated; "
                  "pass ase_raman.load_model(path)", DeprecationWarning, stacklevel=3)
    return importlib.import_module("ase_raman.models").load_model(path)


def polarizability_function(source: Any) -> Callable[[Sequence[Atoms]], np.ndarray]:
    """A function ``frames -> (n, 3, 3)`` alpha in Angstrom^3 from any supported source.

    ``source`` may be: a :class:`~ase_raman.models.base.TensorModel` or any object with
    a batched ``predict(frames)`` (one call for all frames); an ASE
    calculator implementing ``"polarizability"`` in Angstrom^3 such as
    :class:`~ase_raman.calculator.PolarizabilityCalculator` (its result cache means an
    unchanged structure is not evaluated twice); an ASE
    ``StaticPolarizabilityCalculator`` (e^2 Angstrom^2/eV, converted with
    :data:`ase_raman.tensors.E2A2_PER_EV_TO_A3`); or any callable ``atoms -> 3x3``
    returning Angstrom^3. A model file path is deprecated (load it with
    ``ase_raman.load_model`` first): this module does not depend on the models.
    """
    from ase.calculators.calculator import BaseCalculator
    from ase.calculators.polarizability import StaticPolarizabilityCalculator

    if isinstance(source, (str, os.PathLike)):
        source = _load_model_deprecated(source)
    if hasattr(source, "predict") and callable(source.predict):
        model = source

        def predict(frames: Sequence[Atoms]) -> np.ndarray:
            return np.asarray(model.predict(list(frames)), dtype=float).reshape(-1, 3, 3)

        return predict
    if isinstance(source, BaseCalculator):
        if "polarizability" not in getattr(source, "implemented_properties", ()):
            raise UsageError(f"{type(source).__name__} does not implement 'polarizability'")
        calc = source

        def from_calc(frames: Sequence[Atoms]) -> np.ndarray:
            return np.array([calc.get_property("polarizability", a) for a in frames],
                            dtype=float).reshape(-1, 3, 3)

        return from_calc
    if isinstance(source, StaticPolarizabilityCalculator):
        static = source

        def from_static(frames: Sequence[Atoms]) -> np.ndarray:
            return np.array([static(a) for a in frames], dtype=float).reshape(
                -1, 3, 3) * E2A2_PER_EV_TO_A3

        return from_static
    if callable(source):
        func = source

        def from_callable(frames: Sequence[Atoms]) -> np.ndarray:
            return np.array([func(a) for a in frames], dtype=float).reshape(-1, 3, 3)

        return from_callable
    raise UsageError(f"cannot get polarizabilities from a {type(source).__name__}: pass a "
                     "model, a model file, a PolarizabilityCalculator or a callable")


def raman_from_model(modes: GammaModes, source: Any, step: float = DEFAULT_STEP,
                     symprec: float = 1e-5,
                     zero_tolerance: float = ZERO_TOLERANCE,
                     model_file: str | os.PathLike | None = None) -> HarmonicRaman:
    """Raman tensors of every optical Gamma mode from a polarizability source.

    Central differences along each mass-weighted eigenvector:
    ``R_k = [alpha(x0 + h e_k / sqrt(m)) - alpha(x0 - h e_k / sqrt(m))] / (2 h)`` with the
    step ``h`` in amu^1/2 Angstrom (default 0.05: 0.05 Angstrom for a mode of hydrogen
    motion, ~0.01 Angstrom for heavy atoms; the error is O(h^2)). All 2 x n_optical
    structures go to the source in one batch. Acoustic modes are not evaluated (zero by
    translation invariance). ``source``: see :func:`polarizability_function`;
    ``model_file``: the file it was loaded from, named in the table's method line.
    """
    if not np.isfinite(step) or step <= 0:
        raise UsageError(f"the step must be positive (amu^1/2 Angstrom), got {step}")
    path = model_file
    if isinstance(source, (str, os.PathLike)):
        path, source = source, _load_model_deprecated(source)
    described = describe_source(source, path)
    predict = polarizability_function(source)
    acoustic = modes.acoustic()
    bands = [b for b in range(modes.n_modes) if not acoustic[b]]
    frames = []
    for b in bands:
        frames += [modes.displaced(b, +step), modes.displaced(b, -step)]
    alpha = predict(frames) if frames else np.zeros((0, 3, 3))
    if alpha.shape != (len(frames), 3, 3) or not np.all(np.isfinite(alpha)):
        raise UsageError("the polarizability source returned "
                         f"{alpha.shape} (or non-finite) for {len(frames)} structures")
    tensors = np.zeros((modes.n_modes, 3, 3))
    tensors[bands] = (alpha[0::2] - alpha[1::2]) / (2.0 * step)
    allowed, n_ops = raman_allowed(modes, symprec)
    return HarmonicRaman(
        modes=modes, raman_tensors=tensors, determined=np.ones(modes.n_modes, bool),
        allowed=allowed, method=f"central differences along the modes, step {step:g} "
        "amu^1/2 Angstrom, polarizability from " + described,
        details={"step_amu_half_A": float(step), "n_structures": len(frames),
                 "n_symmetry_operations": n_ops}, zero_tolerance=zero_tolerance)
