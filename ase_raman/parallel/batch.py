"""``ase-raman batch``: many trajectories -> one results table and a ranking plot.

A manifest (YAML) lists the runs::

    defaults:                  # optional, merged into every entry
      model: models/agi.npz
      dt_fs: 10.0              # fs between consecutive frames of the trajectory files
    entries:                   # (or the list alone, without defaults)
      - name: AgI_500K         # unique; the entry's output folder
        trajectory: runs/agi_500/XDATCAR
        temperature_K: 500
        species: Ag            # mobile species (a symbol or a list; the first is tabled)
        charges: {Ag: 1}       # e; gives sigma and the Haven ratio (optional)
        material: AgI          # entries of one material at several temperatures -> E_a
      - name: AgI_from_store
        trajectory: runs/agi_600/alpha.h5   # an ase-raman store with alpha: no model needed
        model: null
        temperature_K: 600
        species: Ag

Optional keys per entry: ``model`` (omit/null when the trajectory is an H5MD store
that already holds alpha), ``dt_fs``, ``every``, ``index`` (``START:STOP:STEP``),
``format``, ``type_map`` (``Ag,I``), ``material`` (default: the name), ``sigma_cm``
(Raman smoothing, default 4 cm^-1), ``cutoff_cm`` (central-peak cutoff, default 50
cm^-1), ``fit_window_ps`` (``"1:5"``), ``blocks``. Relative paths are relative to the
manifest's folder.

Per entry (folder ``OUT/NAME/``) the ordinary commands run: ``predict`` (alpha.h5),
``raman`` (raman.csv/.json/.png), ``msd`` (msd.csv/.json/.png) and ``mechanism``
(mechanism.json). Then ``OUT/results.csv`` (one row per entry: central-peak metrics, D,
sigma, Haven ratio, E_a of its material, the ``mechanism`` verdict and residence time)
and ``OUT/ranking.png`` (entries ranked by the low-frequency Raman fraction) are
written by this process only.

Resumable: a finished entry writes ``done.json`` (atomically, with a hash of its
settings and of its input files' sizes and times) and is skipped on a re-run while
that hash matches. A failing entry (bad trajectory, wrong species, ...) writes
``failed.json`` with the reason, is reported as ``failed`` in the table, and does not
stop the others; it is retried on the next run. With a Dask client, entries run as
parallel tasks (one per trajectory); a killed worker's entry is rerun by Dask.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..atomic_write import atomic_output, write_table_csv
from ..errors import AseRamanError, InputFileError, UsageError
from ..jsonsafe import finite_or_none as _finite

__all__ = ["BatchEntry", "read_manifest", "run_entry", "run_batch", "RESULT_COLUMNS"]

DONE_MARKER = "done.json"
FAILED_MARKER = "failed.json"
#: Largest manifest read, bytes (a manifest lists files; it is never this big).
MAX_MANIFEST_BYTES = 4 * 1024**2
#: Columns of results.csv, in order (units in the names; E_a per material).
RESULT_COLUMNS = [
    "name", "material", "temperature_K", "status", "rank", "species",
    "low_frequency_fraction", "central_to_phonon_ratio", "central_width_cm",
    "D_cm2_s", "D_err_cm2_s", "sigma_S_cm", "sigma_err_S_cm", "haven_ratio",
    "E_a_eV", "E_a_err_eV", "n_frames", "reason", "mechanism", "residence_time_ps",
]
_KNOWN_KEYS = {"name", "trajectory", "model", "temperature_K", "species", "charges",
               "dt_fs", "every", "index", "format", "type_map", "material", "sigma_cm",
               "cutoff_cm", "fit_window_ps", "blocks"}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


@dataclass
class BatchEntry:
    """One manifest entry (paths absolute; see the module docstring for the keys)."""

    name: str
    trajectory: str
    temperature_K: float
    species: list[str]
    model: str | None = None
    charges: dict[str, float] = field(default_factory=dict)
    dt_fs: float | None = None
    every: int = 1
    index: str | None = None
    format: str | None = None
    type_map: str | None = None
    material: str | None = None
    sigma_cm: float = 4.0
    cutoff_cm: float = 50.0
    fit_window_ps: str | None = None
    blocks: int | None = None

    def settings_hash(self) -> str:
        """SHA-256 of the settings and of the input files' (size, mtime)."""
        stamp = {}
        for p in (self.trajectory, self.model):
            if p and os.path.exists(p):
                st = os.stat(p)
                stamp[p] = [st.st_size, st.st_mtime_ns]
        text = json.dumps({"entry": asdict(self), "inputs": stamp}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


def _entry_from_dict(raw: dict[str, Any], base: Path, where: str) -> BatchEntry:
    unknown = sorted(set(raw) - _KNOWN_KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(unknown)}; known: "
                         f"{', '.join(sorted(_KNOWN_KEYS))}")
    for key in ("name", "trajectory", "temperature_K", "species"):
        if raw.get(key) in (None, ""):
            raise UsageError(f"{where}: '{key}' is required")
    name = str(raw["name"])
    if not _NAME_RE.match(name):
        raise UsageError(f"{where}: name {name!r} must be letters, digits, _ . + - "
                         "(it names the output folder)")
    species = raw["species"]
    species = [species] if isinstance(species, str) else [str(s) for s in species]
    charges = raw.get("charges") or {}
    if not isinstance(charges, dict):
        raise UsageError(f"{where}: charges must be a mapping like {{Ag: 1}}")

    def path(value: Any) -> str | None:
        if value in (None, ""):
            return None
        p = Path(os.path.expanduser(str(value)))
        return str(p if p.is_absolute() else (base / p).resolve())

    try:
        entry = BatchEntry(
            name=name, trajectory=path(raw["trajectory"]),
            temperature_K=float(raw["temperature_K"]), species=species,
            model=path(raw.get("model")),
            charges={str(k): float(v) for k, v in charges.items()},
            dt_fs=None if raw.get("dt_fs") is None else float(raw["dt_fs"]),
            every=int(raw.get("every", 1)),
            index=None if raw.get("index") is None else str(raw["index"]),
            format=raw.get("format"),
            type_map=(",".join(raw["type_map"]) if isinstance(raw.get("type_map"), list)
                      else raw.get("type_map")),
            material=str(raw.get("material") or name),
            sigma_cm=float(raw.get("sigma_cm", 4.0)),
            cutoff_cm=float(raw.get("cutoff_cm", 50.0)),
            fit_window_ps=None if raw.get("fit_window_ps") is None
            else str(raw["fit_window_ps"]),
            blocks=None if raw.get("blocks") is None else int(raw["blocks"]),
        )
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{where}: {exc}") from None
    checks = [("temperature_K", entry.temperature_K, 0.0, False),
              ("dt_fs", entry.dt_fs, 0.0, False), ("every", entry.every, 1, True),
              ("sigma_cm", entry.sigma_cm, 0.0, True), ("cutoff_cm", entry.cutoff_cm, 0.0, False),
              ("blocks", entry.blocks, 1, True)]
    checks += [(f"charges.{k}", v, -math.inf, True) for k, v in entry.charges.items()]
    for key, value, lo, inclusive in checks:
        if value is None:
            continue
        if not math.isfinite(value) or value < lo or (value == lo and not inclusive):
            raise UsageError(f"{where}: {key} = {value!r} must be a finite number "
                             f"{'>=' if inclusive else '>'} {lo:g}")
    return entry


@dataclass
class InvalidEntry:
    """A manifest entry that failed validation: reported as ``failed``, never run."""

    name: str
    reason: str
    temperature_K: Any = None
    species: Any = None

    def row(self) -> dict[str, Any]:
        """Its ``results.csv`` row."""
        species = self.species if isinstance(self.species, str) else None
        temperature = (self.temperature_K if isinstance(self.temperature_K, (int, float))
                       and not isinstance(self.temperature_K, bool) else None)
        return {"name": self.name, "material": self.name, "status": "failed",
                "temperature_K": temperature, "species": species, "reason": self.reason}


def read_manifest(path: str | os.PathLike, keep_invalid: bool = False
                  ) -> list[BatchEntry]:
    """Read a batch manifest (YAML; see the module docstring).

    An entry with a bad value raises :class:`UsageError`; with ``keep_invalid`` it is
    returned as an :class:`InvalidEntry` instead (``run_batch`` marks it failed and runs
    the others). A manifest that is not a list of uniquely named mappings always raises.
    """
    from ..io.safe_yaml import load_yaml

    source = Path(path)
    if not source.is_file():
        raise InputFileError(f"{path}: no such manifest")
    doc = load_yaml(source, max_bytes=MAX_MANIFEST_BYTES)
    defaults: dict[str, Any] = {}
    if isinstance(doc, dict):
        defaults = dict(doc.get("defaults") or {})
        items = doc.get("entries")
    else:
        items = doc
    if not isinstance(items, list) or not items:
        raise InputFileError(f"{path}: expected a list of entries (or 'entries:' with one)")
    entries: list[Any] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise UsageError(f"{path}: entry {i + 1} is not a mapping")
        raw = {**defaults, **item}
        try:
            entries.append(_entry_from_dict(raw, source.parent.resolve(),
                                            f"{path}: entry {i + 1}"))
        except UsageError as exc:
            if not keep_invalid:
                raise
            name = raw.get("name")
            name = str(name) if isinstance(name, (str, int)) and name != "" else f"entry{i + 1}"
            entries.append(InvalidEntry(name, str(exc), raw.get("temperature_K"),
                                        raw.get("species")))
    names = [e.name for e in entries]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UsageError(f"{path}: duplicate entry name(s) {', '.join(dupes)}")
    return entries


# --------------------------------------------------------------------------------------
# one entry
# --------------------------------------------------------------------------------------
def _write_json(path: Path, payload: dict[str, Any]) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=1, sort_keys=True, default=str))


def run_entry(entry: BatchEntry, out_dir: str | os.PathLike, force: bool = False
              ) -> dict[str, Any]:
    """Run one entry into ``out_dir/NAME``; returns its results row (a dict).

    Skipped (``status`` ``"done"``, the stored row) when its ``done.json`` matches the
    entry's settings, unless ``force``. Never raises for a bad input: the row then has
    ``status`` ``"failed"`` and the ``reason``, and ``failed.json`` is written.
    """
    folder = Path(out_dir) / entry.name
    folder.mkdir(parents=True, exist_ok=True)
    marker, failed = folder / DONE_MARKER, folder / FAILED_MARKER
    digest = entry.settings_hash()
    if marker.exists() and not force:
        with contextlib.suppress(OSError, ValueError, KeyError):
            stored = json.loads(marker.read_text())
            if stored["settings_hash"] == digest:
                return {**stored["row"], "status": "done"}
    row: dict[str, Any] = {"name": entry.name, "material": entry.material,
                           "temperature_K": entry.temperature_K, "species": entry.species[0]}
    try:
        # the entry's notes and warnings stay out of the batch's output (the row reports)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            row.update(_compute_entry(entry, folder))
    except AseRamanError as exc:
        return _mark_failed(row, failed, marker, str(exc))
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # a bad file can make any reader raise anything
        first = str(exc).splitlines()[0] if str(exc) else ""
        return _mark_failed(row, failed, marker, f"{type(exc).__name__}: {first}".rstrip(": "))
    row["status"] = "ok"
    _write_json(marker, {"settings_hash": digest, "entry": asdict(entry), "row": row})
    with contextlib.suppress(FileNotFoundError):
        failed.unlink()
    return row


def _mark_failed(row: dict[str, Any], failed: Path, marker: Path, reason: str
                 ) -> dict[str, Any]:
    row.update(status="failed", reason=reason)
    with contextlib.suppress(FileNotFoundError):
        marker.unlink()
    _write_json(failed, {"row": row, "reason": reason})
    return row


def _compute_entry(entry: BatchEntry, folder: Path) -> dict[str, Any]:
    """Predict, Raman, MSD and mechanism of one entry into ``folder``; its row values."""
    traj = entry.trajectory
    is_store = Path(traj).suffix.lower() in (".h5", ".hdf5", ".h5md")
    if not os.path.exists(traj):
        raise InputFileError(f"{traj}: no such trajectory")
    if entry.model is not None:
        alpha = _predict(entry, folder / "alpha.h5")
    elif is_store:
        alpha = Path(traj)
    else:
        raise UsageError(f"{traj}: no model given and the trajectory is not an ase-raman "
                         "H5MD store holding alpha")
    # a store without a model keeps its own times: dt_fs and every apply to predictions
    every, dt_fs = (1, None) if is_store and entry.model is None else (entry.every, entry.dt_fs)
    raman_json = _raman(entry, alpha, folder)
    central = json.loads(raman_json.read_text())["central_peak"]
    msd_json = _msd(entry, every, dt_fs, folder)
    transport = json.loads(msd_json.read_text())[entry.species[0]]
    mech_json = _mechanism(entry, every, dt_fs, raman_json, folder)
    mechanism = json.loads(mech_json.read_text())["species"][entry.species[0]]
    return {
        "low_frequency_fraction": _finite(central.get("low_frequency_fraction")),
        "central_to_phonon_ratio": _finite(central.get("central_to_phonon_ratio")),
        "central_width_cm": _finite(central.get("central_width_cm")),
        "D_cm2_s": _finite(transport.get("D_cm2_s")),
        "D_err_cm2_s": _finite(transport.get("D_err_cm2_s")),
        "sigma_S_cm": _finite(transport.get("sigma_S_cm")),
        "sigma_err_S_cm": _finite(transport.get("sigma_err_S_cm")),
        "haven_ratio": _finite(transport.get("haven_ratio")),
        "n_frames": transport.get("n_frames"),
        "reason": "",
        "mechanism": mechanism.get("verdict"),
        "residence_time_ps": _finite(mechanism.get("residence_time_ps")),
    }


def _predict(entry: BatchEntry, alpha: Path) -> Path:
    """``alpha.h5``: the model's alpha for the entry's frames (resumes a part file)."""
    from ..models.registry import load_model
    from ..recording import predict_file_to_store

    predict_file_to_store(load_model(entry.model), entry.trajectory, alpha,
                          index=entry.index, every=entry.every, dt_fs=entry.dt_fs,
                          format=entry.format, type_map=entry.type_map)
    return alpha


def _raman(entry: BatchEntry, alpha: Path, folder: Path) -> Path:
    """``raman.csv``, ``raman.png`` and ``raman.json`` of the stored alpha."""
    from ..spectra.raman_file import raman_from_file, raman_summary, write_raman_outputs

    csv, summary_json = folder / "raman.csv", folder / "raman.json"
    spectrum = raman_from_file(alpha, sigma_cm=entry.sigma_cm)
    summary = raman_summary(spectrum, entry.cutoff_cm, csv)
    write_raman_outputs(spectrum, csv, folder / "raman.png", summary_json, summary, alpha.name)
    return summary_json


def _msd(entry: BatchEntry, every: int, dt_fs: float | None, folder: Path) -> Path:
    """``msd.csv``, ``msd.png`` and ``msd.json`` of the trajectory."""
    from ..spectra.transport.msd_file import msd_from_file, parse_fit_window, write_msd_outputs

    report = msd_from_file(entry.trajectory, dt_fs=dt_fs, every=every, fmt=entry.format,
                           species=entry.species, charges=entry.charges or None,
                           temperature_K=entry.temperature_K,
                           fit_window_fs=parse_fit_window(entry.fit_window_ps),
                           blocks=entry.blocks)
    summary_json = folder / "msd.json"
    write_msd_outputs(report, folder / "msd.csv", folder / "msd.png", summary_json)
    return summary_json


def _mechanism(entry: BatchEntry, every: int, dt_fs: float | None, raman_json: Path,
               folder: Path) -> Path:
    """``mechanism.json`` of the entry's first species, next to its Raman summary."""
    from ..spectra.transport.mechanism import mechanism_from_file
    from ..spectra.transport.msd_file import parse_fit_window
    from ..spectra.transport.report import write_json

    result = mechanism_from_file(entry.trajectory, [entry.species[0]], dt_fs=dt_fs,
                                 every=every, fmt=entry.format, raman=str(raman_json),
                                 fit_window_fs=parse_fit_window(entry.fit_window_ps))
    out = folder / "mechanism.json"
    write_json(out, result.as_dict())
    return out


# --------------------------------------------------------------------------------------
# the batch
# --------------------------------------------------------------------------------------
def _add_activation_energies(rows: list[dict[str, Any]]) -> None:
    """E_a (eV) of D per material, over its successful entries at >= 2 temperatures."""
    from ..spectra.transport.arrhenius import arrhenius_fit

    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("status") in ("ok", "done") and (row.get("D_cm2_s") or 0) > 0:
            groups.setdefault(str(row["material"]), []).append(row)
    for members in groups.values():
        temps = [float(r["temperature_K"]) for r in members]
        if len(set(temps)) < 2:
            continue
        errs = [r.get("D_err_cm2_s") for r in members]
        errors = None if any(e is None or e <= 0 for e in errs) else errs
        try:
            fit = arrhenius_fit(temps, [r["D_cm2_s"] for r in members], errors)
        except AseRamanError:
            continue
        for r in members:
            r["E_a_eV"] = _finite(fit.E_a_eV)
            r["E_a_err_eV"] = _finite(fit.E_a_err_eV)


def _add_ranks(rows: list[dict[str, Any]]) -> None:
    ranked = sorted((r for r in rows if r.get("low_frequency_fraction") is not None),
                    key=lambda r: (-r["low_frequency_fraction"], r["name"]))
    for i, r in enumerate(ranked, start=1):
        r["rank"] = i


def write_results_csv(path: str | os.PathLike, rows: list[dict[str, Any]]) -> None:
    """``results.csv``: a commented header, then :data:`RESULT_COLUMNS` per entry."""
    def fmt(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, float):
            return repr(v)
        return str(v)

    write_table_csv(path, "ase-raman batch results; D in cm^2/s, sigma in S/cm, E_a in eV "
                    "(Arrhenius of D per material), Raman central-peak metrics of ase-raman "
                    "raman --json; rank: by low_frequency_fraction, largest first",
                    RESULT_COLUMNS, rows, fmt)


def plot_ranking(path: str | os.PathLike, rows: list[dict[str, Any]]) -> None:
    """``ranking.png``: low-frequency Raman fraction and tracer D per entry, ranked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ranked = sorted((r for r in rows if r.get("rank") is not None), key=lambda r: r["rank"])
    labels = [f"{r['name']}" for r in ranked]
    fig, axes = plt.subplots(1, 2, figsize=(9, 0.5 * max(3, len(ranked)) + 1.2), sharey=True)
    y = list(range(len(ranked)))
    axes[0].barh(y, [r["low_frequency_fraction"] for r in ranked], color="tab:red")
    axes[0].set_xlabel("low-frequency Raman fraction")
    axes[0].set_yticks(y, labels)
    axes[0].invert_yaxis()
    d = [r.get("D_cm2_s") or float("nan") for r in ranked]
    axes[1].barh(y, d, color="tab:blue")
    if any(v > 0 for v in d if math.isfinite(v)):
        axes[1].set_xscale("log")
    axes[1].set_xlabel("tracer D (cm$^2$/s)")
    failed = [r["name"] for r in rows if r.get("status") == "failed"]
    title = "ase-raman batch ranking"
    if failed:
        title += f" (failed: {', '.join(failed)})"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def run_batch(manifest: str | os.PathLike | list[BatchEntry], out_dir: str | os.PathLike,
              client: Any = None, force: bool = False, progress: Any = None
              ) -> list[dict[str, Any]]:
    """Run every entry (in parallel on ``client``'s cluster when given) and write
    ``out_dir/results.csv`` and ``out_dir/ranking.png``; returns the rows in manifest
    order. ``progress``: optional callable ``progress(row)`` per finished entry."""
    entries = (manifest if isinstance(manifest, list)
               else read_manifest(manifest, keep_invalid=True))
    invalid = {e.name: e.row() for e in entries if isinstance(e, InvalidEntry)}
    valid = [e for e in entries if not isinstance(e, InvalidEntry)]
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"out_dir {out}: exists and is not a folder; give a folder for the "
                         "results")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"out_dir {out}: cannot create the results folder ({exc.strerror or exc})"
                         ) from None
    rows: dict[str, dict[str, Any]] = dict(invalid)
    if progress is not None:
        for row in invalid.values():
            progress(row)
    if client is None:
        for entry in valid:
            rows[entry.name] = run_entry(entry, out, force)
            if progress is not None:
                progress(rows[entry.name])
    else:
        from distributed import as_completed

        token = os.urandom(4).hex()
        futures = {client.submit(run_entry, e, str(out), force, pure=False,
                                 key=f"ase-raman-batch-{e.name}-{token}"): e.name
                   for e in valid}
        try:
            for fut in as_completed(futures):
                rows[futures[fut]] = fut.result()
                if progress is not None:
                    progress(rows[futures[fut]])
        finally:
            client.cancel([f for f in futures if not f.done()])
    ordered = [rows[e.name] for e in entries]
    _add_activation_energies(ordered)
    _add_ranks(ordered)
    write_results_csv(out / "results.csv", ordered)
    plot_ranking(out / "ranking.png", ordered)
    return ordered
