"""Issue 20, point 10: the H5MD store read back by other H5MD tools (MDAnalysis'
H5MDReader, pyh5md) and the layout details H5MD 1.1 asks for."""

from __future__ import annotations

import socket

import h5py
import numpy as np
import pytest

from ase_raman.store import open_store, read_trajectory

N_ATOMS, N_FRAMES = 4, 12
SPECIES = [8, 1, 1, 8]


def _cell(k: int) -> np.ndarray:
    """A triclinic cell that changes along the run (NPT-like), rows = cell vectors."""
    return np.array([[6.0 + 0.01 * k, 0, 0], [1.0, 6.5, 0], [0.5, 0.3, 7.0]])


def write_store(path, *, energies: str = "every", uncertainty: bool = True, **options):
    """A store with every optional part: velocities, a changing triclinic box, potential
    energies ("every" frame, "some" frames or "none") and the model's uncertainty."""
    rng = np.random.default_rng(7)
    frames = []
    with open_store(path, "w", species=SPECIES, pbc=[True] * 3, dt_fs=0.5,
                    sampling_interval=4, velocities=True, flush_every=5, **options) as store:
        for k in range(N_FRAMES):
            frame = {"step": 4 * k, "time_fs": 2.0 * k,
                     "polarizability": np.diag([10.0, 11.0, 12.0]) + 0.1 * k,
                     "positions": rng.random((N_ATOMS, 3)) * 5, "cell": _cell(k),
                     "velocities": rng.normal(0, 0.01, (N_ATOMS, 3))}
            energy = {"every": -1.5 * k, "some": -1.5 * k if k % 3 == 0 else None,
                      "none": None}[energies]
            store.append(**frame, potential_energy=energy,
                         uncertainty=0.01 * k if uncertainty else None)
            frames.append(frame)
    return frames


def test_mdanalysis_reads_positions_velocities_times_box_and_alpha(tmp_path):
    h5md = pytest.importorskip("MDAnalysis.coordinates.H5MD")
    path = tmp_path / "run.h5"
    frames = write_store(path)
    reader = h5md.H5MDReader(str(path), convert_units=True)
    assert reader.n_frames == N_FRAMES
    for k, ts in enumerate(reader):
        np.testing.assert_allclose(ts.positions, frames[k]["positions"], rtol=1e-6, atol=1e-5)
        # MDAnalysis units: Angstrom/ps and ps
        np.testing.assert_allclose(ts.velocities, frames[k]["velocities"] * 1000.0,
                                   rtol=1e-6, atol=1e-5)
        assert ts.time == pytest.approx(frames[k]["time_fs"] / 1000.0)
        np.testing.assert_allclose(ts.data["polarizability"], frames[k]["polarizability"])
        assert ts.data["potential_energy"] == pytest.approx(-1.5 * k)
        np.testing.assert_allclose(ts.triclinic_dimensions, frames[k]["cell"], atol=1e-5)
    reader.close()


def test_pyh5md_reads_every_element(tmp_path):
    pyh5md = pytest.importorskip("pyh5md")
    path = tmp_path / "run.h5"
    frames = write_store(path, energies="some")
    with pyh5md.File(str(path), "r") as f:
        part = f.particles_group("all")
        position = pyh5md.element(part, "position")
        np.testing.assert_allclose(position.value[()], [fr["positions"] for fr in frames])
        np.testing.assert_array_equal(position.step[()], [fr["step"] for fr in frames])
        np.testing.assert_allclose(position.time[()], [fr["time_fs"] for fr in frames])
        velocity = pyh5md.element(part, "velocity")
        np.testing.assert_allclose(velocity.value[()], [fr["velocities"] for fr in frames])
        obs = f["observables"]
        alpha = pyh5md.element(obs, "polarizability")
        np.testing.assert_allclose(alpha.value[()], [fr["polarizability"] for fr in frames])
        energy = pyh5md.element(obs, "potential_energy")  # sparse: its own step and time
        np.testing.assert_array_equal(energy.step[()], [0, 12, 24, 36])
        np.testing.assert_allclose(energy.time[()], [0.0, 6.0, 12.0, 18.0])
        np.testing.assert_allclose(energy.value[()], [0.0, -4.5, -9.0, -13.5])
    with read_trajectory(path) as traj:  # our own reader agrees
        np.testing.assert_array_equal(traj.potential_energy_step, [0, 12, 24, 36])


def test_h5md_layout_details(tmp_path):
    path = tmp_path / "plain.h5"
    write_store(path, energies="none", uncertainty=False)
    with h5py.File(path, "r") as f:
        # an observable exists only when it got data
        assert set(f["observables"]) == {"polarizability"}
        # box/edges step and time are hard links to position's (H5MD 1.1)
        box, pos = f["particles/all/box/edges"], f["particles/all/position"]
        assert box["step"] == pos["step"] and box["time"] == pos["time"]
        # fixed-length strings where the spec asks for strings
        boundary = f["particles/all/box"].attrs["boundary"]
        assert h5py.check_string_dtype(boundary.dtype).length is not None
        assert [b.decode() for b in boundary] == ["periodic"] * 3
        for attr in (f["h5md/author"].attrs["name"], f["h5md/creator"].attrs["name"]):
            assert isinstance(attr, bytes)
    with read_trajectory(path) as traj:
        assert traj.pbc.all() and len(traj) == N_FRAMES
        assert len(traj.potential_energy_step) == 0


def test_no_user_or_host_name_unless_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("USER", "alice-private")
    host = socket.gethostname()
    quiet, loud = tmp_path / "quiet.h5", tmp_path / "loud.h5"
    write_store(quiet)
    write_store(loud, record_identity=True)
    assert b"alice-private" not in quiet.read_bytes()
    assert host.encode() not in quiet.read_bytes()
    assert b"alice-private" in loud.read_bytes() and host.encode() in loud.read_bytes()
    # the writer lease still recognises this host through the hash
    from ase_raman.writer_lease import is_this_host, read_lease

    assert is_this_host(read_lease(quiet).host)
    with open_store(quiet, "a", species=SPECIES, dt_fs=0.5) as store:  # resume works
        assert store.n_frames == N_FRAMES


# -- point 11: ASE opens our store ---------------------------------------------------------

def test_ase_io_reads_the_store_and_leaves_other_hdf5_files(tmp_path):
    import ase.io
    from ase import units
    from ase.io.formats import UnknownFileTypeError, filetype

    path = tmp_path / "run.h5"
    frames = write_store(path)
    images = ase.io.read(path, ":")
    assert filetype(str(path)) == "ase-raman-h5" and len(images) == N_FRAMES
    for atoms, frame in zip(images, frames, strict=True):
        np.testing.assert_allclose(atoms.positions, frame["positions"])
        np.testing.assert_allclose(atoms.cell.array, frame["cell"])
        np.testing.assert_allclose(atoms.get_velocities() * units.fs, frame["velocities"])
        np.testing.assert_allclose(atoms.info["polarizability"], frame["polarizability"])
    assert ase.io.read(path, -1).info["step"] == frames[-1]["step"]
    other = tmp_path / "other.h5"  # an H5MD file another program wrote
    with h5py.File(other, "w") as f:
        f.create_group("h5md/creator").attrs["name"] = b"some-md-code"
        f["particles/all/position/value"] = np.zeros((1, 2, 3))
    assert filetype(str(other)) != "ase-raman-h5"
    with pytest.raises(UnknownFileTypeError):
        filetype(str(other), guess=False)


def test_ase_gui_image_loader_opens_the_store(tmp_path):
    """``ase gui run.h5`` loads files through ``ase.gui.images.Images.read`` (run here
    without a display): every frame, its cell and positions."""
    from ase.gui.images import Images

    path = tmp_path / "run.h5"
    frames = write_store(path)
    images = Images()
    images.read([str(path)])
    assert len(images) == N_FRAMES
    for i, frame in enumerate(frames):
        np.testing.assert_allclose(images.get_atoms(i).positions, frame["positions"])
        np.testing.assert_allclose(images.get_atoms(i).cell.array, frame["cell"])


def test_ase_magic_found_in_a_long_store(tmp_path):
    from ase.io.formats import filetype

    path = tmp_path / "long.h5"
    rng = np.random.default_rng(1)
    with open_store(path, "w", species=[8] * 200, dt_fs=1.0, flush_every=500) as store:
        for k in range(1500):
            store.append(step=k, time_fs=float(k), polarizability=np.eye(3),
                         positions=rng.random((200, 3)), cell=np.eye(3) * 9.0)
    assert path.stat().st_size > 5_000_000
    assert filetype(str(path)) == "ase-raman-h5"
