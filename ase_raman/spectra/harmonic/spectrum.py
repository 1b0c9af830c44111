"""The harmonic Raman spectrum on the MD spectrum's grid, with the MD spectrum's options.

What is computed: the spectrum :func:`ase_raman.spectra.raman.raman_spectrum` would give
for a *classical harmonic* crystal at temperature T, analytically. Each Raman-active mode
k is an oscillator ``alpha(t) = alpha_0 + R_k Q_k(t)`` with ``<Q_k^2> = k_B T / omega_k^2``
(equipartition), whose alpha spectrum (eqs. S2-S3 before the time derivative) is a pair
of delta lines at +-nu_k:

    S_alpha,iso(nu)   = sum_k a_k'^2     <Q_k^2> / (2 c) [G(nu - nu_k) + G(nu + nu_k)]
    S_alpha,aniso(nu) = sum_k gamma_k'^2 <Q_k^2> / (2 c) [G(nu - nu_k) + G(nu + nu_k)]

(G the normalised Gaussian of standard deviation sigma in cm^-1, c in cm/fs: the MD
smoothing acts on S_alpha the same way). Then, exactly as for MD, ``isotropic`` and
``anisotropic`` = omega^2 S_alpha (Angstrom^6 fs^-1) and the intensities carry
:func:`ase_raman.spectra.raman.raman_weight` (the (1 - nu/nu_in)^4 / nu prefactor and the
optional Bose / harmonic quantum factor, with its nu = 0 limit). The two spectra therefore
share grid, units and options, and for a harmonic system the MD curve converges to this
one (a test checks that with MD at 20 K). ``cells`` scales the result to an MD cell
holding that many copies of the modes' cell (Gamma-mode activities are extensive).

``temperature`` (K, default 300) sets the classical amplitude k_B T and the quantum
factor's temperature; without a quantum factor it only scales the spectrum.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from ase import units

from ... import __version__
from ...errors import UsageError
from ...units import SECOND_RADIATION_CONSTANT_CM_K, SPEED_OF_LIGHT_CM_PER_FS
from ..raman import RamanSpectrum, _laser_cm, _raman_columns

if TYPE_CHECKING:  # the result type only: core.py calls this module
    from .core import HarmonicRaman

#: temperature (K) of the classical amplitude when none is given.
DEFAULT_TEMPERATURE: float = 300.0
#: modes below this frequency (cm^-1; also imaginary ones) are left out of the spectrum.
MIN_FREQUENCY_CM: float = 5.0


class HarmonicRamanSpectrum(RamanSpectrum):
    """A :class:`~ase_raman.spectra.raman.RamanSpectrum` built from harmonic modes.

    Same columns, CSV layout (kind ``raman``: overlays with MD spectra) and plotting; the
    header states the harmonic construction, and ``metadata["modes"]`` lists the lines
    (frequency cm^-1, irrep, activity Angstrom^4/amu, bands).
    """

    def header_lines(self) -> list[str]:
        m = self.metadata
        return [
            "harmonic Raman spectrum: classical harmonic modes at temperature T "
            "(<Q^2> = k_B T / omega^2), the MD formula (eqs. S1-S3) evaluated analytically",
            "units: frequency_cm-1 in cm^-1; isotropic = a^2 and anisotropic = gamma^2 of "
            "d(alpha)/dt in Angstrom^6 fs^-1; intensity = K (45 a^2 + 7 gamma^2)/45, "
            "parallel = K (45 a^2 + 4 gamma^2)/45, perpendicular = K 3 gamma^2/45",
            f"K: {m.get('prefactor_formula')}; quantum correction: "
            f"{m.get('quantum_correction') or 'none'}; T = {m.get('temperature_K')} K; "
            f"cells = {m.get('cells')}",
            f"smoothing: Gaussian sigma = {m.get('sigma_cm')} cm^-1 on S_alpha; grid spacing "
            f"{m.get('resolution_cm', float('nan')):.6g} cm^-1",
            f"nu = 0 bin: {m.get('zero_frequency')}",
            f"modes: {m.get('modes_source')}; method: {m.get('method')}",
        ]


def _grid_from(like: Any) -> tuple[np.ndarray, dict[str, Any]]:
    if isinstance(like, RamanSpectrum):
        return np.asarray(like.frequencies, float), dict(like.metadata)
    if isinstance(like, (str, os.PathLike)):
        from ..plotting import read_spectrum_csv

        cols, meta = read_spectrum_csv(Path(like))
        return np.asarray(cols["frequency_cm-1"], float), meta
    raise UsageError(f"like= must be a RamanSpectrum or a spectrum CSV, not {type(like).__name__}")


def harmonic_spectrum(
    result: HarmonicRaman,
    *,
    like: Any = None,
    frequencies: np.ndarray | None = None,
    sigma_cm: float | None = None,
    laser_nm: float | None = None,
    laser_cm: float | None = None,
    prefactor: bool | None = None,
    temperature: float | None = None,
    quantum_correction: str | None = None,
    max_freq_cm: float | None = None,
    resolution_cm: float | None = None,
    cells: float = 1.0,
    min_frequency_cm: float = MIN_FREQUENCY_CM,
) -> HarmonicRamanSpectrum:
    """Broadened harmonic Raman spectrum (see the module doc).

    Parameters
    ----------
    result : Raman tensors of the modes (:func:`raman_from_model`,
        :func:`raman_from_dielectric`).
    like : an MD :class:`RamanSpectrum` or its CSV: take its frequency grid and, unless
        given here, its sigma, laser / prefactor, quantum correction and temperature.
    frequencies : an explicit grid (cm^-1); else 0 .. ``max_freq_cm`` (default the highest
        mode + 10 sigma) in steps of ``resolution_cm`` (default sigma / 8, as for MD).
    sigma_cm : Gaussian standard deviation in cm^-1 (default 4, must be > 0).
    laser_nm, laser_cm, prefactor : the (1 - nu/nu_in)^4 / nu prefactor (default on,
        532 nm), as for MD.
    temperature, quantum_correction : K and None / ``"bose"`` / ``"harmonic"``.
    cells : copies of the modes' cell in the MD cell (scales intensities).
    min_frequency_cm : modes below this (and imaginary ones) are left out.
    """
    frequencies, meta_like, options = _settings_like(
        like, frequencies, sigma_cm=sigma_cm, prefactor=prefactor, laser_nm=laser_nm,
        laser_cm=laser_cm, quantum_correction=quantum_correction, temperature=temperature)
    sigma_cm, prefactor, laser_nm, laser_cm, quantum_correction, temperature = options
    sigma = 4.0 if sigma_cm is None else float(sigma_cm)
    if not np.isfinite(sigma) or sigma <= 0:
        raise UsageError(f"the harmonic spectrum needs a Gaussian sigma > 0 cm^-1, got {sigma}")
    prefactor = True if prefactor is None else prefactor
    nu_in = _laser_cm(prefactor, laser_nm, laser_cm)
    temp = DEFAULT_TEMPERATURE if temperature is None else float(temperature)
    if not np.isfinite(temp) or temp <= 0:
        raise UsageError(f"the temperature must be > 0 K, got {temperature}")
    if quantum_correction not in (None, "bose", "harmonic"):
        raise UsageError("quantum_correction must be None, 'bose' or 'harmonic', not "
                         f"{quantum_correction!r}")
    peaks = [p for p in result.peaks() if p.raman_active and p.determined
             and np.isfinite(p.activity) and p.frequency_cm >= min_frequency_cm]
    top = max((p.frequency_cm for p in peaks), default=100.0)
    freqs = _frequency_grid(frequencies, sigma, resolution_cm, max_freq_cm, top)
    if nu_in is not None and freqs[-1] >= nu_in:
        raise UsageError(f"frequencies up to {freqs[-1]:.6g} cm^-1 reach the laser "
                         f"({nu_in:.6g} cm^-1)")
    spec = _broadened_invariants(peaks, freqs, sigma, temp, cells)
    intensity, iso, aniso, parallel, perpendicular = _raman_columns(
        freqs, spec, nu_in, quantum_correction, temp if quantum_correction else None,
        on_alpha=True)
    meta = _harmonic_metadata(result, peaks, freqs, sigma, nu_in, quantum_correction, temp,
                              cells, min_frequency_cm, meta_like)
    return HarmonicRamanSpectrum(freqs, intensity, iso, aniso, parallel, perpendicular, meta)


def _harmonic_metadata(result: Any, peaks: list, freqs: np.ndarray, sigma: float,
                       nu_in: float | None, quantum_correction: str | None, temp: float,
                       cells: float, min_frequency_cm: float, meta_like: dict | None
                       ) -> dict[str, Any]:
    """The metadata of a harmonic spectrum (the keys of an MD spectrum's, plus the modes)."""
    formula = ("K = 1 (prefactor off)" if nu_in is None else
               f"K = (1 - nu/nu_in)^4 / nu, nu in cm^-1, nu_in = {nu_in:.6g} cm^-1")
    zero = ("limit (2 pi c)^2 (T/C2) S_alpha(0) (Bose)" if quantum_correction == "bose"
            else "limit 0")
    return {
        "kind": "raman",
        "source": "harmonic",
        "method": result.method,
        "modes_source": result.modes.source,
        "sigma_cm": sigma,
        "resolution_cm": float(freqs[1] - freqs[0]),
        "max_freq_cm": float(freqs[-1]),
        "prefactor": nu_in is not None,
        "laser_cm": nu_in,
        "laser_nm": None if nu_in is None else 1.0e7 / nu_in,
        "prefactor_formula": formula,
        "quantum_correction": quantum_correction,
        "temperature_K": temp,
        "second_radiation_constant_cm_K": SECOND_RADIATION_CONSTANT_CM_K,
        "cells": float(cells),
        "min_frequency_cm": float(min_frequency_cm),
        "zero_frequency": zero,
        "grid_from": meta_like.get("provenance", {}).get("source") if meta_like else None,
        "modes": [{"bands": p.bands, "frequency_cm": p.frequency_cm, "irrep": p.irrep,
                   "activity_A4_amu": p.activity} for p in peaks],
        "units": {"frequencies": "cm^-1", "isotropic": "Angstrom^6 fs^-1",
                  "anisotropic": "Angstrom^6 fs^-1",
                  "intensity": "arb. (Angstrom^6 fs^-1 x K)"},
        "provenance": {"ase_raman_version": __version__, "harmonic": True},
    }


def _settings_like(like: Any, frequencies: np.ndarray | None, **options: Any
                   ) -> tuple[np.ndarray | None, dict[str, Any], tuple[Any, ...]]:
    """The grid and the unset weighting options taken from a spectrum ``like`` (MD).

    Returns ``(frequencies, like's metadata, (sigma_cm, prefactor, laser_nm, laser_cm,
    quantum_correction, temperature))``; options given explicitly win.
    """
    meta_like: dict[str, Any] = {}
    if like is not None:
        if frequencies is not None:
            raise UsageError("give like= or frequencies=, not both")
        frequencies, meta_like = _grid_from(like)
        if options["sigma_cm"] is None:
            options["sigma_cm"] = meta_like.get("sigma_cm")
        if options["prefactor"] is None and "prefactor" in meta_like:
            options["prefactor"] = bool(meta_like["prefactor"])
        if (options["laser_nm"] is None and options["laser_cm"] is None
                and meta_like.get("laser_cm")):
            options["laser_cm"] = float(meta_like["laser_cm"])
        if options["quantum_correction"] is None:
            options["quantum_correction"] = meta_like.get("quantum_correction")
        if options["temperature"] is None:
            options["temperature"] = meta_like.get("temperature_K")
    keys = ("sigma_cm", "prefactor", "laser_nm", "laser_cm", "quantum_correction",
            "temperature")
    return frequencies, meta_like, tuple(options[k] for k in keys)


def _frequency_grid(frequencies: Any, sigma: float, resolution_cm: float | None,
                    max_freq_cm: float | None, top: float) -> np.ndarray:
    """The given grid (checked), or 0 .. top + 10 sigma in steps of sigma / 8 (cm^-1)."""
    if frequencies is None:
        res = sigma / 8.0 if resolution_cm is None else float(resolution_cm)
        if res <= 0:
            raise UsageError(f"resolution must be positive, got {res}")
        fmax = top + 10.0 * sigma if max_freq_cm is None else float(max_freq_cm)
        return np.arange(0.0, fmax + 0.5 * res, res)
    freqs = np.asarray(frequencies, dtype=float).reshape(-1)
    if freqs.size < 2 or np.any(np.diff(freqs) <= 0):
        raise UsageError("the frequency grid must increase and have >= 2 points")
    return freqs


def _broadened_invariants(peaks: list[Any], freqs: np.ndarray, sigma: float, temp: float,
                          cells: float) -> np.ndarray:
    """a'^2 <Q^2> and gamma'^2 <Q^2> of every mode as Gaussians on ``freqs`` (n, 2).

    <Q^2> = k_B T / omega^2 (classical equipartition), per unit of the 1/(2 c) of the
    even transform, times ``cells``; Gaussians of ``sigma`` at +-nu (even spectrum).
    """
    kt = units.kB * temp * units.fs**2  # k_B T in amu Angstrom^2 fs^-2
    out = np.zeros((freqs.size, 2))
    norm = 1.0 / (sigma * np.sqrt(2.0 * np.pi))
    for p in peaks:
        omega = 2.0 * np.pi * SPEED_OF_LIGHT_CM_PER_FS * p.frequency_cm  # rad/fs
        amp = kt / omega**2 / (2.0 * SPEED_OF_LIGHT_CM_PER_FS) * float(cells)
        shape = norm * (np.exp(-0.5 * ((freqs - p.frequency_cm) / sigma) ** 2)
                        + np.exp(-0.5 * ((freqs + p.frequency_cm) / sigma) ** 2))
        out[:, 0] += amp * (p.isotropic / 45.0) * shape      # a'^2 <Q^2> ...
        out[:, 1] += amp * (p.anisotropic / 7.0) * shape     # gamma'^2 <Q^2> ...
    return out
