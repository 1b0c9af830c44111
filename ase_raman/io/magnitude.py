"""Plausibility of a polarizability's magnitude for the unit it was declared in.

A labelled set whose numbers are in bohr^3 but read as the default Angstrom^3 (QM7-X,
TENSOAP) gives polarizabilities 6.7 times too large, and nothing else notices. The
isotropic polarizability ``tr(alpha)/3`` of a frame is compared with the sum of the
static dipole polarizabilities of its free atoms (:data:`ATOMIC_POLARIZABILITY_BOHR3`).
Measured ratios: molecules 0.7 (water, DFT), alpha-quartz 0.6, crystalline Si 3.6 (eps
about 12, among the most polarizable solids made of tabulated elements); QM7-X values
in bohr^3 read as Angstrom^3 give 5.6-6.0. Above :data:`PLAUSIBLE_FACTOR` (the check is
one-sided: too-small values have legitimate causes, e.g. per-molecule quantities),
:func:`warn_implausible_alpha` warns and names the unit of
:data:`ase_raman.tensors.ALPHA_UNITS` that brings the ratio nearest 1, with the
``--alpha-unit`` option to pass.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from ase import Atoms

from ..tensors import ALPHA_UNITS, BOHR3_TO_A3

#: Static dipole polarizabilities of free atoms, bohr^3 (P. Schwerdtfeger and J. K. Nagle,
#: "2018 Table of static dipole polarizabilities of the neutral elements in the periodic
#: table", Mol. Phys. 117, 1200 (2019), recommended values). Elements not listed skip the
#: check.
ATOMIC_POLARIZABILITY_BOHR3: dict[str, float] = {
    "H": 4.5, "He": 1.38, "Li": 164.1, "Be": 37.7, "B": 20.5, "C": 11.3, "N": 7.4,
    "O": 5.3, "F": 3.74, "Ne": 2.66, "Na": 162.7, "Mg": 71.2, "Al": 57.8, "Si": 37.3,
    "P": 25.0, "S": 19.4, "Cl": 14.6, "Ar": 11.1, "K": 289.7, "Ca": 160.8, "Br": 21.0,
    "I": 32.9,
}

#: Largest plausible ratio of tr(alpha)/3 to the sum of the free-atom values.
PLAUSIBLE_FACTOR = 4.5


def additive_ratio(frames: Sequence[Atoms], alphas_A3: Sequence[np.ndarray]) -> float | None:
    """Mean over frames of ``(tr(alpha)/3) / sum of atomic polarizabilities`` (alpha in
    Angstrom^3); None when a frame has an element without a tabulated value."""
    ratios = []
    for atoms, alpha in zip(frames, alphas_A3, strict=True):
        try:
            total = sum(ATOMIC_POLARIZABILITY_BOHR3[s] for s in atoms.get_chemical_symbols())
        except KeyError:
            return None
        if total <= 0:
            return None
        ratios.append(float(np.trace(alpha)) / 3.0 / (total * BOHR3_TO_A3))
    return float(np.mean(ratios)) if ratios else None


def warn_implausible_alpha(frames: Sequence[Atoms], alphas_A3: Sequence[np.ndarray],
                           unit: str, where: str) -> None:
    """Warn (UserWarning) when the polarizabilities, converted from ``unit``, are far
    from the additive estimate, naming the likely unit and ``--alpha-unit`` to use."""
    ratio = additive_ratio(frames, alphas_A3)
    if ratio is None or ratio <= 0:
        return
    if ratio <= PLAUSIBLE_FACTOR:
        return
    declared = ALPHA_UNITS[unit]
    fits = {other: ratio * factor / declared for other, factor in ALPHA_UNITS.items()
            if other != unit}
    fits = {u: r for u, r in fits.items() if 1.0 / PLAUSIBLE_FACTOR <= r <= PLAUSIBLE_FACTOR}
    hint = ""
    if fits:
        best = min(fits, key=lambda u: abs(np.log(fits[u])))
        hint = f"; the numbers fit {best} (ratio {fits[best]:.2g}): pass alpha_unit={best!r}"
    warnings.warn(
        f"{where}: the polarizability read as {unit} is {ratio:.2g} times the sum of the "
        f"free-atom polarizabilities (molecules and solids stay below "
        f"{PLAUSIBLE_FACTOR:g}){hint}", UserWarning, stacklevel=3)
