"""``ase-raman batch``: results table, ranking plot, resume, failures.

The same batch on a Dask cluster: tests/test_dask_predict.py (it shares that cluster)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms

pytest.importorskip("yaml")

BOX = 9.0  # Angstrom
DT_FS = 10.0


def random_walk_water(path: Path, step: float, n_frames: int = 300, n_mol: int = 27,
                      seed: int = 0) -> None:
    """Water molecules whose centres random-walk (rms step ``step`` Angstrom per frame
    and axis) in a periodic box, with small intramolecular noise; extxyz at ``path``."""
    import ase.io

    rng = np.random.default_rng(seed)
    template = np.array([[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    grid = np.array([[i, j, k] for i in range(3) for j in range(3) for k in range(3)])
    centres = (grid[:n_mol] + 0.25) * BOX / 3
    frames = []
    for _ in range(n_frames):
        centres = centres + rng.normal(scale=step, size=centres.shape)
        pos = (centres[:, None, :] + template[None]).reshape(-1, 3)
        pos += rng.normal(scale=0.03, size=pos.shape)
        frames.append(Atoms("OH2" * n_mol, positions=pos, cell=[BOX] * 3, pbc=True))
    ase.io.write(path, frames, format="extxyz")


def read_rows(path: Path) -> list[dict[str, str]]:
    lines = [ln for ln in path.read_text().splitlines() if not ln.startswith("#")]
    return list(csv.DictReader(lines))


@pytest.fixture(scope="module")
def batch_inputs(tmp_path_factory, small_model) -> Path:
    root = tmp_path_factory.mktemp("batch")
    small_model.save(root / "water.npz")
    random_walk_water(root / "w300.xyz", step=0.04, seed=1)
    random_walk_water(root / "w400.xyz", step=0.08, seed=2)
    (root / "broken.xyz").write_text("3\nnot an extxyz comment line\nO 0 0\n")
    (root / "manifest.yaml").write_text(
        "defaults:\n"
        "  model: water.npz\n"
        f"  dt_fs: {DT_FS}\n"
        "  species: O\n"
        "  material: water\n"
        "  sigma_cm: 50\n"
        "  cutoff_cm: 100\n"
        "entries:\n"
        "  - {name: water_300K, trajectory: w300.xyz, temperature_K: 300}\n"
        "  - {name: water_400K, trajectory: w400.xyz, temperature_K: 400,\n"
        "     charges: {O: -0.8, H: 0.4}}\n"
        "  - {name: broken, trajectory: broken.xyz, temperature_K: 350}\n"
    )
    return root


def test_batch_table_ranking_failure_and_resume(batch_inputs, tmp_path, capsys):
    from ase_raman.cli import main

    out = tmp_path / "out"
    manifest = str(batch_inputs / "manifest.yaml")
    assert main(["batch", manifest, "-o", str(out)]) == 1  # one entry failed
    printed = capsys.readouterr().out
    assert "water_300K: ok" in printed and "broken: failed" in printed
    rows = {r["name"]: r for r in read_rows(out / "results.csv")}
    assert list(rows) == ["water_300K", "water_400K", "broken"]  # manifest order
    assert rows["broken"]["status"] == "failed"
    assert "broken.xyz" in rows["broken"]["reason"]
    # the mechanism verdict of each entry's species (issue 22)
    assert rows["water_300K"]["mechanism"] in ("liquid-like", "hopping", "vibrating")
    assert json.loads((out / "water_300K" / "mechanism.json").read_text())["species"]["O"]
    assert json.loads((out / "broken" / "failed.json").read_text())["reason"]
    hot, cold = rows["water_400K"], rows["water_300K"]
    for r in (hot, cold):
        assert r["status"] == "ok" and r["species"] == "O"
        assert 0 <= float(r["low_frequency_fraction"]) <= 1
        assert (out / r["name"] / "raman.csv").is_file()
        assert (out / r["name"] / "msd.json").is_file()
    assert sorted(int(r["rank"]) for r in (hot, cold)) == [1, 2]
    # random walk: D = step^2 / (2 dt) (Angstrom^2/fs; x 0.1 -> cm^2/s), less the share of
    # the centre-of-mass walk that the drift correction removes (1/27 molecules)
    d_expected = 0.08**2 / (2 * DT_FS) * 0.1 * (1 - 1 / 27)
    assert float(hot["D_cm2_s"]) == pytest.approx(d_expected, rel=0.3)
    assert float(hot["D_cm2_s"]) > 2 * float(cold["D_cm2_s"])
    assert float(hot["sigma_S_cm"]) > 0 and cold["sigma_S_cm"] == ""
    # E_a of the material from the two temperatures: ln(D_hot/D_cold) / (1/kT_cold - 1/kT_hot)
    kb = 8.617333262e-5
    e_a = np.log(float(hot["D_cm2_s"]) / float(cold["D_cm2_s"])) / (1 / (kb * 300)
                                                                     - 1 / (kb * 400))
    assert float(hot["E_a_eV"]) == pytest.approx(e_a, rel=1e-6)
    assert hot["E_a_eV"] == cold["E_a_eV"] and rows["broken"]["E_a_eV"] == ""
    assert (out / "ranking.png").stat().st_size > 1000

    # re-run: finished entries are skipped (outputs untouched), the failed one retried
    stamp = (out / "water_300K" / "raman.csv").stat().st_mtime_ns
    (batch_inputs / "broken.xyz").write_text((batch_inputs / "w300.xyz").read_text())
    assert main(["batch", manifest, "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "water_300K: done" in printed and "broken: ok" in printed
    assert (out / "water_300K" / "raman.csv").stat().st_mtime_ns == stamp
    again = {r["name"]: r for r in read_rows(out / "results.csv")}
    assert again["water_300K"]["D_cm2_s"] == cold["D_cm2_s"]
    assert again["broken"]["status"] == "ok"
    assert not (out / "broken" / "failed.json").exists()


def test_entry_from_store_without_model_and_manifest_errors(batch_inputs, small_model,
                                                            tmp_path):
    import ase.io

    from ase_raman.errors import UsageError
    from ase_raman.parallel.batch import read_manifest, run_entry
    from ase_raman.store import predict_to_store

    store = tmp_path / "run.h5"
    predict_to_store(small_model, ase.io.iread(batch_inputs / "w400.xyz"), store, dt_fs=DT_FS)
    (tmp_path / "m.yaml").write_text(
        "- {name: s, trajectory: run.h5, temperature_K: 400, species: [O, H], sigma_cm: 50,"
        " cutoff_cm: 100}\n")
    (entry,) = read_manifest(tmp_path / "m.yaml")
    assert entry.trajectory == str(store) and entry.model is None
    row = run_entry(entry, tmp_path / "out")
    assert row["status"] == "ok", row.get("reason")
    assert row["D_cm2_s"] > 0 and row["species"] == "O"

    (tmp_path / "bad.yaml").write_text("- {name: a, trajectory: x.xyz, temperature_K: 1,"
                                       " species: O, colour: red}\n")
    with pytest.raises(UsageError, match="colour"):
        read_manifest(tmp_path / "bad.yaml")
    (tmp_path / "dup.yaml").write_text("- {name: a, trajectory: x, temperature_K: 1, species: O}\n"
                                       "- {name: a, trajectory: y, temperature_K: 2, species: O}\n")
    with pytest.raises(UsageError, match="duplicate"):
        read_manifest(tmp_path / "dup.yaml")
