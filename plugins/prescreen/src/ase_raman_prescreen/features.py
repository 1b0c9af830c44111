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

Element data are looked up once per element and kept (:class:`CompositionFeaturizer`);
a batch of compositions is then a few masked numpy reductions over a
``(n_compositions, n_elements, n_properties)`` array. The
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

    def featurize_batch(self, compositions: Sequence[dict[str, float]]) -> np.ndarray:
        """``(n, n_features)`` features of compositions given as ``{symbol: amount}``.

        Vectorised over the batch: compositions are padded to the largest number of
        elements and the statistics are masked reductions over that axis.
        """
        n = len(compositions)
        if n == 0:
            return np.empty((0, self.n_features))
        width = max(len(c) for c in compositions)
        symbols = sorted({s for c in compositions for s in c})
        index = {s: i for i, s in enumerate(symbols)}
        table = np.stack([self.element_row(s) for s in symbols])
        idx = np.zeros((n, width), dtype=np.intp)
        x = np.zeros((n, width))
        for i, comp in enumerate(compositions):
            k = len(comp)
            idx[i, :k] = [index[s] for s in comp]
            x[i, :k] = list(comp.values())
        mask = x > 0
        x /= x.sum(axis=1, keepdims=True)
        values = table[idx]  # (n, width, n_properties)
        n_mag, n_ox = len(MAGPIE_PROPERTIES), len(OXIDATION_PROPERTIES)
        m3 = mask[:, :, None]

        def stats(v: np.ndarray, with_mode: bool) -> np.ndarray:
            lo = np.where(m3, v, np.inf).min(axis=1)
            hi = np.where(m3, v, -np.inf).max(axis=1)
            mean = np.einsum("nk,nkp->np", x, v)
            dev = np.einsum("nk,nkp->np", x, np.abs(v - mean[:, None, :]))
            cols = [lo, hi, hi - lo, mean, dev]
            if with_mode:
                top = mask & np.isclose(x, x.max(axis=1, keepdims=True))
                cols.append(np.where(top[:, :, None], v, np.inf).min(axis=1))
            return np.stack(cols, axis=2).reshape(n, -1)  # property-major, like matminer

        mag = values[:, :, :n_mag]
        ox = values[:, :, n_mag:n_mag + n_ox]
        groups = values[:, :, n_mag + n_ox:]
        val_cols = [MAGPIE_PROPERTIES.index(f"N{o}Valence") for o in ORBITALS]
        avg_val = np.einsum("nk,nkp->np", x, mag[:, :, val_cols])
        total_val = np.einsum("nk,nk->n", x, mag[:, :, MAGPIE_PROPERTIES.index("NValence")])
        with np.errstate(divide="ignore", invalid="ignore"):
            frac_val = avg_val / total_val[:, None]
        norms = [mask.sum(axis=1).astype(float)]
        norms += [np.sum(x ** p, axis=1) ** (1.0 / p) for p in STOICHIOMETRY_P]
        return np.concatenate([
            stats(mag, True), np.stack(norms, axis=1), avg_val, frac_val, stats(ox, False),
            np.einsum("nk,nkp->np", x, groups),
        ], axis=1)

    def featurize_amounts(self, amounts: dict[str, float]) -> np.ndarray:
        """Features of one composition given as ``{symbol: amount}``."""
        return self.featurize_batch([amounts])[0]

    def featurize(self, formula: str) -> np.ndarray:
        """Features of one formula (raises :class:`~.formula.FormulaError`)."""
        return self.featurize_amounts(parse_formula(formula))

    def featurize_many(self, formulas: Sequence[str]) -> np.ndarray:
        """``(len(formulas), n_features)`` matrix."""
        return self.featurize_batch([parse_formula(f) for f in formulas])


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
