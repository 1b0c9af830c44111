"""``ase-raman mechanism``: liquid-like, hopping or vibrating, from one MD trajectory.

Runs :func:`ase_raman.spectra.transport.analyse_mechanism` on the species asked for and
writes its JSON (keys: :class:`ase_raman.spectra.transport.SpeciesMechanism`) and, with
``--png``, a figure: MSD with its local exponent, alpha_2(t), G_s(r, t) at a few lags,
the residence-time histogram, and the central peak when ``--raman`` is given.
"""

from __future__ import annotations

import argparse

from ..errors import UsageError
from ..spectra.transport.mechanism import mechanism_from_file  # noqa: F401 (re-export)
from ._common import frame_reading_options
from ._types import POSITIVE, image_path
from .msd import add_trajectory_arguments, load_frames, parse_window, resolve_dt, warn_jump

HELP = "conduction mechanism: liquid-like / hopping / vibrating, sites, jumps, residence time"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_trajectory_arguments(parser)
    parser.add_argument("--species", required=True,
                        help="mobile species, comma-separated, e.g. Li or Ag")
    parser.add_argument("--sites", default="auto", metavar="auto|interstitial|FILE",
                        help="'auto' (default): sites from the density of the species' "
                        "positions; 'interstitial': the holes of the host sublattice (the "
                        "other atoms) that the ions visit; or a structure file whose atoms "
                        "are the sites (its labels, if any, are the site types)")
    parser.add_argument("--raman", default=None, metavar="RAMAN.json",
                        help="'ase-raman raman --json' summary of the same run: central "
                        "peak next to the residence time")
    parser.add_argument("--core-radius", type=POSITIVE, default=None, metavar="A",
                        help="site core radius in Angstrom (default 0.4 x the shortest "
                        "site distance, at most 1 A)")
    parser.add_argument("--cage-cutoff", type=POSITIVE, default=None, metavar="A",
                        help="jumps shorter than this (Angstrom) count as intra-cage, "
                        "longer ones as inter-cage")
    parser.add_argument("--fit-window", default=None, metavar="START_PS:END_PS",
                        help="diffusive window of the D fit in ps (default as 'ase-raman msd')")
    parser.add_argument("-o", "--output", required=True, metavar="JSON",
                        help="mechanism JSON")
    parser.add_argument("--png", default=None, type=image_path,
                        help="figure of regimes, G_s, residences")


def run(args: argparse.Namespace) -> int:
    from ..spectra.transport import analyse_mechanism
    from ..spectra.transport.msd import unwrap_positions
    from ..spectra.transport.report import plot_mechanism, write_json

    if args.core_radius is not None and not args.core_radius > 0:
        raise UsageError(f"--core-radius must be positive (Angstrom), got {args.core_radius}")
    if args.cage_cutoff is not None and not args.cage_cutoff > 0:
        raise UsageError(f"--cage-cutoff must be positive (Angstrom), got {args.cage_cutoff}")
    window = parse_window(args.fit_window)
    frames = load_frames(args.trajectory, args.format, args.every, quiet=args.quiet,
                         reading=frame_reading_options(args))
    dt = resolve_dt(frames, args.dt_fs, args.every)
    species = [s.strip() for s in args.species.split(",") if s.strip()]
    if not species:
        raise UsageError("--species: give at least one chemical symbol, e.g. --species Li")
    if not args.unwrapped:
        _, max_jump = unwrap_positions(frames.positions[:2], frames.cells[:2], frames.pbc)
        warn_jump(max_jump, args.trajectory)
    result = analyse_mechanism(
        frames.positions, frames.symbols, dt, species=species, cells=frames.cells,
        pbc=frames.pbc, masses=frames.masses, sites=args.sites, raman=args.raman,
        unwrapped=args.unwrapped, remove_com=not args.no_drift_correction,
        fit_window_fs=window, core_radius_A=args.core_radius,
        cage_cutoff_A=args.cage_cutoff, keep_positions=bool(args.png),
    )
    write_json(args.output, result.as_dict())
    if args.png:
        plot_mechanism(args.png, result)
    if not args.quiet:
        for sym, m in result.species.items():
            print(f"{sym} (N={m.n_atoms}): {m.verdict} -- {'; '.join(m.reasons)}")
            print(f"  D = {m.D_cm2_s:.3e} +- {m.D_err_cm2_s:.1e} cm^2/s; {m.n_sites} sites "
                  f"(contrast {m.site_contrast:.3g}); {m.n_jumps} jumps, residence "
                  f"{m.residence_time_ps:.3g} ps, jump length {m.mean_jump_length_A:.3g} A, "
                  f"transit {m.transit_fraction:.0%}")
            if m.raman:
                r = m.raman
                print(f"  Raman: central fraction {r['central_fraction']:.3g}, width "
                      f"{r['central_width_cm']:.3g} cm^-1, correlation time "
                      f"{r['correlation_time_ps']:.3g} ps vs residence "
                      f"{m.residence_time_ps:.3g} ps; agree: {r['agree']}")
    return 0
