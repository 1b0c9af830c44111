"""Small helpers shared by the sub-commands: JSON parsing, index slices, last-line JSON,
the spectral grid options and reading reference files."""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from ..errors import AseRamanError, UsageError
from ..jsonsafe import json_safe
from ._types import POSITIVE


@contextlib.contextmanager
def options_named(options: Mapping[str, str]) -> Iterator[None]:
    """Re-raise a library error with its parameter names as this command's options.

    The library words its errors with its parameter names (``dt_fs``, ``cutoff_cm``,
    ``restart=True``); ``options_named({"dt_fs": "--dt-fs"})`` turns ``dt_fs 3
    contradicts ...`` into ``--dt-fs 3 contradicts ...`` for the command line (whole
    words only).
    """
    try:
        yield
    except AseRamanError as exc:
        message = str(exc)
        for name, option in options.items():
            message = re.sub(rf"(?<![\w-]){re.escape(name)}(?!\w)", option, message)
        if message == str(exc):
            raise
        raise type(exc)(message) from None


def _option_list(option: str) -> Callable[[re.Match], str]:
    """A ``re.sub`` replacement: a Python list of names -> ``OPTION A,B``."""
    def replace(match: re.Match) -> str:
        names = re.findall(r"'([^']*)'", match.group(1))
        return f"{option} {','.join(names)}"
    return replace


#: Library parameters in their Python spelling -> the option every command spells the
#: same way (``drop_labels=['L']`` -> ``--drop-labels L``).
PYTHON_FORMS: list[tuple[re.Pattern, Any]] = [
    (re.compile(r"(?<![\w-])drop_labels=\[([^\]]*)\]"), _option_list("--drop-labels")),
    (re.compile(r"(?<![\w-])type_map=\[([^\]]*)\]"), _option_list("--type-map")),
    (re.compile(r"(?<![\w-])type_map(?![\w=])"), "--type-map"),
    (re.compile(r"(?<![\w-])alpha_unit='([^']*)'"), r"--alpha-unit \1"),
    (re.compile(r"(?<![\w-])alpha_key(?!\w)"), "--alpha-key"),
    (re.compile(r"(?<![\w-])trust=True(?!\w)"), "--trust-model"),
    (re.compile(r"(?<![\w-])scheduler=('[^']*')"), r"--scheduler \1"),
    (re.compile(r"(?<![\w-])calculator='([^']*)'"), r"--calculator \1"),
]


def in_option_words(message: str) -> str:
    """``message`` with the library's Python spellings of :data:`PYTHON_FORMS` as options."""
    for pattern, replacement in PYTHON_FORMS:
        message = pattern.sub(replacement, message)
    return message


@contextlib.contextmanager
def python_forms_as_options() -> Iterator[None]:
    """Errors raised and warnings shown inside, worded with options (:func:`in_option_words`)."""
    with warnings.catch_warnings():
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            worded = in_option_words(str(message))
            if worded != str(message):
                with contextlib.suppress(Exception):  # a category with another signature
                    message = category(worded)
            shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        try:
            yield
        except AseRamanError as exc:
            message = in_option_words(str(exc))
            if message == str(exc):
                raise
            raise type(exc)(message) from None


def parse_json_option(text: str | None, option: str) -> dict[str, Any]:
    """Parse a JSON object given on the command line (``--hypers '{"cutoff": 5}'``)."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{option}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(value, dict):
        raise UsageError(f"{option}: expected a JSON object like '{{\"cutoff\": 5.0}}'")
    return value


def parse_index(text: str | None) -> slice:
    """``START:STOP:STEP`` (any part optional) or a single integer -> slice
    (:func:`ase_raman.io._common.index_slice`, errors naming ``--index``)."""
    from ..io._common import index_slice

    with options_named({"index": "--index"}):
        return index_slice(text)


def add_frame_reading_options(parser: argparse.ArgumentParser) -> None:
    """``--type-map``, ``--drop-labels`` and ``--lammps-units``, the same on every command
    that reads a trajectory (see :func:`frame_reading_options`)."""
    parser.add_argument("--type-map", default=None, metavar="T1,T2,...",
                        help="elements of the LAMMPS atom types 1, 2, ... in order, e.g. "
                        "O,H (or 1=O,2=H), for dumps with a type column only")
    parser.add_argument("--drop-labels", default=None, metavar="L1,L2,...",
                        help="atom labels to leave out of every frame, e.g. L for the "
                        "cavity-photon pseudo-atoms of i-PI cavity MD")
    parser.add_argument("--lammps-units", default="metal", metavar="STYLE",
                        help="LAMMPS units style of a dump: metal (default), real, si, cgs, "
                        "electron, micro or nano")


def parse_type_map(text: str | None) -> list[str] | dict[int, str] | None:
    """``O,H`` -> ``["O", "H"]``; ``1=O,2=H`` -> ``{1: "O", 2: "H"}`` (``--type-map``;
    :func:`ase_raman.io.lammps.parse_type_map`)."""
    from ..io.lammps import parse_type_map as parse

    with options_named({"type_map": "--type-map"}):
        return parse(text)


def frame_reading_options(args: argparse.Namespace) -> dict[str, Any]:
    """``type_map``, ``drop_labels`` and ``lammps_units`` keyword arguments of
    :func:`ase_raman.io.iter_frames` from ``--type-map``, ``--drop-labels`` and
    ``--lammps-units``."""
    drop = getattr(args, "drop_labels", None)
    return {"type_map": parse_type_map(getattr(args, "type_map", None)),
            "lammps_units": getattr(args, "lammps_units", "metal"),
            "drop_labels": tuple(x.strip() for x in drop.split(",") if x.strip())
            if drop else ()}


def add_spectrum_grid_options(parser: argparse.ArgumentParser) -> None:
    """``--max-freq``, ``--resolution`` and ``--window`` of the correlation spectra
    (``raman``, ``vdos``), passed on as ``max_freq_cm``, ``resolution_cm`` and ``window``."""
    parser.add_argument("--max-freq", type=POSITIVE, metavar="CM",
                        help="highest frequency written, cm^-1 (<= Nyquist)")
    parser.add_argument("--resolution", type=POSITIVE, metavar="CM",
                        help="grid spacing, cm^-1 (default sigma/8)")
    parser.add_argument("--window", default="none",
                        choices=("none", "hann", "blackman", "bartlett", "welch"),
                        help="extra taper on the correlation function (default none)")


def read_reference_files(paths: Iterable[str], alpha_key: str | None,
                         alpha_unit: str) -> list[Any]:
    """The frames of every reference file in ``paths``, in order (``--alpha-key`` and
    ``--alpha-unit`` of ``fit`` and ``learning-curve``), read by
    :func:`ase_raman.io.read_reference`."""
    from ..io import read_reference

    frames: list[Any] = []
    for path in paths:
        frames.extend(read_reference(path, alpha_key=alpha_key, alpha_unit=alpha_unit))
    return frames


def slice_to_ase(index: slice) -> str:
    """A slice as the index string ASE's readers understand ("100::10")."""
    def fmt(v: int | None) -> str:
        return "" if v is None else str(v)

    return f"{fmt(index.start)}:{fmt(index.stop)}:{fmt(index.step)}"


def print_json_line(payload: dict[str, Any]) -> None:
    """Print ``payload`` as one JSON line on stdout (NaN/inf become null)."""
    print(json.dumps(json_safe(payload), sort_keys=True, allow_nan=False))
    sys.stdout.flush()
