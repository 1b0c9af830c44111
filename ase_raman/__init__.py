"""ase-raman: machine-learned polarizabilities along molecular dynamics, and the Raman
spectra, vibrational densities of states and ion transport that follow from them.

The top-level names are imported lazily so ``import ase_raman`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "PolarizabilityCalculator": ".calculator",
    "AseStaticPolarizability": ".calculator",
    "load_model": ".models",
    "TensorModel": ".models",
    "read_reference": ".io",
    "AseRamanError": ".errors",
    "PolarizabilityObserver": ".observe",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ase_raman' has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)
