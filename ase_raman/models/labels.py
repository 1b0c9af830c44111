"""Reference labels from a physical polarizability model (when no DFPT exists).

:func:`label_frames` puts a model's alpha (Angstrom^3) into ``info["polarizability"]`` of
copies of the frames, for training a learner exactly as with DFPT labels. Frames the
model refuses to label (NaN rows: e.g. a polarization catastrophe of the
dipole-induced-dipole model with ``on_catastrophe="nan"``) are left out and counted.
:func:`fit_on_labels` adds the next step: a lambda-SOAP model fitted on them and scored
on held-out frames.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from ase import Atoms


def label_frames(labeller, frames: Sequence[Atoms], source: str | None = None,
                 progress: Callable[[int], object] | None = None, chunk: int = 16
                 ) -> tuple[list[Atoms], int]:
    """Labelled copies of ``frames`` (``info["polarizability"]``, and ``info["label_source"]``
    when ``source`` is given) and the number of frames left out for a non-finite label.

    ``progress``: called with the number of frames just labelled, after each ``chunk``
    of frames (e.g. a progress bar's ``update``); without it all frames go to the
    labeller at once."""
    frames = list(frames)
    if progress is None:
        alphas = np.asarray(labeller.predict(frames))
    else:
        parts = []
        for start in range(0, len(frames), chunk):
            parts.append(np.asarray(labeller.predict(frames[start:start + chunk])))
            progress(len(parts[-1]))
        alphas = np.concatenate(parts) if parts else np.zeros((0, 3, 3))
    labelled = []
    for atoms, alpha in zip(frames, alphas, strict=True):
        if not np.all(np.isfinite(alpha)):
            continue
        frame = atoms.copy()
        frame.calc = None
        frame.info["polarizability"] = alpha
        if source is not None:
            frame.info["label_source"] = source
        labelled.append(frame)
    return labelled, len(alphas) - len(labelled)


def fit_on_labels(labeller, frames: Sequence[Atoms], hypers: dict, test_every: int,
                  n_folds: int = 3, source: str | None = None
                  ) -> tuple[object, dict, list[Atoms], int]:
    """Label ``frames`` (:func:`label_frames`), hold out every ``test_every``-th labelled
    frame, fit a lambda-SOAP model (``hypers``, ``n_folds``-fold CV) on the others.

    Returns ``(model, metrics, labelled, n_refused)``: ``metrics`` are
    :func:`ase_raman.models.metrics.regression_metrics` on the held-out frames
    (Angstrom^3).
    """
    from .lambda_soap import LambdaSoapRidge
    from .metrics import regression_metrics

    labelled, refused = label_frames(labeller, frames, source)
    test = labelled[::test_every]
    train = [f for i, f in enumerate(labelled) if i % test_every]
    model = LambdaSoapRidge(hypers=hypers, n_folds=n_folds).fit(train)
    metrics = regression_metrics(model.predict(test),
                                 np.array([f.info["polarizability"] for f in test]))
    return model, metrics, labelled, refused
