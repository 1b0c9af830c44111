"""Unit conversions and physical constants used by ase-raman (one place for all of them).

ase-raman works in Angstrom, fs, eV, amu, K and cm^-1 at its public interface and stores
alpha in Angstrom^3. Constants come from ASE (``ase.units``, CODATA) and SciPy
(``scipy.constants``), so they agree with the codes whose files we read.
"""

from __future__ import annotations

from ase import units as _ase
from scipy import constants as _const

__all__ = [
    "A2_PS_TO_CM2_S",
    "BOHR3_TO_A3",
    "BOLTZMANN_J_K",
    "E2A2_PER_EV_TO_A3",
    "ELEMENTARY_CHARGE_C",
    "FS_PER_ATOMIC_TIME",
    "KB_EV_K",
    "SECOND_RADIATION_CONSTANT_CM_K",
    "SPEED_OF_LIGHT_CM_PER_FS",
    "THZ_TO_CM",
    "VELOCITY_AU_TO_A_PER_FS",
]

#: Angstrom^3 per bohr^3 (atomic units of polarizability to Angstrom^3).
BOHR3_TO_A3: float = _ase.Bohr**3
#: Angstrom^3 per (e^2 Angstrom^2 / eV), the unit of ASE's static polarizability calculators.
E2A2_PER_EV_TO_A3: float = _ase.Bohr * _ase.Hartree

#: Speed of light in cm/fs: a wavenumber nu (cm^-1) is the frequency c * nu in fs^-1.
SPEED_OF_LIGHT_CM_PER_FS: float = 2.99792458e-5
#: Second radiation constant h c / k_B in cm K: ``h c nu / (k_B T) = C2 * nu / T``.
SECOND_RADIATION_CONSTANT_CM_K: float = _const.h * _const.c * 100.0 / _const.k
#: cm^-1 per THz (1e12 / (100 c)); phonopy's ``THzToCm``.
THZ_TO_CM: float = 33.35640951981520

#: 1 Angstrom^2/ps in cm^2/s (1e-16 cm^2 / 1e-12 s).
A2_PS_TO_CM2_S: float = 1e-4
#: Elementary charge (C), CODATA value as used by ASE.
ELEMENTARY_CHARGE_C: float = _ase._e
#: Boltzmann constant (J/K), CODATA value as used by ASE.
BOLTZMANN_J_K: float = _ase._k
#: Boltzmann constant in eV/K (ASE's value).
KB_EV_K: float = _ase.kB

#: fs per atomic unit of time.
FS_PER_ATOMIC_TIME: float = _ase._aut * 1e15
#: Angstrom/fs per atomic unit of velocity (bohr per atomic time unit).
VELOCITY_AU_TO_A_PER_FS: float = _ase.Bohr / FS_PER_ATOMIC_TIME
