"""Atomic polarizabilities (Angstrom^3) for ``--alpha did`` in screening.

The dipole-induced-dipole plugin ships Pauling's free-ion values for alkali, silver and
halide ions. Screening needs more elements; this table adds Pauling's free-ion values
(L. Pauling, Proc. R. Soc. Lond. A 114, 181 (1927)) for the common framework ions. The
Raman response of these solids is dominated by the large anion polarizabilities
(S2- 10.2, Se2- 10.5, O2- 3.88, Cl- 3.66 Angstrom^3); small highly charged cations
(P5+, Ge4+, Ti4+, ...) contribute little, and their values below are rough (order of
magnitude, marked in :data:`ROUGH`). Override any value per material with the manifest key
``polarizabilities`` or ``--did-polarizabilities JSON``; an element without a value is
refused with a clear reason, never guessed.
"""

from __future__ import annotations

#: Angstrom^3; Pauling (1927) free-ion values unless listed in ROUGH
SCREEN_POLARIZABILITIES: dict[str, float] = {
    "Li": 0.029, "Na": 0.179, "K": 0.83, "Rb": 1.40, "Cs": 2.42, "Ag": 1.72, "Cu": 0.43,
    "Be": 0.008, "Mg": 0.094, "Ca": 0.47, "Sr": 0.86, "Ba": 1.55,
    "B": 0.003, "Al": 0.052, "Ga": 0.20, "In": 0.73, "Si": 0.0165, "Ge": 0.14,
    "Sn": 0.34, "P": 0.021, "As": 0.1, "Sb": 0.5, "Bi": 1.0,
    "Sc": 0.38, "Y": 0.55, "La": 1.04, "Ti": 0.19, "Zr": 0.37, "Hf": 0.4,
    "Nb": 0.24, "Ta": 0.3, "Zn": 0.29,
    "N": 0.6, "O": 3.88, "S": 10.2, "Se": 10.5, "Te": 14.0,
    "F": 1.04, "Cl": 3.66, "Br": 4.77, "I": 7.10,
}
#: values that are rough estimates rather than tabulated free-ion polarizabilities
ROUGH = frozenset({"Ga", "In", "Ge", "Sn", "As", "Sb", "Bi", "Sc", "Y", "Hf", "Nb", "Ta",
                   "Zn", "N", "Cu"})
