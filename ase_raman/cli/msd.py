"""``ase-raman msd``: MSD per species, tracer D, conductivity and Haven ratio from MD.

Reads any trajectory ASE or :mod:`ase_raman.io.trajectory` reads (XDATCAR, extxyz,
vasprun.xml, LAMMPS dump, i-PI) or an ase-raman H5MD store (``.h5``), unwraps positions
by minimum-image steps (NPT-safe), removes the centre-of-mass drift, and writes the MSD
(CSV, optional PNG) and a per-species JSON summary (see
:func:`ase_raman.spectra.transport.report.transport_summary` for its keys).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from ..errors import UsageError
from ..io import positions as _positions
from ..io.positions import Frames  # noqa: F401 (re-exported for the other commands)
from ..parallel.cli import add_scheduler_argument, run_on_scheduler
from ..spectra.transport import msd_file as _msd_file
from ..spectra.transport.msd_file import (  # noqa: F401 (the names this module had)
    DEFAULT_BLOCKS,
    MIN_FRAMES,
    MIN_FRAMES_PER_BLOCK,
)
from ._common import add_frame_reading_options, frame_reading_options, options_named
from ._types import POSITIVE, POSITIVE_INT, image_path

HELP = "MSD per species, diffusion coefficient, conductivity and Haven ratio from MD"

#: Above this fractional step between frames, unwrapping is no longer trustworthy.
MAX_SAFE_JUMP = 0.25
_MIN_FRAMES_PER_BLOCK = MIN_FRAMES_PER_BLOCK
_MIN_FRAMES = MIN_FRAMES


def load_frames(path: str, fmt: str | None = None, every: int = 1, quiet: bool = True,
                reading: dict[str, Any] | None = None) -> Frames:
    """:func:`ase_raman.io.positions.load_frames`, with errors naming the options."""
    if every < 1:
        raise UsageError(f"--every must be a positive integer, got {every}")
    return _positions.load_frames(path, fmt, every, quiet, reading)


def resolve_dt(frames: Frames, dt_fs: float | None, every: int) -> float:
    """:func:`ase_raman.io.positions.resolve_dt`, with errors naming ``--dt-fs``."""
    if dt_fs is not None and not dt_fs > 0:
        raise UsageError(f"--dt-fs must be positive, got {dt_fs}")
    if dt_fs is None and frames.dt_file_fs is None:
        raise UsageError(
            "the trajectory does not say how far apart its frames are: give --dt-fs "
            "(time between consecutive frames of the file, e.g. POTIM x NBLOCK for an XDATCAR)"
        )
    return _positions.resolve_dt(frames, dt_fs, every)


def check_frame_count(n_frames: int, path: str) -> None:
    """A displacement needs two frames: UsageError for fewer."""
    with options_named({"every": "--every"}):
        _msd_file.check_frame_count(n_frames, path)


def short_run_summary(result: Any, temperature_K: float | None,
                      reason: str) -> dict[str, dict]:
    """The ``--json`` summary of a run too short for the fit (see
    :func:`ase_raman.spectra.transport.msd_file.short_run_summary`)."""
    return _msd_file.short_run_summary(result, temperature_K, reason)


def parse_species(text: str | None, available: list[str]) -> list[str]:
    """``Li,P`` -> ``["Li", "P"]`` (all species of the trajectory when None)."""
    if text is None:
        return _msd_file.select_species(None, available)
    wanted = [s.strip() for s in text.split(",") if s.strip()]
    if not wanted:
        raise UsageError("--species: give at least one chemical symbol, e.g. --species Li")
    with options_named({"species": "--species"}):
        return _msd_file.select_species(wanted, available)


def parse_charges(text: str | None, available: list[str]) -> dict[str, float]:
    """``Li=1,S=-2`` -> ``{"Li": 1.0, "S": -2.0}`` (charges in e)."""
    if not text:
        return {}
    out = {}
    for item in text.split(","):
        if not item.strip():
            continue
        sym, sep, val = item.partition("=")
        sym = sym.strip()
        try:
            if not sep:
                raise ValueError
            out[sym] = float(val)
            if not np.isfinite(out[sym]):
                raise ValueError
        except ValueError:
            raise UsageError(f"--charges {text!r}: expected SYMBOL=CHARGE pairs, "
                             "e.g. Li=1,S=-2") from None
    with options_named({"charges": "--charges"}):
        return _msd_file.check_charges(out, available)


def parse_window(text: str | None) -> tuple[float, float] | None:
    """``START_PS:END_PS`` -> ``(start_fs, end_fs)``."""
    with options_named({"fit_window_ps": "--fit-window"}):
        return _msd_file.parse_fit_window(text)


def add_trajectory_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared with ``ase-raman vanhove``."""
    parser.add_argument("trajectory", metavar="TRAJ",
                        help="trajectory file (XDATCAR, extxyz, vasprun.xml, LAMMPS dump, "
                        "i-PI xyz, .traj, or an ase-raman .h5 store)")
    parser.add_argument("--format", default=None,
                        help="file format for ASE (default: guessed from the file)")
    parser.add_argument("--dt-fs", type=POSITIVE, default=None,
                        help="time between consecutive frames of the file in fs (XDATCAR: "
                        "POTIM x NBLOCK); required unless the run's files hold it")
    parser.add_argument("--every", type=POSITIVE_INT, default=1, metavar="K",
                        help="use every K-th frame (default 1)")
    parser.add_argument("--unwrapped", action="store_true",
                        help="positions are already unwrapped: take them as given")
    parser.add_argument("--no-drift-correction", action="store_true",
                        help="keep the centre-of-mass drift (default: subtract it)")
    parser.add_argument("--quiet", action="store_true", help="no progress or table output")
    add_frame_reading_options(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_trajectory_arguments(parser)
    parser.add_argument("--species", default=None,
                        help="comma-separated species (default: all), e.g. Li or Li,P,S,I")
    parser.add_argument("--fit-window", default=None, metavar="START_PS:END_PS",
                        help="diffusive window of the linear fit in ps (default: from "
                        "0.05 t_max, or later if still ballistic, to 0.5 t_max)")
    parser.add_argument("--temperature", type=POSITIVE, default=None, metavar="T",
                        help="temperature in K (recorded for 'ase-raman arrhenius'; needed "
                        "for conductivities)")
    parser.add_argument("--charges", default=None, metavar="X=Q,...",
                        help="charges in e for conductivity and Haven ratio, e.g. Li=1")
    parser.add_argument("--blocks", type=POSITIVE_INT, default=None, metavar="N",
                        help="cut the trajectory into N blocks for the MSD error band "
                        f"(CSV <X>_err; default {DEFAULT_BLOCKS} when every block has >= "
                        f"{_MIN_FRAMES_PER_BLOCK} frames, else 1); D's error comes from the "
                        "GLS fit")
    parser.add_argument("-o", "--output", required=True, metavar="CSV",
                        help="MSD CSV: time_ps, then one column per species (Angstrom^2)")
    parser.add_argument("--png", default=None, type=image_path, help="plot of the MSDs and fits")
    parser.add_argument("--json", default=None, help="per-species summary (D, sigma, H_R)")
    add_scheduler_argument(parser)  # --scheduler (Dask): ase_raman.parallel.cli


def _choose_blocks(requested: int | None, n_frames: int) -> int:
    with options_named({"blocks": "--blocks"}):
        return _msd_file.choose_blocks(requested, n_frames)


def warn_jump(max_jump: float, path: str) -> None:
    if max_jump > MAX_SAFE_JUMP:
        print(f"ase-raman: warning: {path}: atoms move up to {max_jump:.2f} of a cell "
              "between frames; unwrapping may be wrong (use more frames or --every 1)",
              file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    if getattr(args, "scheduler", None):  # the command as one Dask task
        return run_on_scheduler(args, run)
    window = parse_window(args.fit_window)
    if args.temperature is not None and not args.temperature > 0:
        raise UsageError(f"--temperature must be positive (K), got {args.temperature}")
    if args.charges and args.temperature is None:
        raise UsageError("--charges needs --temperature (K) for the conductivity")
    frames = load_frames(args.trajectory, args.format, args.every, quiet=args.quiet,
                         reading=frame_reading_options(args))
    dt = resolve_dt(frames, args.dt_fs, args.every)
    n_frames = frames.positions.shape[0]
    check_frame_count(n_frames, args.trajectory)
    species = parse_species(args.species, frames.symbols)
    charges = parse_charges(args.charges, frames.symbols)
    n_blocks = _choose_blocks(args.blocks, n_frames)
    report = _msd_file.msd_from_frames(
        frames, dt, species=species, charges=charges, temperature_K=args.temperature,
        fit_window_fs=window, blocks=n_blocks, unwrapped=args.unwrapped,
        remove_com=not args.no_drift_correction, where=args.trajectory)
    result, summary = report.result, report.summary
    warn_jump(result.max_jump, args.trajectory)
    if report.no_fit_reason:
        print(f"ase-raman: warning: {args.trajectory}: {report.no_fit_reason}", file=sys.stderr)
    _msd_file.write_msd_outputs(report, args.output, args.png, args.json)
    if not args.quiet:
        print(f"{n_frames} frames, dt = {dt:g} fs, {result.time_ps[-1]:g} ps; "
              f"errors: {n_blocks} block(s)")
        for sym, info in summary.items():
            if "D_cm2_s" not in info:
                continue
            line = (f"{sym:>3} (N={info['n_atoms']}): D = {info['D_cm2_s']:.3e} "
                    f"+- {info['D_err_cm2_s']:.1e} cm^2/s "
                    f"(fit {info['fit_window_ps'][0]:g}-{info['fit_window_ps'][1]:g} ps)")
            if "sigma_S_cm" in info:
                line += (f", sigma_NE = {info['sigma_S_cm']:.3g} S/cm, "
                         f"H_R = {info['haven_ratio']:.2f} +- {info['haven_ratio_err']:.2f}")
            print(line)
    return 0
