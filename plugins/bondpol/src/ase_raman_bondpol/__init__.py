"""Bond-polarizability models of the polarizability alpha (Angstrom^3) for ase-raman.

* ``lippincott-stuttman`` (:class:`~ase_raman_bondpol.lippincott.LippincottStuttmanModel`):
  ASE's Lippincott-Stuttman bond polarizabilities as a ready model (nothing to fit),
  for H, Be, B, C, N, O, Al, Si, P, S;
* ``bond-polarizability`` (:class:`~ase_raman_bondpol.linear.LinearBondPolarizability`):
  per element-pair parallel/perpendicular bond polarizabilities and their first
  derivatives in bond length, least-squares fitted to reference tensors.

A bond b between atoms at distance r along the unit vector u contributes
``alpha_par(r) u u^T + alpha_perp(r) (I - u u^T)``; every bond is counted once, also
across periodic boundaries.
"""

from .linear import LinearBondPolarizability
from .lippincott import LippincottStuttmanModel

__version__ = "0.1.0"
__all__ = ["LinearBondPolarizability", "LippincottStuttmanModel", "__version__"]
