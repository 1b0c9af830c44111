"""Spectrum outputs: CSV files with a commented header, and matplotlib figures.

CSV layout (written atomically)::

    # ase-raman <kind> spectrum
    # <human-readable lines: units, sampling, options, provenance>
    # metadata: {"...": ...}            <- one line of JSON, read back by read_spectrum_csv
    frequency_cm-1,col1,col2,...
    0,1.2,...

Figures never touch pyplot's global state when no axes are given: a bare
:class:`matplotlib.figure.Figure` is created (it renders with Agg, no display needed).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic_write import atomic_output
from ..errors import InputFileError
from ..jsonsafe import json_safe

#: axis labels (with units) of the plotted quantities.
FREQUENCY_LABEL = r"Raman shift / frequency (cm$^{-1}$)"
AXIS_LABELS = {
    "raman": ("Raman shift (cm$^{-1}$)", "Raman intensity (arb. units)"),
    "vdos": ("Frequency (cm$^{-1}$)", "VDOS (states per cm$^{-1}$)"),
}


def write_json(path: str | os.PathLike, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON (NaN -> null), atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(json_safe(data), indent=2, sort_keys=False) + "\n")


def write_spectrum_csv(
    path: str | os.PathLike,
    kind: str,
    frequencies: np.ndarray,
    columns: dict[str, np.ndarray],
    header_lines: Sequence[str],
    metadata: dict[str, Any],
) -> None:
    """Write ``frequency_cm-1`` and ``columns`` (name -> array) with a commented header."""
    names = ["frequency_cm-1", *columns]
    data = np.column_stack([np.asarray(frequencies, float)]
                           + [np.asarray(v, float) for v in columns.values()])
    lines = [f"# ase-raman {kind} spectrum"]
    lines += [f"# {line}" for line in header_lines]
    lines.append("# metadata: " + json.dumps(json_safe(metadata), separators=(",", ":")))
    with atomic_output(path) as tmp:
        with open(tmp, "w") as fh:
            fh.write("\n".join(lines) + "\n")
            fh.write(",".join(names) + "\n")
            np.savetxt(fh, data, delimiter=",", fmt="%.10g")


def read_spectrum_csv(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a spectrum CSV written by this package: (columns by name, metadata dict).

    The metadata dict has an extra key ``kind`` (``raman``, ``vdos`` or ``unknown``).
    Raises :class:`InputFileError` for a missing or malformed file.
    """
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise InputFileError(f"{p}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise InputFileError(f"{p}: binary file, not a spectrum CSV; pass the .csv that "
                             "ase-raman wrote") from None
    meta: dict[str, Any] = {}
    kind = "unknown"
    header: list[str] | None = None
    rows: list[str] = []
    for line in text.splitlines():
        if line.startswith("#"):
            body = line[1:].strip()
            if body.startswith("ase-raman ") and body.endswith(" spectrum"):
                kind = body.split()[1]
            elif body.startswith("metadata:"):
                try:
                    meta = json.loads(body[len("metadata:"):])
                except json.JSONDecodeError:
                    meta = {}
            continue
        if not line.strip():
            continue
        if header is None:
            header = [h.strip() for h in line.split(",")]
        else:
            rows.append(line)
    if header is None or not rows or header[0] != "frequency_cm-1":
        raise InputFileError(f"{p}: not a spectrum CSV (need a 'frequency_cm-1,...' header"
                             " line and data rows)")
    try:
        data = np.loadtxt(rows, delimiter=",", ndmin=2)
    except ValueError as exc:
        raise InputFileError(f"{p}: malformed data rows ({exc})") from None
    if data.shape[1] != len(header):
        raise InputFileError(f"{p}: {data.shape[1]} data columns but {len(header)} names")
    meta = dict(meta)
    meta["kind"] = kind
    return {name: data[:, i] for i, name in enumerate(header)}, meta


def new_axes(figsize: tuple[float, float] = (6.4, 4.0)) -> Any:
    """Axes on a fresh :class:`matplotlib.figure.Figure` (no pyplot, no display)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig.subplots()


def finish_spectrum_axes(ax: Any, kind: str, frequencies: np.ndarray) -> Any:
    """Axis labels of ``kind`` (:data:`AXIS_LABELS`), x range of ``frequencies`` and a
    frameless legend: the last step of :meth:`RamanSpectrum.plot` and :meth:`VDOS.plot`."""
    xlabel, ylabel = AXIS_LABELS[kind]
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_xlim(frequencies[0], frequencies[-1])
    ax.legend(frameon=False)
    return ax


def check_image_path(path: str | os.PathLike) -> None:
    """:class:`UsageError` when matplotlib cannot write an image named ``path`` (format
    from the suffix); call it before writing anything else, so a bad name leaves nothing."""
    from matplotlib.figure import Figure

    from ..errors import UsageError

    fmt = Path(path).suffix.lower().lstrip(".")
    formats = Figure().canvas.get_supported_filetypes()
    if fmt not in formats:
        raise UsageError(f"{path}: cannot write an image with suffix {fmt or '(none)'!r}; "
                         f"use one of {', '.join('.' + f for f in sorted(formats))}")


def save_figure(ax: Any, path: str | os.PathLike, dpi: int = 150) -> None:
    """Save the figure holding ``ax`` atomically (format from the suffix, e.g. .png)."""
    check_image_path(path)
    with atomic_output(path) as tmp:
        ax.figure.savefig(tmp, dpi=dpi)


def plot_csv_files(
    paths: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    labels: Sequence[str] | None = None,
    column: str | None = None,
    normalize: bool = False,
    max_freq_cm: float | None = None,
) -> list[str]:
    """Overlay spectra from several CSV files in one figure; returns the plotted labels.

    ``column`` defaults to ``intensity`` (Raman) or ``total`` (VDOS); all files must be
    of the same kind. ``normalize`` scales each curve to a maximum of 1.
    """
    from ..errors import UsageError

    if labels is not None and len(labels) != len(paths):
        raise UsageError(f"got {len(labels)} labels for {len(paths)} files")
    loaded = [read_spectrum_csv(p) for p in paths]
    kinds = {meta["kind"] for _, meta in loaded}
    if len(kinds) > 1:
        raise UsageError(f"cannot overlay spectra of different kinds: {', '.join(sorted(kinds))}")
    kind = kinds.pop()
    col = column or ("total" if kind == "vdos" else "intensity")
    ax = new_axes()
    used = []
    for i, ((cols, _meta), path) in enumerate(zip(loaded, paths, strict=True)):
        if col not in cols:
            raise UsageError(f"{path}: no column {col!r} (columns: {', '.join(cols)})")
        x, y = cols["frequency_cm-1"], cols[col]
        if max_freq_cm is not None:
            keep = x <= max_freq_cm
            x, y = x[keep], y[keep]
        if normalize:
            peak = np.nanmax(np.abs(y)) if y.size else 0.0
            y = y / peak if peak > 0 else y
        label = labels[i] if labels is not None else Path(path).stem
        ax.plot(x, y, label=label, lw=1.2)
        used.append(label)
    xlabel, ylabel = AXIS_LABELS.get(kind, (FREQUENCY_LABEL, col))
    if normalize:
        ylabel = ylabel.split(" (")[0] + " (normalised to max = 1)"
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel if col in ("intensity", "total") else f"{ylabel}: {col}")
    ax.set_xlim(left=0)
    ax.legend(frameon=False)
    save_figure(ax, output)
    return used
