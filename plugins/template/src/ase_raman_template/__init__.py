"""A minimal ase-raman learner: alpha = sum over atoms of a per-element isotropic a_Z I.

``a_Z`` (Angstrom^3) are least-squares fitted to the traces of the reference tensors. The
model is exactly invariant, rotation equivariant (alpha is isotropic) and extensive.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from ase.data import chemical_symbols

from ase_raman.errors import ModelFileError, ModelSpeciesError, UsageError
from ase_raman.models.base import reference_polarizabilities
from ase_raman.models.modelfile import read_model_file, write_model_file

__version__ = "0.1.0"


class AdditiveIsotropic:
    """Per-element isotropic polarizabilities a_Z (Angstrom^3), fitted by least squares."""

    name: ClassVar[str] = "template-additive"
    distribution: ClassVar[str] = "ase-raman-template"

    def __init__(self, hypers: dict[str, Any] | None = None, quiet: bool = True):
        self.hypers = dict(hypers or {})
        self.quiet = quiet
        self.numbers = np.zeros(0, dtype=int)  # atomic numbers, sorted
        self.alphas = np.zeros(0)  # a_Z in Angstrom^3, same order

    def _counts(self, frames) -> np.ndarray:
        """(n_frames, n_elements) atom counts; refuses elements the model lacks."""
        out = np.zeros((len(frames), len(self.numbers)))
        for i, atoms in enumerate(frames):
            z, n = np.unique(atoms.numbers, return_counts=True)
            unknown = {int(v) for v in z} - {int(v) for v in self.numbers}
            if unknown:
                raise ModelSpeciesError(f"frame {i}: elements {sorted(unknown)} not in model")
            out[i, np.searchsorted(self.numbers, z)] = n
        return out

    def fit(self, frames) -> AdditiveIsotropic:
        """Least-squares a_Z from the traces of ``info["polarizability"]``; returns self."""
        frames = list(frames)
        self.numbers = np.unique(np.concatenate([a.numbers for a in frames]))
        trace = np.trace(reference_polarizabilities(frames), axis1=1, axis2=2)
        self.alphas = np.linalg.lstsq(self._counts(frames), trace / 3.0, rcond=None)[0]
        return self

    def predict(self, frames) -> np.ndarray:
        """alpha = sum_i a_Z(i) I for each frame, shape (n, 3, 3), Angstrom^3."""
        if not len(self.numbers):
            raise UsageError("the template-additive model is not fitted; call fit(frames)")
        return (self._counts(list(frames)) @ self.alphas)[:, None, None] * np.eye(3)

    def save(self, path) -> None:
        """Write the model file (a_Z and the atomic numbers)."""
        write_model_file(path, {"numbers": self.numbers, "alphas": self.alphas}, self.metadata)

    @classmethod
    def load(cls, path) -> AdditiveIsotropic:
        """Read a model file written by :meth:`save`."""
        arrays, meta = read_model_file(path)
        if meta.get("learner") != cls.name:
            raise ModelFileError(f"{path}: written by {meta.get('learner')!r}, not {cls.name!r}")
        model = cls(hypers=meta.get("hypers"))
        model.numbers, model.alphas = arrays["numbers"].astype(int), arrays["alphas"]
        return model

    @property
    def metadata(self) -> dict[str, Any]:
        """Learner, versions, hypers, species (chemical symbols) and units."""
        return {"learner": self.name, "learner_version": __version__,
                "distribution": self.distribution, "hypers": self.hypers,
                "species": [chemical_symbols[int(z)] for z in self.numbers],
                "units": {"polarizability": "Angstrom^3", "length": "Angstrom"},
                "training": {}}
