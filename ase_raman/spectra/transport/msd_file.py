"""MSD, D, conductivity and Haven ratio of a trajectory file, and their output files.

The engine of ``ase-raman msd`` and ``ase-raman batch``: :func:`msd_from_file` reads any
trajectory :func:`ase_raman.io.positions.load_frames` reads, checks the options against
the trajectory (species, charges, blocks) and returns an :class:`MSDReport`: the
:class:`~ase_raman.spectra.transport.msd.MSDResult` and the per-species summary
(:func:`~ase_raman.spectra.transport.report.transport_summary`, or, for a run of fewer
than :data:`MIN_FRAMES` frames, the counts and a ``no_fit_reason``).
:func:`write_msd_outputs` writes the CSV, PNG and JSON files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import UsageError
from .msd import MSDResult

__all__ = ["DEFAULT_BLOCKS", "MIN_FRAMES", "MSDReport", "choose_blocks", "msd_from_file",
           "msd_from_frames", "parse_fit_window", "write_msd_outputs"]

#: Default number of trajectory blocks for error bars (when there are enough frames).
DEFAULT_BLOCKS = 5
#: Fewest frames per block for the default block count.
MIN_FRAMES_PER_BLOCK = 10
#: Fewest frames for a fit of D (shorter runs of >= 2 frames get the MSD only).
MIN_FRAMES = 6


@dataclass
class MSDReport:
    """What :func:`msd_from_file` found: the MSD, the summary and the settings used."""

    #: The MSD per species (and collective, with charges).
    result: MSDResult
    #: Per-species summary (the ``ase-raman msd --json`` content).
    summary: dict[str, dict]
    #: Time between the frames analysed, fs.
    dt_fs: float
    #: Blocks of the MSD error band.
    n_blocks: int
    #: Why D was not fitted (a run too short), else ``None``.
    no_fit_reason: str | None = None


def parse_fit_window(text: str | None) -> tuple[float, float] | None:
    """``START_PS:END_PS`` -> ``(start_fs, end_fs)`` (``None`` for none)."""
    if text is None:
        return None
    start, sep, end = text.partition(":")
    try:
        if not sep:
            raise ValueError
        window = (float(start) * 1000.0, float(end) * 1000.0)
    except ValueError:
        raise UsageError(f"fit_window_ps {text!r}: expected START_PS:END_PS, e.g. 1:5"
                         ) from None
    if not (np.isfinite(window[1]) and window[1] > window[0] >= 0):
        raise UsageError(f"fit_window_ps {text!r}: need 0 <= START < END")
    return window


def choose_blocks(requested: int | None, n_frames: int) -> int:
    """Blocks of the MSD error band: ``requested``, or the default for ``n_frames``."""
    if requested is None:
        return DEFAULT_BLOCKS if n_frames >= DEFAULT_BLOCKS * MIN_FRAMES_PER_BLOCK else 1
    if requested < 1:
        raise UsageError(f"blocks must be >= 1, got {requested}")
    if requested > 1 and n_frames // requested < 4:
        raise UsageError(f"blocks {requested}: {n_frames} frames are too few "
                         f"(need >= 4 frames per block)")
    return requested


def check_frame_count(n_frames: int, path: str) -> None:
    """A displacement needs two frames: UsageError for fewer."""
    if n_frames < 2:
        raise UsageError(f"{path}: {n_frames} frame(s) read; a displacement needs at least 2 "
                         "(check every and the file)")


def select_species(wanted: Sequence[str] | str | None, available: Sequence[str]) -> list[str]:
    """The species asked for (all of the trajectory's when ``None``), each present."""
    order = list(dict.fromkeys(available))
    if wanted is None:
        return order
    wanted = [wanted] if isinstance(wanted, str) else list(wanted)
    missing = [s for s in wanted if s not in order]
    if missing:
        raise UsageError(f"species {','.join(missing)}: not in the trajectory "
                         f"(it has {', '.join(order)})")
    return list(dict.fromkeys(wanted))


def check_charges(charges: Mapping[str, float] | None, available: Sequence[str]
                  ) -> dict[str, float]:
    """Charges in e of species of the trajectory, finite."""
    out = {str(k): float(v) for k, v in (charges or {}).items()}
    for sym, q in out.items():
        if not np.isfinite(q):
            raise UsageError(f"charges: the charge of {sym} is {q}, not a finite number")
        if sym not in available:
            raise UsageError(f"charges: species {sym} is not in the trajectory")
    return out


def short_run_summary(result: MSDResult, temperature_K: float | None,
                      reason: str) -> dict[str, dict]:
    """The summary of a run too short for the fit: per species the counts and
    conditions, no ``D_*`` keys, and ``no_fit_reason`` saying why."""
    from .report import SUMMARY_VERSION

    return {sym: {"n_atoms": result.counts[sym], "n_frames": len(result.time_fs),
                  "dt_fs": result.dt_fs, "volume_A3": result.volume_A3,
                  "temperature_K": temperature_K, "n_blocks": result.n_blocks,
                  "no_fit_reason": reason, "summary_version": SUMMARY_VERSION}
            for sym in result.species}


def msd_from_frames(
    frames: Any,
    dt_fs: float,
    *,
    species: Sequence[str] | str | None = None,
    charges: Mapping[str, float] | None = None,
    temperature_K: float | None = None,
    fit_window_fs: tuple[float, float] | None = None,
    blocks: int | None = None,
    unwrapped: bool = False,
    remove_com: bool = True,
    where: str = "the trajectory",
) -> MSDReport:
    """:class:`MSDReport` of loaded frames (:class:`ase_raman.io.positions.Frames`).

    ``dt_fs``: time between the frames (fs); ``species``: those analysed (default all);
    ``charges`` (e) with ``temperature_K`` (K) give conductivities and the Haven ratio;
    ``fit_window_fs``: the diffusive window of the fit (default automatic); ``blocks``:
    of the MSD error band (default :data:`DEFAULT_BLOCKS` when every block has
    >= 10 frames, else 1).
    """
    from .msd import mean_squared_displacement
    from .report import transport_summary

    if temperature_K is not None and not temperature_K > 0:
        raise UsageError(f"temperature_K must be positive, got {temperature_K}")
    if charges and temperature_K is None:
        raise UsageError("charges need temperature_K (K) for the conductivity")
    n_frames = frames.positions.shape[0]
    check_frame_count(n_frames, where)
    chosen = select_species(species, frames.symbols)
    charges = check_charges(charges, frames.symbols)
    n_blocks = choose_blocks(blocks, n_frames)
    result = mean_squared_displacement(
        frames.positions, frames.symbols, dt_fs,
        cells=frames.cells, pbc=frames.pbc, species=chosen,
        unwrapped=unwrapped, remove_com=remove_com,
        masses=frames.masses, charges=charges or None, n_blocks=n_blocks,
    )
    if n_frames < MIN_FRAMES:  # the MSD is kept; only the fit needs a longer run
        reason = (f"{n_frames} frames are too few to fit D (the fit needs >= {MIN_FRAMES}); "
                  "the MSD is written without a fit")
        return MSDReport(result, short_run_summary(result, temperature_K, reason), dt_fs,
                         n_blocks, reason)
    summary = transport_summary(result, window_fs=fit_window_fs, temperature_K=temperature_K)
    return MSDReport(result, summary, dt_fs, n_blocks)


def msd_from_file(
    path: str | os.PathLike,
    *,
    dt_fs: float | None = None,
    every: int = 1,
    fmt: str | None = None,
    reading: dict[str, Any] | None = None,
    **options: Any,
) -> MSDReport:
    """:func:`msd_from_frames` of a trajectory file.

    ``dt_fs``: time between the file's frames (needed unless the run's files say it);
    ``every``: keep every k-th frame; ``fmt`` and ``reading`` (``type_map``, ...): how
    to read it (:func:`ase_raman.io.positions.load_frames`); ``options`` go to
    :func:`msd_from_frames`.
    """
    from ...io.positions import load_frames, resolve_dt

    frames = load_frames(str(path), fmt, every, reading=reading)
    dt = resolve_dt(frames, dt_fs, every)
    return msd_from_frames(frames, dt, where=str(path), **options)


def write_msd_outputs(report: MSDReport, csv: str | os.PathLike,
                      png: str | os.PathLike | None = None,
                      json: str | os.PathLike | None = None) -> None:
    """Write the MSD CSV, the plot (``png``) and the summary JSON (``json``)."""
    from .report import plot_msd, write_json, write_msd_csv

    write_msd_csv(csv, report.result, with_collective=bool(report.result.charges))
    if png:
        plot_msd(png, report.result, report.summary)
    if json:
        write_json(json, report.summary)
