"""The Raman spectrum of a polarizability trajectory file, and its outputs.

The engine of ``ase-raman raman`` and ``ase-raman batch``: :func:`load_polarizability`
reads alpha from an ase-raman H5MD store (``.h5``/``.hdf5``/``.h5md``: the sampling
interval comes from its stored times) or from an extxyz/any ASE-readable file whose
frames carry ``polarizability`` (9 numbers or 3x3, Angstrom^3) in their info (then the
sampling interval ``dt_fs`` must be given); :func:`raman_from_file` computes the
spectrum (:func:`ase_raman.spectra.raman.raman_spectrum`) and :func:`raman_summary` the
JSON summary: metadata, central-peak indicators
(:func:`ase_raman.spectra.raman.central_peak_metrics`), the integrated depolarisation
ratio and the strongest peaks. :func:`write_raman_outputs` writes CSV, PNG and JSON.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputFileError, UsageError

__all__ = ["H5_SUFFIXES", "check_frame_times", "find_peaks_summary", "load_polarizability",
           "raman_from_file", "raman_summary", "read_frames", "write_raman_outputs"]

#: File suffixes read as ase-raman H5MD stores.
H5_SUFFIXES = (".h5", ".hdf5", ".h5md")


def check_dt(dt_fs: float | None, dt_data: float | None, where: str) -> float:
    """The sampling interval (fs): the data's when it has one (``dt_fs`` must then agree),
    else ``dt_fs`` (required)."""
    if dt_fs is not None and (not np.isfinite(dt_fs) or dt_fs <= 0):
        raise UsageError(f"dt_fs must be positive, got {dt_fs}")
    if dt_data is None:
        if dt_fs is None:
            raise UsageError(f"{where}: the time between frames is unknown; pass dt_fs "
                             "(the sampling interval in fs)")
        return float(dt_fs)
    if dt_fs is not None and abs(dt_fs - dt_data) > 1e-6 * dt_data:
        raise UsageError(f"{where}: dt_fs {dt_fs:g} contradicts the stored sampling "
                         f"interval {dt_data:g} fs")
    return float(dt_data)


def uniform_spacing(values: np.ndarray, where: str, unit: str) -> float:
    """Common spacing of frame times/steps, or a one-line UsageError if non-uniform."""
    from .signal import check_uniform_times

    try:
        return check_uniform_times(values, where)
    except ValueError as exc:
        raise UsageError(str(exc).replace(" fs", f" {unit}")) from None


def open_store(path: Path) -> Any:
    """Open an ase-raman H5MD store lazily (the store module is imported only here)."""
    try:
        from ..store import read_trajectory
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise InputFileError(f"{path}: reading H5MD stores needs ase_raman.store, which is "
                             f"not available here ({exc})") from None
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    try:
        return read_trajectory(path)
    except OSError as exc:
        raise InputFileError(f"{path}: cannot open as an HDF5 store ({exc})") from None


def read_frames(path: Path) -> list[Any]:
    """All frames of an ASE-readable file, with one-line errors."""
    import ase.io

    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    try:
        frames = ase.io.read(path, index=":")
    except Exception as exc:  # ASE raises many types for malformed files
        raise InputFileError(f"{path}: cannot read ({type(exc).__name__}: {exc})") from None
    if not isinstance(frames, list):
        frames = [frames]
    if not frames:
        raise InputFileError(f"{path}: no frames")
    return frames


def check_frame_times(frames: list[Any], path: Path, dt: float) -> dict[str, Any]:
    """Check ``time_fs``/``time``/``step`` info keys (when every frame has one) are evenly
    spaced, and that ``time_fs`` agrees with ``dt``; returns what was found."""
    found: dict[str, Any] = {}
    for key, unit in (("time_fs", "fs"), ("step", "steps"), ("time", "time units")):
        if all(key in f.info for f in frames) and len(frames) > 1:
            values = np.array([float(f.info[key]) for f in frames])
            spacing = uniform_spacing(values, f"{path} ('{key}' of the frames)", unit)
            found[key + "_spacing"] = spacing
            if key == "time_fs" and abs(spacing - dt) > 1e-6 * dt:
                raise UsageError(f"{path}: frames are {spacing:g} fs apart ('time_fs') but "
                                 f"dt_fs is {dt:g}")
    return found


def _store_polarizability(path: Path, dt_fs: float | None) -> tuple[np.ndarray, float, dict]:
    with open_store(path) as traj:
        alpha = np.asarray(traj.polarizability, dtype=float)
        if alpha.shape[0] < 2:
            raise InputFileError(f"{path}: the store holds {alpha.shape[0]} frame(s)")
        dt_data = uniform_spacing(np.asarray(traj.time_fs), f"{path} (stored times)", "fs")
        prov = {
            "source": str(path),
            "format": "H5MD store",
            "md_timestep_fs": traj.dt_fs,
            "sampling_interval_steps": traj.sampling_interval,
            "model": (traj.model_metadata or {}).get("learner"),
            "first_step": int(traj.step[0]),
            "last_step": int(traj.step[-1]),
        }
    return alpha, check_dt(dt_fs, dt_data, str(path)), prov


def load_polarizability(path: str | os.PathLike, dt_fs: float | None = None
                        ) -> tuple[np.ndarray, float, dict]:
    """(alpha (n, 3, 3) Angstrom^3, sampling interval fs, provenance) from a file."""
    path = Path(path)
    if path.suffix.lower() in H5_SUFFIXES:
        return _store_polarizability(path, dt_fs)
    frames = read_frames(path)
    dt = check_dt(dt_fs, None, str(path))
    alpha = np.empty((len(frames), 3, 3))
    for i, atoms in enumerate(frames):
        value = atoms.info.get("polarizability")
        if value is None:
            raise InputFileError(f"{path}: frame {i} has no 'polarizability' in its info "
                                 "(9 numbers per frame, Angstrom^3)")
        arr = np.asarray(value, dtype=float)
        if arr.size != 9:
            raise InputFileError(f"{path}: frame {i}: 'polarizability' has {arr.size} "
                                 "numbers, expected 9")
        alpha[i] = arr.reshape(3, 3)
    prov = {"source": str(path), "format": "extxyz/ASE", "n_frames": len(frames),
            **check_frame_times(frames, path, dt)}
    return alpha, dt, prov


def find_peaks_summary(freqs: np.ndarray, y: np.ndarray, n: int = 8) -> list[dict[str, float]]:
    """The ``n`` strongest local maxima (position cm^-1, height) above 5 % of the maximum."""
    from scipy.signal import find_peaks

    if y.size < 3 or not np.any(y > 0):
        return []
    idx, props = find_peaks(y, height=0.05 * float(np.max(y)))
    order = np.argsort(props["peak_heights"])[::-1][:n]
    return [{"frequency_cm": float(freqs[idx[j]]), "height": float(props["peak_heights"][j])}
            for j in sorted(order, key=lambda j: idx[j])]


def raman_from_file(path: str | os.PathLike, dt_fs: float | None = None,
                    **options: Any) -> Any:
    """The :class:`~ase_raman.spectra.raman.RamanSpectrum` of a polarizability file.

    ``dt_fs``: the sampling interval in fs (required for extxyz; must agree with a
    store's times); ``options`` go to :func:`ase_raman.spectra.raman.raman_spectrum`
    (``sigma_cm``, ``laser_nm``, ``quantum_correction``, ...).
    """
    from .raman import raman_spectrum

    alpha, dt, prov = load_polarizability(path, dt_fs)
    return raman_spectrum(alpha, dt, provenance=prov, **options)


def raman_summary(spectrum: Any, cutoff_cm: float = 50.0,
                  spectrum_csv: str | os.PathLike | None = None) -> dict[str, Any]:
    """The JSON summary of ``ase-raman raman --json``.

    Keys: ``spectrum_csv``, ``central_peak`` (central-peak indicators below
    ``cutoff_cm``, cm^-1), ``depolarization_ratio``, ``peaks`` and ``metadata``.
    """
    from .raman import central_peak_metrics

    if not (cutoff_cm > 0 and cutoff_cm < spectrum.frequencies[-1]):
        raise UsageError(f"cutoff_cm {cutoff_cm:g} must lie inside (0, "
                         f"{spectrum.frequencies[-1]:.6g}) cm^-1")
    return {
        "spectrum_csv": str(spectrum_csv),
        "central_peak": central_peak_metrics(spectrum, cutoff_cm=cutoff_cm),
        "depolarization_ratio": spectrum.integrated_depolarization_ratio(),
        "peaks": find_peaks_summary(spectrum.frequencies, spectrum.intensity),
        "metadata": spectrum.metadata,
    }


def write_raman_outputs(spectrum: Any, csv: str | os.PathLike,
                        png: str | os.PathLike | None = None,
                        json: str | os.PathLike | None = None,
                        summary: dict[str, Any] | None = None, title: str = "") -> None:
    """Write the spectrum CSV, the plot (``png``) and the ``summary`` JSON (``json``)."""
    from .plotting import save_figure, write_json

    spectrum.to_csv(csv)
    if png:
        ax = spectrum.plot()
        ax.set_title(title)
        save_figure(ax, png)
    if json:
        write_json(json, summary)
