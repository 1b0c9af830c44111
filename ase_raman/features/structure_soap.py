"""Structure-level lambda-SOAP: sum over atoms *before* the Clebsch-Gordan coupling.

featomic's ``EquivariantPowerSpectrum`` couples, for every atom i, the spherical-expansion
coefficients ``c_i^{l1}[m1, (a, n1)]`` and ``c_i^{l2}[m2, (b, n2)]`` (``a, b`` neighbour
species, ``n`` radial index) with real Clebsch-Gordan coefficients ``C[m1, m2, mu]``::

    x_i^{lambda}[mu, (l1, l2, a, n1, b, n2)]
        = (-1)^(l1 + l2 + lambda) sum_{m1 m2} C^{l1 l2 lambda}[m1, m2, mu]
          c_i^{l1}[m1, (a, n1)] c_i^{l2}[m2, (b, n2)]

and the polarizability model only ever uses the sum of ``x_i`` over the atoms i of one
centre species in one structure. The coupling is linear, so the sum goes first::

    G^{l1 l2}[(m1, a, n1), (m2, b, n2)] = sum_i c_i^{l1}[m1, (a, n1)] c_i^{l2}[m2, (b, n2)]

is one matrix product ``X_{l1}^T X_{l2}`` (atoms x (m, a, n)) per structure and centre
species, and the Clebsch-Gordan contraction is then applied once per structure instead
of once per atom. Only the ``(l1, l2)`` pairs featomic keeps are formed (``l1 <= l2``,
``l1 + l2 + lambda`` even, i.e. o3_sigma = +1): ``l2 = l1`` for lambda = 0 and
``l2 in (l1, l1 + 2)`` for lambda = 2. Spherical-expansion columns are stored with the
even ``l`` first, then the odd ones, so ``X_{l1}^T [X_{l1}, X_{l1 + 2}]`` is one product of
two column slices.

The output is exactly featomic's summed features (same values to rounding, same
property order; the order is read off featomic itself on a probe molecule), so models
are interchangeable between the two paths. Units: the features are sums of products of
spherical-expansion coefficients, whose units follow featomic's normalisation of the
Gaussian density (Angstrom^-3 per coefficient); only their ratios matter to the ridge.

BLAS threads: the products are small matrix multiplications, and two BLAS threads on a
loaded two-core machine made them up to 9x slower than one; by default the BLAS pool is
limited to one thread (``threadpoolctl``) while a batch is computed. Pass
``blas_threads=None`` to leave BLAS alone or an integer to choose.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from ase import Atoms

from ..errors import UsageError
from .lambda_soap import LAMBDAS, LambdaSoapFeaturizer, LambdaSoapHypers, _as_featomic_system

__all__ = ["StructureSoapFeaturizer", "cg_matrices"]


@lru_cache(maxsize=8)
def cg_matrices(max_angular: int) -> dict[tuple[int, int, int], np.ndarray]:
    """featomic's real Clebsch-Gordan coefficients with its sign, as dense arrays.

    Returns ``{(l1, l2, lambda): W}`` with ``W`` of shape ``(2 l1 + 1, 2 l2 + 1,
    2 lambda + 1)`` equal to ``(-1)^(l1 + l2 + lambda) C^{l1 l2 lambda}``, the factor
    featomic's ``cg_couple`` applies (the sign is +1 for every pair used here), for the
    pairs and lambdas that enter the o3_sigma = +1, lambda = 0 and 2 features.
    """
    from featomic.clebsch_gordan import calculate_cg_coefficients

    coefficients = calculate_cg_coefficients(
        lambda_max=max(2, max_angular), cg_backend="python-dense", arrays_backend="numpy",
        dtype=np.float64, device="cpu")
    out = {}
    for l1, l2, lam in _coupled_pairs(max_angular):
        block = coefficients.block({"l1": l1, "l2": l2, "lambda": lam})
        values = np.asarray(block.values)[0, ..., 0]
        out[(l1, l2, lam)] = np.ascontiguousarray((-1.0) ** (l1 + l2 + lam) * values)
    return out


def _coupled_pairs(max_angular: int) -> list[tuple[int, int, int]]:
    """``(l1, l2, lambda)`` with ``l1 <= l2``, even ``l1 + l2 + lambda``, lambda in 0, 2."""
    out = []
    for lam in LAMBDAS:
        for l1 in range(max_angular + 1):
            for l2 in range(l1, max_angular + 1):
                if abs(l1 - l2) <= lam <= l1 + l2 and (l1 + l2 + lam) % 2 == 0:
                    out.append((l1, l2, lam))
    return out


class StructureSoapFeaturizer(LambdaSoapFeaturizer):
    """Structure-level lambda-SOAP (lambda = 0, 2; o3_sigma = +1) without per-atom products.

    Same interface and same output as :class:`LambdaSoapFeaturizer` (``compute_arrays``,
    ``compute``, ``property_labels``, ``n_properties``), computed from featomic's
    ``SphericalExpansion`` by summing over atoms before the Clebsch-Gordan coupling (see
    the module docstring).

    Parameters
    ----------
    hypers:
        descriptor hyper-parameters (lengths in Angstrom); ``species`` must be set.
        ``drop_duplicates`` is honoured, ``featurizer`` is not read.
    batch_size:
        structures per spherical-expansion call (bounds memory; default 16).
    blas_threads:
        BLAS threads while computing (default 1: fastest on a loaded machine; ``None``
        leaves the BLAS settings alone).
    """

    def __init__(self, hypers: LambdaSoapHypers, batch_size: int = 16,
                 blas_threads: int | None = 1):
        super().__init__(hypers, batch_size=batch_size)
        if blas_threads is not None and blas_threads < 1:
            raise UsageError(f"blas_threads must be >= 1 or None, got {blas_threads}")
        self.blas_threads = blas_threads
        self._expansion = self._calculator.calculator_1
        self._n_radial = hypers.max_radial + 1
        self._width = len(self.types) * self._n_radial  # K = (a, n) columns per m
        self._cg = cg_matrices(hypers.max_angular)
        # per (l1, l2): the lambdas it feeds and their CG matrices side by side along mu
        self._pair_weights: dict[tuple[int, int], tuple[list[int], np.ndarray]] = {}
        for (l1, l2, lam), weights in self._cg.items():
            lams, stacked = self._pair_weights.get((l1, l2), ([], None))
            stacked = weights if stacked is None else np.concatenate([stacked, weights], axis=2)
            self._pair_weights[(l1, l2)] = ([*lams, lam], stacked)
        # column layout of X: even l first, then odd l; each l holds (m, a, n)
        order = ([lam for lam in range(hypers.max_angular + 1) if lam % 2 == 0]
                 + [lam for lam in range(hypers.max_angular + 1) if lam % 2 == 1])
        self._column_start: dict[int, int] = {}
        start = 0
        for ang in order:
            self._column_start[ang] = start
            start += (2 * ang + 1) * self._width
        self._n_columns = start
        self._pair_offset, self._gather = self._build_gather()

    # -- internals ----------------------------------------------------------------------
    def _build_gather(self) -> tuple[dict[int, dict[tuple[int, int], int]],
                                     dict[int, np.ndarray]]:
        """Where each of featomic's (kept) property rows lives in our natural layout.

        Natural layout for one lambda and centre species: the ``(l1, l2)`` pairs in the
        order of :func:`_coupled_pairs`, each a ``K x K`` matrix over ``(a, n1), (b, n2)``
        with ``K = n_species x (max_radial + 1)``, flattened row-major.
        """
        width = self._width
        type_index = {t: i for i, t in enumerate(self.types)}
        offsets: dict[int, dict[tuple[int, int], int]] = {lam: {} for lam in LAMBDAS}
        for l1, l2, lam in _coupled_pairs(self.hypers.max_angular):
            offsets[lam][(l1, l2)] = len(offsets[lam]) * width * width
        gather = {}
        for lam in LAMBDAS:
            props = self._block_properties[lam]
            try:
                pair = np.array([offsets[lam][(int(a), int(b))] for a, b in props[:, :2]])
                first = np.array([type_index[int(t)] for t in props[:, 2]]) * self._n_radial
                second = np.array([type_index[int(t)] for t in props[:, 4]]) * self._n_radial
            except KeyError as exc:
                raise RuntimeError(f"featomic's lambda={lam} properties hold {exc}, which "
                                   "the structure-level path does not compute") from None
            gather[lam] = pair + (first + props[:, 3]) * width + second + props[:, 5]
            n_full = len(offsets[lam]) * width * width
            if self._full_block_properties[lam].shape[0] != n_full:
                raise RuntimeError(f"featomic's lambda={lam} block has "
                                   f"{self._full_block_properties[lam].shape[0]} properties, "
                                   f"the structure-level path {n_full}")
        return offsets, gather

    def _sum_batch(self, frames: Sequence[Atoms], out0: np.ndarray, out2: np.ndarray) -> None:
        if self.blas_threads is None:
            self._structure_features(frames, out0, out2)
            return
        with _blas_limit(self.blas_threads):
            self._structure_features(frames, out0, out2)

    def _structure_features(self, frames: Sequence[Atoms], out0: np.ndarray,
                            out2: np.ndarray) -> None:
        systems = [_as_featomic_system(atoms) for atoms in frames]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*periodic boundary conditions.*")
            expansion = self._expansion.compute(systems)
        dense = self._dense_coefficients(frames, expansion)
        del expansion  # the dense copy is all that is needed from here on
        outs = {0: out0, 2: out2}
        for t_index, x in enumerate(dense):
            if x is None:
                continue  # no atom of this centre species in the batch: zeros
            natural = self._couple(x)
            for lam in LAMBDAS:
                width = self._gather[lam].shape[0]
                outs[lam][:, :, t_index * width:(t_index + 1) * width] = \
                    natural[lam][:, :, self._gather[lam]]

    def _dense_coefficients(self, frames: Sequence[Atoms], expansion) -> list[np.ndarray | None]:
        """Per centre species: X of shape (n_structures, max atoms of that species, columns).

        Rows are the atoms of one centre species in one structure, zero-padded to the
        largest count in the batch (padding adds nothing to the sums); columns follow
        ``self._column_start``.
        """
        counts = np.array([len(atoms) for atoms in frames])
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
        numbers = np.concatenate([atoms.numbers for atoms in frames])
        system_of_atom = np.repeat(np.arange(len(frames)), counts)
        dense: list[np.ndarray | None] = []
        rank = np.zeros(numbers.shape[0], dtype=np.int64)
        for t in self.types:
            mask = numbers == t
            if not mask.any():
                dense.append(None)
                continue
            seen = np.cumsum(mask) - mask  # atoms of type t before each atom, batch-wide
            per_system = np.bincount(system_of_atom[mask], minlength=len(frames))
            first_of_system = np.concatenate([[0], np.cumsum(per_system)[:-1]])
            rank[mask] = seen[mask] - first_of_system[system_of_atom[mask]]
            dense.append(np.zeros((len(frames), int(per_system.max()), self._n_columns)))
        type_index = {t: i for i, t in enumerate(self.types)}
        n_rad, n_species = self._n_radial, len(self.types)
        for key, block in expansion.items():
            x = dense[type_index[int(key["center_type"])]]
            ang = int(key["o3_lambda"])
            neighbor = type_index[int(key["neighbor_type"])]
            samples = np.asarray(block.samples.values)
            if samples.shape[0] == 0:
                continue
            system = samples[:, 0]
            flat_row = system * x.shape[1] + rank[offsets[system] + samples[:, 1]]
            start = self._column_start[ang]
            n_m = 2 * ang + 1
            view = x.reshape(-1, self._n_columns)[:, start:start + n_m * self._width].reshape(
                -1, n_m, n_species, n_rad)
            view[flat_row, :, neighbor, :] = np.asarray(block.values)
        return dense

    def _couple(self, x: np.ndarray) -> dict[int, np.ndarray]:
        """Sum over atoms, then Clebsch-Gordan: natural-layout features per lambda.

        ``x``: (n_structures, n_atoms, columns). Returns ``{lambda: (n_structures,
        2 lambda + 1, n_pairs x K x K)}``.
        """
        n_struct = x.shape[0]
        width = self._width
        max_angular = self.hypers.max_angular
        natural = {lam: np.empty((n_struct, 2 * lam + 1, len(self._pair_offset[lam]) * width**2))
                   for lam in LAMBDAS}
        for l1 in range(max_angular + 1):
            n_m1 = 2 * l1 + 1
            start = self._column_start[l1]
            left = x[:, :, start:start + n_m1 * width]
            partners = [l2 for l2 in (l1, l1 + 2) if l2 <= max_angular]
            stop = self._column_start[partners[-1]] + (2 * partners[-1] + 1) * width
            # sum over atoms: (n_struct, (m1, a, n1), (m2, b, n2)) for l2 = l1 [, l1 + 2]
            gram = np.matmul(left.transpose(0, 2, 1), x[:, :, start:stop])
            column = 0
            for l2 in partners:
                n_m2 = 2 * l2 + 1
                g = gram[:, :, column:column + n_m2 * width].reshape(
                    n_struct, n_m1, width, n_m2, width)
                column += n_m2 * width
                # all lambdas of this pair in one contraction: (n, (a n1), (b n2), sum mu)
                lams, weights = self._pair_weights[(l1, l2)]
                coupled = np.tensordot(g, weights, axes=([1, 3], [0, 1]))
                coupled = coupled.reshape(n_struct, width * width, weights.shape[2])
                mu = 0
                for lam in lams:
                    offset = self._pair_offset[lam][(l1, l2)]
                    natural[lam][:, :, offset:offset + width * width] = \
                        coupled[:, :, mu:mu + 2 * lam + 1].transpose(0, 2, 1)
                    mu += 2 * lam + 1
        return natural


_CONTROLLER = None


def _blas_limit(n_threads: int):
    """A context manager limiting BLAS to ``n_threads`` (threadpoolctl, built once)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=n_threads, user_api="blas")
