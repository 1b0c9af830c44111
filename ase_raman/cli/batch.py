"""``ase-raman batch``: many trajectories (a YAML manifest) -> results.csv + ranking.png.

See :mod:`ase_raman.parallel.batch` for the manifest keys and outputs. Entries run in
this process one after the other, or as parallel Dask tasks with ``--scheduler``.
Finished entries are skipped on a re-run (``--force`` recomputes them); a failing
entry is reported with its reason and does not stop the others. The exit status is 0
when every entry succeeded, 1 when some failed.
"""

from __future__ import annotations

import argparse
import sys

from ..parallel.cli import add_scheduler_argument

HELP = "run predict/raman/msd over the trajectories of a YAML manifest; rank the materials"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("manifest", metavar="MANIFEST.yaml", help="the batch manifest")
    parser.add_argument("-o", "--output", default="batch-results", metavar="DIR",
                        help="output folder (default: batch-results)")
    parser.add_argument("--force", action="store_true",
                        help="recompute entries already marked done")
    parser.add_argument("--quiet", action="store_true", help="no per-entry lines")
    add_scheduler_argument(parser)


def run(args: argparse.Namespace) -> int:
    from ..parallel.batch import read_manifest, run_batch
    from ._common import options_named

    entries = read_manifest(args.manifest, keep_invalid=True)  # bad entries: failed rows

    def report(row: dict) -> None:
        if not args.quiet:
            extra = f": {row.get('reason')}" if row.get("status") == "failed" else ""
            print(f"{row['name']}: {row['status']}{extra}")
            sys.stdout.flush()

    with options_named({"out_dir": "-o"}):
        if args.scheduler:
            from ..parallel.cluster import scheduler_client

            with scheduler_client(args.scheduler) as client:
                rows = run_batch(entries, args.output, client=client, force=args.force,
                                 progress=report)
        else:
            rows = run_batch(entries, args.output, force=args.force, progress=report)
    n_failed = sum(r.get("status") == "failed" for r in rows)
    if not args.quiet:
        print(f"{len(rows) - n_failed}/{len(rows)} entries ok; wrote {args.output}/results.csv "
              f"and {args.output}/ranking.png")
    return 1 if n_failed else 0
