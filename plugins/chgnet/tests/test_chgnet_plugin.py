"""The CHGNet plugin through its entry point (real CHGNet, offline weights)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("chgnet", reason="needs: pip install 'torch==2.13.0' -e plugins/chgnet")

from ase_raman.cli import main  # noqa: E402
from ase_raman.engines.calculators import installed_calculators, make_calculator  # noqa: E402
from ase_raman.errors import UsageError  # noqa: E402

DATA = Path(__file__).resolve().parents[3] / "tests" / "data"


@pytest.fixture(scope="module")
def li3ps4_like():
    """A 13-atom Li6PS5Cl primitive cell ordered by the screening rules."""
    from ase_raman.screen.structure import build_structure

    return build_structure(DATA / "obelix_122_Li6PS5Cl.cif", min_image_A=6.0).atoms


def test_registered_and_gives_energy_forces_without_download(li3ps4_like):
    assert "chgnet" in {c.name for c in installed_calculators()}
    atoms = li3ps4_like.copy()
    atoms.calc = make_calculator("chgnet", threads=1)
    energy = atoms.get_potential_energy()
    forces = atoms.get_forces()
    assert np.isfinite(energy) and -6.0 < energy / len(atoms) < -2.0  # eV/atom, a sulfide
    assert forces.shape == (len(atoms), 3)
    assert np.abs(forces.sum(axis=0)).max() < 1e-3  # Newton's third law
    assert atoms.get_stress().shape == (6,)


def test_energy_forces_only_matches_full_prediction(li3ps4_like):
    full, fast = li3ps4_like.copy(), li3ps4_like.copy()
    full.calc = make_calculator("chgnet", threads=1)
    fast.calc = make_calculator("chgnet", threads=1, stress=False)
    assert fast.get_potential_energy() == pytest.approx(full.get_potential_energy(), abs=1e-5)
    assert np.allclose(fast.get_forces(), full.get_forces(), atol=1e-5)


def test_refuses_unknown_model_and_missing_weights(monkeypatch):
    import ase_raman_chgnet

    with pytest.raises(UsageError, match="unknown model"):
        make_calculator("chgnet", model="9.9.9")
    monkeypatch.setitem(ase_raman_chgnet.MODELS, "0.3.0", "pretrained/none/missing.pth.tar")
    with pytest.raises(UsageError, match="refusing to download"):
        make_calculator("chgnet")


def test_screen_one_pair_with_chgnet(tmp_path, capsys):
    pytest.importorskip("ase_raman_did", reason="--alpha did needs plugins/did")
    out = tmp_path / "out"
    status = main(["screen", str(DATA / "obelix_122_Li6PS5Cl.cif"), "-o", str(out),
                   "--quick", "--quiet", "--fixed-cell", "--temperatures", "900",
                   "--ps", "0.04", "--calc-kwargs", '{"threads": 1, "stress": false}'])
    assert status == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["failed"] == []
    with open(out / "results.csv") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    assert rows[0]["status"] == "ok" and float(rows[0]["D_cm2_s"]) > 0
