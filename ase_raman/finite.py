"""Refuse non-finite numbers (NaN, inf) where they enter or leave a computation, naming
the frame: a NaN position gives a NaN (or, worse, a plausible finite) alpha, a NaN
weight gives NaN alphas, and both used to end in results written with exit status 0."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from ase import Atoms

from .errors import InputFileError, ModelFileError


def first_bad_frame(values: np.ndarray) -> int | None:
    """Index along the first axis of the first frame holding a NaN or inf, else None."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0 or np.isfinite(arr).all():
        return None
    bad = ~np.isfinite(arr.reshape(len(arr), -1)).all(axis=1)
    return int(np.argmax(bad))


def require_finite(values: np.ndarray, what: str, name: Callable[[int], str],
                   error: type[Exception] = InputFileError) -> None:
    """``error`` "``name(i)``: non-finite ``what``" for the first bad frame ``i``."""
    i = first_bad_frame(values)
    if i is not None:
        raise error(f"{name(i)}: non-finite {what} (NaN or inf); fix or drop that frame")


def check_frames(frames: Sequence[Atoms], name: Callable[[int], str]) -> None:
    """Positions and (for periodic axes) cells of ``frames`` must be finite."""
    for i, atoms in enumerate(frames):
        if not np.isfinite(atoms.positions).all():
            raise InputFileError(f"{name(i)}: non-finite positions (NaN or inf); fix or "
                                 "drop that frame")
        check_periodic_cell(atoms, name(i))


def check_periodic_cell(atoms: Atoms, where: str) -> None:
    """The cell vectors along ``atoms``' periodic axes must be finite."""
    if atoms.pbc.any() and not np.isfinite(atoms.cell.array[atoms.pbc]).all():
        raise InputFileError(f"{where}: non-finite cell with periodic boundaries; fix the "
                             "cell of that frame")


def check_predictions(alpha: np.ndarray, name: Callable[[int], str]) -> None:
    """Model output must be finite: a NaN alpha from finite input means a broken model."""
    i = first_bad_frame(alpha)
    if i is not None:
        raise ModelFileError(f"{name(i)}: the model predicts a non-finite polarizability "
                             "(NaN or inf) from finite input; the model file is broken "
                             "(NaN/inf weights?): refit or fetch it again")
