"""Choose the ASE force calculator of a driver: by ASE name or by ``module:callable``.

``make_calculator("emt")`` gives :class:`ase.calculators.emt.EMT`; any name ASE's
:func:`ase.calculators.calculator.get_calculator_class` knows works the same way
(``lj``, ``morse``, ``tip3p``, ``lammpslib``, ...). ``"mypackage.pot:make_calc"`` imports
``mypackage.pot`` and calls ``make_calc(**kwargs)``, which must return an ASE calculator
(a class is called the same way). An entry point of the group
``ase_raman.calculators`` is found by its name too, so a plugin package can add
``name = "pkg.module:factory"`` to its ``pyproject.toml``.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from ..errors import UsageError

ENTRY_POINT_GROUP = "ase_raman.calculators"


def make_calculator(spec: str, **kwargs: Any) -> Any:
    """An ASE calculator from ``spec`` (ASE name, entry-point name or ``module:callable``)."""
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise UsageError(f"--calculator {spec}: cannot import it ({exc})") from None
        return factory(**kwargs)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == spec:
            return ep.load()(**kwargs)
    from ase.calculators.calculator import get_calculator_class

    try:
        cls = get_calculator_class(spec.lower())
    except (ImportError, KeyError, ValueError) as exc:
        raise UsageError(
            f"--calculator {spec}: not an ASE calculator name, an entry point of group "
            f"{ENTRY_POINT_GROUP!r}, or a 'module:callable' ({exc})"
        ) from None
    return cls(**kwargs)
