"""Issue 10: predictive uncertainty, extrapolation warnings, learning curves, selection."""

from __future__ import annotations

import csv
import json
import warnings

import numpy as np
import pytest
from ase.io import read
from conftest import doubled_cells

from ase_raman.cli import main
from ase_raman.models.lambda_soap import LambdaSoapRidge
from ase_raman.models.metrics import frame_uncertainty, interval_coverage
from ase_raman.models.selection import (
    farthest_point_sampling,
    greedy_variance_selection,
    select_frames,
    select_indices,
)
from ase_raman.models.uncertainty import (
    ExtrapolationWarning,
    extrapolation_stretches,
    uncertainty_threshold,
    warn_if_extrapolating,
)

HYPERS = {"cutoff": 3.5, "max_radial": 3, "max_angular": 2}


@pytest.fixture(scope="module")
def model(water_bulk):
    return LambdaSoapRidge(hypers=HYPERS).fit(water_bulk[:140])


def test_uncertainty_is_calibrated_on_held_out_frames(model, water_bulk):
    pred, std = model.predict_with_uncertainty(water_bulk[140:])
    ref = np.array([a.info["polarizability"] for a in water_bulk[140:]])
    np.testing.assert_allclose(pred, model.predict(water_bulk[140:]))
    coverage = interval_coverage(pred, std, ref)
    print(coverage)
    assert 0.85 <= coverage["coverage_95"] <= 0.995, coverage
    assert 0.5 <= coverage["coverage_68"] <= 0.85, coverage


def test_uncertainty_grows_outside_the_training_distribution(model, water_bulk, test_data):
    monomers = read(test_data / "water_monomer_200.xyz", index=":20")
    for atoms in monomers:
        atoms.pbc = False
    _, std_in = model.predict_with_uncertainty(water_bulk[140:160])
    _, std_out = model.predict_with_uncertainty(monomers)
    inside, outside = frame_uncertainty(std_in), frame_uncertainty(std_out)
    # the threshold is per atom: alpha's uncertainty grows with the size of the cell
    assert uncertainty_threshold(model) is None
    assert np.all(inside < uncertainty_threshold(model, 96))
    threshold_out = uncertainty_threshold(model, 3)
    assert np.all(outside > threshold_out), (outside.min(), threshold_out)
    assert np.median(outside / 3) > 10 * np.median(inside / 96)


def test_uncertainty_survives_save_and_load(model, water_bulk, tmp_path):
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = LambdaSoapRidge.load(path)
    _, a = model.predict_with_uncertainty(water_bulk[150:153])
    _, b = loaded.predict_with_uncertainty(water_bulk[150:153])
    np.testing.assert_allclose(a, b, rtol=1e-12)
    assert uncertainty_threshold(loaded, 96) == pytest.approx(uncertainty_threshold(model, 96))


def test_extrapolation_stretches_and_warning():
    unc = np.array([0.1, 0.1, 5, 5, 5, 0.1, 5, 0.1, 5, 5, 5, 5])
    assert extrapolation_stretches(unc, 1.0, min_frames=3) == [(2, 5), (8, 12)]
    assert extrapolation_stretches(unc, 1.0, min_frames=1) == [(2, 5), (6, 7), (8, 12)]
    with pytest.warns(ExtrapolationWarning, match=r"frames 20-40, 80-110"):
        warn_if_extrapolating(unc, 1.0, frame_numbers=np.arange(12) * 10, source="run.h5")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_if_extrapolating(np.full(5, 0.1), 1.0) == []


def test_farthest_point_sampling_picks_extremes_first():
    points = np.array([[0.0], [0.1], [0.2], [5.0], [-4.0], [0.05]])
    picks = farthest_point_sampling(points, 3)
    assert picks[:2] == [3, 4]
    assert len(set(picks)) == 3
    with_known = farthest_point_sampling(points, 1, known=np.array([[5.0], [-4.0]]))
    assert with_known in ([0], [1], [2], [5]) and with_known != [3]


def test_uncertainty_strategy_prefers_uncertain_frames():
    rng = np.random.default_rng(0)
    desc = rng.normal(size=(50, 4))
    unc = np.linspace(0, 1, 50)
    picks = select_indices(desc, 5, "uncertainty", uncertainty=unc)
    assert 49 in picks and min(picks) > 30
    mixed = select_indices(desc, 6, "mixed", uncertainty=unc)
    assert len(set(mixed)) == 6 and 49 in mixed


def test_variance_selection_conditions_on_each_pick(model, water_bulk):
    """The first pick has the largest predictive variance; after it, the Woodbury update
    equals the posterior recomputed with that frame's features added (explicit inverse),
    and an exact duplicate of a picked frame is not picked again."""
    pool = [*water_bulk[140:170], water_bulk[150].copy()]  # index 30 duplicates 10
    features = model.featurizer.compute_arrays(pool)
    std = model.predict_features_std(features)
    picked = greedy_variance_selection(model, features, 6)
    assert picked[0] == int(np.argmax(frame_uncertainty(std)))
    assert len(set(picked)) == 6 and not {10, 30} <= set(picked)

    block = model.blocks[2]  # explicit posterior of the lambda = 2 block
    x = block.standardise(features.lambda2)
    basis, weights = block.posterior_basis, block.posterior_weights
    p = basis.shape[0]
    a_inv = basis @ np.diag(weights) @ basis.T + (np.eye(p) - basis @ basis.T) / block.penalty
    a_new = np.linalg.inv(np.linalg.inv(a_inv) + x[picked[0]].T @ x[picked[0]])
    rows = x.reshape(-1, p)
    k = rows @ a_inv @ rows.T
    j = np.arange(5 * picked[0], 5 * picked[0] + 5)
    k -= k[:, j] @ np.linalg.solve(np.eye(5) + k[np.ix_(j, j)], k[:, j].T)
    np.testing.assert_allclose(np.diag(k), np.einsum("ip,pq,iq->i", rows, a_new, rows),
                               rtol=1e-6, atol=1e-10)


def test_integrated_objective_picks_the_largest_drop_of_pool_variance(model, water_bulk):
    """The 'integrated' objective's first pick is the frame whose label most lowers the
    summed predictive variance of the pool, checked by conditioning on every frame in
    turn; on a real pool it returns distinct frames; an unknown objective is refused."""
    from ase_raman.models.selection import _pool_variance_reduction

    pool = water_bulk[140:160]
    features = model.featurizer.compute_arrays(pool)
    rng = np.random.default_rng(0)
    k = rng.normal(size=(12, 12))
    k = k @ k.T  # a posterior matrix of 4 frames with 3 components each
    weight = np.array([1.0, 4.0, 9.0, 16.0])  # e.g. atoms^2 of a per-atom block
    drops, weighted = [], []
    for j in range(4):
        rows = np.arange(3 * j, 3 * j + 3)
        after = k - k[:, rows] @ np.linalg.solve(np.eye(3) + k[np.ix_(rows, rows)],
                                                 k[rows, :])
        drop = np.diag(k) - np.diag(after)
        drops.append(drop.sum())
        weighted.append(np.sum(np.repeat(weight, 3) * drop))
    np.testing.assert_allclose(_pool_variance_reduction(k, 3), drops, rtol=1e-10)
    np.testing.assert_allclose(_pool_variance_reduction(k, 3, weight), weighted, rtol=1e-10)

    picked = greedy_variance_selection(model, features, 4, objective="integrated")
    assert len(set(picked)) == 4
    with pytest.raises(Exception, match="objective"):
        greedy_variance_selection(model, features, 4, objective="nope")


def test_variance_strategy_through_select_frames_and_known(model, water_bulk):
    pool = water_bulk[140:160]
    picked, unc = select_frames(pool, 3, strategy="variance", model=model)
    assert len(set(picked)) == 3 and unc is not None
    # a frame already known is worth nothing new: its duplicate in the pool is not picked
    again, _ = select_frames(pool, 3, strategy="variance", model=model, known=[pool[picked[0]]])
    assert picked[0] not in again


def test_learning_curve_cli(test_data, tmp_path, capsys):
    out = tmp_path / "curve.csv"
    assert main(["learning-curve", str(test_data / "water_bulk_200.xyz"), "--alpha-key",
                 "alpha", "--alpha-unit", "bohr3", "--sizes", "10,40", "--repeats", "2",
                 "--hypers", json.dumps(HYPERS), "-o", str(out), "--png",
                 str(tmp_path / "curve.png"), "--quiet"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [int(r["n_train"]) for r in rows] == [10, 40]
    for key in ("r2_lambda0", "r2_lambda2", "r2_diagonal", "r2_offdiagonal", "rmse_A3"):
        assert key in rows[0]
    assert float(rows[1]["r2_lambda0"]) > float(rows[0]["r2_lambda0"])
    assert (tmp_path / "curve.png").stat().st_size > 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["n_test"] == 40 and summary["per_atom"] is False
    assert main(["learning-curve", str(test_data / "water_bulk_200.xyz"), "--alpha-key",
                 "alpha", "--alpha-unit", "bohr3", "--sizes", "10", "--repeats", "1",
                 "--hypers", json.dumps(HYPERS), "-o", str(out), "--per-atom",
                 "--quiet"]) == 0
    row = next(csv.DictReader(out.open()))
    assert "rmse_lambda0_A3_per_atom" in row and "rmse_lambda0_A3" not in row
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["per_atom"] is True


def test_per_atom_learning_curve_removes_cell_size_from_r2(water_bulk):
    from ase_raman.models.learning_curve import learning_curve

    def learner():
        return LambdaSoapRidge(hypers=HYPERS, quiet=True)

    # one cell size: scoring per atom divides every tensor by the same 96, so R^2 is
    # unchanged and the RMSE shrinks exactly 96-fold
    pool, test = water_bulk[:100], water_bulk[140:180]
    whole = learning_curve(learner, pool, test, [10, 30], repeats=2)
    per_atom = learning_curve(learner, pool, test, [10, 30], repeats=2, per_atom=True)
    np.testing.assert_allclose(per_atom.column("r2_lambda0"), whole.column("r2_lambda0"))
    np.testing.assert_allclose(per_atom.column("rmse_lambda0_A3_per_atom"),
                               whole.column("rmse_lambda0_A3") / 96)
    assert "rmse_A3" not in per_atom.rows[0]

    # half the cells doubled (alpha of a periodic repeat is exactly twice the cell's):
    # pooled over the two sizes the whole-cell lambda = 0 R^2 looks excellent from 10
    # tensors on because it mostly scores the size; per atom it is the within-size R^2
    mixed_pool = [*pool[:50], *doubled_cells(pool[50:])]
    mixed_test = [*test[:20], *doubled_cells(test[20:])]
    mixed_whole = learning_curve(learner, mixed_pool, mixed_test, [10], repeats=2)
    mixed_per_atom = learning_curve(learner, mixed_pool, mixed_test, [10], repeats=2,
                                    per_atom=True)
    inflated = mixed_whole.rows[0]["r2_lambda0"]
    honest = mixed_per_atom.rows[0]["r2_lambda0"]
    print(inflated, honest, whole.rows[0]["r2_lambda0"])
    assert inflated > 0.99
    assert honest < inflated - 0.05
    # (the per-atom features of a doubled cell equal the cell's: same score as one size)
    assert abs(honest - whole.rows[0]["r2_lambda0"]) < 0.05


def test_select_cli_writes_poscars_and_index(test_data, tmp_path, model):
    model_path = tmp_path / "m.npz"
    model.save(model_path)
    out = tmp_path / "to_compute"
    assert main(["select", str(test_data / "water_bulk_200.xyz"), "--n", "4", "--model",
                 str(model_path), "--strategy", "mixed", "-o", str(out)]) == 0
    rows = list(csv.DictReader((out / "index.csv").open()))
    assert len(rows) == 4 and all(float(r["uncertainty_A3"]) > 0 for r in rows)
    frames = read(test_data / "water_bulk_200.xyz", index=":")
    for row in rows:
        poscar = read(out / row["file"], format="vasp")
        source = frames[int(row["frame"])]
        assert sorted(poscar.get_chemical_symbols()) == sorted(source.get_chemical_symbols())
        np.testing.assert_allclose(poscar.cell.array, source.cell.array, atol=1e-8)
    assert len(read(out / "selected.xyz", index=":")) == 4
    # the folder is never overwritten
    assert main(["select", str(test_data / "water_bulk_200.xyz"), "--n", "2",
                 "-o", str(out)]) == 2


def test_predict_store_keeps_uncertainty_and_warns_outside_training(model, water_bulk, tmp_path):
    from ase_raman.store import predict_to_store, read_trajectory

    compressed = []  # a new "phase": the same liquid squeezed to 80 % of its lengths
    for atoms in water_bulk[150:158]:
        squeezed = atoms.copy()
        squeezed.set_cell(atoms.cell * 0.8, scale_atoms=True)
        compressed.append(squeezed)
    frames = [*water_bulk[140:150], *compressed]
    path = tmp_path / "run.h5"
    with pytest.warns(ExtrapolationWarning, match=r"frames 10-17"):
        predict_to_store(model, frames, path, dt_fs=10.0)
    with read_trajectory(path) as traj:
        np.testing.assert_array_equal(traj.polarizability_uncertainty_step, np.arange(18))
        _, std = model.predict_with_uncertainty(frames)
        np.testing.assert_allclose(traj.polarizability_uncertainty, frame_uncertainty(std),
                                   rtol=1e-10)


def test_observer_records_uncertainty(model, water_bulk, tmp_path):
    from ase import units
    from ase.calculators.emt import EMT
    from ase.md.verlet import VelocityVerlet

    from ase_raman import PolarizabilityObserver
    from ase_raman.store import read_trajectory

    atoms = water_bulk[150].copy()
    atoms.calc = EMT()
    dyn = VelocityVerlet(atoms, timestep=0.1 * units.fs)
    with PolarizabilityObserver(atoms, model, tmp_path / "md.h5", dyn=dyn, logfile=None) as obs:
        dyn.attach(obs, interval=2)
        dyn.run(6)
    with read_trajectory(tmp_path / "md.h5") as traj:
        assert len(traj.polarizability_uncertainty) == len(traj.step) == 4
        assert np.all(traj.polarizability_uncertainty > 0)


def test_select_cli_known_frames_are_not_picked_again(test_data, tmp_path):
    """A second round with --known (the first round's picks) picks other frames; without
    it the same frames come back (fps is deterministic)."""
    pool = str(test_data / "water_bulk_200.xyz")
    first, again, second = tmp_path / "r1", tmp_path / "r1b", tmp_path / "r2"
    for out, extra in ((first, []), (again, []),
                       (second, ["--known", str(first / "selected.xyz")])):
        assert main(["select", pool, "--index", ":60", "--n", "4", "-o", str(out),
                     *extra]) == 0
    picks = {out: {int(r["frame"]) for r in csv.DictReader((out / "index.csv").open())}
             for out in (first, again, second)}
    assert picks[first] == picks[again] and len(picks[first]) == 4
    assert not picks[first] & picks[second] and len(picks[second]) == 4


def _reference_fps(points, n, known=None):
    """Brute-force standard FPS: each pick maximises the distance to the nearest pick or
    known point; without known points the first pick is the point farthest from the mean."""
    picked = []
    known = [] if known is None else list(known)
    for _ in range(n):
        centres = known + [points[j] for j in picked]
        if not centres:
            best = int(np.argmax([np.linalg.norm(p - points.mean(axis=0)) for p in points]))
        else:
            score = [-np.inf if i in picked else min(np.linalg.norm(p - c) for c in centres)
                     for i, p in enumerate(points)]
            best = int(np.argmax(score))
        picked.append(best)
    return picked


def test_farthest_point_sampling_is_standard_fps():
    """No virtual pick at the pool mean after the first: equals the brute-force FPS."""
    rng = np.random.default_rng(3)
    points = rng.normal(size=(120, 3))
    assert farthest_point_sampling(points, 40) == _reference_fps(points, 40)
    known = rng.normal(size=(7, 3)) * 2.0
    assert farthest_point_sampling(points, 25, known) == _reference_fps(points, 25, known)


def test_farthest_point_sampling_picks_the_mean_when_it_is_farthest():
    """A frame at the pool mean is picked once it is the farthest from every pick."""
    points = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 0.0], [-0.9, 0.0], [0.9, 0.0]])
    assert farthest_point_sampling(points, 3) == _reference_fps(points, 3)
    assert farthest_point_sampling(points, 3)[2] == 2


def test_distances_to_known_are_computed_in_bounded_blocks():
    from ase_raman.models.selection import distances_to_set

    rng = np.random.default_rng(4)
    points, centres = rng.normal(size=(53, 4)), rng.normal(size=(17, 4))
    dense = np.min(np.linalg.norm(points[:, None] - centres[None], axis=-1), axis=1)
    for block in (1, 5, 40, 10**6):
        np.testing.assert_allclose(distances_to_set(points, centres, block), dense,
                                   rtol=1e-12, atol=1e-12)
