"""``ase-raman plot``: overlay spectra from several CSV files (e.g. several temperatures)."""

from __future__ import annotations

import argparse

from ._types import POSITIVE, image_path

HELP = "overlay Raman or VDOS spectra from CSV files in one figure (labelled axes, units)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("csv", nargs="+", metavar="CSV",
                        help="spectrum CSVs written by 'ase-raman raman' or 'ase-raman vdos'")
    parser.add_argument("-o", "--output", required=True, type=image_path, metavar="PNG",
                        help="figure to write (format from the suffix: .png, .pdf, .svg)")
    parser.add_argument("--labels", nargs="+", metavar="LABEL",
                        help="legend labels, one per file (default: file names)")
    parser.add_argument("--column", metavar="NAME",
                        help="column to plot (default intensity for Raman, total for VDOS)")
    parser.add_argument("--normalize", action="store_true", help="scale each curve to max 1")
    parser.add_argument("--max-freq", type=POSITIVE, metavar="CM", help="upper x limit, cm^-1")


def run(args: argparse.Namespace) -> int:
    from ..spectra.plotting import plot_csv_files

    labels = plot_csv_files(args.csv, args.output, labels=args.labels, column=args.column,
                            normalize=args.normalize, max_freq_cm=args.max_freq)
    print(f"wrote {args.output}: {len(labels)} curves ({', '.join(labels)})")
    return 0
