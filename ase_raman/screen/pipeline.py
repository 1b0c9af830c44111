"""``ase-raman screen``: crystal structures -> MD with a force calculator -> ranked table.

Work is organised in *pairs* (material, temperature). For each material the structure
is read, ordered and repeated once (:mod:`ase_raman.screen.structure`, written to
``OUT/MATERIAL/structure.xyz`` with ``structure.json``), relaxed once
(``relaxed.xyz``); for each temperature, in ``OUT/MATERIAL/T<T>K/``: equilibration
(``equilibrated.xyz``), production with alpha recorded (``production.h5``) and the
analysis (``pair.json``; :mod:`ase_raman.screen.analysis`). Every stage is skipped when
its file exists, so a killed run resumes where it stopped; ``pair.json`` holds a hash
of the settings that shaped the pair and is recomputed when they change. A failing
material or pair writes ``failed.json`` with its reason and the others go on.
``OUT/progress.json`` records each pair's stage and production steps as the run goes.

Pairs run material by material (all temperatures of one material before the next), in
this process or as Dask tasks (``client``), one task per material.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..atomic_write import atomic_output
from ..errors import AseRamanError, InputFileError, UsageError

__all__ = ["ScreenSettings", "Material", "read_inputs", "run_material", "run_screen"]

#: a screening manifest is a short list of materials
MAX_MANIFEST_BYTES = 1024**2
STRUCTURE_SUFFIXES = (".cif", ".vasp", ".poscar", ".xyz", ".extxyz")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_MATERIAL_KEYS = {"name", "structure", "species", "charges", "polarizabilities", "family",
                  "measured_sigma_S_cm", "esw_V", "band_gap_eV", "sigma_e_S_cm",
                  "temperatures", "fixed_cell", "min_image_A", "seed"}


@dataclass
class ScreenSettings:
    """Settings shared by all materials (times in fs/ps, temperatures in K)."""

    temperatures: tuple[float, ...] = (800.0, 1100.0)
    ps: float = 20.0
    equilibration_ps: float = 2.0
    timestep_fs: float = 2.0
    every: int = 10
    relax_steps: int = 100
    min_image_A: float = 8.0
    fixed_cell: bool = False
    seed: int = 0
    calculator: str = "chgnet"
    calc_kwargs: dict[str, Any] = field(default_factory=dict)
    alpha: str = "did"
    did_polarizabilities: dict[str, float] = field(default_factory=dict)
    cutoff_cm: float = 50.0
    sigma_cm: float = 6.0
    weights: dict[str, float] = field(default_factory=lambda: {
        "log10_sigma": 1.0, "esw_V": 0.0, "Ea_eV": 1.0, "sigma_e": 0.0})

    @property
    def production_steps(self) -> int:
        return max(self.every, int(round(self.ps * 1000 / self.timestep_fs)))

    @property
    def equilibration_steps(self) -> int:
        return max(1, int(round(self.equilibration_ps * 1000 / self.timestep_fs)))


@dataclass
class Material:
    """One material: a structure file and its per-material options."""

    name: str
    structure: str
    species: list[str] = field(default_factory=list)
    charges: dict[str, float] = field(default_factory=dict)
    polarizabilities: dict[str, float] = field(default_factory=dict)
    family: str = ""
    measured_sigma_S_cm: float | None = None
    esw_V: float | None = None
    band_gap_eV: float | None = None
    sigma_e_S_cm: float | None = None
    temperatures: tuple[float, ...] | None = None
    fixed_cell: bool | None = None
    min_image_A: float | None = None
    seed: int | None = None


def _material_name(path: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_.+-]", "_", path.stem)
    return name if _NAME_RE.match(name) else f"m_{name}"


def _material_from_dict(raw: dict[str, Any], base: Path, where: str) -> Material:
    unknown = sorted(set(raw) - _MATERIAL_KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(unknown)}; known: "
                         f"{', '.join(sorted(_MATERIAL_KEYS))}")
    if not raw.get("structure"):
        raise UsageError(f"{where}: 'structure' (a CIF or POSCAR path) is required")
    p = Path(os.path.expanduser(str(raw["structure"])))
    p = p if p.is_absolute() else (base / p).resolve()
    name = str(raw.get("name") or _material_name(p))
    if not _NAME_RE.match(name):
        raise UsageError(f"{where}: name {name!r} must be letters, digits, _ . + -")
    species = raw.get("species") or []
    species = [species] if isinstance(species, str) else [str(s) for s in species]

    def opt_float(key: str) -> float | None:
        v = raw.get(key)
        return None if v is None else float(v)

    try:
        temps = raw.get("temperatures")
        return Material(
            name=name, structure=str(p), species=species,
            charges={str(k): float(v) for k, v in dict(raw.get("charges") or {}).items()},
            polarizabilities={str(k): float(v) for k, v in
                              dict(raw.get("polarizabilities") or {}).items()},
            family=str(raw.get("family") or ""),
            measured_sigma_S_cm=opt_float("measured_sigma_S_cm"),
            esw_V=opt_float("esw_V"), band_gap_eV=opt_float("band_gap_eV"),
            sigma_e_S_cm=opt_float("sigma_e_S_cm"),
            temperatures=None if temps is None else tuple(float(t) for t in temps),
            fixed_cell=None if raw.get("fixed_cell") is None else bool(raw["fixed_cell"]),
            min_image_A=opt_float("min_image_A"),
            seed=None if raw.get("seed") is None else int(raw["seed"]),
        )
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{where}: {exc}") from None


def _read_manifest(path: Path) -> tuple[list[Material], dict[str, Any]]:
    from ..io.safe_yaml import load_yaml

    doc = load_yaml(path, max_bytes=MAX_MANIFEST_BYTES)
    settings: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    if isinstance(doc, dict):
        settings = dict(doc.get("settings") or {})
        defaults = dict(doc.get("defaults") or {})
        items = doc.get("materials")
    else:
        items = doc
    if not isinstance(items, list) or not items:
        raise InputFileError(f"{path}: expected 'materials:' with a list of entries")
    out = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            item = {"structure": item}
        if not isinstance(item, dict):
            raise UsageError(f"{path}: material {i + 1} is not a mapping")
        out.append(_material_from_dict({**defaults, **item}, path.parent.resolve(),
                                       f"{path}: material {i + 1}"))
    return out, settings


def read_inputs(inputs: list[str]) -> tuple[list[Material], dict[str, Any]]:
    """Materials from structure files, folders of them and YAML manifests; plus the
    manifest's ``settings`` mapping (command-line options override it)."""
    materials: list[Material] = []
    settings: dict[str, Any] = {}
    for text in inputs:
        p = Path(os.path.expanduser(text))
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.suffix.lower() in STRUCTURE_SUFFIXES
                           or f.name.upper().startswith(("POSCAR", "CONTCAR")))
            if not files:
                raise InputFileError(f"{p}: no structure files (.cif, POSCAR, ...) in it")
            materials += [Material(_material_name(f), str(f.resolve())) for f in files]
        elif p.suffix.lower() in (".yaml", ".yml"):
            if not p.is_file():
                raise InputFileError(f"{p}: no such manifest")
            more, s = _read_manifest(p)
            materials += more
            settings.update(s)
        elif p.is_file():
            materials.append(Material(_material_name(p), str(p.resolve())))
        else:
            raise InputFileError(f"{p}: no such file or folder")
    names = [m.name for m in materials]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UsageError(f"duplicate material name(s) {', '.join(dupes)}: give names in a "
                         "manifest")
    return materials, settings


# --------------------------------------------------------------------------------------
def _write_json(path: Path, payload: dict[str, Any]) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=1, sort_keys=True, default=str))


class Progress:
    """``OUT/progress.json``: stage and production steps per pair. Several processes
    may share it: each rewrites only the keys it updated and keeps the others' from disk."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._last = 0.0
        self._mine: dict[str, dict[str, Any]] = {}

    def update(self, key: str, force: bool = True, **values: Any) -> None:
        with self._lock:
            self._mine.setdefault(key, {}).update(values, updated=time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            if force or time.time() - self._last > 30:
                state: dict[str, Any] = {}
                with contextlib.suppress(OSError, ValueError):
                    state = json.loads(self.path.read_text())
                if not isinstance(state, dict):
                    state = {}
                for k, v in self._mine.items():
                    state[k] = {**state.get(k, {}), **v} if isinstance(state.get(k), dict) \
                        else dict(v)
                _write_json(self.path, state)
                self._last = time.time()


def _mobile_species(material: Material, symbols: list[str]) -> list[str]:
    if material.species:
        missing = [s for s in material.species if s not in symbols]
        if missing:
            raise UsageError(f"{material.name}: mobile species {missing} not in the structure")
        return material.species
    for s in ("Li", "Na", "Ag", "K", "Cu", "Mg"):
        if s in symbols:
            return [s]
    raise UsageError(f"{material.name}: no mobile species (Li, Na, Ag, K, Cu or Mg) in the "
                     "structure: name one with 'species' in a manifest")


def _alpha_model(settings: ScreenSettings, material: Material, symbols: list[str]) -> Any:
    if settings.alpha == "did":
        from .polarizabilities import SCREEN_POLARIZABILITIES

        table = {**SCREEN_POLARIZABILITIES, **settings.did_polarizabilities,
                 **material.polarizabilities}
        missing = sorted(set(symbols) - set(table))
        if missing:
            raise UsageError(f"{material.name}: no DID polarizability for {missing}: give "
                             "'polarizabilities' in the manifest or did_polarizabilities")
        try:
            from ase_raman_did.model import DipoleInducedDipole
        except ImportError:
            raise UsageError("alpha='did' needs the dipole-induced-dipole plugin: pip "
                             "install -e plugins/did") from None
        return DipoleInducedDipole({"polarizabilities": {s: table[s] for s in set(symbols)},
                                    "fit": "none", "on_catastrophe": "nan"})
    from ..models import load_model

    return load_model(settings.alpha)


def pair_hash(settings: ScreenSettings, material: Material, temperature_K: float) -> str:
    """SHA-256 of everything that shapes one pair's MD and analysis."""
    from .analysis import ANALYSIS_VERSION

    text = json.dumps({"settings": asdict(settings), "material": asdict(material),
                       "T": temperature_K, "analysis": ANALYSIS_VERSION}, sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _effective(settings: ScreenSettings, material: Material) -> ScreenSettings:
    s = ScreenSettings(**asdict(settings))
    for key in ("temperatures", "fixed_cell", "min_image_A", "seed"):
        value = getattr(material, key)
        if value is not None:
            setattr(s, key, value)
    return s


def run_material(material: Material, settings: ScreenSettings, out_dir: str,
                 quiet: bool = True, md: bool = True, calculator: Any = None
                 ) -> list[dict[str, Any]]:
    """All pairs of one material; returns one row per temperature (never raises for a
    bad material: its rows then have ``status`` ``failed`` and a ``reason``).
    ``calculator``: an ASE calculator object to use instead of ``settings.calculator``."""

    settings = _effective(settings, material)
    out = Path(out_dir)
    folder = out / material.name
    folder.mkdir(parents=True, exist_ok=True)
    progress = Progress(out / "progress.json")
    rows = []
    base = {"material": material.name, "family": material.family,
            "measured_sigma_S_cm": material.measured_sigma_S_cm}
    try:
        atoms, species, calc, model = _prepare(material, settings, folder, progress, md,
                                               calculator, quiet)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        reason = _reason(exc)
        _write_json(folder / "failed.json", {"reason": reason, "stage": "prepare",
                                             "traceback": traceback.format_exc()})
        progress.update(material.name, stage="failed", reason=reason)
        return [{**base, "temperature_K": t, "status": "failed", "reason": reason}
                for t in settings.temperatures]
    for temperature in settings.temperatures:
        key = f"{material.name}@{temperature:g}K"
        pair_dir = folder / f"T{temperature:g}K"
        pair_dir.mkdir(exist_ok=True)
        digest = pair_hash(settings, material, temperature)
        marker = pair_dir / "pair.json"
        with contextlib.suppress(OSError, ValueError, KeyError):
            stored = json.loads(marker.read_text())
            if stored["settings_hash"] == digest and stored["row"].get("complete"):
                rows.append({**stored["row"], "status": "done"})
                continue
        try:
            row = _run_pair(material, settings, temperature, pair_dir, atoms, species, calc,
                            model, progress, key, md, quiet)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            reason = _reason(exc)
            _write_json(pair_dir / "failed.json", {"reason": reason,
                                                   "traceback": traceback.format_exc()})
            progress.update(key, stage="failed", reason=reason)
            rows.append({**base, "temperature_K": temperature, "status": "failed",
                         "reason": reason})
            continue
        row = {**base, **row, "temperature_K": temperature}
        if row.get("status") == "pending":
            progress.update(key, stage="pending")
            rows.append(row)
            continue
        _write_json(marker, {"settings_hash": digest, "row": row})
        with contextlib.suppress(FileNotFoundError):
            (pair_dir / "failed.json").unlink()
        progress.update(key, stage="analysed" if row.get("complete") else "partial")
        rows.append({**row, "status": "ok" if row.get("complete") else "partial"})
    return rows


def _reason(exc: BaseException) -> str:
    first = str(exc).splitlines()[0] if str(exc) else ""
    if isinstance(exc, AseRamanError):
        return first
    return f"{type(exc).__name__}: {first}".rstrip(": ")


def _prepare(material: Material, settings: ScreenSettings, folder: Path, progress: Progress,
             md: bool, calculator: Any = None, quiet: bool = True
             ) -> tuple[Any, list[str], Any, Any]:
    """Ordered supercell (cached), mobile species, calculator and alpha model; relaxes."""
    from ase.io import read

    from ..engines.calculators import make_calculator, resolve_calculator
    from .md import _write_xyz
    from .structure import build_structure

    structure_xyz = folder / "structure.xyz"
    if structure_xyz.exists():
        atoms = read(str(structure_xyz), format="extxyz")
    else:
        progress.update(material.name, stage="structure")
        built = build_structure(material.structure, settings.min_image_A, settings.seed)
        atoms = built.atoms
        info = {k: v for k, v in asdict(built).items() if k != "atoms"}
        info["n_atoms"] = len(atoms)
        info["source"] = material.structure
        _write_json(folder / "structure.json", info)
        _write_xyz(structure_xyz, atoms)
    symbols = atoms.get_chemical_symbols()
    species = _mobile_species(material, symbols)
    model = _alpha_model(settings, material, symbols)
    calc = None
    relaxed = folder / "relaxed.xyz"
    if md:
        calc = (resolve_calculator(calculator) if calculator is not None
                else make_calculator(settings.calculator, **settings.calc_kwargs))
        from .md import relax

        if not relaxed.exists():
            progress.update(material.name, stage="relax")
        bar = _bar(quiet, settings.relax_steps, f"{material.name} relaxation")
        atoms = relax(atoms, calc, relaxed, settings.relax_steps, settings.fixed_cell,
                      progress=bar.tick)
        bar.close()
        progress.update(material.name, stage="relaxed")
    elif relaxed.exists():
        atoms = read(str(relaxed), format="extxyz")
    return atoms, species, calc, model


def _run_pair(material: Material, settings: ScreenSettings, temperature: float,
              pair_dir: Path, atoms: Any, species: list[str], calc: Any, model: Any,
              progress: Progress, key: str, md: bool, quiet: bool) -> dict[str, Any]:
    from .analysis import analyse_pair
    from .md import equilibrate, produce, stored_steps

    production = pair_dir / "production.h5"
    n_prod = settings.production_steps
    if md:
        bar = _bar(quiet, settings.equilibration_steps, f"{key} equilibration")
        if not (pair_dir / "equilibrated.xyz").exists():
            progress.update(key, stage="equilibration", total_steps=n_prod)
        eq = equilibrate(atoms, calc, pair_dir / "equilibrated.xyz", temperature,
                         settings.equilibration_steps, settings.timestep_fs,
                         settings.fixed_cell, settings.seed, progress=bar.tick)
        bar.close()
        done = stored_steps(production)
        bar = _bar(quiet, n_prod, f"{key} production", initial=done)
        counter = {"n": done}

        def tick() -> None:
            counter["n"] += 1
            bar.tick()
            if counter["n"] % 50 == 0:
                progress.update(key, force=False, stage="production",
                                production_steps=counter["n"], total_steps=n_prod)

        progress.update(key, stage="production", production_steps=done, total_steps=n_prod)
        produce(eq, calc, model, production, temperature, n_prod, settings.timestep_fs,
                settings.every, settings.seed + int(temperature), progress=tick)
        bar.close()
        progress.update(key, stage="analysis", production_steps=stored_steps(production))
    if not production.exists() or stored_steps(production) == 0:
        return {"status": "pending", "complete": False, "species": species[0],
                "reason": "no production frames yet"}
    row = analyse_pair(production, pair_dir, temperature, species, material.charges,
                       settings)
    row["complete"] = stored_steps(production) >= n_prod
    return row


class _bar:
    """A tqdm bar on stderr (or nothing when quiet) with a ``tick`` callback."""

    def __init__(self, quiet: bool, total: int, desc: str, initial: int = 0):
        self._bar = None
        if not quiet:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, initial=initial, unit="step",
                             leave=False, mininterval=5)

    def tick(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def run_screen(materials: list[Material], settings: ScreenSettings, out_dir: str,
               client: Any = None, quiet: bool = True, md: bool = True,
               calculator: Any = None) -> list[dict[str, Any]]:
    """Run every material (as Dask tasks on ``client`` when given), then write the
    table and the plots (:mod:`ase_raman.screen.report`); returns the rows.

    ``calculator``: your own ASE calculator object (one instance shared by the
    materials in this process; shipped to the workers with ``client``), instead of the
    registered name ``settings.calculator``. The settings hash records only its class
    name, so change ``settings.calculator`` to a new label when you change its setup."""
    from .report import write_report

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if calculator is not None and settings.calculator == ScreenSettings.calculator:
        settings = ScreenSettings(**{**asdict(settings),
                                     "calculator": f"object:{type(calculator).__name__}"})
    by_name: dict[str, list[dict[str, Any]]] = {}
    if client is None:
        for m in materials:
            by_name[m.name] = run_material(m, settings, str(out), quiet, md, calculator)
    else:
        from distributed import as_completed

        token = os.urandom(4).hex()
        futures = {client.submit(run_material, m, settings, str(out), True, md, calculator,
                                 pure=False,
                                 key=f"ase-raman-screen-{m.name}-{token}"): m.name
                   for m in materials}
        try:
            for fut in as_completed(futures):
                by_name[futures[fut]] = fut.result()
        finally:
            client.cancel([f for f in futures if not f.done()])
    rows = [r for m in materials for r in by_name[m.name]]
    return write_report(rows, materials, settings, out)
