"""A fittable linear bond-polarizability model (learner ``bond-polarizability``).

For every element pair p with cutoff ``r_c(p)`` and reference length ``r0(p)``, a bond of
length r along the unit vector u contributes::

    f(r) [ alpha_par(r) u u^T + alpha_perp(r) (I - u u^T) ]
    alpha_par(r)  = a_par(p)  + a_par'(p)  (r - r0(p))
    alpha_perp(r) = a_perp(p) + a_perp'(p) (r - r0(p))

and, optionally (``atomic``, default on), every atom of element Z contributes ``a_Z I``
(an isotropic ionic polarizability; bond-only models give zero for isolated ions).
``f`` is a cosine switch from 1 at ``r_c - w`` to 0 at ``r_c`` (``w = cutoff_width``,
default 0.5 Angstrom; ``w = 0`` is a hard cutoff). The switch matters for Raman from MD:
a hard cutoff makes alpha jump whenever a bond crosses it, which d(alpha)/dt turns into
white noise.

alpha is linear in all parameters (Angstrom^3, and Angstrom^2 for the derivatives), so
they are the least-squares solution over all nine components of every reference tensor
(a small ridge term keeps the solution unique when parameters are collinear). The model
is exactly invariant, rotation (and inversion) equivariant and extensive.

Hypers
------
``cutoffs``: ``{"Ag-I": 3.6, ...}`` per pair (Angstrom; symbols in any order);
``radii_factor``: pairs without an explicit cutoff use ``radii_factor * (r_cov(a) +
r_cov(b))`` (default 1.5, ASE's bond rule); ``cutoff_width`` (Angstrom, default 0.5);
``reference_lengths``: ``{"Ag-I": 2.8}`` (default: the mean training bond length of each
pair); ``derivatives`` (default true); ``atomic`` (default true); ``ridge`` (relative
penalty, default 1e-8); ``species`` (default: from the training data).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, chemical_symbols, covalent_radii

from ase_raman.errors import ModelFileError, ModelSpeciesError, UsageError
from ase_raman.models.base import reference_polarizabilities
from ase_raman.models.modelfile import learner_metadata, read_learner_file, write_model_file

from ._bonds import find_bonds, pair_key

_HYPER_KEYS = {"cutoffs", "radii_factor", "cutoff_width", "reference_lengths",
               "derivatives", "atomic", "ridge", "species"}
#: names of the four per-pair parameters, in storage order
PAIR_PARAMETERS = ("alpha_par", "dalpha_par_dr", "alpha_perp", "dalpha_perp_dr")


def switch(r: np.ndarray, cutoff: np.ndarray, width: float) -> np.ndarray:
    """Cosine switch: 1 below ``cutoff - width``, 0 above ``cutoff`` (smooth, C^1)."""
    if width <= 0:
        return (r < cutoff).astype(float)
    x = np.clip((r - (cutoff - width)) / width, 0.0, 1.0)
    return 0.5 * (1.0 + np.cos(np.pi * x))


class LinearBondPolarizability:
    """Per-pair bond polarizabilities linear in bond length, least-squares fitted.

    Parameters are in :attr:`pair_parameters` (``{pair: {name: value}}``, Angstrom^3 and
    Angstrom^2) and :attr:`atomic_polarizabilities` (``{symbol: a_Z}``, Angstrom^3).
    """

    name: ClassVar[str] = "bond-polarizability"
    distribution: ClassVar[str] = "ase-raman-bondpol"
    learner_version: ClassVar[str] = "1"

    def __init__(self, hypers: dict[str, Any] | None = None, quiet: bool = True):
        hypers = dict(hypers or {})
        unknown = set(hypers) - _HYPER_KEYS
        if unknown:
            raise UsageError(f"bond-polarizability: unknown hypers {sorted(unknown)}; "
                             f"known: {sorted(_HYPER_KEYS)}")
        self.cutoffs = {pair_key(*k.split("-")): float(v)
                        for k, v in dict(hypers.get("cutoffs", {})).items()}
        self.radii_factor = float(hypers.get("radii_factor", 1.5))
        self.cutoff_width = float(hypers.get("cutoff_width", 0.5))
        self.reference_lengths = {pair_key(*k.split("-")): float(v)
                                  for k, v in dict(hypers.get("reference_lengths", {})).items()}
        self.derivatives = bool(hypers.get("derivatives", True))
        self.atomic = bool(hypers.get("atomic", True))
        self.ridge = float(hypers.get("ridge", 1e-8))
        self.species: tuple[str, ...] = tuple(hypers.get("species", ()))
        for symbol in self.species:
            if symbol not in atomic_numbers:
                raise UsageError(f"bond-polarizability: unknown element {symbol!r}")
        if self.cutoff_width < 0 or self.ridge < 0 or self.radii_factor <= 0:
            raise UsageError("cutoff_width and ridge must be >= 0, radii_factor > 0")
        self.quiet = quiet
        self.pairs: tuple[str, ...] = ()
        self.parameters = np.zeros((0, 4))  # (n_pairs, 4), PAIR_PARAMETERS order
        self.atomic_values = np.zeros(0)  # (n_species,)
        self.training: dict[str, Any] = {}

    # -- geometry -------------------------------------------------------------------------
    def _setup_pairs(self) -> None:
        species = self.species
        self.pairs = tuple(sorted({pair_key(a, b) for a in species for b in species}))
        for pair in self.pairs:
            if pair not in self.cutoffs:
                a, b = pair.split("-")
                self.cutoffs[pair] = self.radii_factor * float(
                    covalent_radii[atomic_numbers[a]] + covalent_radii[atomic_numbers[b]])
            if self.cutoffs[pair] <= self.cutoff_width:
                raise UsageError(f"cutoff of {pair} ({self.cutoffs[pair]}) must exceed "
                                 f"cutoff_width ({self.cutoff_width})")

    def _check_species(self, frames: Sequence[Atoms]) -> None:
        known = set(self.species)
        for k, atoms in enumerate(frames):
            missing = sorted(set(atoms.get_chemical_symbols()) - known)
            if missing:
                raise ModelSpeciesError(f"frame {k}: elements {missing} are not in the "
                                        f"model (species {list(self.species)})")

    def _bond_data(self, atoms: Atoms):
        """Per bond: pair index, length, switch value and projector u u^T."""
        symbols = atoms.get_chemical_symbols()
        cut = {(a, b): self.cutoffs[pair_key(a, b)]
               for a in self.species for b in self.species}
        bonds = find_bonds(atoms, cut)
        index = {p: n for n, p in enumerate(self.pairs)}
        pair = np.array([index[pair_key(symbols[a], symbols[b])]
                         for a, b in zip(bonds.i, bonds.j, strict=True)], dtype=int)
        rc = np.array([self.cutoffs[self.pairs[p]] for p in pair])
        weight = switch(bonds.r, rc, self.cutoff_width)
        return pair, bonds.r, weight, bonds.projectors

    def _design(self, atoms: Atoms, r0: np.ndarray) -> np.ndarray:
        """(9, n_parameters): alpha (flattened) = design @ parameters for one frame."""
        pair, r, weight, proj = self._bond_data(atoms)
        n_pairs = len(self.pairs)
        eye = np.eye(3)
        dr = r - r0[pair] if len(pair) else r
        blocks = np.zeros((n_pairs, 4, 3, 3))
        perp = eye[None] - proj
        for k, (tensor, scale) in enumerate(((proj, 1.0), (proj, dr), (perp, 1.0), (perp, dr))):
            contribution = (weight * scale)[:, None, None] * tensor
            np.add.at(blocks[:, k], pair, contribution)
        columns = [blocks.reshape(n_pairs * 4, 9).T]
        if self.atomic:
            counts = np.array([np.count_nonzero(atoms.numbers == atomic_numbers[s])
                               for s in self.species], dtype=float)
            columns.append(eye.reshape(9, 1) * counts[None, :])
        return np.concatenate(columns, axis=1)

    def _active(self) -> np.ndarray:
        """Mask of the parameter vector entries in use (derivatives may be switched off)."""
        per_pair = np.array([True, self.derivatives, True, self.derivatives])
        mask = np.tile(per_pair, len(self.pairs))
        if self.atomic:
            mask = np.concatenate([mask, np.ones(len(self.species), dtype=bool)])
        return mask

    def _r0(self) -> np.ndarray:
        return np.array([self.reference_lengths[p] for p in self.pairs])

    # -- TensorModel protocol -------------------------------------------------------------
    def fit(self, frames: Sequence[Atoms]) -> LinearBondPolarizability:
        """Least-squares fit to ``info["polarizability"]`` (Angstrom^3) of ``frames``."""
        frames = list(frames)
        if not frames:
            raise UsageError("bond-polarizability: no training frames")
        reference = reference_polarizabilities(frames)
        if not self.species:
            present = sorted({int(z) for atoms in frames for z in atoms.numbers})
            self.species = tuple(chemical_symbols[z] for z in present)
        self._check_species(frames)
        self._setup_pairs()
        # reference lengths: mean (switch-weighted) bond length per pair, unless given
        sums = np.zeros((len(self.pairs), 2))
        for atoms in frames:
            pair, r, weight, _ = self._bond_data(atoms)
            np.add.at(sums, pair, np.stack([weight * r, weight], axis=1))
        for n, p in enumerate(self.pairs):
            if p not in self.reference_lengths:
                self.reference_lengths[p] = (float(sums[n, 0] / sums[n, 1]) if sums[n, 1] > 0
                                             else self.cutoffs[p] - self.cutoff_width)
        r0 = self._r0()
        design = np.concatenate([self._design(atoms, r0) for atoms in frames], axis=0)
        target = reference.reshape(-1)
        mask = self._active()
        x = design[:, mask]
        norms = np.linalg.norm(x, axis=0)
        norms[norms == 0] = 1.0
        xs = x / norms
        gram = xs.T @ xs
        penalty = self.ridge * max(float(np.trace(gram)) / max(len(gram), 1), 1e-300)
        solution = np.linalg.solve(gram + penalty * np.eye(len(gram)), xs.T @ target) / norms
        full = np.zeros(len(mask))
        full[mask] = solution
        n_pair_params = 4 * len(self.pairs)
        self.parameters = full[:n_pair_params].reshape(len(self.pairs), 4)
        self.atomic_values = full[n_pair_params:] if self.atomic else np.zeros(0)
        residual = design @ full - target
        self.training = {
            "n_train": len(frames),
            "rmse_A3": float(np.sqrt(np.mean(residual**2))),
            "pairs_without_bonds": [p for n, p in enumerate(self.pairs) if sums[n, 1] == 0],
        }
        return self

    def predict(self, frames: Sequence[Atoms]) -> np.ndarray:
        """Polarizabilities (n, 3, 3) in Angstrom^3."""
        if not self.pairs:
            raise UsageError("the bond-polarizability model is not fitted; call fit(frames)")
        frames = list(frames)
        self._check_species(frames)
        full = np.concatenate([self.parameters.reshape(-1), self.atomic_values])
        r0 = self._r0()
        out = np.empty((len(frames), 3, 3))
        for k, atoms in enumerate(frames):
            alpha = (self._design(atoms, r0) @ full).reshape(3, 3)
            out[k] = 0.5 * (alpha + alpha.T)
        return out

    @property
    def pair_parameters(self) -> dict[str, dict[str, float]]:
        """Fitted per-pair parameters (Angstrom^3, derivatives in Angstrom^2)."""
        return {p: dict(zip(PAIR_PARAMETERS, map(float, self.parameters[n]), strict=True))
                for n, p in enumerate(self.pairs)}

    @property
    def atomic_polarizabilities(self) -> dict[str, float]:
        """Fitted isotropic atomic polarizabilities (Angstrom^3); empty without ``atomic``."""
        return dict(zip(self.species, map(float, self.atomic_values), strict=False))

    def save(self, path: str | Path) -> None:
        if not self.pairs:
            raise UsageError("the bond-polarizability model is not fitted; call fit(frames)")
        write_model_file(path, {"pair_parameters": self.parameters,
                                "atomic_values": self.atomic_values}, self.metadata)

    @classmethod
    def load(cls, path: str | Path) -> LinearBondPolarizability:
        arrays, meta = read_learner_file(path, cls.name)
        try:
            model = cls(hypers=meta["hypers"])
            model._setup_pairs()
            model.parameters = np.asarray(arrays["pair_parameters"], dtype=float)
            model.atomic_values = np.asarray(arrays["atomic_values"], dtype=float)
        except KeyError as exc:
            raise ModelFileError(f"{path}: incomplete bond-polarizability model ({exc})") from None
        if (model.parameters.shape != (len(model.pairs), 4)
                or model.atomic_values.shape != ((len(model.species),) if model.atomic else (0,))
                or set(model.reference_lengths) != set(model.pairs)):
            raise ModelFileError(f"{path}: parameter arrays do not match the stored hypers")
        model.training = dict(meta.get("training", {}))
        return model

    @property
    def metadata(self) -> dict[str, Any]:
        from . import __version__

        return {
            **learner_metadata(self, distribution_version=__version__),
            "hypers": {
                "cutoffs": dict(self.cutoffs), "radii_factor": self.radii_factor,
                "cutoff_width": self.cutoff_width,
                "reference_lengths": dict(self.reference_lengths),
                "derivatives": self.derivatives, "atomic": self.atomic, "ridge": self.ridge,
                "species": list(self.species),
            },
            "species": list(self.species),
            "pairs": list(self.pairs),
            "pair_parameter_names": list(PAIR_PARAMETERS),
            "units": {"polarizability": "Angstrom^3", "length": "Angstrom",
                      "dalpha_dr": "Angstrom^2"},
            "training": self.training,
        }
