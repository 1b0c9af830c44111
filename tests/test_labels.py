"""Physical-model labels for training (the demo's and examples' label source)."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from ase_raman.models.labels import label_frames
from ase_raman.models.registry import get_learner


def test_label_frames_keeps_finite_labels_and_counts_refusals():
    pytest.importorskip("ase_raman_did", reason="needs the DID plugin: pip install -e plugins/did")
    did = get_learner("dipole-induced-dipole")(
        hypers={"on_catastrophe": "nan", "damping": "none"})
    apart = Atoms("AgI", positions=[[0, 0, 0], [0, 0, 2.8]])
    collapsed = Atoms("I2", positions=[[0, 0, 0], [0, 0, 1.2]])  # undamped: catastrophe
    labelled, refused = label_frames(did, [apart, collapsed], source="DID")
    assert refused == 1 and len(labelled) == 1
    np.testing.assert_allclose(labelled[0].info["polarizability"], did.predict([apart])[0])
    assert labelled[0].info["label_source"] == "DID"
    assert "polarizability" not in apart.info  # the input frames are not modified
