"""Validated ``type=`` callables for the numeric options of every sub-command.

argparse calls them while parsing, so a bad value stops the command before any work, as
one line ``ase-raman: error: ase-raman CMD: argument --x: ...`` with exit status 2.
Floats must be finite (no ``nan``, ``inf``); each option states its range::

    parser.add_argument("--sigma", type=NON_NEGATIVE, ...)
    parser.add_argument("--bins", type=bounded(int, 1, MAX_BINS), ...)
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

#: Largest radial histogram of ``vanhove --bins`` (a (lags, bins) float array per lag grid).
MAX_BINS = 100_000


def _format(x: float) -> str:
    return f"{x:g}"


def bounded(kind: type = float, lo: float | None = None, hi: float | None = None, *,
            lo_open: bool = False, hi_open: bool = False) -> Callable[[str], float | int]:
    """A parser of ``kind`` (int or float) values in ``[lo, hi]`` (``lo_open``/``hi_open``
    exclude the ends; None: unbounded), refusing non-finite floats."""

    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            noun = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r}: must be a finite number")
        if lo is not None and (value < lo or (lo_open and value == lo)):
            raise argparse.ArgumentTypeError(f"{text}: must be {'>' if lo_open else '>='} "
                                             f"{_format(lo)}")
        if hi is not None and (value > hi or (hi_open and value == hi)):
            raise argparse.ArgumentTypeError(f"{text}: must be {'<' if hi_open else '<='} "
                                             f"{_format(hi)}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


#: finite float > 0 (times, temperatures, widths, frequencies, lengths)
POSITIVE = bounded(float, 0.0, lo_open=True)
#: finite float >= 0
NON_NEGATIVE = bounded(float, 0.0)
#: integer >= 1 (strides, counts)
POSITIVE_INT = bounded(int, 1)
#: integer >= 0 (random seeds)
SEED = bounded(int, 0, 2**32 - 1)
#: fraction in [0, 1)
FRACTION = bounded(float, 0.0, 1.0, hi_open=True)


def positive_list(text: str) -> str:
    """A comma-separated list of finite numbers > 0 (``--lags-ps 1,5,10``); returns the
    text unchanged for the command to convert."""
    items = [x for x in text.split(",") if x.strip()]
    if not items:
        raise argparse.ArgumentTypeError("give at least one number, e.g. 1,5,10")
    for item in items:
        POSITIVE(item.strip())
    return text


#: fraction in (0, 1)
OPEN_FRACTION = bounded(float, 0.0, 1.0, lo_open=True, hi_open=True)
#: symmetry tolerance in Angstrom, (0, 1] (spglib crashes on a negative one)
SYMPREC = bounded(float, 0.0, 1.0, lo_open=True)
#: TCP port
PORT = bounded(int, 1, 65535)
#: radial histogram bins of ``vanhove``
BINS = bounded(int, 1, MAX_BINS)


def type_map(text: str) -> str:
    """``--type-map Ag,I``: comma-separated chemical symbols (LAMMPS type 1, 2, ...);
    returns the text unchanged for the command to split."""
    from ase.data import chemical_symbols

    items = [x.strip() for x in text.split(",")]
    if not items or any(not x for x in items):
        raise argparse.ArgumentTypeError(f"{text!r}: expected symbols like Ag,I")
    bad = [x for x in items if x not in chemical_symbols[1:]]
    if bad:
        raise argparse.ArgumentTypeError(f"{text!r}: {', '.join(bad)} not chemical "
                                         "element symbols (e.g. Ag,I)")
    return text


def image_path(text: str) -> str:
    """An image file name matplotlib can write (``.png``, ``.pdf``, ``.svg``, ...): checked
    while parsing, so a wrong suffix stops the command before it writes any CSV."""
    from ..errors import AseRamanError
    from ..spectra.plotting import check_image_path

    try:
        check_image_path(text)
    except AseRamanError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text
