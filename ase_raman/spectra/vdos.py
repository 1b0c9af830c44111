"""Vibrational density of states from velocities (or positions) along molecular dynamics.

``g(nu) = N_norm * sum_i w_i Int <v_i(tau) . v_i(tau + t)> e^{-i omega t} dt``, omega = 2 pi c
nu, with weights w_i = m_i (mass-weighted, the default when masses are given: the
kinetic-energy-weighted DOS whose species parts integrate to about 3 N_s at
equipartition) or 1. The correlations go through
:func:`ase_raman.spectra.signal.lag_sums` (FFT, zero padding, averaged over all time
origins, atoms processed in blocks to bound memory), smoothing is the same Gaussian
time-window as for Raman (``sigma_cm``, default 4 cm^-1), and the spectrum is sampled
from 0 to Nyquist.

Normalisation (the sum rule): the total integrates to 3 N (N atoms) over 0 .. Nyquist in
cm^-1, exactly (trapezoid rule): ``g = S * 3 N / (C(0) / (2 c))`` where C(0) is the
weighted sum of <v_i^2>; the per-species and per-atom parts use the same factor, so they
add up to the total. Cropping with ``max_freq_cm`` removes the weight above it.

The velocity mean is *not* removed: before normalisation an atom's spectrum at nu = 0 is
``Int <v(0) . v(t)> dt = 6 D`` (Green-Kubo), so the zero-frequency VDOS measures
self-diffusion, a signature of ion conduction.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import __version__
from ..errors import UsageError
from ..units import SPEED_OF_LIGHT_CM_PER_FS
from . import signal

__all__ = ["VDOS", "vdos", "vdos_from_positions", "velocities_from_positions"]

#: how velocities from positions are made (recorded in the metadata).
FINITE_DIFFERENCE_NOTE = (
    "velocities from positions by forward finite difference (r[k+1] - r[k]) / dt at "
    "mid-points, minimum-image unwrapped; the spectrum is attenuated by "
    "sinc^2(pi c nu dt) relative to true velocities"
)


@dataclass
class VDOS:
    """A vibrational density of states on a uniform grid.

    ``frequencies`` (cm^-1, from 0), ``total`` (states per cm^-1; integrates to 3 N over
    0..Nyquist), ``partial`` (species -> array, adding up to ``total``), ``atomic``
    ((n_atoms, n_freq) or None), ``metadata``.
    """

    frequencies: np.ndarray
    total: np.ndarray
    partial: dict[str, np.ndarray] = field(default_factory=dict)
    atomic: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def integral(self, part: str | None = None) -> float:
        """Trapezoid integral (states) of the total or of one species' part."""
        y = self.total if part is None else self.partial[part]
        return float(np.trapezoid(y, self.frequencies))

    def columns(self) -> dict[str, np.ndarray]:
        """CSV columns after ``frequency_cm-1``: ``total`` then one per species."""
        return {"total": self.total, **self.partial}

    def header_lines(self) -> list[str]:
        m = self.metadata
        return [
            "units: frequency_cm-1 in cm^-1; total and per-species columns in states per "
            f"cm^-1 ({'mass-weighted' if m.get('mass_weighted') else 'unweighted'}); the "
            f"total integrates to 3N = {m.get('degrees_of_freedom')} over 0..Nyquist",
            f"sampling: dt = {m.get('dt_fs')} fs, {m.get('n_frames')} frames, "
            f"{m.get('n_atoms')} atoms, Nyquist {m.get('nyquist_cm', float('nan')):.6g} cm^-1",
            f"velocities: {m.get('velocity_source')}",
            f"smoothing: Gaussian sigma = {m.get('sigma_cm')} cm^-1; window = "
            f"{m.get('window')}; correlation length {m.get('max_lag_fs', float('nan')):.6g} fs;"
            f" grid spacing {m.get('resolution_cm', float('nan')):.6g} cm^-1",
            f"provenance: {m.get('provenance', {})}",
        ]

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write ``frequency_cm-1,total,<species>...`` with a commented header, atomically."""
        from .plotting import write_spectrum_csv

        write_spectrum_csv(path, "vdos", self.frequencies, self.columns(),
                           self.header_lines(), self.metadata)

    def plot(self, ax: Any = None, partial: bool = True, **kwargs: Any) -> Any:
        """Plot the total (and species parts) on ``ax`` (a new Figure if None); returns ax."""
        from .plotting import finish_spectrum_axes, new_axes

        if ax is None:
            ax = new_axes()
        ax.plot(self.frequencies, self.total, label="total", color="k", **kwargs)
        if partial:
            for name, y in self.partial.items():
                ax.plot(self.frequencies, y, label=name, lw=1.0)
        return finish_spectrum_axes(ax, "vdos", self.frequencies)


def velocities_from_positions(
    positions: np.ndarray, dt_fs: float, cell: np.ndarray | None = None
) -> np.ndarray:
    """Velocities (n - 1, N, 3) in Angstrom/fs from positions (n, N, 3) in Angstrom.

    Forward differences ``(r[k+1] - r[k]) / dt`` (the velocity at the mid-points); with a
    ``cell`` ((3, 3) or per frame (n, 3, 3), rows = cell vectors) each displacement is
    taken by the minimum-image convention, so wrapped coordinates are fine as long as no
    atom moves more than half a cell between samples.
    """
    r = np.asarray(positions, dtype=float)
    if r.ndim != 3 or r.shape[2] != 3:
        raise UsageError(f"positions: expected shape (n_frames, n_atoms, 3), got {r.shape}")
    if r.shape[0] < 2:
        raise UsageError("positions: need at least two frames for a finite difference")
    d = np.diff(r, axis=0)
    if cell is not None:
        c = np.asarray(cell, dtype=float)
        if c.shape == (3, 3):
            c = np.broadcast_to(c, (r.shape[0], 3, 3))
        c = c[:-1]
        if np.all(np.abs(np.linalg.det(c)) > 1e-12):
            frac = np.einsum("fai,fij->faj", d, np.linalg.inv(c))
            frac -= np.round(frac)
            d = np.einsum("faj,fjk->fak", frac, c)
    return d / float(dt_fs)


def vdos(
    velocities: Any,
    dt_fs: float,
    masses: Sequence[float] | np.ndarray | None = None,
    species: Sequence[str] | None = None,
    *,
    mass_weighted: bool | None = None,
    sigma_cm: float = 4.0,
    window: str = "none",
    max_freq_cm: float | None = None,
    resolution_cm: float | None = None,
    max_lag_fs: float | None = None,
    per_atom: bool = False,
    block_atoms: int = 32,
    velocity_source: str = "velocities",
    provenance: dict[str, Any] | None = None,
) -> VDOS:
    """Vibrational density of states, total and per species, from velocities.

    Parameters
    ----------
    velocities : (n_frames, n_atoms, 3) in Angstrom/fs, sampled every ``dt_fs`` fs. Any
        array-like that can be sliced ``v[:, i:j]`` works (e.g. the lazy velocities of an
        H5MD store: atoms are read block by block).
    masses : (n_atoms,) in amu; when given the DOS is mass-weighted unless
        ``mass_weighted=False``.
    species : (n_atoms,) labels (e.g. chemical symbols): one partial DOS per distinct
        label, in order of first appearance, adding up to the total.
    sigma_cm, window, max_freq_cm, resolution_cm, max_lag_fs : as for
        :func:`ase_raman.spectra.raman.raman_spectrum`.
    per_atom : also keep the (n_atoms, n_freq) atom-resolved spectra.
    velocity_source : recorded in the metadata (how the velocities were obtained).
    """
    shape = tuple(getattr(velocities, "shape", np.shape(velocities)))
    if len(shape) != 3 or shape[2] != 3:
        raise UsageError(f"velocities: expected shape (n_frames, n_atoms, 3), got {shape}")
    n_frames, n_atoms, _ = shape
    grid = signal.SpectrumGrid.validated(dt_fs, sigma_cm, window, max_freq_cm, resolution_cm,
                                         max_lag_fs)
    if n_frames < 4:
        raise UsageError(f"too few frames ({n_frames}) for a spectrum: need >= 4")
    weights, weighted = _atom_weights(masses, mass_weighted, n_atoms)
    labels = _species_labels(species, n_atoms)
    max_lag = grid.max_lag(
        n_frames, "at least {need:.0f} fs ({samples} frames at dt = {dt:g} fs), "
        "got {have} ({duration:g} fs)")
    corr = _atom_correlations(velocities, n_frames, n_atoms, max_lag, block_atoms)
    corr *= weights[None, :]
    c0 = float(corr[0].sum())
    if not c0 > 0:
        raise UsageError("velocities are all zero: no VDOS")
    norm = 3.0 * n_atoms * 2.0 * SPEED_OF_LIGHT_CM_PER_FS / c0  # integral -> 3 N
    order, by_species = _sum_by_species(corr, labels)
    stacked = np.column_stack([corr.sum(axis=1), by_species])
    freqs, spectra = grid.spectra([stacked, corr] if per_atom else [stacked], max_lag)
    spec = spectra[0] * norm
    total = spec[:, 0]
    partial = {name: spec[:, 1 + j] for j, name in enumerate(order)}
    atomic = (spectra[1] * norm).T if per_atom else None
    meta: dict[str, Any] = {
        "kind": "vdos",
        "dt_fs": grid.dt_fs,
        "n_frames": int(n_frames),
        "n_atoms": int(n_atoms),
        "duration_fs": float((n_frames - 1) * grid.dt_fs),
        "nyquist_cm": grid.nyquist_cm,
        "degrees_of_freedom": 3 * int(n_atoms),
        "mass_weighted": weighted,
        "normalisation": "integral of total over 0..Nyquist (cm^-1) = 3 N; species parts "
                         "add up to the total",
        "species": order,
        "species_counts": {s: int(labels.count(s)) for s in order} if labels else {},
        "velocity_source": velocity_source,
        **{k: v for k, v in grid.metadata(max_lag, freqs).items()
           if k not in ("dt_fs", "nyquist_cm")},
        "integral_returned_range": float(np.trapezoid(total, freqs)),
        "provenance": {"ase_raman_version": __version__, **(provenance or {})},
    }
    return VDOS(freqs, total, partial, atomic, meta)


def _atom_weights(masses: Sequence[float] | np.ndarray | None, mass_weighted: bool | None,
                  n_atoms: int) -> tuple[np.ndarray, bool]:
    """Per-atom weights (masses in amu, or ones) and whether they are the masses."""
    m = None
    if masses is not None:
        m = np.asarray(masses, dtype=float).reshape(-1)
        if m.shape != (n_atoms,) or np.any(m <= 0):
            raise UsageError(f"masses: expected {n_atoms} positive values, got shape {m.shape}")
    weighted = (m is not None) if mass_weighted is None else bool(mass_weighted)
    if weighted and m is None:
        raise UsageError("mass weighting needs the masses")
    return (m if weighted else np.ones(n_atoms)), weighted


def _species_labels(species: Sequence[str] | None, n_atoms: int) -> list[str] | None:
    """The species labels as strings, one per atom (None when not given)."""
    if species is None:
        return None
    labels = [str(s) for s in species]
    if len(labels) != n_atoms:
        raise UsageError(f"species: expected {n_atoms} labels, got {len(labels)}")
    return labels


def _atom_correlations(velocities: Any, n_frames: int, n_atoms: int, max_lag: int,
                       block_atoms: int) -> np.ndarray:
    """Origin-averaged <v_i(tau) . v_i(tau + k)> per atom (lags 0 .. max_lag, n_atoms).

    Atoms are read ``block_atoms`` at a time (bounded memory, lazy arrays welcome).
    """
    corr = np.empty((max_lag + 1, n_atoms))
    block = max(1, int(block_atoms))
    for start in range(0, n_atoms, block):
        stop = min(start + block, n_atoms)
        v = np.asarray(velocities[:, start:stop], dtype=float)
        if not np.all(np.isfinite(v)):
            raise UsageError(f"velocities: non-finite values for atoms {start}..{stop - 1}")
        corr[:, start:stop] = signal.lag_sums(v.reshape(n_frames, -1), max_lag,
                                              groups=[3] * (stop - start))
    corr /= signal.origin_counts(n_frames, max_lag)[:, None]
    return corr


def _sum_by_species(corr: np.ndarray, labels: list[str] | None
                    ) -> tuple[list[str], np.ndarray]:
    """Species in order of first appearance and the correlations summed per species."""
    if labels is None:
        return [], np.zeros((corr.shape[0], 0))
    order = list(dict.fromkeys(labels))
    groups = np.array([order.index(s) for s in labels])
    by_species = np.zeros((corr.shape[0], len(order)))
    np.add.at(by_species.T, groups, corr.T)
    return order, by_species


def vdos_from_positions(
    positions: np.ndarray,
    dt_fs: float,
    masses: Sequence[float] | np.ndarray | None = None,
    species: Sequence[str] | None = None,
    cell: np.ndarray | None = None,
    **kwargs: Any,
) -> VDOS:
    """VDOS when no velocities were stored: :func:`velocities_from_positions` then
    :func:`vdos` (the metadata's ``velocity_source`` says so)."""
    v = velocities_from_positions(positions, dt_fs, cell)
    kwargs.setdefault("velocity_source", FINITE_DIFFERENCE_NOTE)
    return vdos(v, dt_fs, masses, species, **kwargs)
