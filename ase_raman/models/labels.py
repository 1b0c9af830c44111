"""Reference labels from a physical polarizability model (when no DFPT exists).

:func:`label_frames` puts a model's alpha (Angstrom^3) into ``info["polarizability"]`` of
copies of the frames, for training a learner exactly as with DFPT labels. Frames the
model refuses to label (NaN rows: e.g. a polarization catastrophe of the
dipole-induced-dipole model with ``on_catastrophe="nan"``) are left out and counted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms


def label_frames(labeller, frames: Sequence[Atoms], source: str | None = None
                 ) -> tuple[list[Atoms], int]:
    """Labelled copies of ``frames`` (``info["polarizability"]``, and ``info["label_source"]``
    when ``source`` is given) and the number of frames left out for a non-finite label."""
    alphas = np.asarray(labeller.predict(list(frames)))
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
