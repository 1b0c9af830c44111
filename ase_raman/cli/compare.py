"""``ase-raman compare MD.csv HARMONIC.csv -o compare.png``: overlay and matched peaks.

Both files are spectrum CSVs of this package (``ase-raman raman`` and ``ase-raman
harmonic -o``). The harmonic lines are taken from the harmonic CSV's metadata (exact mode
frequencies) or, failing that, from its local maxima; each is matched to the nearest
local maximum of the MD spectrum within ``--window`` cm^-1 (default 3 sigma of the MD
file, at least 10), refined by a parabola through the three highest points. One line per
peak is printed: harmonic and MD positions, their difference and relative heights.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError
from ._types import NON_NEGATIVE, POSITIVE, image_path

HELP = "overlay an MD and a harmonic Raman spectrum and print matched peak positions"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("md", metavar="MD_CSV", help="MD Raman spectrum CSV")
    parser.add_argument("harmonic", metavar="HARMONIC_CSV", help="harmonic spectrum CSV")
    parser.add_argument("-o", "--output", required=True, type=image_path, metavar="PNG",
                        help="figure to write")
    parser.add_argument("--column", default="intensity", help="column to compare")
    parser.add_argument("--window", type=POSITIVE, metavar="CM",
                        help="largest peak shift accepted as a match, cm^-1")
    parser.add_argument("--min-height", type=NON_NEGATIVE, default=0.02,
                        help="ignore harmonic lines below this fraction of the strongest")
    parser.add_argument("--max-freq", type=POSITIVE, metavar="CM", help="plot up to this")
    parser.add_argument("--no-normalize", action="store_true",
                        help="plot absolute intensities (default: each scaled to max 1)")


def _local_maxima(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    from scipy.signal import find_peaks

    idx, _ = find_peaks(y)
    return idx


def _refine(x: np.ndarray, y: np.ndarray, i: int) -> float:
    """Parabolic interpolation of a maximum at index i."""
    if i <= 0 or i >= len(y) - 1:
        return float(x[i])
    y0, y1, y2 = y[i - 1], y[i], y[i + 1]
    den = y0 - 2 * y1 + y2
    shift = 0.5 * (y0 - y2) / den if den != 0 else 0.0
    return float(x[i] + np.clip(shift, -1, 1) * (x[i + 1] - x[i]))


def match_peaks(md_x: np.ndarray, md_y: np.ndarray, lines: list[float],
                window: float) -> list[dict[str, Any]]:
    """For each harmonic line (cm^-1), the nearest MD local maximum within ``window``."""
    idx = _local_maxima(md_x, md_y)
    top = float(np.max(md_y)) if md_y.size else 1.0
    out = []
    for nu in lines:
        row: dict[str, Any] = {"harmonic_cm": float(nu), "md_cm": None, "shift_cm": None,
                               "md_height": None}
        if idx.size:
            near = idx[np.abs(md_x[idx] - nu) <= window]
            if near.size:
                j = int(near[np.argmax(md_y[near])])
                pos = _refine(md_x, md_y, j)
                row.update(md_cm=pos, shift_cm=pos - nu,
                           md_height=float(md_y[j] / top) if top > 0 else None)
        out.append(row)
    return out


def run(args: argparse.Namespace) -> int:
    from ..spectra.plotting import AXIS_LABELS, new_axes, read_spectrum_csv, save_figure

    md_cols, md_meta = read_spectrum_csv(Path(args.md))
    h_cols, h_meta = read_spectrum_csv(Path(args.harmonic))
    for cols, path in ((md_cols, args.md), (h_cols, args.harmonic)):
        if args.column not in cols:
            raise UsageError(f"{path}: no column {args.column!r} (columns: {', '.join(cols)})")
    mx, my = md_cols["frequency_cm-1"], md_cols[args.column]
    hx, hy = h_cols["frequency_cm-1"], h_cols[args.column]
    same_grid = mx.shape == hx.shape and np.allclose(mx, hx, rtol=1e-9, atol=1e-9)
    modes = h_meta.get("modes") or []
    if modes:
        lines = [(float(m["frequency_cm"]), m.get("irrep")) for m in modes]
        heights = np.interp([nu for nu, _ in lines], hx, hy)
    else:
        idx = _local_maxima(hx, hy)
        lines = [(_refine(hx, hy, int(i)), None) for i in idx]
        heights = hy[idx]
    hmax = float(np.max(hy)) if hy.size else 0.0
    keep = [k for k in range(len(lines)) if hmax <= 0 or heights[k] >= args.min_height * hmax]
    sigma = float(md_meta.get("sigma_cm") or h_meta.get("sigma_cm") or 4.0)
    window = args.window if args.window is not None else max(3.0 * sigma, 10.0)
    matches = match_peaks(mx, my, [lines[k][0] for k in keep], window)
    ax = new_axes()
    scale_m = 1.0 if args.no_normalize or np.max(my) <= 0 else 1.0 / np.max(my)
    scale_h = 1.0 if args.no_normalize or hmax <= 0 else 1.0 / hmax
    ax.plot(mx, my * scale_m, lw=1.2, label=f"MD ({Path(args.md).name})")
    ax.plot(hx, hy * scale_h, lw=1.2, ls="--", label=f"harmonic ({Path(args.harmonic).name})")
    for row in matches:
        ax.axvline(row["harmonic_cm"], color="0.7", lw=0.6, zorder=0)
    xlabel, ylabel = AXIS_LABELS["raman"]
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel if args.no_normalize else "Raman intensity (normalised to max = 1)")
    ax.set_xlim(0, args.max_freq or max(float(mx[-1]), float(hx[-1])))
    ax.legend(frameon=False)
    save_figure(ax, args.output)
    if not same_grid:
        print("note: the two spectra are on different frequency grids")
    print(f"{'harmonic cm^-1':>14} {'irrep':>6} {'MD cm^-1':>10} {'shift':>8} "
          f"{'MD height':>9}")
    for k, row in zip(keep, matches, strict=True):
        irrep = lines[k][1] or "-"
        if row["md_cm"] is None:
            print(f"{row['harmonic_cm']:14.2f} {irrep:>6} {'no match':>10}")
        else:
            print(f"{row['harmonic_cm']:14.2f} {irrep:>6} {row['md_cm']:10.2f} "
                  f"{row['shift_cm']:+8.2f} {row['md_height']:9.3f}")
    print(f"wrote {args.output} (match window {window:g} cm^-1)")
    return 0
