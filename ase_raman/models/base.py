"""The :class:`TensorModel` protocol every polarizability learner implements.

A learner is any class with these members; it is made known to ase-raman through the
entry-point group ``ase_raman.models`` (see :mod:`ase_raman.models.registry`). Built-in
learners are registered the same way, in this package's own ``pyproject.toml``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypedDict, runtime_checkable

import numpy as np
from ase import Atoms


class ModelMetadata(TypedDict, total=False):
    """The ``metadata`` dict of a learner, as stored in its model file.

    Attributes
    ----------
    learner : str
        Registry name of the learner (entry point in ``ase_raman.models``).
    learner_version : str
        Version of the learner's file layout.
    distribution : str
        Python package that provides the learner.
    hypers : dict
        Hyperparameters the model was built with (JSON values).
    species : list of str
        Chemical symbols the model was trained on (``["Ag", "I"]``), never atomic numbers.
    units : dict
        Units of the model's quantities, at least ``{"polarizability": "Angstrom^3"}``.
    training : dict
        Summary of the training run (sizes, errors, uncertainty threshold).
    """

    learner: str
    learner_version: str
    distribution: str
    hypers: dict[str, Any]
    species: list[str]
    units: dict[str, str]
    training: dict[str, Any]


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

    def fit(self, frames: Sequence[Atoms]) -> TensorModel:
        """Learn from frames carrying ``info["polarizability"]``; returns ``self``."""
        ...

    def predict(self, frames: Sequence[Atoms]) -> np.ndarray:
        """alpha of each frame, shape (n, 3, 3), Angstrom^3, symmetric."""
        ...

    def save(self, path: str | Path) -> None:
        """Write the model file (never a pickle)."""
        ...

    @classmethod
    def load(cls, path: str | Path) -> TensorModel:
        """Read a model file written by :meth:`save`."""
        ...

    @property
    def metadata(self) -> ModelMetadata:
        """JSON-serialisable description of the model (:class:`ModelMetadata`)."""
        ...


@runtime_checkable
class SupportsUncertainty(Protocol):
    """A model that also predicts the standard deviation of alpha (Angstrom^3)."""

    def predict_with_uncertainty(self, frames: Sequence[Atoms]
                                 ) -> tuple[np.ndarray, np.ndarray]:
        """alpha (n, 3, 3) and its standard deviation per component (n, 3, 3)."""
        ...


@runtime_checkable
class SupportsFeatures(Protocol):
    """A model that fits and predicts from precomputed structure features.

    Generic code (learning curves) featurises a pool once and refits on subsets.
    """

    def compute_features(self, frames: Sequence[Atoms]) -> Any:
        """The structure features of ``frames`` (what ``fit_features`` takes)."""
        ...

    def set_species(self, frames: Sequence[Atoms]) -> None:
        """Fix the species (and so the feature layout) to those in ``frames``."""
        ...

    def fit_features(self, features: Any, reference: np.ndarray) -> Any:
        """Fit on features and reference alpha (n, 3, 3) Angstrom^3."""
        ...

    def predict_features(self, features: Any) -> np.ndarray:
        """alpha (n, 3, 3) Angstrom^3 from features."""
        ...


@runtime_checkable
class SupportsPosterior(SupportsFeatures, Protocol):
    """A Bayesian linear model whose posterior the ``variance`` selection conditions.

    ``blocks`` maps lambda (0, 2) to blocks with ``standardise``, ``posterior_basis``,
    ``posterior_weights``, ``penalty``, ``calibration``, ``noise_var`` and
    ``has_uncertainty``.
    """

    blocks: dict[int, Any]

    def predict_features_std(self, features: Any) -> np.ndarray:
        """Standard deviation of alpha per component from features."""
        ...

    def lambda0_atoms(self, features: Any) -> np.ndarray:
        """Atoms per frame as the lambda = 0 block counts them."""
        ...

    def lambda0_inputs(self, features: Any) -> np.ndarray:
        """The lambda = 0 block's inputs from features."""
        ...


def model_species(model: object) -> list[str]:
    """The chemical symbols a model was trained on (empty when it does not say).

    Reads ``model.metadata["species"]``; atomic numbers (written by files of older plugin
    versions) are turned into symbols.
    """
    from ase.data import chemical_symbols

    species = (getattr(model, "metadata", None) or {}).get("species") or []
    return [chemical_symbols[int(s)] if not isinstance(s, str) else s for s in species]


def check_model_species(species: Sequence[str | int] | None, atoms: Atoms,
                        where: str) -> None:
    """Refuse ``atoms`` holding a chemical species the model was not trained on.

    Parameters
    ----------
    species : sequence of str or None
        The model's species (``metadata["species"]``; atomic numbers are accepted too).
        No check when empty or None.
    atoms : ase.Atoms
        The structure to check.
    where : str
        How the error message names ``atoms`` (e.g. ``"the trajectory"``).

    Raises
    ------
    ase_raman.errors.ModelSpeciesError
        When ``atoms`` holds a species not in ``species``.
    """
    from ase.data import chemical_symbols

    from ..errors import ModelSpeciesError

    if not species:
        return
    species = [chemical_symbols[int(s)] if not isinstance(s, str) else s for s in species]
    missing = sorted(set(atoms.get_chemical_symbols()) - set(species))
    if missing:
        raise ModelSpeciesError(
            f"{where} contains {', '.join(missing)}, which the model was not trained on "
            f"(model species: {', '.join(species)})"
        )


def check_species(model: object, atoms: Atoms, where: str) -> None:
    """Refuse ``atoms`` holding a species that ``model`` was not trained on.

    The one species check of every front end (observer, engines, ``predict``): reads the
    model's ``metadata["species"]`` (:func:`model_species`) and calls
    :func:`check_model_species`.
    """
    check_model_species(model_species(model), atoms, where)


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
                "ase_raman.io.read_reference (alpha_key= names another key)"
            )
        out[i] = np.asarray(value, dtype=float).reshape(3, 3)
    require_finite(out, "reference polarizability", name)
    return out
