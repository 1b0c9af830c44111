"""Dipole-induced-dipole (Thole-damped Applequist) polarizabilities for ase-raman.

See :mod:`ase_raman_did.model` for the physics, units and the catastrophe check,
:mod:`ase_raman_did.field` for the Ewald sum and :mod:`ase_raman_did.thole` for the
damping convention.
"""

from .model import DEFAULT_POLARIZABILITIES, DipoleInducedDipole, PolarizationCatastropheError
from .tables import IONIC_POLARIZABILITIES, NEUTRAL_POLARIZABILITIES, default_polarizability
from .thole import THOLE_A_AMOEBA

__version__ = "0.1.0"
__all__ = ["DEFAULT_POLARIZABILITIES", "IONIC_POLARIZABILITIES", "NEUTRAL_POLARIZABILITIES",
           "THOLE_A_AMOEBA", "DipoleInducedDipole", "default_polarizability",
           "PolarizationCatastropheError", "__version__"]
