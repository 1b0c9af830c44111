"""``ase-raman vdos``: vibrational density of states, total and per species.

TRAJ is an ase-raman H5MD store (sampling interval from its stored times; velocities
when stored, else positions by finite difference) or any ASE-readable trajectory
(extxyz with velocities/momenta, or positions only) with ``--dt-fs``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputFileError, UsageError
from ..parallel.cli import add_scheduler_argument, run_on_scheduler
from ..spectra.raman_file import (
    H5_SUFFIXES,
    check_dt,
    check_frame_times,
    open_store,
    uniform_spacing,
)
from ._common import (
    add_frame_reading_options,
    add_spectrum_grid_options,
    frame_reading_options,
    options_named,
)
from ._types import NON_NEGATIVE, POSITIVE, image_path

HELP = "vibrational density of states (CSV/PNG), total and per species, from a trajectory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("traj", metavar="TRAJ",
                        help="H5MD store (.h5) or a trajectory (extxyz with vel/velocities/"
                        "momenta columns or positions only, LAMMPS dump, XDATCAR, i-PI xyz)")
    parser.add_argument("-o", "--output", required=True, metavar="CSV", help="VDOS CSV to write")
    parser.add_argument("--png", metavar="PNG", type=image_path,
                        help="also plot the VDOS to this file")
    parser.add_argument("--json", metavar="JSON", help="summary: metadata and integrals")
    parser.add_argument("--dt-fs", type=POSITIVE, metavar="DT",
                        help="time between the frames in fs (required for extxyz)")
    parser.add_argument("--sigma", type=NON_NEGATIVE, default=4.0, metavar="CM",
                        help="Gaussian smoothing, cm^-1 (default 4; 0 = none)")
    add_spectrum_grid_options(parser)
    parser.add_argument("--no-mass-weighting", action="store_true",
                        help="plain velocity autocorrelation (default: mass-weighted)")
    parser.add_argument("--from-positions", action="store_true",
                        help="use positions by finite difference even when velocities exist")
    add_frame_reading_options(parser)
    add_scheduler_argument(parser)  # --scheduler (Dask): ase_raman.parallel.cli


#: extxyz per-atom columns read as velocities in Angstrom/fs (ASE's ``momenta`` column is
#: converted from ASE units).
VELOCITY_COLUMNS = ("vel", "velocities", "velo")


def frame_velocities(frames: list[Any]) -> tuple[np.ndarray, str] | None:
    """Velocities (n_frames, N, 3) in Angstrom/fs when every frame has them, with a note
    of where they came from: a ``vel``/``velocities``/``velo`` column (Angstrom/fs), or
    ``momenta`` (ASE units, as ASE's extxyz writer and the LAMMPS dump reader store them)."""
    from ase import units

    for key in VELOCITY_COLUMNS:
        if all(key in a.arrays for a in frames):
            return (np.stack([np.asarray(a.arrays[key], dtype=float) for a in frames]),
                    f"'{key}' column of the frames (Angstrom/fs)")
    if all("momenta" in a.arrays for a in frames):
        # ASE velocities are Angstrom per ASE time unit; 1 fs = units.fs ASE time units
        return (np.stack([a.get_velocities() for a in frames]) * units.fs,
                "velocities of the frames (ASE units converted to Angstrom/fs)")
    return None


def _read_trajectory(path: Path, reading: dict[str, Any]) -> list[Any]:
    """All frames of a trajectory file (:func:`ase_raman.io.iter_frames`)."""
    from ..io import iter_frames

    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    frames = list(iter_frames(path, **reading))
    if not frames:
        raise InputFileError(f"{path}: no frames")
    return frames


def load_motion(path: Path, dt_cli: float | None, from_positions: bool,
                reading: dict[str, Any] | None = None) -> dict[str, Any]:
    """Velocities (or FD-from-positions), masses, symbols, dt and provenance from TRAJ."""
    from ase.data import atomic_masses, chemical_symbols

    from ..spectra.vdos import FINITE_DIFFERENCE_NOTE, velocities_from_positions

    reading = reading or {}
    if path.suffix.lower() in H5_SUFFIXES:
        traj = open_store(path)
        try:
            n = len(traj)
            if n < 2:
                raise InputFileError(f"{path}: the store holds {n} frame(s)")
            dt = check_dt(dt_cli, uniform_spacing(np.asarray(traj.time_fs),
                                                   f"{path} (stored times)", "fs"), str(path))
            numbers = np.asarray(traj.species)
            symbols = [chemical_symbols[z] for z in numbers]
            masses = atomic_masses[numbers]
            prov = {"source": str(path), "format": "H5MD store", "md_timestep_fs": traj.dt_fs,
                    "sampling_interval_steps": traj.sampling_interval}
            if traj.velocities is not None and not from_positions:
                v = np.asarray(traj.velocities, dtype=float)  # Angstrom/fs
                source = "stored velocities (Angstrom/fs)"
            else:
                pos = np.asarray(traj.positions, dtype=float)
                cells = np.asarray(traj.cells, dtype=float) if np.any(traj.pbc) else None
                v = velocities_from_positions(pos, dt, cells)
                source = FINITE_DIFFERENCE_NOTE
        finally:
            traj.close()
        return {"velocities": v, "dt": dt, "masses": masses, "symbols": symbols,
                "source": source, "provenance": prov}
    frames = _read_trajectory(path, reading)
    dt = check_dt(dt_cli, None, str(path))
    n_atoms = len(frames[0])
    symbols = frames[0].get_chemical_symbols()
    for i, atoms in enumerate(frames):
        if len(atoms) != n_atoms or atoms.get_chemical_symbols() != symbols:
            raise InputFileError(f"{path}: frame {i} has different atoms than frame 0")
    prov = {"source": str(path), "format": "trajectory file", "n_frames": len(frames),
            **check_frame_times(frames, path, dt)}
    found = None if from_positions else frame_velocities(frames)
    if found is not None:
        v, source = found
    else:
        if not from_positions:
            print(f"ase-raman: note: {path}: no velocity column ({', '.join(VELOCITY_COLUMNS)}"
                  " or momenta); the VDOS uses velocities from finite differences of the "
                  "positions", file=sys.stderr)
        pos = np.stack([a.get_positions() for a in frames])
        cells = (np.stack([a.cell.array for a in frames])
                 if all(a.pbc.any() for a in frames) else None)
        v = velocities_from_positions(pos, dt, cells)
        source = FINITE_DIFFERENCE_NOTE
    return {"velocities": v, "dt": dt, "masses": frames[0].get_masses(), "symbols": symbols,
            "source": source, "provenance": prov}


def run(args: argparse.Namespace) -> int:
    if getattr(args, "scheduler", None):  # the command as one Dask task
        return run_on_scheduler(args, run)
    from ..spectra.plotting import save_figure, write_json
    from ..spectra.vdos import vdos

    path = Path(args.traj)
    if args.sigma < 0:
        raise UsageError(f"--sigma must be >= 0, got {args.sigma}")
    with options_named({"dt_fs": "--dt-fs"}):
        data = load_motion(path, args.dt_fs, args.from_positions, frame_reading_options(args))
    result = vdos(
        data["velocities"], data["dt"], masses=data["masses"], species=data["symbols"],
        mass_weighted=not args.no_mass_weighting, sigma_cm=args.sigma, window=args.window,
        max_freq_cm=args.max_freq, resolution_cm=args.resolution,
        velocity_source=data["source"], provenance=data["provenance"],
    )
    result.to_csv(args.output)
    if args.png:
        ax = result.plot()
        ax.set_title(path.name)
        save_figure(ax, args.png)
    if args.json:
        write_json(args.json, {
            "vdos_csv": str(args.output),
            "integral_total": result.integral(),
            "integral_species": {s: result.integral(s) for s in result.partial},
            "zero_frequency": {"total": float(result.total[0]),
                               **{s: float(y[0]) for s, y in result.partial.items()}},
            "metadata": result.metadata,
        })
    print(f"wrote {args.output}: {result.frequencies.size} points, species "
          f"{', '.join(result.partial)}; velocities: {data['source'].split(';')[0]}")
    return 0
