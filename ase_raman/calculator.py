"""ASE calculators over any :class:`~ase_raman.models.base.TensorModel`.

:class:`PolarizabilityCalculator` is an ordinary ASE ``Calculator`` whose only property is
``"polarizability"`` (3x3, Angstrom^3); results are cached until the atoms change
(ASE's ``check_state``).

Using it beside the force calculator that drives MD
---------------------------------------------------
The MD calculator stays attached to the atoms; ours is called explicitly on them (it
never replaces ``atoms.calc``)::

    md_atoms.calc = EMT()                              # drives the dynamics
    alpha_calc = PolarizabilityCalculator(model)       # evaluates alpha on demand
    alpha = alpha_calc.get_property("polarizability", md_atoms)

For alpha along a trajectory use :class:`ase_raman.PolarizabilityObserver`, which batches
predictions. :class:`AseStaticPolarizability` adapts a model to ASE's
``StaticPolarizabilityCalculator`` interface (``ase.vibrations.raman``), converting
Angstrom^3 to ASE's e^2 Angstrom^2 / eV at that boundary.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.polarizability import StaticPolarizabilityCalculator

from .models.base import TensorModel
from .units import E2A2_PER_EV_TO_A3


def _resolve_model(model: TensorModel | str | Path) -> TensorModel:
    if isinstance(model, (str, Path)):
        from .models.registry import load_model

        return load_model(model)
    return model


def _structure_key(atoms: Atoms) -> bytes:
    """Exact identity of a structure: numbers, positions, cell and pbc as bytes."""
    return b"".join(np.ascontiguousarray(a).tobytes() for a in (
        atoms.numbers, atoms.positions, atoms.cell.array, atoms.pbc))


class PolarizabilityCalculator(Calculator):
    """ASE calculator returning the polarizability (3x3, Angstrom^3) of a structure.

    ``model`` is a fitted :class:`TensorModel` or the path of a model file. Besides ASE's
    own cache of the last state, the ``memo_size`` most recent distinct structures are
    remembered exactly (numbers, positions, cell, pbc), so a displacement loop (phonopy,
    ``ase.vibrations``) that returns to the reference structure never featurises it twice.
    """

    implemented_properties = ["polarizability"]
    default_parameters: dict[str, Any] = {}

    def __init__(self, model: TensorModel | str | Path, memo_size: int = 256, **kwargs: Any):
        super().__init__(**kwargs)
        self.model = _resolve_model(model)
        self.memo_size = int(memo_size)
        self._memo: OrderedDict[bytes, np.ndarray] = OrderedDict()

    def calculate(self, atoms: Atoms | None = None,
                  properties: list[str] | None = None,
                  system_changes: list[str] = all_changes) -> None:
        """Predict alpha (Angstrom^3) of ``atoms`` unless cached; see ASE's ``Calculator``."""
        super().calculate(atoms, properties or ["polarizability"], system_changes)
        key = _structure_key(self.atoms)
        alpha = self._memo.get(key)
        if alpha is None:
            # predict on a copy: the model never sees (or keeps) the caller's calculator
            alpha = np.asarray(self.model.predict([self.atoms.copy()])[0])
            self._memo[key] = alpha
            if len(self._memo) > self.memo_size:
                self._memo.popitem(last=False)
        else:
            self._memo.move_to_end(key)
        self.results["polarizability"] = alpha.copy()

    def get_polarizability(self, atoms: Atoms | None = None) -> np.ndarray:
        """Shorthand for ``get_property("polarizability", atoms)`` (Angstrom^3)."""
        return self.get_property("polarizability", atoms)


class AseStaticPolarizability(StaticPolarizabilityCalculator):
    """A model as ASE's ``StaticPolarizabilityCalculator`` (e^2 Angstrom^2 / eV).

    Usable wherever ``ase.vibrations.raman.StaticRamanCalculator`` expects one, e.g.
    ``StaticRamanCalculator(atoms, AseStaticPolarizability, exkwargs={"model": model})``.
    """

    def __init__(self, model: TensorModel | str | Path):
        self.model = _resolve_model(model)

    def __call__(self, atoms: Atoms, *args: Any, **kwargs: Any) -> np.ndarray:
        """alpha of ``atoms`` in e^2 Angstrom^2 / eV (ASE's unit)."""
        alpha_a3 = np.asarray(self.model.predict([atoms.copy()])[0])
        return alpha_a3 / E2A2_PER_EV_TO_A3
