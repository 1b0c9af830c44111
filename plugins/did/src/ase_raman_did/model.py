"""The ``dipole-induced-dipole`` learner: Thole-damped point-polarizable atoms.

Each atom i carries an isotropic polarizability alpha_i (Angstrom^3, per element). In a
uniform applied field E the induced dipoles obey (Applequist, Carl and Fung, JACS 94,
2952 (1972))::

    mu_i = alpha_i (E + sum_j T_ij mu_j)   ->   (A^-1 - T) mu = E

and the polarizability of the structure is ``alpha = sum_ij [(A^-1 - T)^-1]_ij`` (3x3,
Angstrom^3, symmetric). T is the Thole-damped dipole field tensor
(:mod:`ase_raman_did.thole`), Ewald-summed with tin-foil boundaries for periodic cells
(:mod:`ase_raman_did.field`), so ``alpha = V (eps_inf - 1) / (4 pi)``.

Polarization catastrophe. The linear system is solved through the symmetric scaled
matrix ``S = I - A^1/2 T A^1/2``. When two atoms come too close for their damping, an
eigenvalue of S approaches zero or turns negative and alpha diverges or changes sign. A
Cholesky factorisation of ``S - min_eigenvalue I`` succeeds exactly when the smallest
eigenvalue of S exceeds ``min_eigenvalue`` (default 0.1: no response is amplified more
than tenfold); otherwise :class:`PolarizationCatastropheError` names the frame and the
smallest eigenvalue (``on_catastrophe="nan"`` instead returns NaN for that frame and
lists it in :attr:`DipoleInducedDipole.catastrophes`). Garbage is never returned.

Default polarizabilities (:mod:`ase_raman_did.tables`): every element has one. The
alkali metals, Ag and the halides default to their usual ion, with Pauling's free-ion
values (L. Pauling, Proc. R. Soc. Lond. A 114, 181 (1927); :data:`DEFAULT_POLARIZABILITIES`,
e.g. Ag+ 1.72 and I- 7.10 Angstrom^3); every other element defaults to the neutral atom's
static polarizability of Schwerdtfeger and Nagle (Mol. Phys. 117, 1200 (2019); e.g. Cu
6.89 Angstrom^3). The ``charges`` hyper picks the ion or the neutral atom per element, and
``polarizabilities`` overrides any value. In crystals anions are less polarizable
(Tessman, Kahn and Shockley, Phys. Rev. 92, 890 (1953): I- 6.16), which is why the values
can be fitted to reference alpha.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers
from scipy.linalg import LinAlgError, cho_factor, cho_solve, eigvalsh
from scipy.optimize import least_squares
from threadpoolctl import threadpool_limits

from ase_raman.errors import AseRamanError, ModelFileError, ModelSpeciesError, UsageError
from ase_raman.models.base import reference_polarizabilities
from ase_raman.models.modelfile import learner_metadata, read_learner_file, write_model_file

from .field import ewald_field_tensor, open_field_tensor, periodic_pairs
from .tables import DEFAULT_CHARGES, IONIC_POLARIZABILITIES, default_polarizability
from .thole import THOLE_A_AMOEBA, correction_blocks, damping_range

#: Pauling (1927) free-ion polarizabilities of the elements whose default is an ion,
#: Angstrom^3, by symbol (Ag and I are Ag+ and I-).
DEFAULT_POLARIZABILITIES: dict[str, float] = {
    symbol: IONIC_POLARIZABILITIES[(symbol, charge)] for symbol, charge in DEFAULT_CHARGES.items()
}

_HYPER_KEYS = {"polarizabilities", "charges", "thole_a", "damping", "ewald_cutoff",
               "ewald_accuracy",
               "min_eigenvalue", "fit", "on_catastrophe"}
_FIT_MODES = ("polarizabilities", "polarizabilities+thole", "none")


class PolarizationCatastropheError(AseRamanError):
    """The dipole-induced-dipole system is (nearly) singular: alpha would be garbage."""


@dataclass
class _Geometry:
    """alpha-independent parts of one frame: undamped T and the short-range pairs."""

    numbers: np.ndarray
    t_undamped: np.ndarray  # (3N, 3N) Angstrom^-3
    i: np.ndarray
    j: np.ndarray
    vec: np.ndarray  # (P, 3) r_j - r_i (+ image shift), Angstrom
    radius: float  # pairs are complete up to this distance


class DipoleInducedDipole:
    """Thole-damped dipole-induced-dipole polarizability (Angstrom^3), Ewald for crystals.

    Hypers: ``polarizabilities`` ({symbol: Angstrom^3}, over the defaults of
    :mod:`ase_raman_did.tables`), ``charges`` ({symbol: oxidation state}: which default
    to use; 0 is the neutral atom; default: the alkali metals and Ag +1, halides -1, all
    other elements 0),
    ``thole_a`` (default 0.39, exp(-a u^3) form), ``damping`` ("thole" or "none" =
    undamped Applequist), ``ewald_cutoff`` (real-space cutoff, Angstrom, default 10),
    ``ewald_accuracy`` (default 1e-6), ``min_eigenvalue`` (catastrophe threshold,
    default 0.1), ``fit`` ("polarizabilities" (default), "polarizabilities+thole" or
    "none"), ``on_catastrophe`` ("raise" (default) or "nan").

    ``threads`` caps BLAS threads during predict/fit (default 1: on a loaded machine one
    thread per process was fastest; None leaves BLAS alone). It is not stored in files.
    """

    name: ClassVar[str] = "dipole-induced-dipole"
    distribution: ClassVar[str] = "ase-raman-did"
    learner_version: ClassVar[str] = "1"

    def __init__(self, hypers: dict[str, Any] | None = None, quiet: bool = True,
                 threads: int | None = 1):
        hypers = dict(hypers or {})
        self.threads = threads
        unknown = set(hypers) - _HYPER_KEYS
        if unknown:
            raise UsageError(f"dipole-induced-dipole: unknown hypers {sorted(unknown)}; "
                             f"known: {sorted(_HYPER_KEYS)}")
        try:
            self.charges = {str(k): int(v) for k, v in dict(hypers.get("charges", {})).items()}
        except (TypeError, ValueError):
            raise UsageError("charges must map chemical symbols to integer oxidation states, "
                             f"got {hypers.get('charges')!r}") from None
        bad = sorted(set(self.charges) - set(atomic_numbers))
        if bad:
            raise UsageError(f"charges: {bad} are not chemical symbols")
        self.polarizabilities = {
            **{symbol: value for symbol, value in DEFAULT_POLARIZABILITIES.items()
               if self.charges.get(symbol, DEFAULT_CHARGES[symbol]) == DEFAULT_CHARGES[symbol]},
            **{str(k): float(v) for k, v in dict(hypers.get("polarizabilities", {})).items()}}
        self.thole_a = float(hypers.get("thole_a", THOLE_A_AMOEBA))
        self.damping = str(hypers.get("damping", "thole"))
        self.ewald_cutoff = float(hypers.get("ewald_cutoff", 10.0))
        self.ewald_accuracy = float(hypers.get("ewald_accuracy", 1e-6))
        self.min_eigenvalue = float(hypers.get("min_eigenvalue", 0.1))
        self.fit_mode = str(hypers.get("fit", "polarizabilities"))
        self.on_catastrophe = str(hypers.get("on_catastrophe", "raise"))
        if self.damping not in ("thole", "none"):
            raise UsageError(f"damping must be 'thole' or 'none', got {self.damping!r}")
        if self.fit_mode not in _FIT_MODES:
            raise UsageError(f"fit must be one of {_FIT_MODES}, got {self.fit_mode!r}")
        if self.on_catastrophe not in ("raise", "nan"):
            raise UsageError(f"on_catastrophe must be 'raise' or 'nan', got "
                             f"{self.on_catastrophe!r}")
        for symbol, value in self.polarizabilities.items():
            if symbol not in atomic_numbers or not value > 0:
                raise UsageError(f"polarizability of {symbol!r} must be a positive number "
                                 f"of Angstrom^3 for a chemical element, got {value}")
        if not (self.thole_a > 0 and self.ewald_cutoff > 0 and 0 < self.ewald_accuracy < 1
                and 0 <= self.min_eigenvalue < 1):
            raise UsageError("need thole_a > 0, ewald_cutoff > 0, 0 < ewald_accuracy < 1 "
                             "and 0 <= min_eigenvalue < 1")
        self.quiet = quiet
        self.training: dict[str, Any] = {}
        self.catastrophes: list[int] = []

    # -- physics ----------------------------------------------------------------------
    def _alphas(self, numbers: np.ndarray, where: str = "") -> np.ndarray:
        from ase.data import chemical_symbols

        symbols = [chemical_symbols[z] for z in np.unique(numbers)]
        table = np.zeros(max(numbers.max(initial=0) + 1, 1))
        for symbol in symbols:
            table[atomic_numbers[symbol]] = self.atomic_polarizability(symbol, where)
        return table[numbers]

    def atomic_polarizability(self, symbol: str, where: str = "") -> float:
        """The polarizability (Angstrom^3) the model uses for element ``symbol``.

        The ``polarizabilities`` value when given (or fitted), else the default of
        :func:`ase_raman_did.tables.default_polarizability` for the element's charge.
        """
        if symbol in self.polarizabilities:
            return self.polarizabilities[symbol]
        value = default_polarizability(symbol, self.charges.get(symbol))
        if value is None:
            raise ModelSpeciesError(
                f"{where}no tabulated polarizability for {symbol} with charge "
                f"{self.charges[symbol]:+d}; give it with "
                "hypers={'polarizabilities': {...}} (Angstrom^3) or use charge 0")
        return value

    def _pair_radius(self, alpha_max: float) -> float:
        if self.damping == "none":
            return 0.0
        return damping_range(alpha_max, self.thole_a)

    def _geometry(self, atoms: Atoms, radius: float) -> _Geometry:
        numbers = atoms.numbers.copy()
        if atoms.pbc.all():
            search = max(radius, self.ewald_cutoff)
            i, j, vec = periodic_pairs(atoms, search)
            t = ewald_field_tensor(atoms, self.ewald_cutoff, self.ewald_accuracy,
                                   pairs=(i, j, vec))
        elif not atoms.pbc.any():
            t = open_field_tensor(atoms.positions)
            n = len(atoms)
            i, j = (idx.reshape(-1) for idx in np.meshgrid(np.arange(n), np.arange(n),
                                                           indexing="ij"))
            off = i != j
            i, j = i[off], j[off]
            vec = atoms.positions[j] - atoms.positions[i]
            radius = np.inf
        else:
            raise UsageError("dipole-induced-dipole needs pbc all True (Ewald) or all False "
                             f"(direct sum), got pbc={atoms.pbc.tolist()}")
        short = np.einsum("pa,pa->p", vec, vec) < radius**2
        return _Geometry(numbers, t, i[short], j[short], vec[short], radius)

    def _interaction(self, geom: _Geometry, alphas: np.ndarray) -> np.ndarray:
        """Damped (3N, 3N) field tensor for atomic polarizabilities ``alphas``."""
        if self.damping == "none" or len(geom.i) == 0:
            return geom.t_undamped
        from .field import _scatter_blocks

        blocks = correction_blocks(geom.vec, alphas[geom.i], alphas[geom.j], self.thole_a)
        return geom.t_undamped + _scatter_blocks(len(alphas), geom.i, geom.j, blocks)

    def _solve(self, geom: _Geometry, alphas: np.ndarray, where: str) -> np.ndarray:
        """alpha (3, 3) of one frame; raises on a (near) polarization catastrophe."""
        n = len(alphas)
        t = self._interaction(geom, alphas)
        d = np.repeat(np.sqrt(alphas), 3)
        s = np.eye(3 * n) - d[:, None] * t * d[None, :]
        try:
            cho_factor(s - self.min_eigenvalue * np.eye(3 * n), lower=True,
                       overwrite_a=True, check_finite=False)
        except LinAlgError:
            smallest = float(eigvalsh(s, subset_by_index=[0, 0])[0])
            raise PolarizationCatastropheError(
                f"{where}polarization catastrophe: smallest eigenvalue of the scaled "
                f"dipole interaction matrix is {smallest:.3g} (threshold "
                f"{self.min_eigenvalue:g}); atoms are too close for their polarizabilities "
                f"and damping (thole_a={self.thole_a:g} in the exp(-a u^3) form, "
                f"damping={self.damping!r})") from None
        rhs = np.zeros((3 * n, 3))
        for a in range(3):
            rhs[a::3, a] = 1.0
        drhs = d[:, None] * rhs
        x = cho_solve(cho_factor(s, lower=True, check_finite=False), drhs, check_finite=False)
        alpha = drhs.T @ x
        return 0.5 * (alpha + alpha.T)

    def smallest_eigenvalues(self, frames: Sequence[Atoms]) -> np.ndarray:
        """Smallest eigenvalue of ``I - A^1/2 T A^1/2`` per frame (diagnostic, no raise)."""
        out = np.empty(len(frames))
        for k, atoms in enumerate(frames):
            alphas = self._alphas(atoms.numbers, f"frame {k}: ")
            geom = self._geometry(atoms, self._pair_radius(alphas.max()))
            d = np.repeat(np.sqrt(alphas), 3)
            s = np.eye(3 * len(atoms)) - d[:, None] * self._interaction(geom, alphas) * d
            out[k] = eigvalsh(s, subset_by_index=[0, 0])[0]
        return out

    # -- TensorModel protocol ---------------------------------------------------------
    def predict(self, frames: Sequence[Atoms]) -> np.ndarray:
        """Polarizabilities (n, 3, 3) in Angstrom^3 (NaN rows only with on_catastrophe='nan')."""
        with threadpool_limits(limits=self.threads):
            return self._predict(list(frames))

    def _predict(self, frames: list[Atoms]) -> np.ndarray:
        self.catastrophes = []
        out = np.empty((len(frames), 3, 3))
        for k, atoms in enumerate(frames):
            alphas = self._alphas(atoms.numbers, f"frame {k}: ")
            geom = self._geometry(atoms, self._pair_radius(alphas.max()))
            try:
                out[k] = self._solve(geom, alphas, f"frame {k}: ")
            except PolarizationCatastropheError:
                if self.on_catastrophe == "raise":
                    raise
                out[k] = np.nan
                self.catastrophes.append(k)
        return out

    def fit(self, frames: Sequence[Atoms]) -> DipoleInducedDipole:
        """Least-squares fit of the atomic polarizabilities (and optionally thole_a).

        Minimises the Frobenius error against ``info["polarizability"]`` (Angstrom^3)
        over log-parameters (so they stay positive), starting from the current values.
        With ``fit="none"`` nothing is fitted (ready label generator).
        """
        frames = list(frames)
        if not frames:
            raise UsageError("dipole-induced-dipole: no training frames")
        reference = reference_polarizabilities(frames)
        for k, atoms in enumerate(frames):
            self._alphas(atoms.numbers, f"training frame {k}: ")
        self.training = {"n_train": len(frames), "fit": self.fit_mode}
        from ase.data import chemical_symbols

        species = [chemical_symbols[z] for z in
                   sorted({int(z) for atoms in frames for z in atoms.numbers})]
        for symbol in species:  # the model file records every value it was used with
            self.polarizabilities[symbol] = self.atomic_polarizability(symbol)
        if self.fit_mode == "none":
            return self
        with_thole = self.fit_mode == "polarizabilities+thole" and self.damping == "thole"
        start = np.log([self.polarizabilities[s] for s in species]
                       + ([self.thole_a] if with_thole else []))
        # geometry with room for parameters growing 4x (rebuilt if they grow more)
        radius = self._pair_radius(4.0 * max(self.polarizabilities[s] for s in species))
        if with_thole:
            radius = damping_range(4.0 * max(self.polarizabilities[s] for s in species),
                                   self.thole_a / 4.0)
        geoms = [self._geometry(atoms, radius) for atoms in frames]
        scale = float(np.linalg.norm(reference)) / np.sqrt(reference.size)

        def apply(theta: np.ndarray) -> None:
            values = np.exp(theta)
            for s, v in zip(species, values, strict=False):
                self.polarizabilities[s] = float(v)
            if with_thole:
                self.thole_a = float(values[-1])

        def residuals(theta: np.ndarray) -> np.ndarray:
            apply(theta)
            out = np.empty_like(reference)
            for k, (geom, atoms) in enumerate(zip(geoms, frames, strict=True)):
                alphas = self._alphas(atoms.numbers)
                if self._pair_radius(alphas.max()) > geom.radius:
                    geoms[k] = geom = self._geometry(atoms, 2 * self._pair_radius(alphas.max()))
                try:
                    out[k] = self._solve(geom, alphas, "")
                except PolarizationCatastropheError:
                    return np.full(reference.size, 1e3)
            return ((out - reference) / scale).reshape(-1)

        bounds = (np.full(len(start), np.log(1e-3)), np.full(len(start), np.log(1e3)))
        with threadpool_limits(limits=self.threads):
            result = least_squares(residuals, start, bounds=bounds, x_scale=1.0,
                                   diff_step=1e-6, xtol=1e-10, ftol=1e-12, gtol=1e-12)
        apply(result.x)
        self.training.update({
            "fitted": species + (["thole_a"] if with_thole else []),
            "rmse_A3": float(np.sqrt(np.mean(result.fun**2)) * scale),
            "optimizer_status": int(result.status),
        })
        return self

    def save(self, path: str | Path) -> None:
        write_model_file(path, {}, self.metadata)

    @classmethod
    def load(cls, path: str | Path) -> DipoleInducedDipole:
        _, meta = read_learner_file(path, cls.name)
        try:
            model = cls(hypers=meta["hypers"])
        except (KeyError, UsageError) as exc:
            raise ModelFileError(f"{path}: invalid dipole-induced-dipole model ({exc})") from None
        model.training = dict(meta.get("training", {}))
        return model

    @property
    def hypers(self) -> dict[str, Any]:
        """All parameters as a JSON-ready dict (what the model file stores)."""
        return {"polarizabilities": dict(sorted(self.polarizabilities.items())),
                "charges": dict(sorted(self.charges.items())),
                "thole_a": self.thole_a, "damping": self.damping,
                "ewald_cutoff": self.ewald_cutoff, "ewald_accuracy": self.ewald_accuracy,
                "min_eigenvalue": self.min_eigenvalue, "fit": self.fit_mode,
                "on_catastrophe": self.on_catastrophe}

    @property
    def metadata(self) -> dict[str, Any]:
        from . import __version__

        return {
            **learner_metadata(self, distribution_version=__version__),
            "hypers": self.hypers,
            "species": sorted(self.polarizabilities),
            "units": {"polarizability": "Angstrom^3", "length": "Angstrom",
                      "atomic_polarizabilities": "Angstrom^3"},
            "conventions": {"thole": "lambda3 = 1 - exp(-a u^3), u = r/(a_i a_j)^(1/6)",
                            "periodic": "Ewald, tin-foil boundary (alpha = V(eps-1)/4pi)"},
            "training": self.training,
        }
