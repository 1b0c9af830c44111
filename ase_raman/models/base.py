"""The :class:`TensorModel` protocol every polarizability learner implements.

A learner is any class with these members; it is made known to ase-raman through the
entry-point group ``ase_raman.models`` (see :mod:`ase_raman.models.registry`). Built-in
learners are registered the same way, in this package's own ``pyproject.toml``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
from ase import Atoms


@runtime_checkable
class TensorModel(Protocol):
    """A model of the extensive polarizability alpha (Angstrom^3) of a structure.

    * ``name``: the learner's registry name (stored in model files, used by ``load_model``).
    * ``fit(frames)``: learn from frames carrying ``atoms.info["polarizability"]`` (3x3,
      Angstrom^3); returns ``self``.
    * ``predict(frames)``: array of shape (n, 3, 3) in Angstrom^3, symmetric.
    * ``save(path)`` / ``load(path)``: a model file that never executes code on load
      (see :mod:`ase_raman.models.modelfile`).
    * ``metadata``: JSON-serialisable dict (learner, versions, hypers, species, units,
      training summary).
    """

    name: ClassVar[str]

    def fit(self, frames: Sequence[Atoms]) -> TensorModel: ...

    def predict(self, frames: Sequence[Atoms]) -> np.ndarray: ...

    def save(self, path: str | Path) -> None: ...

    @classmethod
    def load(cls, path: str | Path) -> TensorModel: ...

    @property
    def metadata(self) -> dict[str, Any]: ...


def check_model_species(species: Sequence[str] | None, atoms: Atoms, where: str) -> None:
    """Raise :class:`~ase_raman.errors.ModelSpeciesError` when ``atoms`` (described as
    ``where``) holds a chemical species not in ``species`` (the model's ``metadata``
    species); no check when ``species`` is empty or None."""
    from ..errors import ModelSpeciesError

    if not species:
        return
    missing = sorted(set(atoms.get_chemical_symbols()) - set(species))
    if missing:
        raise ModelSpeciesError(
            f"{where} contains {', '.join(missing)}, which the model was not trained on "
            f"(model species: {', '.join(species)})"
        )


def reference_polarizabilities(frames: Sequence[Atoms]) -> np.ndarray:
    """Stack ``atoms.info["polarizability"]`` of every frame into (n, 3, 3) Angstrom^3."""
    from ..errors import MissingDataError
    from ..finite import check_frames, require_finite

    def name(i: int) -> str:
        return f"frame {i} ({frames[i].info.get('source', 'training data')})"

    check_frames(frames, name)
    out = np.empty((len(frames), 3, 3))
    for i, atoms in enumerate(frames):
        value = atoms.info.get("polarizability")
        if value is None:
            raise MissingDataError(
                f"frame {i} has no info['polarizability']; read training data with "
                "ase_raman.io.read_reference (or pass --alpha-key for another key name)"
            )
        out[i] = np.asarray(value, dtype=float).reshape(3, 3)
    require_finite(out, "reference polarizability", name)
    return out
