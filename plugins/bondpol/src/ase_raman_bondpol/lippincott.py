"""ASE's Lippincott-Stuttman bond polarizability as a ready ase-raman model.

Per bond (ASE, :class:`ase.calculators.bond_polarizability.LippincottStuttman`;
Lippincott and Stuttman, J. Phys. Chem. 68, 2926 (1964); Marinov and Zotov, Phys. Rev.
B 55, 2938 (1997)): ``alpha_par = sigma r^4 / (4^4 a_1 a_2)^(1/6)`` and ``alpha_perp =
(x_1^2 a_1 + x_2^2 a_2) / (x_1^2 + x_2^2)`` with atomic polarizabilities ``a`` and
reduced electronegativities ``x``. Bonds are pairs closer than 1.5 times the sum of
covalent radii (ASE's rule), counted once.

Units: ASE's ``BondPolarizability`` returns e^2 Angstrom^2 / eV; this model returns
Angstrom^3 (the same numbers times ``Bohr * Hartree``).

Difference from ASE for periodic cells: ASE uses a half neighbour list and then weights
bonds to periodic images by 1/2, so its alpha of a crystal depends on the choice of
cell (bulk Si: 18.0 Angstrom^3 per atom in the primitive cell, 23.4 in a 2x2x2
supercell). Here every bond counts once, so alpha is extensive; for molecules and
clusters (no periodic bonds) the numbers are ASE's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from ase import Atoms
from ase.calculators.bond_polarizability import LippincottStuttman
from ase.data import covalent_radii

from ase_raman.errors import ModelSpeciesError, UsageError
from ase_raman.models.modelfile import learner_metadata, read_learner_file, write_model_file

from ._bonds import find_bonds

#: ASE's bond criterion: r < RADII_FACTOR * (r_cov(a) + r_cov(b)).
RADII_FACTOR = 1.5


class LippincottStuttmanModel:
    """Lippincott-Stuttman bond polarizabilities (no fitting; Angstrom^3).

    ``hypers`` may set ``radii_factor`` (default 1.5, ASE's). ``fit(frames)`` learns
    nothing: it only checks that the frames' elements are covered.
    """

    name: ClassVar[str] = "lippincott-stuttman"
    distribution: ClassVar[str] = "ase-raman-bondpol"
    learner_version: ClassVar[str] = "1"
    #: the elements ASE's table covers
    ELEMENTS: ClassVar[tuple[str, ...]] = tuple(LippincottStuttman.atomic_polarizability)

    def __init__(self, hypers: dict[str, Any] | None = None, quiet: bool = True):
        hypers = dict(hypers or {})
        unknown = set(hypers) - {"radii_factor"}
        if unknown:
            raise UsageError(f"lippincott-stuttman: unknown hypers {sorted(unknown)}")
        self.radii_factor = float(hypers.get("radii_factor", RADII_FACTOR))
        if self.radii_factor <= 0:
            raise UsageError(f"radii_factor must be > 0, got {self.radii_factor}")
        self.quiet = quiet
        self.training: dict[str, Any] = {}
        self._ls = LippincottStuttman()

    def _check(self, frames: Sequence[Atoms]) -> None:
        for k, atoms in enumerate(frames):
            missing = sorted(set(atoms.get_chemical_symbols()) - set(self.ELEMENTS))
            if missing:
                raise ModelSpeciesError(
                    f"frame {k}: elements {missing} have no Lippincott-Stuttman parameters "
                    f"(covered: {', '.join(self.ELEMENTS)}); fit the 'bond-polarizability' "
                    "learner instead")

    def fit(self, frames: Sequence[Atoms]) -> LippincottStuttmanModel:
        """Nothing to learn; checks coverage and records the number of frames."""
        frames = list(frames)
        self._check(frames)
        self.training = {"n_train": len(frames), "fitted": False}
        return self

    def predict_one(self, atoms: Atoms) -> np.ndarray:
        """alpha (3, 3) of one structure in Angstrom^3."""
        radii = self.radii_factor * covalent_radii[atoms.numbers]
        bonds = find_bonds(atoms, radii)
        symbols = np.array(atoms.get_chemical_symbols())
        par = np.empty(len(bonds.r))
        perp = np.empty(len(bonds.r))
        for b, (sa, sb, r) in enumerate(zip(symbols[bonds.i], symbols[bonds.j], bonds.r,
                                            strict=True)):
            par[b], perp[b] = self._ls(sa, sb, r)
        proj = bonds.projectors
        return (np.einsum("b,bij->ij", par - perp, proj) + perp.sum() * np.eye(3))

    def predict(self, frames: Sequence[Atoms]) -> np.ndarray:
        """Polarizabilities (n, 3, 3) in Angstrom^3."""
        frames = list(frames)
        self._check(frames)
        out = np.zeros((len(frames), 3, 3))
        for k, atoms in enumerate(frames):
            out[k] = self.predict_one(atoms)
        return out

    def save(self, path: str | Path) -> None:
        write_model_file(path, {}, self.metadata)

    @classmethod
    def load(cls, path: str | Path) -> LippincottStuttmanModel:
        _, meta = read_learner_file(path, cls.name)
        model = cls(hypers=meta.get("hypers"))
        model.training = dict(meta.get("training", {}))
        return model

    @property
    def metadata(self) -> dict[str, Any]:
        from . import __version__

        return {
            **learner_metadata(self, distribution_version=__version__),
            "hypers": {"radii_factor": self.radii_factor},
            "species": list(self.ELEMENTS),
            "units": {"polarizability": "Angstrom^3", "length": "Angstrom"},
            "training": self.training,
        }
