"""Pick the lambda-SOAP featuriser named by the hypers.

Both featurisers give the same features (see :mod:`ase_raman.features.lambda_soap`);
:class:`~ase_raman.features.structure_soap.StructureSoapFeaturizer` builds on the
per-atom :class:`~ase_raman.features.lambda_soap.LambdaSoapFeaturizer`, so the choice
between them lives here, above both.
"""

from __future__ import annotations

from ..errors import UsageError
from .lambda_soap import FEATURIZERS, LambdaSoapFeaturizer, LambdaSoapHypers
from .structure_soap import StructureSoapFeaturizer

__all__ = ["make_featurizer"]


def make_featurizer(hypers: LambdaSoapHypers, batch_size: int = 16) -> LambdaSoapFeaturizer:
    """The featuriser named by ``hypers.featurizer`` (``"structure"`` or ``"featomic"``).

    Parameters
    ----------
    hypers : LambdaSoapHypers
        The lambda-SOAP hyperparameters; ``hypers.featurizer`` picks the implementation.
    batch_size : int
        Structures featurised per call.

    Returns
    -------
    LambdaSoapFeaturizer
        A :class:`LambdaSoapFeaturizer` or its subclass-compatible
        :class:`~ase_raman.features.structure_soap.StructureSoapFeaturizer`.
    """
    if hypers.featurizer == "featomic":
        return LambdaSoapFeaturizer(hypers, batch_size=batch_size)
    if hypers.featurizer == "structure":
        return StructureSoapFeaturizer(hypers, batch_size=batch_size)
    raise UsageError(f"unknown lambda-soap featurizer {hypers.featurizer!r}; "
                     f"known: {', '.join(FEATURIZERS)}")
