"""The H5MD store: layout, round trip, lazy access, resume, refusal of mismatches, SWMR."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from ase.build import bulk

from ase_raman.errors import AseRamanError, ModelSpeciesError
from ase_raman.store import (
    StoreError,
    clear_status_flags,
    open_store,
    predict_to_store,
    read_trajectory,
    restart_atoms,
)

N_ATOMS = 8


def _frame(step: int, n_atoms: int = N_ATOMS) -> dict:
    """A deterministic frame whose every value encodes its step."""
    rng = np.random.default_rng(step)
    a = rng.normal(size=(3, 3))
    return dict(
        step=step,
        time_fs=2.0 * step,
        polarizability=a + a.T + 30 * np.eye(3),
        positions=rng.uniform(0, 5, size=(n_atoms, 3)),
        cell=np.diag([5.0, 5.0, 5.0 + 0.01 * step]),
        velocities=rng.normal(size=(n_atoms, 3)) * 0.01,
        potential_energy=-3.0 * step if step % 2 == 0 else None,
    )


def _species():
    return [13] * (N_ATOMS - 1) + [8]


META = {"learner": "lambda-soap", "species": ["Al", "O"], "hypers": {"cutoff": 4.0}}


def _write(path, steps, **kw):
    with open_store(path, "w", species=_species(), model_metadata=META, dt_fs=2.0,
                    sampling_interval=1, **kw) as store:
        for s in steps:
            store.append(**_frame(s))
    return path


def test_h5md_layout(tmp_path):
    path = _write(tmp_path / "run.h5", range(5))
    with h5py.File(path, "r") as f:
        assert tuple(f["h5md"].attrs["version"]) == (1, 1)
        assert f["h5md/author"].attrs["name"]
        assert f["h5md/creator"].attrs["name"] == b"ase-raman"  # fixed-length (H5MD)
        assert f["h5md/author"].attrs["name"] == b"anonymous"  # no user name by default
        assert f["h5md/creator"].attrs["version"]
        for name, unit in [("particles/all/position", "Angstrom"),
                           ("particles/all/velocity", "Angstrom fs-1"),
                           ("particles/all/box/edges", "Angstrom"),
                           ("observables/polarizability", "Angstrom+3")]:
            g = f[name]
            assert set(g) == {"step", "time", "value"}
            assert g["value"].attrs["unit"] == unit
            assert g["time"].attrs["unit"] == "fs"
            assert g["value"].chunks is not None and g["value"].maxshape[0] is None
            assert g["step"].maxshape == (None,) and g["step"].dtype.kind == "i"
            np.testing.assert_array_equal(g["step"][()], np.arange(5))
        assert f["particles/all/position/value"].shape == (5, N_ATOMS, 3)
        assert f["observables/polarizability/value"].shape == (5, 3, 3)
        assert f["particles/all/box"].attrs["dimension"] == 3
        assert list(f["particles/all/box"].attrs["boundary"]) == [b"periodic"] * 3
        np.testing.assert_array_equal(f["particles/all/species"][()], _species())
        params = f["parameters"].attrs
        assert params["md_timestep_fs"] == 2.0
        assert json.loads(params["model_metadata"]) == META
        # energy only for the frames that had it
        np.testing.assert_array_equal(f["observables/potential_energy/step"][()], [0, 2, 4])


def test_round_trip_and_lazy_access(tmp_path):
    path = _write(tmp_path / "run.h5", range(0, 300, 3), flush_every=7)
    frames = [_frame(s) for s in range(0, 300, 3)]
    with read_trajectory(path) as traj:
        assert len(traj) == 100
        np.testing.assert_array_equal(traj.step, np.arange(0, 300, 3))
        np.testing.assert_allclose(traj.time_fs, 2.0 * np.arange(0, 300, 3))
        np.testing.assert_array_equal(traj.polarizability,
                                      np.stack([f["polarizability"] for f in frames]))
        np.testing.assert_array_equal(traj.cells, np.stack([f["cell"] for f in frames]))
        assert traj.positions.shape == (100, N_ATOMS, 3)
        np.testing.assert_array_equal(traj.positions[17], frames[17]["positions"])
        np.testing.assert_array_equal(traj.positions[-1], frames[-1]["positions"])
        np.testing.assert_array_equal(traj.positions[10:13],
                                      np.stack([f["positions"] for f in frames[10:13]]))
        np.testing.assert_array_equal(traj.positions[::40],
                                      np.stack([f["positions"] for f in frames[::40]]))
        np.testing.assert_array_equal(traj.velocities[[5, 2, 5]],
                                      np.stack([frames[i]["velocities"] for i in (5, 2, 5)]))
        with pytest.raises(IndexError):
            traj.positions[100]
        total = sum(block.shape[0] for _, block in traj.positions.iter_chunks(16))
        assert total == 100
        np.testing.assert_array_equal(traj.potential_energy_step, np.arange(0, 300, 6))
        np.testing.assert_allclose(traj.potential_energy, -3.0 * np.arange(0, 300, 6))
        atoms = traj.atoms(4)
        assert atoms.get_chemical_symbols() == ["Al"] * 7 + ["O"]
        np.testing.assert_allclose(atoms.get_velocities() * 0.09822694788464063,
                                   frames[4]["velocities"], rtol=1e-6)
        assert atoms.info["step"] == 12
        assert len(list(traj.iter_atoms(chunk=9))) == 100


def test_resume_continues_and_refuses_mismatches(tmp_path):
    path = _write(tmp_path / "run.h5", range(10))
    with open_store(path, "a", species=_species(), model_metadata=META, dt_fs=2.0) as store:
        assert store.last_step == 9 and store.n_committed == 10
        assert store.append(**_frame(9)) is False  # the same last frame: skipped
        with pytest.raises(StoreError, match="not after the last stored step 9"):
            store.append(**_frame(5))
        bad = _frame(9)
        bad["positions"] = bad["positions"] + 0.1
        with pytest.raises(StoreError, match="not after"):
            store.append(**bad)
        for s in range(10, 15):
            assert store.append(**_frame(s))
    with read_trajectory(path) as traj:
        np.testing.assert_array_equal(traj.step, np.arange(15))
        np.testing.assert_array_equal(traj.positions[12], _frame(12)["positions"])

    with pytest.raises(StoreError, match="atoms differ"):
        open_store(path, "a", species=[13] * N_ATOMS)
    with pytest.raises(StoreError, match="model differs.*hypers"):
        open_store(path, "a", model_metadata={**META, "hypers": {"cutoff": 5.0}})
    with pytest.raises(StoreError, match="timestep"):
        open_store(path, "a", dt_fs=1.0)
    with pytest.raises(StoreError, match="exists"):
        open_store(path, "x", species=_species())
    # the refused attempts left the file intact and appendable
    with open_store(path, "a", truncate_after=11) as store:
        assert store.last_step == 11
        store.append(**_frame(12))
    with read_trajectory(path) as traj:
        np.testing.assert_array_equal(traj.step, np.arange(13))
        assert traj.potential_energy_step.tolist() == [0, 2, 4, 6, 8, 10, 12]
    atoms = restart_atoms(path)
    np.testing.assert_array_equal(atoms.positions, _frame(12)["positions"])


def test_wrong_atom_count_refused(tmp_path):
    with open_store(tmp_path / "run.h5", "w", species=_species()) as store:
        with pytest.raises(StoreError, match="7 atoms"):
            store.append(**_frame(0, n_atoms=7))


def test_reader_while_writer_appends(tmp_path):
    """SWMR: a reader opened mid-run sees flushed frames, and more after refresh()."""
    path = tmp_path / "live.h5"
    store = open_store(path, "w", species=_species(), flush_every=1000)
    try:
        for s in range(4):
            store.append(**_frame(s))
        store.flush()
        reader = read_trajectory(path)
        assert len(reader) == 4
        for s in range(4, 9):
            store.append(**_frame(s))
        assert reader.refresh() == 4  # not flushed yet: not visible
        store.flush()
        assert reader.refresh() == 9
        np.testing.assert_array_equal(reader.positions[8], _frame(8)["positions"])
        reader.close()
    finally:
        store.close()


def test_clear_status_flags_is_noop_on_clean_file(tmp_path):
    path = _write(tmp_path / "run.h5", range(3))
    before = path.read_bytes()
    assert clear_status_flags(path) is False
    assert path.read_bytes() == before


def test_not_a_store(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["x"] = 1
    with pytest.raises(AseRamanError, match="not an ase-raman H5MD store"):
        read_trajectory(path)
    with pytest.raises(AseRamanError, match="no such store"):
        read_trajectory(tmp_path / "missing.h5")


# -- predict_to_store with the real default learner -----------------------------------
@pytest.fixture(scope="module")
def water_model_and_frames(test_data):
    from ase_raman.io import read_reference
    from ase_raman.models.lambda_soap import LambdaSoapRidge

    frames = read_reference(test_data / "water_bulk_200.xyz", alpha_key="alpha",
                            alpha_unit="bohr3", index=":40")
    model = LambdaSoapRidge(hypers={"cutoff": 3.5, "max_radial": 3, "max_angular": 2},
                            n_folds=3).fit(frames[:20])
    return model, frames[20:40]


def test_predict_to_store_matches_direct_prediction(tmp_path, water_model_and_frames):
    model, frames = water_model_and_frames
    out = tmp_path / "pred.h5"
    n = predict_to_store(model, iter(frames), out, dt_fs=5.0, every=3, batch=4)
    assert n == 7
    expected = model.predict(frames[::3])
    with read_trajectory(out) as traj:
        np.testing.assert_array_equal(traj.step, np.arange(0, 20, 3))
        np.testing.assert_allclose(traj.time_fs, 5.0 * np.arange(0, 20, 3))
        np.testing.assert_allclose(traj.polarizability, expected, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(traj.positions[2], frames[6].positions)
        assert traj.model_metadata["species"] == model.metadata["species"]
        assert traj.velocities is None
    # resume with mode "a": frames already stored are skipped, none duplicated
    n2 = predict_to_store(model, iter(frames), out, dt_fs=5.0, every=1, batch=4, mode="a")
    assert n2 == 1  # only step 19 is after the last stored step 18
    with read_trajectory(out) as traj:
        assert traj.step.tolist() == [0, 3, 6, 9, 12, 15, 18, 19]


def test_predict_to_store_refuses_foreign_species_before_work(tmp_path,
                                                              water_model_and_frames):
    model, _ = water_model_and_frames
    out = tmp_path / "never.h5"
    with pytest.raises(ModelSpeciesError, match="Al"):
        predict_to_store(model, [bulk("Al", "fcc", a=4.05, cubic=True)], out, dt_fs=1.0)
    assert not out.exists() and not list(tmp_path.iterdir())
    with pytest.raises(AseRamanError, match="dt_fs"):
        predict_to_store(model, [], out, dt_fs=None)
