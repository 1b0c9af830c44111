"""PolarizabilityObserver inside real ASE dynamics with the real lambda-SOAP learner.

The model is fitted on fcc Al cells labelled by ASE's own bond-polarizability model
(Lippincott-Stuttman), forces come from ASE's EMT.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from ase import units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.md.langevin import Langevin
from ase.md.nptberendsen import NPTBerendsen
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
from ase.md.verlet import VelocityVerlet
from conftest import al_cell

import ase_raman
from ase_raman.errors import ModelSpeciesError
from ase_raman.store import StoreError, read_trajectory, restart_atoms

pytestmark = pytest.mark.filterwarnings("ignore:Use thermalize_momenta:DeprecationWarning")


class CountingEMT(EMT):
    """EMT that counts its force evaluations (to prove the observer adds none)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.n_calculations = 0

    def calculate(self, *args, **kw):
        self.n_calculations += 1
        super().calculate(*args, **kw)


def _md_atoms(seed=0):
    atoms = al_cell(seed=100 + seed, rattle=0.02)
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(seed))
    atoms.calc = CountingEMT()
    return atoms


class Recorder:
    """Keeps copies of the atoms and energies at each call (the reference values)."""

    def __init__(self, atoms):
        self.atoms, self.frames = atoms, []

    def __call__(self):
        snap = self.atoms.copy()
        snap.info["energy"] = self.atoms.get_potential_energy()
        self.frames.append(snap)


def test_velocity_verlet_records_everything(tmp_path, al_model):
    atoms = _md_atoms()
    dyn = VelocityVerlet(atoms, timestep=2.0 * units.fs)
    ref = Recorder(atoms)
    log = io.StringIO()
    obs = ase_raman.PolarizabilityObserver(atoms, al_model, tmp_path / "run.h5", dyn=dyn,
                                           batch=3, flush_every=4, logfile=log)
    dyn.attach(obs, interval=5)
    dyn.attach(ref, interval=5)
    dyn.run(50)
    with read_trajectory(tmp_path / "run.h5") as live:  # the periodic flushes so far
        assert 0 < len(live) < 11  # the rest is written on close
    n_calc_before_close = atoms.calc.n_calculations
    info = obs.close()
    assert atoms.calc.n_calculations == n_calc_before_close == 51  # 1 initial + 50 steps
    assert info["frames_recorded"] == 11 and info["time_covered_fs"] == pytest.approx(100.0)
    assert "11 frames" in log.getvalue() and "run.h5" in log.getvalue()

    with read_trajectory(tmp_path / "run.h5") as traj:
        np.testing.assert_array_equal(traj.step, np.arange(0, 51, 5))
        np.testing.assert_allclose(traj.time_fs, 2.0 * np.arange(0, 51, 5))
        assert traj.dt_fs == pytest.approx(2.0)
        assert traj.sampling_interval == 5
        np.testing.assert_allclose(traj.polarizability, al_model.predict(ref.frames),
                                   rtol=1e-12, atol=1e-12)
        for i in (0, 4, 10):
            np.testing.assert_array_equal(traj.positions[i], ref.frames[i].positions)
            np.testing.assert_allclose(traj.velocities[i],
                                       ref.frames[i].get_velocities() * units.fs, rtol=1e-12)
        np.testing.assert_array_equal(traj.potential_energy_step, traj.step)
        np.testing.assert_allclose(traj.potential_energy,
                                   [f.info["energy"] for f in ref.frames], rtol=1e-12)
        assert traj.model_metadata["learner"] == "lambda-soap"
        # alpha actually varies along the run (the recorded frames are not all the same)
        assert np.ptp(traj.polarizability[:, 0, 0]) > 1e-6


class PublicDynamics:
    """An ASE dynamics seen through its public API only: attach, run, nsteps, dt,
    closelater and close (no ``observers`` list, no ``max_steps``)."""

    def __init__(self, dyn):
        self._dyn = dyn

    def attach(self, function, interval=1):
        self._dyn.attach(function, interval)

    def run(self, steps):
        return self._dyn.run(steps)

    @property
    def nsteps(self):
        return self._dyn.nsteps

    @property
    def dt(self):
        return self._dyn.dt

    def closelater(self, obj):
        return self._dyn.closelater(obj)

    def close(self):
        self._dyn.close()


@pytest.mark.parametrize(("batch", "flush_every"), [(3, 4), (1, 1)])
def test_public_dynamics_api_is_enough(tmp_path, al_model, batch, flush_every):
    """The interval comes from consecutive nsteps, the end of the run from close."""
    atoms = _md_atoms(seed=6)
    dyn = PublicDynamics(VelocityVerlet(atoms, timestep=2.0 * units.fs))
    obs = ase_raman.PolarizabilityObserver(atoms, al_model, tmp_path / "run.h5", dyn=dyn,
                                           batch=batch, flush_every=flush_every, logfile=None)
    dyn.attach(obs, interval=3)
    dyn.run(30)
    dyn.close()  # closelater: closes the observer, the file is complete
    assert obs.summary()["frames_recorded"] == 11
    with read_trajectory(tmp_path / "run.h5") as traj:
        np.testing.assert_array_equal(traj.step, np.arange(0, 31, 3))
        assert traj.sampling_interval == 3
    with pytest.raises(StoreError, match="closed"):  # closed by dyn.close()
        obs.store.flush()


def test_a_single_call_is_recorded_on_close(tmp_path, al_model):
    atoms = _md_atoms(seed=7)
    dyn = VelocityVerlet(atoms, timestep=2.0 * units.fs)
    with ase_raman.PolarizabilityObserver(atoms, al_model, tmp_path / "one.h5", dyn=dyn,
                                          logfile=None) as obs:
        dyn.attach(obs, interval=10)
        dyn.run(5)  # called at step 0 only
    with read_trajectory(tmp_path / "one.h5") as traj:
        np.testing.assert_array_equal(traj.step, [0])
        assert traj.sampling_interval is None  # unknown from one call, and not invented


def test_batching_changes_no_value(tmp_path, al_model):
    results = []
    for batch in (1, 7):
        atoms = _md_atoms(seed=3)
        dyn = Langevin(atoms, timestep=1.0 * units.fs, temperature_K=600, friction=0.02,
                       fixcm=False, rng=np.random.default_rng(1))
        path = tmp_path / f"b{batch}.h5"
        with ase_raman.PolarizabilityObserver(atoms, al_model, path, dyn=dyn, batch=batch,
                                              logfile=None) as obs:
            dyn.attach(obs, interval=2)
            dyn.run(20)
        with read_trajectory(path) as traj:
            results.append((traj.step, traj.polarizability))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12, atol=1e-12)


def test_npt_records_changing_cell(tmp_path, al_model):
    atoms = _md_atoms(seed=4)
    dyn = NPTBerendsen(atoms, timestep=1.0 * units.fs, temperature_K=300,
                       pressure_au=5.0 * units.GPa, taut=50 * units.fs, taup=50 * units.fs,
                       compressibility_au=1.0 / (70 * units.GPa))
    with ase_raman.PolarizabilityObserver(atoms, al_model, tmp_path / "npt.h5", dyn=dyn,
                                          logfile=None) as obs:
        dyn.attach(obs, interval=4)
        dyn.run(20)
    with read_trajectory(tmp_path / "npt.h5") as traj:
        assert len(traj) == 6
        volumes = np.abs(np.linalg.det(traj.cells))
        assert np.ptp(volumes) > 1e-3  # the barostat changed the cell and we recorded it
        np.testing.assert_allclose(traj.cells[-1], atoms.cell.array)


def test_resume_continues_without_gap_or_duplicate(tmp_path, al_model):
    path = tmp_path / "run.h5"
    atoms = _md_atoms(seed=5)
    dyn = VelocityVerlet(atoms, timestep=2.0 * units.fs)
    with ase_raman.PolarizabilityObserver(atoms, al_model, path, dyn=dyn, logfile=None) as obs:
        dyn.attach(obs, interval=5)
        dyn.run(20)
    # a new process would do exactly this: restart from the store's last frame
    atoms2 = restart_atoms(path)
    atoms2.calc = EMT()
    dyn2 = VelocityVerlet(atoms2, timestep=2.0 * units.fs)
    with ase_raman.PolarizabilityObserver(atoms2, al_model, path, dyn=dyn2, logfile=None) as obs2:
        dyn2.attach(obs2, interval=5)
        dyn2.run(20)
    assert obs2.summary()["frames_recorded"] == 4
    with read_trajectory(path) as traj:
        np.testing.assert_array_equal(traj.step, np.arange(0, 41, 5))
        np.testing.assert_allclose(traj.time_fs, 2.0 * np.arange(0, 41, 5))
        np.testing.assert_allclose(traj.positions[-1], atoms2.positions)
    # a run that does not continue from the stored state is refused, not mixed in
    atoms3 = _md_atoms(seed=6)
    dyn3 = VelocityVerlet(atoms3, timestep=2.0 * units.fs)
    obs3 = ase_raman.PolarizabilityObserver(atoms3, al_model, path, dyn=dyn3, logfile=None)
    dyn3.attach(obs3, interval=5)
    with pytest.raises(StoreError, match="restart_atoms"):
        dyn3.run(5)
        obs3.flush()
    obs3.store.close()
    obs3._closed = True
    with read_trajectory(path) as traj:
        assert traj.step[-1] == 40 and len(traj) == 9


def test_foreign_species_refused(tmp_path, al_model):
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.calc = EMT()
    dyn = VelocityVerlet(atoms, timestep=1.0 * units.fs)
    with pytest.raises(ModelSpeciesError, match="Cu"):
        ase_raman.PolarizabilityObserver(atoms, al_model, tmp_path / "x.h5", dyn=dyn)
    assert not (tmp_path / "x.h5").exists()
