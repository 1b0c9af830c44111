"""Reading a polarizability from a metatomic output ``TensorMap``.

Expected output
---------------
Name: ``ase_raman::polarizability`` by default (what :func:`export_lambda_soap` writes);
any other name is accepted through ``hypers={"output": NAME}``, and when the model has
exactly one output whose name after the ``::`` namespace is ``polarizability``
(e.g. ``mtt::polarizability`` from metatrain), it is picked automatically.
``sample_kind="system"`` (one tensor per structure; samples named ``system``), one
property, and one of two layouts:

* **Cartesian**: a single block with two components of size 3 (``xyz_1``, ``xyz_2``):
  values ``(n_systems, 3, 3, 1)``;
* **spherical**: keys with ``o3_lambda`` (and optionally ``o3_sigma`` = 1): an
  ``o3_lambda = 0`` block ``(n, 1, 1)`` and an ``o3_lambda = 2`` block ``(n, 5, 1)``, with
  ``o3_mu = -2..2`` in the real-spherical-harmonic order and orthonormal normalisation
  of metatomic's own ``o3`` decomposition of symmetric matrices (identical to
  :mod:`ase_raman.tensors`): ``l0 = tr(alpha) / sqrt(3)``, ``l2 = (sqrt2 a_xy, sqrt2 a_yz,
  (2 a_zz - a_xx - a_yy)/sqrt6, sqrt2 a_xz, (a_xx - a_yy)/sqrt2)``.

Units: the output's declared unit, when given, must be a volume (``angstrom^3``,
``bohr^3``, ``nm^3``; an empty unit means Angstrom^3); ``hypers={"unit": ...}``
overrides it. The result is in Angstrom^3.
"""

from __future__ import annotations

import numpy as np

from ase_raman.errors import ModelFileError, TensorError
from ase_raman.tensors import BOHR3_TO_A3, spherical_to_cartesian

#: Output name written by the lambda-soap export and looked up first.
DEFAULT_OUTPUT = "ase_raman::polarizability"

#: Angstrom^3 per unit of a polarizability volume, by lower-cased unit name.
VOLUME_UNITS: dict[str, float] = {
    "": 1.0, "angstrom^3": 1.0, "a^3": 1.0, "a3": 1.0, "bohr^3": BOHR3_TO_A3,
    "nm^3": 1000.0,
}


def pick_output(names: list[str], requested: str | None, where: str) -> str:
    """The output to read: ``requested``, the default name, or the one ``*polarizability``."""
    if requested:
        if requested not in names:
            raise ModelFileError(f"{where}: the metatomic model has no output {requested!r} "
                                 f"(outputs: {', '.join(names)})")
        return requested
    if DEFAULT_OUTPUT in names:
        return DEFAULT_OUTPUT
    candidates = [n for n in names if n.split("::")[-1].split("/")[0] == "polarizability"]
    if len(candidates) == 1:
        return candidates[0]
    raise ModelFileError(
        f"{where}: cannot tell which output is the polarizability (outputs: "
        f"{', '.join(names)}); pass hypers={{'output': NAME}}")


def volume_factor(unit: str, where: str) -> float:
    """Angstrom^3 per ``unit``; a clear error for anything that is not a volume."""
    key = unit.strip().lower().replace("**", "^").replace(" ", "")
    if key not in VOLUME_UNITS:
        raise TensorError(f"{where}: polarizability unit {unit!r} is not a known volume "
                          f"({', '.join(repr(k) for k in VOLUME_UNITS if k)}); pass "
                          "hypers={'unit': ...}")
    return VOLUME_UNITS[key]


def tensormap_to_cartesian(tensor, n_systems: int, where: str) -> np.ndarray:
    """(n_systems, 3, 3) from a Cartesian or spherical (lambda 0 + 2) ``TensorMap``."""
    names = list(tensor.keys.names)
    blocks = {}
    for key, block in tensor.items():
        values = {name: int(key[name]) for name in names}
        blocks[tuple(sorted(values.items()))] = block

    def rows(block, shape: tuple[int, ...]) -> np.ndarray:
        values = block.values.detach().cpu().double().numpy()
        if values.shape[1:] != shape + (1,):
            raise TensorError(f"{where}: block values have shape {values.shape}, expected "
                              f"(n_systems, {', '.join(map(str, shape))}, 1)")
        systems = block.samples.column("system").cpu().numpy()
        if len(systems) != n_systems or len(set(systems.tolist())) != n_systems:
            raise TensorError(f"{where}: expected one sample per system ({n_systems}), got "
                              f"{len(systems)}")
        out = np.zeros((n_systems,) + shape)
        out[systems] = values[..., 0]
        return out

    if "o3_lambda" in names:
        found = {}
        for key_items, block in blocks.items():
            key = dict(key_items)
            if key.get("o3_sigma", 1) != 1:
                continue
            found[key["o3_lambda"]] = block
        if 0 not in found or 2 not in found:
            raise TensorError(f"{where}: a spherical polarizability needs o3_lambda = 0 and 2 "
                              f"blocks (o3_sigma = 1); found {sorted(found)}")
        return spherical_to_cartesian(rows(found[0], (1,)), rows(found[2], (5,)))
    if len(blocks) != 1:
        raise TensorError(f"{where}: a Cartesian polarizability is one block; got "
                          f"{len(blocks)} blocks with keys {names}")
    (block,) = blocks.values()
    if len(block.components) != 2 or any(len(c) != 3 for c in block.components):
        raise TensorError(f"{where}: a Cartesian polarizability block needs two components "
                          "of size 3 (xyz_1, xyz_2)")
    return rows(block, (3, 3))
