"""Composition features, computed from a per-element cache.

The feature set follows matminer's composition featurisers, from the element data that
ships inside matminer (Magpie tables; nothing is downloaded):

* ``magpie``: matminer ``ElementProperty.from_preset("magpie")``: 22 element properties
  x 6 statistics over the composition (minimum, maximum, range, fraction-weighted mean,
  mean absolute deviation, mode = value of the most abundant element), with matminer's
  default imputation of missing element data;
* ``stoichiometry``: matminer ``Stoichiometry``: number of elements and the 2, 3, 5, 7
  and 10-norms of the atomic fractions;
* ``valence``: matminer ``ValenceOrbital``: mean number of s/p/d/f valence electrons and
  their fractions of the mean valence-electron count;
* ``oxidation``: element oxidation states (pymatgen's common oxidation states of each
  element; the maximum and the minimum of each), and the electronegativity x maximum /
  minimum oxidation state products used in the Li-conductor screening literature, each
  as minimum, maximum, range, mean and mean absolute deviation;
* ``chemistry``: atomic fraction of Li, O, S+Se+Te, halogens and N.

Each composition costs a few small numpy operations on a ``(n_elements, n_properties)``
table whose rows are looked up once per element (:class:`CompositionFeaturizer`). The
``magpie``, ``stoichiometry`` and ``valence`` blocks are equal to matminer's own
featurisers (checked in the tests); :func:`matminer_features` computes them through
matminer, without the cache (the baseline of ``benchmarks/bench_prescreen.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np

from .formula import parse_formula

MAGPIE_PROPERTIES: tuple[str, ...] = (
    "Number", "MendeleevNumber", "AtomicWeight", "MeltingT", "Column", "Row",
    "CovalentRadius", "Electronegativity", "NsValence", "NpValence", "NdValence",
    "NfValence", "NValence", "NsUnfilled", "NpUnfilled", "NdUnfilled", "NfUnfilled",
    "NUnfilled", "GSvolume_pa", "GSbandgap", "GSmagmom", "SpaceGroupNumber",
)
MAGPIE_STATS: tuple[str, ...] = ("minimum", "maximum", "range", "mean", "avg_dev", "mode")
STOICHIOMETRY_P: tuple[int, ...] = (2, 3, 5, 7, 10)
ORBITALS: tuple[str, ...] = ("s", "p", "d", "f")
OXIDATION_PROPERTIES: tuple[str, ...] = (
    "max_oxidation_state", "min_oxidation_state",
    "electronegativity_x_max_oxidation_state", "electronegativity_x_min_oxidation_state",
)
OXIDATION_STATS: tuple[str, ...] = ("minimum", "maximum", "range", "mean", "avg_dev")
CHEMISTRY_GROUPS: dict[str, frozenset[str]] = {
    "frac_Li": frozenset({"Li"}),
    "frac_O": frozenset({"O"}),
    "frac_chalcogen_S_Se_Te": frozenset({"S", "Se", "Te"}),
    "frac_halogen": frozenset({"F", "Cl", "Br", "I"}),
    "frac_N": frozenset({"N"}),
}


def feature_names() -> list[str]:
    """Names of the composition features, in column order (matminer's labels where the
    feature is matminer's)."""
    names = [f"MagpieData {s} {p}" for p in MAGPIE_PROPERTIES for s in MAGPIE_STATS]
    names += ["0-norm"] + [f"{p}-norm" for p in STOICHIOMETRY_P]
    names += [f"avg {o} valence electrons" for o in ORBITALS]
    names += [f"frac {o} valence electrons" for o in ORBITALS]
    names += [f"{s} {p}" for p in OXIDATION_PROPERTIES for s in OXIDATION_STATS]
    names += list(CHEMISTRY_GROUPS)
    return names


class CompositionFeaturizer:
    """Composition -> feature vector, with element data looked up once per element."""

    def __init__(self) -> None:
        self._rows: dict[str, np.ndarray] = {}

    @cached_property
    def _magpie(self):
        from matminer.utils.data import MagpieData

        return MagpieData(impute_nan=True)

    @property
    def n_features(self) -> int:
        return len(feature_names())

    def element_row(self, symbol: str) -> np.ndarray:
        """The cached per-element numbers: Magpie properties, oxidation-state
        properties, chemistry-group indicators (in that order)."""
        row = self._rows.get(symbol)
        if row is None:
            from pymatgen.core import Element

            el = Element(symbol)
            magpie = [float(self._magpie.get_elemental_property(el, p))
                      for p in MAGPIE_PROPERTIES]
            states = tuple(el.common_oxidation_states) or (0,)
            chi = magpie[MAGPIE_PROPERTIES.index("Electronegativity")]
            ox = [max(states), min(states), chi * max(states), chi * min(states)]
            groups = [float(symbol in members) for members in CHEMISTRY_GROUPS.values()]
            row = np.asarray(magpie + ox + groups, dtype=float)
            self._rows[symbol] = row
        return row

    def featurize_amounts(self, amounts: dict[str, float]) -> np.ndarray:
        """Features of one composition given as ``{symbol: amount}``."""
        symbols = list(amounts)
        x = np.fromiter(amounts.values(), dtype=float, count=len(symbols))
        x = x / x.sum()
        table = np.stack([self.element_row(s) for s in symbols])
        n_mag, n_ox = len(MAGPIE_PROPERTIES), len(OXIDATION_PROPERTIES)
        mag = table[:, :n_mag]
        ox = table[:, n_mag:n_mag + n_ox]
        groups = table[:, n_mag + n_ox:]

        def stats(values: np.ndarray, with_mode: bool) -> np.ndarray:
            lo, hi = values.min(axis=0), values.max(axis=0)
            mean = x @ values
            dev = x @ np.abs(values - mean)
            cols = [lo, hi, hi - lo, mean, dev]
            if with_mode:
                top = np.isclose(x, x.max())
                cols.append(values[top].min(axis=0))
            return np.stack(cols, axis=1).ravel()  # property-major, like matminer

        avg_val = x @ mag[:, [MAGPIE_PROPERTIES.index(f"N{o}Valence") for o in ORBITALS]]
        total_val = x @ mag[:, MAGPIE_PROPERTIES.index("NValence")]
        with np.errstate(divide="ignore", invalid="ignore"):
            frac_val = avg_val / total_val
        stoich = [float(len(x))] + [float(np.sum(x ** p) ** (1.0 / p)) for p in STOICHIOMETRY_P]
        return np.concatenate([
            stats(mag, True), stoich, avg_val, frac_val, stats(ox, False), x @ groups,
        ])

    def featurize(self, formula: str) -> np.ndarray:
        """Features of one formula (raises :class:`~.formula.FormulaError`)."""
        return self.featurize_amounts(parse_formula(formula))

    def featurize_many(self, formulas: Sequence[str]) -> np.ndarray:
        """``(len(formulas), n_features)`` matrix."""
        out = np.empty((len(formulas), self.n_features))
        for i, formula in enumerate(formulas):
            out[i] = self.featurize(formula)
        return out


def matminer_features(formulas: Sequence[str]) -> np.ndarray:
    """The ``magpie``, ``stoichiometry`` and ``valence`` blocks through matminer's own
    featurisers, one composition at a time (no per-element cache): the reference the
    cached :class:`CompositionFeaturizer` is checked and timed against."""
    from matminer.featurizers.composition import ElementProperty, Stoichiometry, ValenceOrbital
    from pymatgen.core import Composition

    featurizers = [ElementProperty.from_preset("magpie"), Stoichiometry(), ValenceOrbital()]
    rows = []
    for formula in formulas:
        comp = Composition(parse_formula(formula))
        rows.append(np.concatenate([np.asarray(f.featurize(comp), dtype=float)
                                    for f in featurizers]))
    return np.asarray(rows)
