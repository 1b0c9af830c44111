"""CHGNet as an ase-raman MD calculator (entry point ``chgnet`` of ``ase_raman.calculators``).

:func:`make_calculator` returns ``chgnet.model.dynamics.CHGNetCalculator`` (energy in eV,
forces in eV/Angstrom, stress in eV/Angstrom^3) for one of the pretrained models whose
weights ship inside the ``chgnet`` wheel. It never downloads: when the checkpoint file of
the requested model is not installed it raises a one-line
:class:`ase_raman.errors.UsageError`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ase_raman.engines.calculators import packaged_weights
from ase_raman.errors import UsageError

__all__ = ["MODELS", "make_calculator", "checkpoint_path"]

#: model name -> checkpoint file inside the chgnet package (chgnet 0.3-0.4 layout)
MODELS: dict[str, str] = {
    "0.3.0": "pretrained/0.3.0/chgnet_0.3.0_e29f68s314m37.pth.tar",
    "0.2.0": "pretrained/0.2.0/chgnet_0.2.0_e30f77s348m32.pth.tar",
    "r2scan": "pretrained/r2scan/chgnet_r2scan_transfer_learning_e15f36s161m23.pth.tar",
}


def checkpoint_path(model: str = "0.3.0") -> Path:
    """The installed checkpoint file of ``model``; a one-line error when it is absent."""
    if model not in MODELS:
        raise UsageError(f"chgnet: unknown model {model!r}; known: {', '.join(MODELS)}")
    return packaged_weights("chgnet", MODELS[model], f"chgnet model {model!r}")


def make_calculator(model: str = "0.3.0", device: str = "cpu", threads: int | None = None,
                    stress: bool = True, **kwargs: Any) -> Any:
    """A ``CHGNetCalculator`` for the pretrained ``model`` on ``device``.

    ``threads``: torch intra-op threads (``torch.set_num_threads``; applies to the whole
    process). ``stress=False`` predicts energy and forces only (no strain derivative:
    about 40 % cheaper per step, measured on a 50-atom sulfide; for fixed-cell MD, not
    for NPT or cell relaxation). Other keyword arguments go to ``CHGNetCalculator``
    (e.g. ``stress_weight``).
    """
    checkpoint_path(model)  # refuse before chgnet could try anything else
    if threads is not None:
        import torch

        torch.set_num_threads(int(threads))
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    class _Calculator(CHGNetCalculator):
        """CHGNetCalculator with a fixed prediction task ("efsm" or "ef")."""

        def calculate(self, atoms=None, properties=None, system_changes=None,
                      task=None) -> None:
            super().calculate(atoms, properties, system_changes, task=task or self.task)

    net = CHGNet.load(model_name=model, use_device=device, verbose=False)
    calc = _Calculator(model=net, use_device=device, **kwargs)
    calc.task = "efsm" if stress else "ef"
    if not stress:
        calc.implemented_properties = [p for p in calc.implemented_properties
                                       if p != "stress"]
    return calc
