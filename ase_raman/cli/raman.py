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

from ..errors import UsageError
from ..parallel.cli import add_scheduler_argument, run_on_scheduler
from ..spectra.raman_file import (  # noqa: F401 (the names this module had)
    H5_SUFFIXES,
    check_frame_times,
    find_peaks_summary,
    load_polarizability,
    open_store,
    read_frames,
    uniform_spacing,
)
from ._common import add_spectrum_grid_options, options_named
from ._types import NON_NEGATIVE, POSITIVE, image_path

HELP = "Raman spectrum (CSV/PNG/JSON) from an H5MD store or an extxyz with polarizabilities"

#: The library's parameter names -> this command's options (in error messages).
OPTIONS = {"dt_fs": "--dt-fs", "cutoff_cm": "--cutoff"}


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


def run(args: argparse.Namespace) -> int:
    if getattr(args, "scheduler", None):  # the command as one Dask task
        return run_on_scheduler(args, run)
    from ..spectra.raman_file import raman_from_file, raman_summary, write_raman_outputs

    path = Path(args.traj)
    if args.quantum_correction and args.temperature is None:
        raise UsageError("--quantum-correction needs --temperature")
    if args.temperature is not None and not args.quantum_correction:
        raise UsageError("--temperature is only used with --quantum-correction bose|harmonic")
    with options_named(OPTIONS):
        spectrum = raman_from_file(
            path, args.dt_fs, sigma_cm=args.sigma, laser_nm=args.laser_nm,
            laser_cm=args.laser_cm, prefactor=not args.no_prefactor,
            temperature=args.temperature, quantum_correction=args.quantum_correction,
            window=args.window, max_freq_cm=args.max_freq, resolution_cm=args.resolution,
            derivative=args.derivative,
        )
        # validate before writing anything
        summary = raman_summary(spectrum, args.cutoff, args.output) if args.json else None
    write_raman_outputs(spectrum, args.output, args.png, args.json, summary, path.name)
    m = spectrum.metadata
    print(f"wrote {args.output}: {spectrum.frequencies.size} points, 0-{m['max_freq_cm']:.6g} "
          f"cm^-1, {m['n_samples']} samples at dt = {m['dt_fs']:g} fs")
    return 0
