"""Physical-model labels for training (the demo's and examples' label source)."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from ase_raman.models.labels import fit_on_labels, label_frames
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


def test_label_frames_in_chunks_reports_progress_and_gives_the_same_labels():
    pytest.importorskip("ase_raman_did", reason="needs the DID plugin: pip install -e plugins/did")
    from ase_raman.demo.agi import alpha_agi

    did = get_learner("dipole-induced-dipole")(hypers={"on_catastrophe": "nan"}, quiet=True)
    frames = [alpha_agi((2, 1, 1), seed=s, noise=0.1) for s in range(5)]
    done: list[int] = []
    chunked, refused = label_frames(did, frames, progress=done.append, chunk=2)
    whole, _ = label_frames(did, frames)
    assert done == [2, 2, 1] and refused == 0
    np.testing.assert_allclose([f.info["polarizability"] for f in chunked],
                               [f.info["polarizability"] for f in whole], rtol=1e-12)


def test_fit_on_labels_holds_out_every_kth_labelled_frame():
    pytest.importorskip("ase_raman_did", reason="needs the DID plugin: pip install -e plugins/did")
    from ase_raman.demo.agi import alpha_agi

    did = get_learner("dipole-induced-dipole")(hypers={"on_catastrophe": "nan"}, quiet=True)
    frames = [alpha_agi((2, 2, 1), seed=s, noise=0.1) for s in range(20)]
    model, metrics, labelled, refused = fit_on_labels(
        did, frames, {"cutoff": 3.0, "max_radial": 2, "max_angular": 2}, test_every=4)
    assert refused == 0 and len(labelled) == 20
    assert model.training["n_train"] == 15  # 5 of 20 held out (indices 0, 4, ..., 16)
    from ase_raman.models.metrics import regression_metrics

    held_out = labelled[::4]
    reference = np.array([f.info["polarizability"] for f in held_out])
    assert metrics == pytest.approx(regression_metrics(model.predict(held_out), reference))
