"""``ase-raman vanhove``: self part of the van Hove correlation G_s(r, t) of one species.

Writes ``G_s`` at the chosen lag times as CSV (``r_A``, ``Gs_<t>ps`` in Angstrom^-3,
``4pir2Gs_<t>ps`` in Angstrom^-1) and a PNG heat map of ``4 pi r^2 G_s(r, t)`` over
lag time and distance, with the chosen lags as curves beside it.
"""

from __future__ import annotations

import argparse

import numpy as np

from ..errors import UsageError
from ._common import frame_reading_options
from ._types import BINS, POSITIVE, image_path, positive_list
from .msd import (
    add_trajectory_arguments,
    check_frame_count,
    load_frames,
    resolve_dt,
    warn_jump,
)

HELP = "van Hove self-correlation G_s(r, t) of one species: CSV and heat map"

#: Lag times on the heat map's time axis (at most).
HEATMAP_LAGS = 100


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_trajectory_arguments(parser)
    parser.add_argument("--species", required=True, help="one chemical symbol, e.g. Li")
    parser.add_argument("--lags-ps", required=True, type=positive_list, metavar="T1,T2,...",
                        help="lag times in ps, e.g. 1,5,10 (rounded to whole frames)")
    parser.add_argument("--r-max", type=POSITIVE, default=10.0,
                        help="largest distance in Angstrom (default 10)")
    parser.add_argument("--bins", type=BINS, default=200, help="radial bins (default 200)")
    parser.add_argument("-o", "--output", required=True, metavar="CSV", help="G_s CSV")
    parser.add_argument("--png", default=None, type=image_path,
                        help="heat map of 4 pi r^2 G_s(r, t)")


def parse_lags(text: str, dt_fs: float, n_frames: int) -> list[int]:
    """``1,5,10`` (ps) -> lags in frames; each must be within the trajectory."""
    try:
        lags_ps = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"--lags-ps {text!r}: expected numbers in ps, e.g. 1,5,10") from None
    if not lags_ps:
        raise UsageError("--lags-ps: give at least one lag time")
    out = []
    longest = (n_frames - 1) * dt_fs / 1000.0
    for t in lags_ps:
        if not np.isfinite(t):
            raise UsageError(f"--lags-ps {text!r}: {t} is not a finite time in ps")
        k = int(round(t * 1000.0 / dt_fs))
        if t <= 0 or k < 1 or k > n_frames - 1:
            raise UsageError(f"--lags-ps: {t:g} ps is outside the trajectory "
                             f"(lags from {dt_fs / 1000.0:g} to {longest:g} ps)")
        out.append(k)
    return out


def run(args: argparse.Namespace) -> int:
    from ..spectra.transport.msd import remove_drift, unwrap_positions
    from ..spectra.transport.report import plot_vanhove, write_vanhove_csv
    from ..spectra.transport.vanhove import van_hove_self

    if not args.r_max > 0 or args.bins < 1:
        raise UsageError("--r-max must be positive and --bins >= 1")
    frames = load_frames(args.trajectory, args.format, args.every, quiet=args.quiet,
                         reading=frame_reading_options(args))
    dt = resolve_dt(frames, args.dt_fs, args.every)
    n_frames = frames.positions.shape[0]
    check_frame_count(n_frames, args.trajectory)
    symbols = np.asarray(frames.symbols)
    if args.species not in frames.symbols:
        raise UsageError(f"--species {args.species}: not in the trajectory "
                         f"(it has {', '.join(dict.fromkeys(frames.symbols))})")
    lags = parse_lags(args.lags_ps, dt, n_frames)
    pos = frames.positions
    if not args.unwrapped:
        pos, max_jump = unwrap_positions(pos, frames.cells, frames.pbc)
        warn_jump(max_jump, args.trajectory)
    if not args.no_drift_correction:
        pos = remove_drift(pos, frames.masses)
    pos = pos[:, symbols == args.species, :]
    chosen = van_hove_self(pos, lags, dt, r_max=args.r_max, n_bins=args.bins)
    write_vanhove_csv(args.output, chosen)
    if args.png:
        top = max(lags)
        grid_lags = np.unique(np.linspace(1, top, min(top, HEATMAP_LAGS)).round().astype(int))
        grid = van_hove_self(pos, grid_lags, dt, r_max=args.r_max, n_bins=args.bins,
                             max_samples=200_000)
        plot_vanhove(args.png, grid, chosen, args.species)
    if not args.quiet:
        for j, k in enumerate(lags):
            p = chosen.radial_probability[j]
            mean_r = float((chosen.r_A * p).sum() / max(p.sum(), 1e-300))
            print(f"t = {k * dt / 1000.0:g} ps: mean distance {mean_r:.3f} A "
                  f"({chosen.n_samples[j]} samples)")
    return 0
