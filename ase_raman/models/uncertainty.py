"""Per-frame uncertainty along trajectories, and warnings when a run leaves the training data.

Models that can (the ``lambda-soap`` learner) expose ``predict_with_uncertainty(frames)``
returning alpha and its standard deviation per Cartesian component (Angstrom^3); the
per-frame scalar is the RMS over the nine components
(:func:`ase_raman.models.metrics.frame_uncertainty`). A model file records
``training["uncertainty_threshold_A3_per_atom"]`` (3x the 95th percentile of the training
frames' uncertainty per atom; version-1 lambda-soap files hold
``uncertainty_threshold_A3`` per frame instead): a run of at least ``min_frames``
consecutive frames above it (times the frame's number of atoms) is reported. Per atom,
because the uncertainty of an extensive alpha grows with the cell: a 3-atom molecule far
outside the training data can have a smaller absolute uncertainty than a familiar
96-atom cell.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
from ase import Atoms

from .metrics import frame_uncertainty

#: Consecutive frames above the threshold needed before a stretch is reported.
DEFAULT_MIN_FRAMES = 3


class ExtrapolationWarning(UserWarning):
    """An MD trajectory left the distribution the model was trained on."""


def supports_uncertainty(model: object) -> bool:
    """Whether ``model`` declares :class:`~ase_raman.models.base.SupportsUncertainty`."""
    from .base import SupportsUncertainty

    return isinstance(model, SupportsUncertainty)


def predict_frames_with_uncertainty(model, frames: Sequence[Atoms],
                                    name: Callable[[int], str] | None = None
                                    ) -> tuple[np.ndarray, np.ndarray | None]:
    """alpha (n, 3, 3) and per-frame uncertainty (n,) in Angstrom^3 (None if unsupported).

    Frames with non-finite positions or cells are refused before, non-finite alphas
    after the prediction (:mod:`ase_raman.finite`); ``name(k)`` names frame ``k`` in the
    message (default ``"frame k of the batch"``).
    """
    from ..finite import check_frames, check_predictions

    if name is None:
        def name(k: int) -> str:
            return f"frame {k} of the batch"
    check_frames(frames, name)
    alpha, unc = _predict(model, frames)
    check_predictions(alpha, name)
    return alpha, unc


def _predict(model, frames: Sequence[Atoms]) -> tuple[np.ndarray, np.ndarray | None]:
    if supports_uncertainty(model):
        try:
            alpha, std = model.predict_with_uncertainty(frames)
        except Exception as exc:  # e.g. an old model file without posterior arrays
            from ..errors import AseRamanError

            if not isinstance(exc, AseRamanError):
                raise
            return np.asarray(model.predict(frames)), None
        return np.asarray(alpha), frame_uncertainty(std)
    return np.asarray(model.predict(frames)), None


def uncertainty_threshold(model: object, n_atoms: int | np.ndarray | None = None
                          ) -> float | np.ndarray | None:
    """The model's extrapolation threshold in Angstrom^3 for frames of ``n_atoms`` atoms.

    ``n_atoms``: an int, or an array per frame. None when the model records no
    threshold, or records one per atom and ``n_atoms`` is not given.
    """
    return training_threshold(getattr(model, "training", None) or {}, n_atoms)


def training_threshold(training: dict, n_atoms: int | np.ndarray | None = None
                       ) -> float | np.ndarray | None:
    """:func:`uncertainty_threshold` from a model's ``metadata["training"]`` dict."""
    per_atom = training.get("uncertainty_threshold_A3_per_atom")
    if per_atom is not None:
        return None if n_atoms is None else float(per_atom) * np.asarray(n_atoms, float)
    value = training.get("uncertainty_threshold_A3")
    return float(value) if value is not None else None


def extrapolation_stretches(uncertainty: np.ndarray, threshold: float,
                            min_frames: int = DEFAULT_MIN_FRAMES) -> list[tuple[int, int]]:
    """Half-open index ranges ``[start, stop)`` of >= ``min_frames`` frames above threshold."""
    above = np.asarray(uncertainty, dtype=float) > threshold
    edges = np.flatnonzero(np.diff(np.r_[0, above.astype(int), 0]))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)
            if b - a >= min_frames]


def warn_if_extrapolating(uncertainty: np.ndarray, threshold: float | np.ndarray | None,
                          frame_numbers: Sequence[int] | None = None, source: str = "trajectory",
                          min_frames: int = DEFAULT_MIN_FRAMES) -> list[tuple[int, int]]:
    """Warn (:class:`ExtrapolationWarning`) naming the frames outside the training data.

    ``frame_numbers`` maps positions in ``uncertainty`` to the frame (or step) numbers shown
    in the message. Returns the stretches as position ranges.
    """
    if threshold is None or len(uncertainty) == 0:
        return []
    stretches = extrapolation_stretches(uncertainty, threshold, min_frames)
    if stretches:
        numbers = np.arange(len(uncertainty)) if frame_numbers is None else np.asarray(
            frame_numbers)
        parts = [f"{numbers[a]}-{numbers[b - 1]}" for a, b in stretches[:10]]
        more = f" (and {len(stretches) - 10} more stretches)" if len(stretches) > 10 else ""
        worst = float(np.max(uncertainty))
        limit = float(np.min(threshold))
        warnings.warn(
            f"{source}: frames {', '.join(parts)}{more} have a predicted uncertainty above "
            f"{limit:.3g} A^3 (max {worst:.3g} A^3): the model is extrapolating there "
            "(new phase or temperature?); add such frames to the training set",
            ExtrapolationWarning, stacklevel=2)
    return stretches
