"""metatomic models as ase-raman learners, and lambda-soap export to metatomic.

* :class:`~ase_raman_metatomic.model.MetatomicPolarizability` (learner ``metatomic``):
  wraps any metatomic ``.pt`` model with a per-structure polarizability output;
* :func:`~ase_raman_metatomic.export.export_lambda_soap`: writes a fitted ase-raman
  ``lambda-soap`` model as a metatomic model (needs ``featomic-torch``).

See :mod:`ase_raman_metatomic.outputs` for the accepted output layouts and the default
output name ``ase_raman::polarizability``.
"""

from .model import MetatomicPolarizability
from .outputs import DEFAULT_OUTPUT

__version__ = "0.1.0"
__all__ = ["DEFAULT_OUTPUT", "MetatomicPolarizability", "__version__"]
