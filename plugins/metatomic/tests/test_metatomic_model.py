"""metatomic plugin: lambda-soap export round trip, output layouts, contract."""

# TorchScript reads the annotations of the test module below at runtime.
# ruff: noqa: UP006, UP007, UP035, UP045

import atexit
import math
import shutil
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import molecule
from ase.calculators.bond_polarizability import BondPolarizability
from ase_raman_metatomic import MetatomicPolarizability
from ase_raman_metatomic.export import export_lambda_soap
from metatensor.torch import Labels, TensorBlock, TensorMap
from metatomic.torch import AtomisticModel, ModelCapabilities, ModelMetadata, ModelOutput, System

from ase_raman.errors import ModelFileError, ModelSpeciesError
from ase_raman.models.lambda_soap import LambdaSoapRidge
from ase_raman.tensors import BOHR3_TO_A3, E2A2_PER_EV_TO_A3
from ase_raman.testing import LearnerContract


@pytest.fixture(autouse=True)
def _trust_own_models(monkeypatch):
    """These tests load models they made themselves: trust them (the refusal test clears
    the variable)."""
    from ase_raman.models.registry import TRUST_ENV

    monkeypatch.setenv(TRUST_ENV, "1")

# metatomic saves and loads TorchScript (torch.jit), which torch 2.13 marks as deprecated
pytestmark = pytest.mark.filterwarnings(
    r"ignore:`torch\.jit\.\w+` is deprecated:DeprecationWarning")

_TMP = Path(tempfile.mkdtemp(prefix="ase-raman-metatomic-"))
atexit.register(shutil.rmtree, _TMP, True)
_CACHE: dict = {}


def water_frames(n: int = 12, seed: int = 1) -> list[Atoms]:
    """Distorted water molecules labelled by ASE's bond polarizability (Angstrom^3)."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        atoms = Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
        atoms.positions += rng.normal(scale=0.05, size=(3, 3))
        atoms.info["polarizability"] = BondPolarizability()(atoms) * E2A2_PER_EV_TO_A3
        frames.append(atoms)
    return frames


def water_box(seed: int = 7) -> Atoms:
    """Two water molecules in a periodic 5 Angstrom box."""
    rng = np.random.default_rng(seed)
    a, b = water_frames(2, seed=seed)
    b.positions += [2.5, 2.4, 2.6]
    box = a + b
    box.cell = np.eye(3) * 5.0
    box.pbc = True
    box.positions += rng.normal(scale=0.02, size=box.positions.shape)
    return box


def native_and_exported() -> tuple[LambdaSoapRidge, Path]:
    if "lambda-soap" not in _CACHE:
        native = LambdaSoapRidge(hypers={"cutoff": 3.0, "max_radial": 2, "max_angular": 2},
                                 n_folds=3).fit(water_frames())
        _CACHE["lambda-soap"] = (native, export_lambda_soap(native, _TMP / "lambda-soap.pt"))
    return _CACHE["lambda-soap"]


# -- round trip --------------------------------------------------------------------------
def test_exported_lambda_soap_gives_the_native_predictions():
    native, path = native_and_exported()
    frames = water_frames(5, seed=3) + [water_box()]
    exported = MetatomicPolarizability(hypers={"model": str(path)})
    expected = native.predict(frames)
    got = exported.predict(frames)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6 * scale)
    assert exported.output == "ase_raman::polarizability"
    assert exported.metadata["species"] == ["H", "O"]
    # the periodic frame really differs from the molecules (the cell matters)
    assert not np.allclose(got[-1], got[0])


# -- third-party layouts: a hand-written TorchScript model -------------------------------
class Gyration(torch.nn.Module):
    """alpha = 1.5 N I + 0.2 G (bohr^3), G the gyration tensor, as Cartesian or spherical."""

    def __init__(self, spherical: bool):
        super().__init__()
        self.spherical = spherical

    def forward(self, systems: List[System], outputs: Dict[str, ModelOutput],
                selected_atoms: Optional[Labels] = None) -> Dict[str, TensorMap]:
        results: Dict[str, TensorMap] = {}
        if len(outputs) == 0:
            return results
        alphas: List[torch.Tensor] = []
        for system in systems:
            r = system.positions - system.positions.mean(dim=0)
            eye = torch.eye(3, dtype=r.dtype)
            alphas.append(1.5 * r.shape[0] * eye + 0.2 * (r.T @ r))
        alpha = torch.stack(alphas)
        n = len(systems)
        samples = Labels(["system"], torch.arange(n, dtype=torch.int32).reshape(-1, 1))
        prop = Labels(["p"], torch.zeros(1, 1, dtype=torch.int32))
        if self.spherical:
            xx, yy, zz = alpha[:, 0, 0], alpha[:, 1, 1], alpha[:, 2, 2]
            l0 = ((xx + yy + zz) / math.sqrt(3.0)).reshape(n, 1, 1)
            l2 = torch.stack([math.sqrt(2.0) * alpha[:, 0, 1], math.sqrt(2.0) * alpha[:, 1, 2],
                              (2 * zz - xx - yy) / math.sqrt(6.0),
                              math.sqrt(2.0) * alpha[:, 0, 2], (xx - yy) / math.sqrt(2.0)],
                             dim=1).reshape(n, 5, 1)
            blocks = [TensorBlock(values=v, samples=samples, properties=prop, components=[
                Labels(["o3_mu"], torch.arange(-lam, lam + 1, dtype=torch.int32).reshape(-1, 1))])
                for lam, v in ((0, l0), (2, l2))]
            keys = Labels(["o3_lambda", "o3_sigma"],
                          torch.tensor([[0, 1], [2, 1]], dtype=torch.int32))
        else:
            xyz = torch.arange(3, dtype=torch.int32).reshape(-1, 1)
            blocks = [TensorBlock(values=alpha.reshape(n, 3, 3, 1), samples=samples,
                                  components=[Labels(["xyz_1"], xyz), Labels(["xyz_2"], xyz)],
                                  properties=prop)]
            keys = Labels(["_"], torch.zeros(1, 1, dtype=torch.int32))
        for name in outputs.keys():  # every declared output answers the same tensor
            results[name] = TensorMap(keys, blocks)
        return results


def gyration_model(spherical: bool, output: str, unit: str = "bohr^3",
                   extra_outputs: tuple[str, ...] = ()) -> Path:
    path = _TMP / f"gyration-{spherical}-{output.replace(':', '_')}-{unit}-{len(extra_outputs)}.pt"
    if path.is_file():
        return path
    outputs = {name: ModelOutput(unit=unit, sample_kind="system")
               for name in (output,) + extra_outputs}
    capabilities = ModelCapabilities(outputs=outputs, atomic_types=[1, 8], interaction_range=0.0,
                                     length_unit="angstrom", supported_devices=["cpu"],
                                     dtype="float64")
    model = AtomisticModel(Gyration(spherical).eval(), ModelMetadata(name="gyration"),
                           capabilities)
    model.save(str(path))
    return path


def gyration_reference(frames: list[Atoms]) -> np.ndarray:
    out = []
    for atoms in frames:
        r = atoms.positions - atoms.positions.mean(axis=0)
        out.append(1.5 * len(atoms) * np.eye(3) + 0.2 * r.T @ r)
    return np.array(out) * BOHR3_TO_A3


@pytest.mark.parametrize("spherical", [False, True])
def test_cartesian_and_spherical_outputs_with_units(spherical):
    path = gyration_model(spherical, "mtt::polarizability")
    model = MetatomicPolarizability(hypers={"model": str(path)})
    frames = water_frames(3) + [molecule("H2O2")]
    np.testing.assert_allclose(model.predict(frames), gyration_reference(frames), rtol=1e-12,
                               atol=1e-12)
    assert model.output == "mtt::polarizability"  # found by its name, in bohr^3


def test_output_selection_and_errors():
    ambiguous = gyration_model(False, "a::polarizability", extra_outputs=("b::polarizability",))
    with pytest.raises(ModelFileError, match="cannot tell"):
        MetatomicPolarizability(hypers={"model": str(ambiguous)}).predict(water_frames(1))
    chosen = MetatomicPolarizability(hypers={"model": str(ambiguous),
                                             "output": "b::polarizability"})
    assert chosen.predict(water_frames(1)).shape == (1, 3, 3)
    with pytest.raises(ModelFileError, match="no output"):
        MetatomicPolarizability(hypers={"model": str(ambiguous), "output": "x"}).fit([])
    energy = gyration_model(False, "mtt::polarizability", unit="eV")
    with pytest.raises(Exception, match="not a known volume"):
        MetatomicPolarizability(hypers={"model": str(energy)}).fit([])
    path = gyration_model(False, "x::polarizability")
    model = MetatomicPolarizability(hypers={"model": str(path)})
    with pytest.raises(ModelSpeciesError, match="C"):
        model.predict([molecule("CH4")])
    with pytest.raises(ModelFileError, match="not found"):
        MetatomicPolarizability(hypers={"model": str(_TMP / "absent.pt")}).fit([])


def test_tampered_embedded_model_is_refused(tmp_path):
    _, path = native_and_exported()
    model = MetatomicPolarizability(hypers={"model": str(path)}).fit(water_frames(2))
    saved = tmp_path / "m.npz"
    model.save(saved)
    with np.load(saved, allow_pickle=False) as archive:
        payload = {k: archive[k] for k in archive.files}
    payload["torchscript_model"] = payload["torchscript_model"].copy()
    payload["torchscript_model"][-100] ^= 1
    tampered = tmp_path / "tampered.npz"
    np.savez(tampered, **payload)
    with pytest.raises(ModelFileError, match="SHA-256"):
        MetatomicPolarizability.load(tampered)


# -- the shared contract -----------------------------------------------------------------
class TestMetatomicContract(LearnerContract):
    learner_name = "metatomic"
    distribution = "ase-raman-metatomic"
    max_training_relative_rmse = 1e-6
    rtol = 1e-7
    extensive = True  # exported from a lambda-soap model (version 2: per-atom intercept)

    def make_model(self):
        _, path = native_and_exported()
        return MetatomicPolarizability(hypers={"model": str(path)})

    def training_frames(self):
        native, _ = native_and_exported()
        frames = water_frames(6, seed=11) + [water_box(seed=12)]
        for atoms, alpha in zip(frames, native.predict(frames), strict=True):
            atoms.info["polarizability"] = alpha
        return frames

    def evaluation_frames(self):
        return self.training_frames()[-1:] + self.training_frames()[:2]


def test_exported_model_loads_in_a_fresh_process(tmp_path):
    """featomic-torch's TorchScript extension is found without importing it first."""
    import json
    import subprocess
    import sys

    native, path = native_and_exported()
    saved = tmp_path / "exported.npz"
    MetatomicPolarizability(hypers={"model": str(path)}).fit(water_frames(2)).save(saved)
    frame = water_frames(1, seed=4)[0]
    script = (
        "import json, sys, numpy as np\n"
        "from ase import Atoms\n"
        "import ase_raman\n"
        "model = ase_raman.load_model(sys.argv[1])\n"
        "atoms = Atoms('OH2', positions=json.loads(sys.argv[2]))\n"
        "print(json.dumps(model.predict([atoms])[0].tolist()))\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(saved),
                             json.dumps(frame.positions.tolist())],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    got = np.array(json.loads(result.stdout.strip().splitlines()[-1]))
    np.testing.assert_allclose(got, native.predict([frame])[0], rtol=1e-6, atol=1e-9)


def test_loading_needs_trust(tmp_path, monkeypatch, capsys):
    """A metatomic model file runs TorchScript (and names extension libraries): loading
    it is refused unless trusted (trust=True or --trust-model)."""
    import ase.io

    import ase_raman
    from ase_raman.cli import main
    from ase_raman.models.registry import TRUST_ENV

    _, path = native_and_exported()
    saved = tmp_path / "m.npz"
    MetatomicPolarizability(hypers={"model": str(path)}).fit(water_frames(2)).save(saved)
    monkeypatch.delenv(TRUST_ENV)
    for load in (MetatomicPolarizability.load, ase_raman.load_model):
        with pytest.raises(ModelFileError, match="trust=True"):
            load(saved)
    assert isinstance(ase_raman.load_model(saved, trust=True), MetatomicPolarizability)
    traj = tmp_path / "w.xyz"
    ase.io.write(traj, water_frames(3))
    out = tmp_path / "a.h5"
    assert main(["predict", str(saved), str(traj), "-o", str(out), "--dt-fs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--trust-model" in err and not out.exists()
    assert main(["predict", str(saved), str(traj), "-o", str(out), "--dt-fs", "1",
                 "--trust-model"]) == 0
    assert out.is_file()
