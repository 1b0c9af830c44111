"""Default atomic polarizabilities (Angstrom^3): neutral atoms for every element, free ions.

Neutral atoms
    :data:`NEUTRAL_POLARIZABILITIES` holds the recommended static dipole polarizability of
    every element H to Og from P. Schwerdtfeger and J. K. Nagle, "2018 Table of static
    dipole polarizabilities of the neutral elements in the periodic table", Mol. Phys.
    117, 1200 (2019), read from ``data/static_polarizabilities_2018.csv`` (atomic units,
    with the table's uncertainties and provenance) and converted with
    1 bohr^3 = 0.148184711 Angstrom^3.

Ions
    :data:`IONIC_POLARIZABILITIES` holds electronic free-ion polarizabilities, keyed by
    ``(symbol, charge)``: L. Pauling, Proc. R. Soc. Lond. A 114, 181 (1927). The
    dipole-induced-dipole model needs the electronic response only; Shannon's
    polarizabilities of ions in oxides and fluorides (J. Appl. Phys. 73, 348 (1993)) are
    total dielectric polarizabilities that include the ionic displacement response, so they
    are not used. Ions missing here are given through the model's ``polarizabilities``.

:data:`DEFAULT_CHARGES` names the ion used when no charge is given for an element
(alkali metals, Ag and the halides, as in halide and silver solid electrolytes); every
other element is a neutral atom unless a charge is given.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

from ase.data import atomic_numbers
from ase.units import Bohr

#: Pauling (1927) electronic free-ion polarizabilities, Angstrom^3, by (symbol, charge).
IONIC_POLARIZABILITIES: dict[tuple[str, int], float] = {
    ("Li", 1): 0.029, ("Na", 1): 0.179, ("K", 1): 0.83, ("Rb", 1): 1.40, ("Cs", 1): 2.42,
    ("Ag", 1): 1.72, ("F", -1): 1.04, ("Cl", -1): 3.66, ("Br", -1): 4.77, ("I", -1): 7.10,
}

#: The charge assumed for an element when none is given (0: neutral atom).
DEFAULT_CHARGES: dict[str, int] = {symbol: charge for symbol, charge in IONIC_POLARIZABILITIES}

_TABLE = "static_polarizabilities_2018.csv"


@cache
def _neutral_table() -> dict[str, tuple[float, float]]:
    """{symbol: (alpha, uncertainty)} in Angstrom^3 from the packaged 2018 table."""
    text = resources.files(__package__).joinpath("data", _TABLE).read_text()
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return {row["symbol"]: (float(row["alpha_bohr3"]) * Bohr**3,
                            float(row["uncertainty_bohr3"]) * Bohr**3) for row in rows}


#: Schwerdtfeger and Nagle (2018) neutral-atom polarizabilities, Angstrom^3, by symbol.
NEUTRAL_POLARIZABILITIES: dict[str, float] = {s: v for s, (v, _) in _neutral_table().items()}

#: Their uncertainties as given in the table, Angstrom^3.
NEUTRAL_UNCERTAINTIES: dict[str, float] = {s: u for s, (_, u) in _neutral_table().items()}


def default_polarizability(symbol: str, charge: int | None = None) -> float | None:
    """The default polarizability (Angstrom^3) of element ``symbol`` with ``charge``.

    Parameters
    ----------
    symbol : str
        Chemical symbol.
    charge : int, optional
        Oxidation state; None uses :data:`DEFAULT_CHARGES` (0 for unlisted elements).

    Returns
    -------
    float or None
        The neutral-atom value for charge 0, the free-ion value for a listed ion, None for
        an ion without a tabulated value.
    """
    if symbol not in atomic_numbers:
        raise KeyError(symbol)
    charge = DEFAULT_CHARGES.get(symbol, 0) if charge is None else int(charge)
    if charge == 0:
        return NEUTRAL_POLARIZABILITIES[symbol]
    return IONIC_POLARIZABILITIES.get((symbol, charge))
