"""``ase-raman raman``: the Raman spectrum of a polarizability trajectory.

TRAJ is an ase-raman H5MD store (``.h5``/``.hdf5``/``.h5md``: the sampling interval comes
from its stored times) or an extxyz/any ASE-readable file whose frames carry
``polarizability`` (9 numbers or 3x3, Angstrom^3) in their info; then ``--dt-fs`` (the
interval between those frames, in fs) is required.

Writes the spectrum CSV (``-o``), optionally a PNG and a JSON summary with the metadata,
the central-peak indicators (:func:`ase_raman.spectra.raman.central_peak_metrics`), the
integrated depolarisation ratio and the strongest peaks.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputFileError, UsageError
from ..parallel.cli import add_scheduler_argument, run_on_scheduler
from ._common import add_spectrum_grid_options
from ._types import NON_NEGATIVE, POSITIVE, image_path

HELP = "Raman spectrum (CSV/PNG/JSON) from an H5MD store or an extxyz with polarizabilities"

H5_SUFFIXES = (".h5", ".hdf5", ".h5md")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("traj", metavar="TRAJ",
                        help="H5MD store (.h5) or extxyz with 'polarizability' per frame")
    parser.add_argument("-o", "--output", required=True, metavar="CSV",
                        help="spectrum CSV to write")
    parser.add_argument("--png", metavar="PNG", type=image_path,
                        help="also plot the spectrum to this file")
    parser.add_argument("--json", metavar="JSON",
                        help="summary: metadata, central-peak metrics, depolarisation, peaks")
    parser.add_argument("--dt-fs", type=POSITIVE, metavar="DT",
                        help="time between the alpha samples in fs (the sampling interval, "
                        "e.g. 20 for every 10th step of a 2 fs MD); required for extxyz")
    parser.add_argument("--sigma", type=NON_NEGATIVE, default=4.0, metavar="CM",
                        help="Gaussian smoothing, standard deviation in cm^-1 (default 4; 0 = "
                        "none)")
    laser = parser.add_mutually_exclusive_group()
    laser.add_argument("--laser-nm", type=POSITIVE, metavar="NM",
                       help="laser wavelength of the (w_in - w)^4 / w prefactor (default 532)")
    laser.add_argument("--laser-cm", type=POSITIVE, metavar="CM", help="laser wavenumber, cm^-1")
    laser.add_argument("--no-prefactor", action="store_true",
                       help="no (w_in - w)^4 / w prefactor")
    parser.add_argument("--temperature", type=POSITIVE, metavar="K",
                        help="temperature for --quantum-correction")
    parser.add_argument("--quantum-correction", choices=("bose", "harmonic"),
                        help="bose: times n(w)+1 (true central peak); harmonic: times "
                        "x/(1-exp(-x)); default none, as in the reference paper")
    add_spectrum_grid_options(parser)
    parser.add_argument("--derivative", default="spectral",
                        choices=("spectral", "forward", "central"),
                        help="alpha-dot: spectral (omega^2, default) or finite difference")
    parser.add_argument("--cutoff", type=POSITIVE, default=50.0, metavar="CM",
                        help="central-peak cutoff for the JSON summary (default 50 cm^-1)")
    add_scheduler_argument(parser)  # --scheduler (Dask): ase_raman.parallel.cli


def _check_dt(dt_cli: float | None, dt_data: float | None, where: str) -> float:
    if dt_cli is not None and (not np.isfinite(dt_cli) or dt_cli <= 0):
        raise UsageError(f"--dt-fs must be positive, got {dt_cli}")
    if dt_data is None:
        if dt_cli is None:
            raise UsageError(f"{where}: the time between frames is unknown; pass --dt-fs "
                             "(the sampling interval in fs)")
        return float(dt_cli)
    if dt_cli is not None and abs(dt_cli - dt_data) > 1e-6 * dt_data:
        raise UsageError(f"{where}: --dt-fs {dt_cli:g} contradicts the stored sampling "
                         f"interval {dt_data:g} fs")
    return float(dt_data)


def uniform_spacing(values: np.ndarray, where: str, unit: str) -> float:
    """Common spacing of frame times/steps, or a one-line UsageError if non-uniform."""
    from ..spectra.signal import check_uniform_times

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
                                 f"--dt-fs is {dt:g}")
    return found


def load_polarizability(path: Path, dt_cli: float | None) -> tuple[np.ndarray, float, dict]:
    """(alpha (n, 3, 3) Angstrom^3, sampling interval fs, provenance) from TRAJ."""
    if path.suffix.lower() in H5_SUFFIXES:
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
        return alpha, _check_dt(dt_cli, dt_data, str(path)), prov
    frames = read_frames(path)
    dt = _check_dt(dt_cli, None, str(path))
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


def run(args: argparse.Namespace) -> int:
    if getattr(args, "scheduler", None):  # the command as one Dask task
        return run_on_scheduler(args, run)
    from ..spectra.plotting import save_figure, write_json
    from ..spectra.raman import central_peak_metrics, raman_spectrum

    path = Path(args.traj)
    if args.quantum_correction and args.temperature is None:
        raise UsageError("--quantum-correction needs --temperature")
    if args.temperature is not None and not args.quantum_correction:
        raise UsageError("--temperature is only used with --quantum-correction bose|harmonic")
    alpha, dt, prov = load_polarizability(path, args.dt_fs)
    spectrum = raman_spectrum(
        alpha, dt, sigma_cm=args.sigma, laser_nm=args.laser_nm, laser_cm=args.laser_cm,
        prefactor=not args.no_prefactor, temperature=args.temperature,
        quantum_correction=args.quantum_correction, window=args.window,
        max_freq_cm=args.max_freq, resolution_cm=args.resolution,
        derivative=args.derivative, provenance=prov,
    )
    if args.json:
        # validate before writing anything
        if args.cutoff <= 0 or args.cutoff >= spectrum.frequencies[-1]:
            raise UsageError(f"--cutoff {args.cutoff:g} must lie inside (0, "
                             f"{spectrum.frequencies[-1]:.6g}) cm^-1")
    spectrum.to_csv(args.output)
    if args.png:
        ax = spectrum.plot()
        ax.set_title(path.name)
        save_figure(ax, args.png)
    if args.json:
        summary = {
            "spectrum_csv": str(args.output),
            "central_peak": central_peak_metrics(spectrum, cutoff_cm=args.cutoff),
            "depolarization_ratio": spectrum.integrated_depolarization_ratio(),
            "peaks": find_peaks_summary(spectrum.frequencies, spectrum.intensity),
            "metadata": spectrum.metadata,
        }
        write_json(args.json, summary)
    m = spectrum.metadata
    print(f"wrote {args.output}: {spectrum.frequencies.size} points, 0-{m['max_freq_cm']:.6g} "
          f"cm^-1, {m['n_samples']} samples at dt = {dt:g} fs")
    return 0
