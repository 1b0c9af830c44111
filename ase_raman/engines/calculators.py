"""The calculator registry: entry points in the group ``ase_raman.calculators``.

A calculator package declares, in its ``pyproject.toml``::

    [project.entry-points."ase_raman.calculators"]
    my-potential = "my_package.module:make_calculator"

where ``make_calculator(**kwargs)`` returns an ASE calculator (energy and forces in eV
and eV/Angstrom; stress in eV/Angstrom^3 where the MD needs the cell to move). ase-raman's
own ``agi-prv`` (the demo's Parrinello-Rahman-Vashishta AgI in LAMMPS) is registered the
same way; ``ase-raman calculators`` lists them all.

:func:`make_calculator` resolves, in this order: ``module:callable`` (imported and
called with the keyword arguments), a registered entry-point name, then any name ASE's
:func:`ase.calculators.calculator.get_calculator_class` knows (``emt``, ``lj``,
``morse``, ``lammpslib``, ...). Python users may pass their own calculator object
wherever a calculator is taken (:func:`resolve_calculator`).
"""

from __future__ import annotations

import importlib
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from ..errors import AseRamanError, UsageError
from ..models.registry import LearnerInfo, entry_point_infos

ENTRY_POINT_GROUP = "ase_raman.calculators"

__all__ = ["ENTRY_POINT_GROUP", "CalculatorInfo", "installed_calculators",
           "make_calculator", "resolve_calculator", "packaged_weights"]


#: one registered calculator: name, providing distribution, its version, target
CalculatorInfo = LearnerInfo


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def installed_calculators() -> list[CalculatorInfo]:
    """All calculators registered in the ``ase_raman.calculators`` group, by name."""
    return entry_point_infos(ENTRY_POINT_GROUP)


def make_calculator(spec: str, **kwargs: Any) -> Any:
    """An ASE calculator from ``spec`` (``module:callable``, entry-point name or ASE name)."""
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise UsageError(f"calculator={spec!r}: cannot import it ({exc})") from None
        return factory(**kwargs)
    ep = _entry_points().get(spec)
    if ep is not None:
        try:
            factory = ep.load()
        except Exception as exc:  # a broken plugin must not look like an ase-raman bug
            raise UsageError(f"calculator={spec!r}: registered by {ep.value!r} but failed "
                             f"to import ({exc})") from None
        try:
            return factory(**kwargs)
        except TypeError as exc:
            raise UsageError(f"calculator={spec!r}: bad keyword arguments ({exc})") from None
    from ase.calculators.calculator import get_calculator_class

    try:
        cls = get_calculator_class(spec.lower())
    except (ImportError, KeyError, ValueError) as exc:
        known = ", ".join(sorted(_entry_points())) or "none"
        raise UsageError(
            f"calculator={spec!r}: not an ASE calculator name, a registered calculator "
            f"(group {ENTRY_POINT_GROUP!r}; installed: {known}), or a 'module:callable' "
            f"({exc})"
        ) from None
    return cls(**kwargs)


def resolve_calculator(calculator: Any, **kwargs: Any) -> Any:
    """``calculator`` itself when it is a calculator object, else :func:`make_calculator`."""
    if isinstance(calculator, str):
        return make_calculator(calculator, **kwargs)
    if not hasattr(calculator, "get_forces") and not hasattr(calculator, "calculate"):
        raise AseRamanError(f"{calculator!r} is neither a calculator name nor an ASE "
                            "calculator")
    return calculator


def packaged_weights(package: str, relative: str, label: str) -> Path:
    """The file ``relative`` inside the installed ``package`` (model weights a plugin
    loads). Raises a one-line :class:`UsageError` when the package or the file is
    missing, so that a plugin refuses instead of letting its library download them."""
    from importlib.util import find_spec

    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UsageError(f"{label}: the {package} package is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.is_file():
        raise UsageError(f"{label}: the weights are not in this installation ({path}); "
                         "refusing to download them")
    return path
