"""Harmonic (phonopy) Raman spectra: Raman tensors of Gamma modes, activities, spectrum.

Data flow::

    phonopy object / phonopy.yaml + FORCE_SETS      -> modes_from_phonopy / load_phonopy
    mesh.yaml, band.yaml, qpoints.yaml (or .hdf5)   -> load_modes
          GammaModes (frequencies cm^-1, mass-weighted eigenvectors, irreps)
    + a model / PolarizabilityCalculator            -> raman_from_model (central differences)
    + dielectric results of displaced structures    -> raman_from_dielectric (least squares)
          HarmonicRaman: d(alpha)/dQ per mode (Angstrom^2 amu^-1/2), activities
          45 a'^2 + 7 gamma'^2 (Angstrom^4/amu), selection rules, mode table (write_table)
          -> harmonic_spectrum(like=md_spectrum): same grid and options as the MD spectrum

``generate_displacements`` / ``gather_displacements`` write the structures an external
DFPT code must compute and collect its results back.
"""

from .core import (
    DEFAULT_STEP,
    TABLE_COLUMNS,
    HarmonicRaman,
    ModePeak,
    activity,
    polarizability_function,
    raman_from_model,
)
from .displacements import gather_displacements, generate_displacements, read_index
from .fit import (
    DEFAULT_RCOND,
    displacements,
    map_to_modes_cell,
    raman_from_dielectric,
    read_dielectric_folder,
)
from .modes import (
    THZ_TO_CM,
    GammaModes,
    load_modes,
    load_phonopy,
    modes_from_phonopy,
    read_irreps_yaml,
)
from .spectrum import HarmonicRamanSpectrum, harmonic_spectrum
from .symmetry import raman_allowed

__all__ = [
    "DEFAULT_RCOND",
    "DEFAULT_STEP",
    "TABLE_COLUMNS",
    "THZ_TO_CM",
    "GammaModes",
    "HarmonicRaman",
    "HarmonicRamanSpectrum",
    "ModePeak",
    "activity",
    "displacements",
    "gather_displacements",
    "generate_displacements",
    "harmonic_spectrum",
    "load_modes",
    "load_phonopy",
    "map_to_modes_cell",
    "modes_from_phonopy",
    "polarizability_function",
    "raman_allowed",
    "raman_from_dielectric",
    "raman_from_model",
    "read_dielectric_folder",
    "read_index",
    "read_irreps_yaml",
]
