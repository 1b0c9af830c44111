"""Structure-level descriptors used by the learners (lambda-SOAP from featomic)."""

from .lambda_soap import LambdaSoapFeaturizer, LambdaSoapHypers, StructureFeatures

__all__ = ["LambdaSoapFeaturizer", "LambdaSoapHypers", "StructureFeatures"]
