"""Chemical formulas -> element fractions, with one clear error per bad formula.

:func:`parse_formula` accepts what pymatgen's ``Composition`` reads (``Li7La3Zr2O12``,
``Li0.91Hf2.022(PO4)3``, ``Li0.6[Li0.2Sn0.8S2]``, ``(Ag0.67Li0.33)0.27La0.57TiO3``) plus
hydrate notation with ``*`` or ``·`` (``Li2SO4*H2O``, ``CuSO4*5H2O``). It returns the
element amounts as a ``{symbol: amount}`` dict, or raises :class:`FormulaError` for an
empty or unparsable formula, an unknown element symbol, or an amount that is not
positive and finite.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

from ase_raman.errors import InputFileError

#: Elements with Magpie element data (H .. Lr): the ones the features can describe.
MAX_Z = 103


class FormulaError(InputFileError):
    """A formula that cannot be turned into element fractions."""


_LEADING_NUMBER = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(?=[A-Z(\[])")


@lru_cache(maxsize=65536)
def parse_formula(formula: str) -> dict[str, float]:
    """Element amounts of ``formula`` (not normalised), e.g. ``{"Li": 7.0, "La": 3.0, ...}``."""
    from pymatgen.core import Composition, Element

    text = str(formula).strip()
    if not text:
        raise FormulaError("empty formula")
    total: dict[str, float] = {}
    for part in re.split(r"[*·]", text):
        part = part.strip()
        if not part:
            raise FormulaError(f"cannot parse formula {formula!r} (empty hydrate part)")
        factor = 1.0
        m = _LEADING_NUMBER.match(part)
        if m:
            factor = float(m.group(1))
            part = part[m.end():]
        try:
            amounts = Composition(part).get_el_amt_dict()
        except Exception as exc:  # pymatgen raises ValueError, KeyError, ...
            raise FormulaError(f"cannot parse formula {formula!r} ({exc})") from None
        for symbol, amount in amounts.items():
            if not Element.is_valid_symbol(symbol) or Element(symbol).Z > MAX_Z:
                raise FormulaError(
                    f"unknown element {symbol!r} in formula {formula!r} (elements H to Lr)")
            total[symbol] = total.get(symbol, 0.0) + factor * float(amount)
    if not total:
        raise FormulaError(f"no elements in formula {formula!r}")
    for symbol, amount in total.items():
        if not (math.isfinite(amount) and amount > 0):
            raise FormulaError(f"amount of {symbol} in formula {formula!r} is {amount}, "
                               "not a positive number")
    return total
