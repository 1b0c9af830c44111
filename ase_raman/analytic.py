"""Analytic model systems for physics checks (harmonic vs MD, spectra).

:class:`WaterPotential`: one flexible water molecule (atoms O, H, H) with Morse O-H bonds
and a harmonic H-O-H angle, as an ASE calculator (eV, eV/Angstrom). Its normal modes are
known in closed form to harmonic order, so harmonic (phonopy) and low-temperature MD
Raman spectra of the same polarizability model must agree on it.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

D_OH, A_OH, R_OH = 5.0, 2.2, 0.96  # Morse O-H: eV, 1/Angstrom, Angstrom
K_ANG, THETA0 = 4.0, np.deg2rad(104.5)  # harmonic H-O-H angle: eV/rad^2, rad


def water_energy_forces(pos: np.ndarray) -> tuple[float, np.ndarray]:
    """Morse O-H bonds + harmonic angle; atoms O, H, H; eV and eV/Angstrom."""
    v1, v2 = pos[1] - pos[0], pos[2] - pos[0]
    r1, r2 = np.linalg.norm(v1), np.linalg.norm(v2)
    forces = np.zeros((3, 3))
    energy = 0.0
    for h, v, r in ((1, v1, r1), (2, v2, r2)):
        e = np.exp(-A_OH * (r - R_OH))
        energy += D_OH * (1.0 - e) ** 2
        f = -2.0 * D_OH * A_OH * (1.0 - e) * e * v / r
        forces[h] += f
        forces[0] -= f
    cos = np.dot(v1, v2) / (r1 * r2)
    theta = np.arccos(np.clip(cos, -1.0, 1.0))
    energy += 0.5 * K_ANG * (theta - THETA0) ** 2
    de = K_ANG * (theta - THETA0)
    sin = np.sqrt(max(1.0 - cos**2, 1e-300))
    g1 = -(v2 / (r1 * r2) - cos * v1 / r1**2) / sin
    g2 = -(v1 / (r1 * r2) - cos * v2 / r2**2) / sin
    forces[1] -= de * g1
    forces[2] -= de * g2
    forces[0] += de * (g1 + g2)
    return float(energy), forces


class WaterPotential(Calculator):
    """The Morse + angle potential as an ASE calculator (one molecule, atoms O H H)."""

    implemented_properties = ["energy", "forces"]

    def calculate(self, atoms=None, properties=None, system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        e, f = water_energy_forces(self.atoms.positions)
        self.results = {"energy": e, "forces": f}


def water() -> Atoms:
    """The potential's minimum (r = 0.96 A, 104.5 deg) in a 10 A box."""
    half = THETA0 / 2
    atoms = Atoms("OH2", positions=[[0, 0, 0], [R_OH * np.sin(half), R_OH * np.cos(half), 0],
                                    [-R_OH * np.sin(half), R_OH * np.cos(half), 0]],
                  cell=[10.0, 10.0, 10.0], pbc=True)
    atoms.positions += 5.0
    return atoms
