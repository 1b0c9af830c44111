"""Export a fitted ase-raman ``lambda-soap`` model as a metatomic model (``.pt``).

The exported TorchScript module recomputes the per-atom lambda-SOAP features with
``featomic-torch`` (same hypers, same species), contracts each central species' block
with the ridge weights (standardisation folded in: ``w / scale`` and an intercept
``b - sum(mean w / scale)``), sums over the atoms of each structure and returns the
per-structure polarizability as output ``ase_raman::polarizability``: one Cartesian
block, values ``(n_systems, 3, 3, 1)`` in Angstrom^3 (declared unit ``angstrom^3``),
components ``xyz_1``/``xyz_2``. Engines with metatomic support can then run the model;
:class:`~ase_raman_metatomic.model.MetatomicPolarizability` reads it back.

The weights are matched to featomic-torch's feature order by property labels
``(l_1, l_2, neighbor_1_type, n_1, neighbor_2_type, n_2)`` at export time, so the export
does not depend on the two libraries ordering features alike; features the ase-raman
model dropped (``drop_duplicates``) get zero weight.
"""

# TorchScript reads these annotations at runtime: keep typing.List/Dict/Optional and
# no ``from __future__ import annotations`` in this module.
# ruff: noqa: UP006, UP007, UP035, UP045

import math
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import torch
from metatensor.torch import Labels, TensorBlock, TensorMap
from metatomic.torch import (
    AtomisticModel,
    ModelCapabilities,
    ModelMetadata,
    ModelOutput,
    System,
)

from ase_raman.errors import UsageError

from .outputs import DEFAULT_OUTPUT


class LambdaSoapPolarizability(torch.nn.Module):
    """TorchScript-able lambda-SOAP ridge polarizability (Angstrom^3) for metatomic."""

    def __init__(self, featomic_hypers: dict, types: List[int], weights0: torch.Tensor,
                 weights2: torch.Tensor, bias0: float, output: str = DEFAULT_OUTPUT,
                 bias0_per_atom: bool = True):
        super().__init__()
        import featomic.torch
        from featomic.torch.clebsch_gordan import EquivariantPowerSpectrum

        self.calculator = EquivariantPowerSpectrum(
            featomic.torch.SphericalExpansion(**featomic_hypers), neighbor_types=types,
            dtype=torch.float64)
        self.types = types
        self.output = output
        self.selected = Labels(["o3_lambda", "o3_sigma"],
                               torch.tensor([[0, 1], [2, 1]], dtype=torch.int32))
        # weights[t] maps featomic-torch's per-centre properties of type t to alpha
        self.register_buffer("weights0", weights0)  # (n_types, P0)
        self.register_buffer("weights2", weights2)  # (n_types, P2)
        self.bias0 = bias0
        # lambda-soap learner version 2 learns lambda = 0 per atom: its intercept is a
        # per-atom polarizability; version-1 models have one intercept per structure
        self.bias0_per_atom = bias0_per_atom
        s2, s3, s6 = math.sqrt(2.0), math.sqrt(3.0), math.sqrt(6.0)
        # (l0, l2 m=-2..2) -> (xx, xy, xz, yx, yy, yz, zx, zy, zz), see ase_raman.tensors
        to_cart = torch.zeros(6, 9, dtype=torch.float64)
        for k in (0, 4, 8):
            to_cart[0, k] = 1.0 / s3
        to_cart[1, 1] = to_cart[1, 3] = 1.0 / s2  # m=-2: xy
        to_cart[2, 5] = to_cart[2, 7] = 1.0 / s2  # m=-1: yz
        to_cart[3, 0] = to_cart[3, 4] = -1.0 / s6  # m=0
        to_cart[3, 8] = 2.0 / s6
        to_cart[4, 2] = to_cart[4, 6] = 1.0 / s2  # m=+1: xz
        to_cart[5, 0] = 1.0 / s2  # m=+2: xx - yy
        to_cart[5, 4] = -1.0 / s2
        self.register_buffer("to_cartesian", to_cart)

    def forward(self, systems: List[System], outputs: Dict[str, ModelOutput],
                selected_atoms: Optional[Labels] = None) -> Dict[str, TensorMap]:
        results: Dict[str, TensorMap] = {}
        if self.output not in outputs:
            return results
        n = len(systems)
        dtype = systems[0].positions.dtype
        device = systems[0].positions.device
        spherical = torch.zeros(n, 6, dtype=dtype, device=device)
        for i, system in enumerate(systems):
            count = system.positions.shape[0] if self.bias0_per_atom else 1
            spherical[i, 0] = self.bias0 * count
        features = self.calculator(systems, selected_keys=self.selected,
                                   neighbors_to_properties=True)
        for i in range(len(features.keys)):
            key = features.keys.entry(i)
            block = features.block(i)
            lam = int(key["o3_lambda"])
            t = self.types.index(int(key["center_type"]))
            system = block.samples.column("system").to(torch.long)
            if lam == 0:
                contribution = block.values[:, 0, :] @ self.weights0[t]
                spherical[:, 0].index_add_(0, system, contribution)
            else:
                contribution = block.values @ self.weights2[t]  # (atoms, 5)
                part = torch.zeros(n, 5, dtype=dtype, device=device)
                part.index_add_(0, system, contribution)
                spherical[:, 1:] += part
        cartesian = (spherical @ self.to_cartesian).reshape(n, 3, 3, 1)
        xyz = torch.arange(3, dtype=torch.int32, device=device).reshape(-1, 1)
        block = TensorBlock(
            values=cartesian,
            samples=Labels(["system"], torch.arange(n, dtype=torch.int32,
                                                    device=device).reshape(-1, 1)),
            components=[Labels(["xyz_1"], xyz), Labels(["xyz_2"], xyz)],
            properties=Labels(["polarizability"], torch.zeros(1, 1, dtype=torch.int32,
                                                              device=device)),
        )
        results[self.output] = TensorMap(
            Labels(["_"], torch.zeros(1, 1, dtype=torch.int32, device=device)), [block])
        return results


def _matched_weights(model, calculator, types: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per-type weight vectors in featomic-torch's property order, for lambda 0 and 2."""
    from ase import Atoms
    from metatomic.torch import systems_to_torch
    from vesin.metatomic import neighbor_lists_for_model

    probe = Atoms(numbers=types, positions=[[1.2 * i, 0.3 * i, 0.0] for i in range(len(types))])
    system = systems_to_torch(probe, dtype=torch.float64)
    for nl in neighbor_lists_for_model("angstrom", calculator, model_length_unit="angstrom"):
        nl.add_neighbor_list([system])
    selected = Labels(["o3_lambda", "o3_sigma"], torch.tensor([[0, 1], [2, 1]],
                                                              dtype=torch.int32))
    tensor = calculator([system], selected_keys=selected, neighbors_to_properties=True)
    out = {}
    for lam in (0, 2):
        block = model.blocks[lam]
        effective = block.weights / block.scale
        labels = model.featurizer.property_labels(lam)
        rows = np.asarray(labels.values)
        index = {tuple(int(v) for v in row): k for k, row in enumerate(rows)}
        props = None
        for key, tblock in zip(tensor.keys, tensor.blocks(), strict=True):
            if int(key["o3_lambda"]) == lam:
                props = tblock.properties.values.cpu().numpy()
                break
        weights = np.zeros((len(types), len(props)))
        matched = 0
        for t_index, t in enumerate(types):
            for p, row in enumerate(props):
                k = index.get((t,) + tuple(int(v) for v in row))
                if k is not None:
                    weights[t_index, p] = effective[k]
                    matched += 1
        if matched != len(rows):
            raise UsageError(f"lambda={lam}: only {matched} of {len(rows)} lambda-soap features "
                             "were found in featomic-torch's output; featomic versions differ")
        out[lam] = weights
    return out[0], out[2]


def export_lambda_soap(model, path: str | Path, output: str = DEFAULT_OUTPUT,
                       name: str = "ase-raman lambda-soap polarizability") -> Path:
    """Write a fitted :class:`~ase_raman.models.lambda_soap.LambdaSoapRidge` as metatomic.

    Returns the path of the ``.pt`` file. The exported model declares output ``output``
    (per structure, Angstrom^3), the model's species as atomic types, its cutoff as
    interaction range, float64, CPU.
    """
    if set(getattr(model, "blocks", {})) != {0, 2}:
        raise UsageError("export_lambda_soap needs a fitted lambda-soap model")
    hypers = model.hypers
    from ase.data import atomic_numbers

    types = [int(atomic_numbers[s]) for s in hypers.species]
    featomic_hypers = hypers.featomic_hypers()
    module = LambdaSoapPolarizability(
        featomic_hypers, types, torch.zeros(len(types), 1, dtype=torch.float64),
        torch.zeros(len(types), 1, dtype=torch.float64), 0.0, output,
        bias0_per_atom=bool(getattr(model, "lambda0_per_atom", False)))
    w0, w2 = _matched_weights(model, module.calculator, types)
    block0 = model.blocks[0]
    module.weights0 = torch.tensor(w0, dtype=torch.float64)
    module.weights2 = torch.tensor(w2, dtype=torch.float64)
    module.bias0 = float(block0.intercept - np.sum(block0.mean * block0.weights / block0.scale))
    module = module.eval()
    capabilities = ModelCapabilities(
        outputs={output: ModelOutput(unit="angstrom^3", sample_kind="system",
                                     explicit_gradients=[])},
        atomic_types=types,
        interaction_range=float(hypers.cutoff),
        length_unit="angstrom",
        supported_devices=["cpu"],
        dtype="float64",
    )
    atomistic = AtomisticModel(module, ModelMetadata(name=name), capabilities)
    target = Path(path)
    atomistic.save(str(target))
    return target
