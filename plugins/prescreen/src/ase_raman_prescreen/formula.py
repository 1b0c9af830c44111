"""Chemical formulas -> element fractions, with one clear error per bad formula.

:func:`parse_formula` accepts what pymatgen's ``Composition`` reads (``Li7La3Zr2O12``,
``Li0.91Hf2.022(PO4)3``, ``Li0.6[Li0.2Sn0.8S2]``, ``(Ag0.67Li0.33)0.27La0.57TiO3``) plus
hydrate notation with ``*`` or ``·`` (``Li2SO4*H2O``, ``CuSO4*5H2O``). It returns the
element amounts as a ``{symbol: amount}`` dict, or raises :class:`FormulaError` for an
empty or unparsable formula, an unknown element symbol, or an amount that is not
positive and finite.

Ordinary formulas (element symbols, amounts, nested ``()``/``[]``/``{}`` groups with
multipliers) go through a small parser of our own (``_fast_amounts``, about 3x
faster than pymatgen's); anything it does not recognise (other syntax, a symbol it
does not know, a zero amount) falls back to pymatgen, so the results and the error
messages are pymatgen's. Results are cached per distinct formula.
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
#: one token: an element symbol or an opening/closing bracket, then an optional amount.
_TOKEN = re.compile(r"\s*(?:([A-Z][a-z]?)|([(\[{])|([)\]}]))\s*(\d+(?:\.\d*)?|\.\d+)?\s*")
#: smallest amount the fast parser keeps (pymatgen drops amounts below 1e-8).
_MIN_FAST_AMOUNT = 1e-6


@lru_cache(maxsize=1)
def _symbols() -> frozenset[str]:
    from pymatgen.core import Element

    return frozenset(e.name for e in Element if e.Z <= MAX_Z)


def _fast_amounts(text: str) -> dict[str, float] | None:
    """Element amounts of a plain formula, or None when it is not one (the caller then
    asks pymatgen, which gives the same amounts or a clear error)."""
    symbols = _symbols()
    stack: list[dict[str, float]] = [{}]
    pos, end = 0, len(text)
    while pos < end:
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            return None
        symbol, opening, closing, number = m.groups()
        amount = float(number) if number else 1.0
        if opening:
            if number:
                return None
            stack.append({})
        elif closing:
            if len(stack) == 1:
                return None
            group = stack.pop()
            top = stack[-1]
            for s, v in group.items():
                top[s] = top.get(s, 0.0) + amount * v
        else:
            if symbol not in symbols:
                return None
            top = stack[-1]
            top[symbol] = top.get(symbol, 0.0) + amount
        pos = m.end()
    if len(stack) != 1 or not stack[0]:
        return None
    if min(stack[0].values()) < _MIN_FAST_AMOUNT:
        return None
    return stack[0]


def _pymatgen_amounts(part: str, formula: str) -> dict[str, float]:
    from pymatgen.core import Composition, Element

    try:
        amounts = Composition(part).get_el_amt_dict()
    except Exception as exc:  # pymatgen raises ValueError, KeyError, ...
        raise FormulaError(f"cannot parse formula {formula!r} ({exc})") from None
    for symbol in amounts:
        if not Element.is_valid_symbol(symbol) or Element(symbol).Z > MAX_Z:
            raise FormulaError(
                f"unknown element {symbol!r} in formula {formula!r} (elements H to Lr)")
    return amounts


@lru_cache(maxsize=65536)
def parse_formula(formula: str) -> dict[str, float]:
    """Element amounts of ``formula`` (not normalised), e.g. ``{"Li": 7.0, "La": 3.0, ...}``."""
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
        amounts = _fast_amounts(part)
        if amounts is None:
            amounts = _pymatgen_amounts(part, formula)
        for symbol, amount in amounts.items():
            total[symbol] = total.get(symbol, 0.0) + factor * float(amount)
    if not total:
        raise FormulaError(f"no elements in formula {formula!r}")
    for symbol, amount in total.items():
        if not (math.isfinite(amount) and amount > 0):
            raise FormulaError(f"amount of {symbol} in formula {formula!r} is {amount}, "
                               "not a positive number")
    return total
