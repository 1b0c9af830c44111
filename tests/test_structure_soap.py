"""Structure-level lambda-SOAP (sum over atoms before Clebsch-Gordan) against featomic."""

from __future__ import annotations

import metatensor
import numpy as np
import pytest
from ase import Atoms
from conftest import labelled_water_molecules, rotated, wigner_d2
from scipy.spatial.transform import Rotation

import ase_raman
from ase_raman.errors import UsageError
from ase_raman.features.lambda_soap import (
    LambdaSoapFeaturizer,
    LambdaSoapHypers,
    duplicate_free_rows,
    make_featurizer,
)
from ase_raman.features.structure_soap import StructureSoapFeaturizer, cg_matrices
from ase_raman.models.lambda_soap import LambdaSoapRidge
from ase_raman.models.modelfile import read_model_file, write_model_file

SPECIES = ("H", "C", "N", "O")
HYPERS = {"cutoff": 3.5, "max_radial": 3, "max_angular": 4, "species": list(SPECIES)}


def random_frames() -> list[Atoms]:
    """Clusters and periodic cells of H, C, N, O; N is absent from several of them."""
    rng = np.random.default_rng(7)
    frames = []
    for i in range(7):
        n = int(rng.integers(3, 14))
        pool = ["H", "C", "O"] if i % 2 else ["H", "C", "N", "O"]
        symbols = list(rng.choice(pool, size=n))
        box = 2.0 + 0.45 * n ** (1 / 3) * 2
        positions = rng.uniform(0.0, box, size=(n, 3))
        if i < 3:  # periodic, non-orthogonal cell
            cell = np.diag([box, box + 0.4, box + 0.8]) + rng.normal(scale=0.3, size=(3, 3))
            frames.append(Atoms(symbols, positions=positions, cell=cell, pbc=True))
        else:
            frames.append(Atoms(symbols, positions=positions))
    # a lone atom far from the rest (no neighbours), and a structure without O
    frames.append(Atoms("OHC", positions=[[0, 0, 0], [0.97, 0, 0], [9.0, 9.0, 9.0]]))
    frames.append(Atoms("CH4", positions=[[0, 0, 0], [0.63, 0.63, 0.63], [-0.63, -0.63, 0.63],
                                          [-0.63, 0.63, -0.63], [0.63, -0.63, -0.63]]))
    return frames


def max_rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.fixture(scope="module")
def frames():
    return random_frames()


@pytest.fixture(scope="module")
def featurizers():
    """(featomic path, structure path) for drop_duplicates False and True (built once)."""
    out = {}
    for drop in (False, True):
        hypers = LambdaSoapHypers.from_dict({**HYPERS, "drop_duplicates": drop})
        out[drop] = (LambdaSoapFeaturizer(hypers, batch_size=4),
                     StructureSoapFeaturizer(hypers, batch_size=3))
    return out


@pytest.mark.parametrize("drop_duplicates", [False, True])
def test_equal_to_featomic_summed_over_atoms(frames, featurizers, drop_duplicates):
    featomic_path, structure_path = featurizers[drop_duplicates]
    reference = featomic_path.compute(frames)
    ours = structure_path.compute(frames)
    assert metatensor.equal_metadata(ours, reference)
    for lam in (0, 2):
        a = ours.block(o3_lambda=lam).values
        b = reference.block(o3_lambda=lam).values
        assert max_rel(a, b) < 1e-12, (lam, max_rel(a, b))
        # per centre species, not only globally (a species with small features would
        # hide behind a large one); structures where a part vanishes by symmetry hold
        # rounding noise only, so the scale is the species' largest feature
        n_props = a.shape[-1] // len(SPECIES)
        for t in range(len(SPECIES)):
            ref = b[:, :, t * n_props:(t + 1) * n_props]
            got = a[:, :, t * n_props:(t + 1) * n_props]
            assert np.abs(ref).max() > 0.0
            assert np.abs(got - ref).max() <= 1e-12 * np.abs(ref).max(), (lam, t)
    # N is absent from some structures: its centre block is exactly zero there
    n_props0 = ours.block(o3_lambda=0).values.shape[-1] // len(SPECIES)
    n_slice = slice(2 * n_props0, 3 * n_props0)
    without_n = [i for i, a in enumerate(frames) if "N" not in a.get_chemical_symbols()]
    assert without_n
    assert np.all(ours.block(o3_lambda=0).values[without_n, :, n_slice] == 0.0)


def test_equal_for_a_lone_structure_and_large_batches(frames, featurizers):
    featomic_path, structure_path = featurizers[False]
    reference = featomic_path.compute_arrays(frames)
    for batch_size in (1, 64):
        structure_path.batch_size = batch_size
        try:
            ours = structure_path.compute_arrays(frames)
        finally:
            structure_path.batch_size = 3
        assert max_rel(ours.lambda0, reference.lambda0) < 1e-12
        assert max_rel(ours.lambda2, reference.lambda2) < 1e-12


def test_blas_thread_settings_give_the_same_numbers(frames, featurizers):
    _, structure_path = featurizers[False]
    one = structure_path.compute_arrays(frames[:3])
    for blas_threads in (None, 2):
        structure_path.blas_threads = blas_threads
        try:
            other = structure_path.compute_arrays(frames[:3])
        finally:
            structure_path.blas_threads = 1
        assert max_rel(other.lambda2, one.lambda2) < 1e-13
    with pytest.raises(UsageError, match="blas_threads"):
        StructureSoapFeaturizer(structure_path.hypers, blas_threads=0)


def test_lambda2_rotates_with_d2_and_lambda0_is_invariant(frames, featurizers):
    _, featurizer = featurizers[False]
    chosen = [frames[0], frames[4]]  # one periodic, one cluster
    base = featurizer.compute_arrays(chosen)
    for seed in range(3):
        rot = Rotation.random(random_state=seed).as_matrix()
        turned = featurizer.compute_arrays([rotated(a, rot) for a in chosen])
        d2 = wigner_d2(rot)
        for i in range(len(chosen)):
            x = base.lambda2[i]
            np.testing.assert_allclose(turned.lambda2[i], d2 @ x, atol=1e-10 * np.abs(x).max())
        np.testing.assert_allclose(turned.lambda0, base.lambda0,
                                   atol=1e-10 * np.abs(base.lambda0).max())


def test_dropped_duplicates_are_true_duplicates(frames, featurizers):
    _, featurizer = featurizers[False]
    values = featurizer.compute_arrays(frames)
    for lam, block in ((0, values.lambda0), (2, values.lambda2)):
        props = featurizer._block_properties[lam]
        index = {tuple(row): i for i, row in enumerate(props.tolist())}
        kept = set(duplicate_free_rows(props).tolist())
        dropped = [i for i in range(len(props)) if i not in kept]
        assert dropped, "l1 = l2 blocks of several species must hold duplicates"
        n_props = props.shape[0]
        for i in dropped:
            l1, l2, a, n1, b, n2 = props[i]
            assert l1 == l2
            twin = index[(l1, l2, b, n2, a, n1)]
            assert twin in kept
            for t in range(len(SPECIES)):
                np.testing.assert_allclose(block[:, :, t * n_props + i],
                                           block[:, :, t * n_props + twin],
                                           rtol=1e-13, atol=1e-14 * np.abs(block).max())
        # l1 != l2 properties are never dropped
        assert all(i in kept for i in range(len(props)) if props[i, 0] != props[i, 1])


def test_cg_matrices_are_orthonormal():
    """The couplings used are featomic's real CG: orthonormal over (m1, m2)."""
    cg = cg_matrices(4)
    for (l1, l2, lam), w in cg.items():
        assert w.shape == (2 * l1 + 1, 2 * l2 + 1, 2 * lam + 1)
        flat = w.reshape(-1, 2 * lam + 1)
        np.testing.assert_allclose(flat.T @ flat, np.eye(2 * lam + 1), atol=1e-13)
    assert (1, 3, 2) in cg and (1, 2, 2) not in cg and (0, 0, 0) in cg


def test_hyper_switch_and_validation():
    hypers = LambdaSoapHypers.from_dict(HYPERS)
    assert hypers.featurizer == "structure" and hypers.drop_duplicates is False
    assert type(make_featurizer(hypers)) is StructureSoapFeaturizer
    featomic_hypers = LambdaSoapHypers.from_dict({**HYPERS, "featurizer": "featomic"})
    assert type(make_featurizer(featomic_hypers)) is LambdaSoapFeaturizer
    with pytest.raises(UsageError, match="featurizer"):
        LambdaSoapHypers.from_dict({**HYPERS, "featurizer": "fast"})
    with pytest.raises(UsageError, match="drop_duplicates"):
        LambdaSoapHypers.from_dict({**HYPERS, "drop_duplicates": "yes"})


@pytest.fixture(scope="module")
def water_frames():
    return labelled_water_molecules(16, seed=3)


def test_fitted_model_predicts_the_same_either_way(tmp_path, water_frames):
    hypers = {"cutoff": 3.5, "max_radial": 2, "max_angular": 2}
    model = LambdaSoapRidge(hypers=hypers).fit(water_frames[:12])
    reference = LambdaSoapRidge(hypers={**hypers, "featurizer": "featomic"}).fit(
        water_frames[:12])
    test = water_frames[12:]
    fast = model.predict(test)
    assert model.metadata["hypers"]["featurizer"] == "structure"
    # fitting on either path gives the same model
    assert max_rel(reference.predict(test), fast) < 1e-9
    model.use_featurizer("featomic")
    assert type(model.featurizer) is LambdaSoapFeaturizer
    assert max_rel(model.predict(test), fast) < 1e-12
    # the file records the choice; a file without the new keys loads on the fast path
    path = tmp_path / "model.npz"
    model.save(path)
    arrays, meta = read_model_file(path)
    assert meta["hypers"]["featurizer"] == "featomic"
    assert meta["hypers"]["drop_duplicates"] is False
    for key in ("featurizer", "drop_duplicates"):
        del meta["hypers"][key]
    old = tmp_path / "old.npz"
    write_model_file(old, arrays, meta)
    loaded = ase_raman.load_model(old)
    assert type(loaded.featurizer) is StructureSoapFeaturizer
    assert max_rel(loaded.predict(test), fast) < 1e-12


def test_drop_duplicates_is_recorded_in_model_files(tmp_path, water_frames):
    hypers = {"cutoff": 3.5, "max_radial": 2, "max_angular": 2}
    full = LambdaSoapRidge(hypers=hypers).fit(water_frames[:12])
    slim = LambdaSoapRidge(hypers={**hypers, "drop_duplicates": True}).fit(water_frames[:12])
    for lam in (0, 2):
        assert slim.blocks[lam].weights.shape[0] < full.blocks[lam].weights.shape[0]
    path = tmp_path / "slim.npz"
    slim.save(path)
    loaded = ase_raman.load_model(path)
    assert loaded.hypers.drop_duplicates is True
    assert loaded.metadata["hypers"]["drop_duplicates"] is True
    test = water_frames[12:]
    np.testing.assert_array_equal(loaded.predict(test), slim.predict(test))
    # the featomic path drops the same columns
    assert max_rel(loaded.use_featurizer("featomic").predict(test), slim.predict(test)) < 1e-12
    # duplicates dropped, physics kept: predictions stay close to the full model's
    rel = max_rel(slim.predict(test), full.predict(test))
    assert rel < 0.05, rel
