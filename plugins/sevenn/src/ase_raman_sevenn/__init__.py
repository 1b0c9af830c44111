"""SevenNet as an ase-raman MD calculator (entry point ``sevenn``).

:func:`make_calculator` returns ``sevenn.calculator.SevenNetCalculator`` (eV, eV/Angstrom,
eV/Angstrom^3) for a checkpoint that ships inside the ``sevenn`` wheel, or a checkpoint
file the user names. It never lets sevenn download: any other model name is refused
with a one-line :class:`ase_raman.errors.UsageError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ase_raman.engines.calculators import packaged_weights
from ase_raman.errors import UsageError

__all__ = ["MODELS", "make_calculator", "checkpoint_path"]

#: model name -> checkpoint inside the sevenn package (sevenn 0.13 layout)
MODELS: dict[str, str] = {
    "7net-0": "pretrained_potentials/SevenNet_0__11Jul2024/checkpoint_sevennet_0.pth",
    "7net-0_22may2024": "pretrained_potentials/SevenNet_0__22May2024/checkpoint_sevennet_0.pth",
    "7net-l3i5": "pretrained_potentials/SevenNet_l3i5/checkpoint_l3i5.pth",
}


def checkpoint_path(model: str = "7net-0") -> Path:
    """The checkpoint file of ``model`` (a shipped name or a file path); one-line errors
    for a name whose weights would need a download."""
    given = Path(model)
    if model not in MODELS:
        if given.suffix in (".pth", ".pt") and given.is_file():
            return given
        raise UsageError(f"sevenn: model {model!r} is not shipped in the sevenn wheel "
                         f"(shipped: {', '.join(MODELS)}) and would need a download: "
                         "download it yourself and pass its path as model")
    return packaged_weights("sevenn", MODELS[model], f"sevenn model {model!r}")


def make_calculator(model: str = "7net-0", device: str = "cpu", threads: int | None = None,
                    **kwargs: Any) -> Any:
    """A ``SevenNetCalculator`` for ``model`` on ``device`` (``threads``: torch threads)."""
    path = checkpoint_path(model)
    if threads is not None:
        import torch

        torch.set_num_threads(int(threads))
    from sevenn.calculator import SevenNetCalculator

    return SevenNetCalculator(model=str(path), device=device, **kwargs)
