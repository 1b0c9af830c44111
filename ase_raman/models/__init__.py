"""Polarizability models: the protocol, the plugin registry, model files, learners."""

from .base import TensorModel, reference_polarizabilities
from .registry import get_learner, installed_learners, load_model

__all__ = [
    "TensorModel",
    "get_learner",
    "installed_learners",
    "load_model",
    "reference_polarizabilities",
]
