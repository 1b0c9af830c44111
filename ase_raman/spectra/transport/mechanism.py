"""Conduction mechanism of a mobile species: liquid-like, hopping or vibrating.

One call, :func:`analyse_mechanism`, reads the positions once and returns a
:class:`MechanismResult` with, per species, a :class:`SpeciesMechanism`: the tracer D
with its GLS error, the regimes (:mod:`.regimes`), sites, jumps, residence time, jump
diffusion coefficient and correlation factor (:mod:`.sites`), the vibrational period
from the species' VDOS, the ``verdict`` and, when a Raman summary of the same run is
given, the central peak next to the residence time. :func:`mechanism_from_file` does the
same from a trajectory file (read by :mod:`ase_raman.io.positions`).

Verdict (thresholds justified in docs/mechanism.md):

1. ``"vibrating"``: no long-range motion, ``D <= 2 D_err`` or ``6 D t_run <``
   :data:`MIN_TRAVEL_A2` (the ion moved less than 1 Angstrom beyond its vibration over
   the whole run, less than half of any site-to-site distance);
2. ``"liquid-like"``: it diffuses but there are no sites (site contrast below
   :data:`~.sites.SITE_CONTRAST_MIN`), or it spends at least :data:`IN_FLIGHT_LIQUID` of
   its time in transit between sites (``transit_fraction``: outside every core on the way
   from one site to another; excursions that return to the same site are vibrations), or
   it leaves a site within :data:`RESIDENCE_OVER_PERIOD` vibrational periods, or the jumps
   between the sites explain too little of its diffusion (``D / D_jump`` above
   :data:`LIQUID_CORRELATION_FACTOR`, or no jumps at all);
3. ``"hopping"`` otherwise: long residences on well-defined sites, short flights.

Units: Angstrom, fs at the API, ps / cm^2/s / cm^-1 where names say so.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import InputFileError, UsageError
from .diffusion import A2_PS_TO_CM2_S, fit_diffusion
from .msd import msd_fft, unwrap_species
from .regimes import Regimes, regimes
from .sites import (
    SITE_CONTRAST_MIN,
    Sites,
    concerted_fraction,
    core_sites,
    default_core_radius,
    find_jumps,
    find_sites,
    read_sites,
    shuffled_jumps,
    site_contrast,
    wrapped_fractional,
)

#: Format version of the mechanism JSON (bump on incompatible change).
MECHANISM_VERSION = 1
#: Below this diffusive travel ``6 D t_run`` (Angstrom^2) over the run: vibrating.
MIN_TRAVEL_A2 = 1.0
#: Transit fraction at or above which the motion is liquid-like.
IN_FLIGHT_LIQUID = 0.3
#: Tracer D above this many times the jump D (D / D_jump): the site-to-site jumps miss
#: the transport (hopping gives a correlation factor <= 1): liquid-like.
LIQUID_CORRELATION_FACTOR = 1.5
#: Residence shorter than this many vibrational periods: liquid-like.
RESIDENCE_OVER_PERIOD = 3.0
#: Concerted jumps: another ion's jump within this time (fs) ...
CONCERTED_WINDOW_FS = 300.0
#: ... and this distance between the jumps' midpoints (Angstrom).
CONCERTED_DISTANCE_A = 4.0
#: The VDOS resolves the vibrational period when less than this fraction of the velocity
#: power lies in the top quarter of the frequency range (below Nyquist).
VDOS_ALIAS_LIMIT = 0.05
#: Central peak: low-frequency fraction at or above which Raman reads "liquid-like" ...
CENTRAL_FRACTION_LIQUID = 0.5
#: ... and residence time and central-peak correlation time agree within this factor.
TIME_AGREEMENT_FACTOR = 3.0
#: Speed of light in cm/ps (correlation time 1 / (2 pi c Gamma)).
_C_CM_PS = 2.99792458e-2


@dataclass
class SpeciesMechanism:
    """Mechanism of one species. Public JSON keys (see :meth:`as_dict`):

    ``verdict`` (``"liquid-like"``, ``"hopping"``, ``"vibrating"``) and ``reasons``;
    ``D_cm2_s``, ``D_err_cm2_s`` (GLS, 1 sigma), ``fit_window_ps``; ``n_atoms``;
    ``n_sites``, ``site_contrast``, ``sites_found`` (contrast >= 3), ``core_radius_A``,
    ``sites_source``; ``n_jumps``, ``jump_rate_per_ps`` (per ion), ``residence_time_ps``
    (time on a site per jump: occupied time / jumps), ``residence_times_ps`` (the
    complete residences, for the histogram), ``mean_jump_length_A``,
    ``D_jump_cm2_s`` (``Gamma <l^2> / 6``), ``correlation_factor`` (``D / D_jump``),
    ``in_flight_fraction`` (outside every core), ``transit_fraction`` (outside every core
    on the way to another site) and ``mean_flight_time_ps``, ``concerted_fraction`` and
    ``concerted_fraction_chance`` (the same count after shifting each ion's jump times by
    a random circular offset: what independent ions give by chance); with a cage cutoff
    ``intra_cage_jump_fraction``, ``intra_cage_rate_per_ps``, ``inter_cage_rate_per_ps``,
    ``intra_cage_mean_length_A``, ``inter_cage_mean_length_A``;
    ``vibrational_period_ps`` (NaN when the frames are too far apart to resolve it);
    ``site_hop_time_ps`` (``d^2 / 6D`` with ``d`` the shortest site distance: the time to
    diffuse one site spacing);
    ``regimes`` (:class:`~.regimes.Regimes`); ``raman`` (central-peak comparison or None).
    """

    species: str
    verdict: str
    reasons: list[str]
    n_atoms: int
    D_cm2_s: float
    D_err_cm2_s: float
    fit_window_ps: tuple[float, float]
    n_sites: int
    site_contrast: float
    sites_found: bool
    core_radius_A: float
    sites_source: str
    n_jumps: int
    jump_rate_per_ps: float
    residence_time_ps: float
    residence_times_ps: np.ndarray
    mean_jump_length_A: float
    D_jump_cm2_s: float
    correlation_factor: float
    in_flight_fraction: float
    transit_fraction: float
    mean_flight_time_ps: float
    concerted_fraction: float
    concerted_fraction_chance: float
    vibrational_period_ps: float
    regimes: Regimes
    cages: dict[str, Any] = field(default_factory=dict)
    raman: dict[str, Any] | None = None
    site_hop_time_ps: float = float("nan")

    def as_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in (
            "verdict", "reasons", "n_atoms", "D_cm2_s", "D_err_cm2_s", "n_sites",
            "site_contrast", "sites_found", "core_radius_A", "sites_source", "n_jumps",
            "jump_rate_per_ps", "residence_time_ps", "mean_jump_length_A", "D_jump_cm2_s",
            "correlation_factor", "in_flight_fraction", "transit_fraction",
            "mean_flight_time_ps", "concerted_fraction",
            "concerted_fraction_chance", "vibrational_period_ps", "site_hop_time_ps")}
        out["fit_window_ps"] = list(self.fit_window_ps)
        out.update(self.cages)
        out["regimes"] = self.regimes.as_dict()
        out["residence_times_ps"] = np.asarray(self.residence_times_ps).tolist()
        out["raman"] = self.raman
        return out

    def summary(self) -> dict[str, Any]:
        """:meth:`as_dict` without the arrays (for tables and the demo's summary)."""
        out = self.as_dict()
        out.pop("residence_times_ps")
        out["regimes"] = {k: v for k, v in out["regimes"].items() if not isinstance(v, list)}
        return out


@dataclass
class MechanismResult:
    """:func:`analyse_mechanism`'s result: ``species`` maps each analysed symbol to its
    :class:`SpeciesMechanism`; ``n_frames``, ``dt_fs``, ``duration_ps``, ``time_fs`` and
    ``msd`` (the species' tracer MSDs, Angstrom^2, for plots) describe the run."""

    species: dict[str, SpeciesMechanism]
    n_frames: int
    dt_fs: float
    duration_ps: float
    time_fs: np.ndarray
    msd: dict[str, np.ndarray]
    sites: dict[str, Sites]
    unwrapped: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def verdict(self, species: str) -> str:
        return self.species[species].verdict

    def as_dict(self) -> dict[str, Any]:
        """The mechanism JSON: ``{"mechanism_version", "n_frames", "dt_fs",
        "duration_ps", "species": {symbol: SpeciesMechanism.as_dict()}}``."""
        return {
            "mechanism_version": MECHANISM_VERSION,
            "n_frames": self.n_frames,
            "dt_fs": self.dt_fs,
            "duration_ps": self.duration_ps,
            "species": {s: m.as_dict() for s, m in self.species.items()},
        }


def vibrational_period_ps(unwrapped: np.ndarray, dt_fs: float, block: int = 32) -> float:
    """``1 / <nu>`` (ps) of the velocity power spectrum of ``unwrapped`` positions
    ``(n_frames, n_atoms, 3)`` (finite-difference velocities), or NaN when more than
    :data:`VDOS_ALIAS_LIMIT` of the power lies in the top quarter below Nyquist (frames
    too far apart to resolve the vibrations)."""
    n_frames, n_atoms, _ = unwrapped.shape
    if n_frames < 8:
        return float("nan")
    from scipy import fft as sp_fft

    n_fft = sp_fft.next_fast_len(n_frames - 1, real=True)
    power = None
    for a in range(0, n_atoms, block):
        v = np.diff(unwrapped[:, a:a + block, :], axis=0).reshape(n_frames - 1, -1)
        spec = sp_fft.rfft((v - v.mean(axis=0)).T, n=n_fft, axis=1)
        p = (spec.real**2 + spec.imag**2).sum(axis=0)
        power = p if power is None else power + p
    freq = np.fft.rfftfreq(n_fft, d=dt_fs / 1000.0)  # THz
    total = float(power.sum())
    if total <= 0:
        return float("nan")
    if power[freq >= 0.75 * freq[-1]].sum() / total > VDOS_ALIAS_LIMIT:
        return float("nan")
    mean_nu = float((freq * power).sum() / total)
    return 1.0 / mean_nu if mean_nu > 0 else float("nan")


def raman_comparison(central_peak: Mapping[str, Any], verdict: str,
                     residence_time_ps: float, hop_time_ps: float = float("nan")
                     ) -> dict[str, Any]:
    """Central peak (``central_peak_metrics`` of :mod:`ase_raman.spectra.raman`) next to
    the transport verdict: ``central_fraction``, ``central_width_cm``,
    ``correlation_time_ps`` (``1 / (2 pi c Gamma)``), ``residence_time_ps``,
    ``time_ratio`` (correlation / residence), ``times_agree`` (within a factor
    :data:`TIME_AGREEMENT_FACTOR`), ``site_hop_time_ps`` (``hop_time_ps``: the time to
    diffuse one site spacing, ``d^2 / 6D``, the relevant time when the ions do not stay on
    the sites) with ``hop_time_ratio`` and ``hop_times_agree``, ``raman_reads``
    (``"liquid-like"`` when the fraction is >= :data:`CENTRAL_FRACTION_LIQUID`, else
    ``"not liquid-like"``) and ``agree`` (Raman and transport verdict agree)."""
    frac = central_peak.get("low_frequency_fraction")
    width = central_peak.get("central_width_cm")
    frac = float(frac) if frac is not None else float("nan")
    width = float(width) if width is not None else float("nan")
    tau = 1.0 / (2.0 * np.pi * _C_CM_PS * width) if width > 0 else float("nan")
    ratio = tau / residence_time_ps if residence_time_ps > 0 else float("nan")
    reads = "liquid-like" if frac >= CENTRAL_FRACTION_LIQUID else "not liquid-like"
    agree = (reads == "liquid-like") == (verdict == "liquid-like") if np.isfinite(frac) else None

    def within(r: float) -> bool | None:
        return (bool(1.0 / TIME_AGREEMENT_FACTOR <= r <= TIME_AGREEMENT_FACTOR)
                if np.isfinite(r) else None)

    hop_ratio = tau / hop_time_ps if hop_time_ps > 0 else float("nan")
    return {"central_fraction": frac, "central_width_cm": width,
            "correlation_time_ps": tau, "residence_time_ps": residence_time_ps,
            "time_ratio": ratio, "times_agree": within(ratio),
            "site_hop_time_ps": hop_time_ps, "hop_time_ratio": hop_ratio,
            "hop_times_agree": within(hop_ratio), "raman_reads": reads, "agree": agree}


def load_raman_summary(raman: str | os.PathLike | Mapping[str, Any]) -> dict[str, Any]:
    """The ``central_peak`` object of an ``ase-raman raman --json`` summary (a path or a
    dict; a dict that already is the central-peak object is taken as is)."""
    if isinstance(raman, Mapping):
        data = dict(raman)
    else:
        try:
            with open(raman) as fh:
                data = json.load(fh)
        except FileNotFoundError:
            raise InputFileError(f"{raman}: no such Raman summary") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputFileError(f"{raman}: not a readable JSON Raman summary ({exc})") from None
    if isinstance(data.get("central_peak"), Mapping):
        data = dict(data["central_peak"])
    if "low_frequency_fraction" not in data:
        raise InputFileError(f"{raman if not isinstance(raman, Mapping) else 'raman'}: no "
                             "central-peak metrics (write it with 'ase-raman raman --json')")
    return data


def _verdict(d: float, d_err: float, duration_ps: float, found: bool, transit: float,
             residence_ps: float, period_ps: float, d_jump: float) -> tuple[str, list[str]]:
    """The documented decision (module docstring), with the reasons in words."""
    d_a2 = d / A2_PS_TO_CM2_S
    travel = 6.0 * d_a2 * duration_ps
    if not d > 2.0 * d_err:
        return "vibrating", [f"D = {d:.2e} +- {d_err:.1e} cm^2/s is not above 2 sigma"]
    if travel < MIN_TRAVEL_A2:
        return "vibrating", [f"diffusive travel 6 D t = {travel:.2f} A^2 < {MIN_TRAVEL_A2:g}"]
    if not found:
        return "liquid-like", [f"it diffuses without sites (site contrast < {SITE_CONTRAST_MIN:g})"]
    reasons = []
    if transit >= IN_FLIGHT_LIQUID:
        reasons.append(f"in transit between sites {transit:.0%} of the time "
                       f"(>= {IN_FLIGHT_LIQUID:.0%})")
    if not (np.isfinite(d_jump) and d_jump > 0):
        reasons.append("it diffuses but never jumps between the sites found")
    elif d / d_jump > LIQUID_CORRELATION_FACTOR:
        reasons.append(f"site-to-site jumps explain only {d_jump / d:.0%} of D "
                       f"(D / D_jump = {d / d_jump:.2f} > {LIQUID_CORRELATION_FACTOR:g})")
    if np.isfinite(period_ps) and residence_ps < RESIDENCE_OVER_PERIOD * period_ps:
        reasons.append(f"residence {residence_ps:.3g} ps < {RESIDENCE_OVER_PERIOD:g} "
                       f"vibrational periods ({period_ps:.3g} ps)")
    if reasons:
        return "liquid-like", reasons
    why = [f"in transit between sites only {transit:.0%} of the time"]
    if np.isfinite(period_ps):
        why.append(f"residence {residence_ps:.3g} ps = {residence_ps / period_ps:.0f} "
                   "vibrational periods")
    return "hopping", why


def _resolve_sites(sites_arg: Any, sym: str, frac: np.ndarray, mean_cell: np.ndarray
                   ) -> Sites:
    """The sites asked for: given, ``"auto"`` (density maxima of ``frac``) or a file."""
    if isinstance(sites_arg, Sites):
        return sites_arg
    if sites_arg is None or (isinstance(sites_arg, str) and sites_arg == "auto"):
        return find_sites(frac, mean_cell)
    return read_sites(sites_arg, sym, mean_cell)


def _site_cores(frac: np.ndarray, sites: Sites, core_radius_A: float | None
                ) -> tuple[np.ndarray, float, float, bool]:
    """``(core site per frame and ion (-1: none), site contrast, core radius A, sites
    found)``."""
    n_frames, n_ions = frac.shape[:2]
    radius = core_radius_A if core_radius_A is not None else (
        default_core_radius(sites) if len(sites) else 0.0)
    if len(sites) and radius > 0:
        core = core_sites(frac, sites, radius)
        contrast = site_contrast(core, sites, radius)
    else:
        core = np.full((n_frames, n_ions), -1)
        contrast = float("nan")
    found = bool(np.isfinite(contrast) and contrast >= SITE_CONTRAST_MIN)
    return core, contrast, float(radius), found


def _cage_statistics(jumps: Any, cage_cutoff_A: float | None, ion_time_ps: float
                     ) -> dict[str, Any]:
    """Intra- vs inter-cage jumps (shorter/longer than ``cage_cutoff_A``); empty
    without a cutoff or jumps."""
    if cage_cutoff_A is None or not len(jumps.frame):
        return {}
    intra = jumps.length_A < cage_cutoff_A
    return {
        "cage_cutoff_A": float(cage_cutoff_A),
        "intra_cage_jump_fraction": float(intra.mean()),
        "intra_cage_rate_per_ps": float(intra.sum() / ion_time_ps),
        "inter_cage_rate_per_ps": float((~intra).sum() / ion_time_ps),
        "intra_cage_mean_length_A": float(jumps.length_A[intra].mean()) if intra.any()
        else float("nan"),
        "inter_cage_mean_length_A": float(jumps.length_A[~intra].mean()) if (~intra).any()
        else float("nan"),
    }


def _species_mechanism(sym: str, unwrapped: np.ndarray, cells: np.ndarray, dt_fs: float,
                       sites_arg: Any, core_radius_A: float | None, cage_cutoff_A: float | None,
                       window_fs: tuple[float, float] | None, raman: Mapping | None
                       ) -> tuple[SpeciesMechanism, np.ndarray, Sites]:
    n_frames, n_ions, _ = unwrapped.shape
    duration_ps = (n_frames - 1) * dt_fs / 1000.0
    time_fs = np.arange(n_frames) * dt_fs
    msd = msd_fft(unwrapped)
    fit = fit_diffusion(time_fs, msd, window_fs, n_series=n_ions)
    reg = regimes(time_fs, msd, unwrapped, fit.slope_A2_ps, fit.intercept_A2)
    frac = wrapped_fractional(unwrapped, cells)
    sites = _resolve_sites(sites_arg, sym, frac, cells.mean(axis=0))
    if cage_cutoff_A is not None and not cage_cutoff_A > 0:
        raise UsageError(f"cage cutoff must be positive, got {cage_cutoff_A} A")
    core, contrast, radius, found = _site_cores(frac, sites, core_radius_A)
    if found or sites.source != "auto":
        jumps = find_jumps(core, sites)
    else:  # density maxima without contrast are noise, not sites
        jumps = find_jumps(np.full((n_frames, n_ions), -1), sites)
    ion_time_ps = jumps.occupied_frames * dt_fs / 1000.0
    n_jumps = len(jumps.frame)
    rate = n_jumps / ion_time_ps if ion_time_ps > 0 else float("nan")
    residence = ion_time_ps / n_jumps if n_jumps else float("nan")
    l2 = float(np.mean(jumps.length_A**2)) if n_jumps else float("nan")
    d_jump = rate * l2 / 6.0 * A2_PS_TO_CM2_S if n_jumps else float("nan")
    in_flight = jumps.in_flight_frames / core.size if (found or sites.source != "auto") \
        else 1.0
    transit = float(jumps.flights_frames.sum() / core.size) if n_jumps else (
        0.0 if found else 1.0)
    flight_ps = float(jumps.flights_frames.mean() * dt_fs / 1000.0) if n_jumps else float("nan")
    window = max(1, int(round(CONCERTED_WINDOW_FS / dt_fs)))
    concerted = concerted_fraction(jumps, sites.cell, window, CONCERTED_DISTANCE_A)
    chance = concerted_fraction(shuffled_jumps(jumps, n_frames), sites.cell, window,
                                CONCERTED_DISTANCE_A)
    period = vibrational_period_ps(unwrapped, dt_fs)
    verdict, reasons = _verdict(fit.D_cm2_s, fit.D_err_cm2_s, duration_ps, found, transit,
                                residence, period, d_jump)
    d_nn = sites.nearest_distance_A() if found and len(sites) > 1 else float("nan")
    d_a2_ps = fit.D_cm2_s / A2_PS_TO_CM2_S
    hop_time = d_nn**2 / (6.0 * d_a2_ps) if d_a2_ps > 0 and np.isfinite(d_nn) else float("nan")
    cages = _cage_statistics(jumps, cage_cutoff_A, ion_time_ps)
    result = SpeciesMechanism(
        species=sym, verdict=verdict, reasons=reasons, n_atoms=n_ions,
        D_cm2_s=fit.D_cm2_s, D_err_cm2_s=fit.D_err_cm2_s, fit_window_ps=fit.window_ps,
        n_sites=len(sites) if found or sites.source != "auto" else 0,
        site_contrast=contrast, sites_found=found, core_radius_A=radius,
        sites_source=sites.source, n_jumps=n_jumps, jump_rate_per_ps=rate,
        residence_time_ps=residence,
        residence_times_ps=jumps.residences_frames * dt_fs / 1000.0,
        mean_jump_length_A=float(jumps.length_A.mean()) if n_jumps else float("nan"),
        D_jump_cm2_s=d_jump,
        correlation_factor=fit.D_cm2_s / d_jump if n_jumps and d_jump > 0 else float("nan"),
        in_flight_fraction=float(in_flight), transit_fraction=transit,
        mean_flight_time_ps=flight_ps, concerted_fraction=concerted,
        concerted_fraction_chance=chance,
        vibrational_period_ps=period, regimes=reg, cages=cages,
        site_hop_time_ps=hop_time,
    )
    if raman is not None:
        result.raman = raman_comparison(raman, verdict, residence, result.site_hop_time_ps)
    return result, msd, sites


def analyse_mechanism(
    positions: np.ndarray,
    symbols: Sequence[str],
    dt_fs: float,
    *,
    species: Sequence[str] | str,
    cells: np.ndarray,
    pbc: bool | Sequence[bool] = True,
    masses: np.ndarray | None = None,
    sites: str | os.PathLike | Sites | None = "auto",
    raman: str | os.PathLike | Mapping[str, Any] | None = None,
    unwrapped: bool = False,
    remove_com: bool = True,
    fit_window_fs: tuple[float, float] | None = None,
    core_radius_A: float | None = None,
    cage_cutoff_A: float | None = None,
    keep_positions: bool = False,
) -> MechanismResult:
    """Mechanism of ``species`` (a symbol or several) from an MD trajectory.

    ``positions`` ``(n_frames, n_atoms, 3)`` Angstrom, ``symbols`` per atom, ``dt_fs``
    between frames, ``cells`` ``(3, 3)`` or ``(n_frames, 3, 3)`` Angstrom. Positions are
    unwrapped (unless ``unwrapped``) and the centre-of-mass drift (weighted by ``masses``)
    removed, as ``ase-raman msd`` does. ``sites``: ``"auto"`` (from the density), a
    structure file of site positions, or a :class:`~.sites.Sites`. ``raman``: an
    ``ase-raman raman --json`` summary (path or dict) of the same run. ``core_radius_A``
    overrides the default core radius; with ``cage_cutoff_A`` jumps shorter than it count
    as intra-cage, longer ones as inter-cage. ``keep_positions`` keeps the species'
    unwrapped positions in the result (for the van Hove panel of the plot).
    """
    pos = np.asarray(positions, dtype=float)
    if pos.ndim != 3 or pos.shape[2] != 3:
        raise UsageError(f"positions must be (n_frames, n_atoms, 3), got {pos.shape}")
    n_frames, n_atoms, _ = pos.shape
    if n_frames < 8:
        raise UsageError(f"{n_frames} frames are too few for a mechanism analysis (need 8)")
    if not dt_fs > 0:
        raise UsageError(f"dt_fs must be positive, got {dt_fs}")
    syms = np.asarray(list(symbols))
    if syms.shape != (n_atoms,):
        raise UsageError(f"{len(syms)} symbols for {n_atoms} atoms")
    wanted = [species] if isinstance(species, str) else list(species)
    missing = [s for s in wanted if s not in set(syms.tolist())]
    if not wanted or missing:
        raise UsageError(f"species {', '.join(missing) or '(none)'} not in the trajectory "
                         f"(it has {', '.join(dict.fromkeys(syms.tolist()))})")
    cell_arr = np.asarray(cells, dtype=float)
    if cell_arr.shape == (3, 3):
        cell_arr = np.broadcast_to(cell_arr, (n_frames, 3, 3))
    if cell_arr.shape != (n_frames, 3, 3) or abs(np.linalg.det(cell_arr[0])) < 1e-9:
        raise UsageError("the mechanism analysis needs a periodic cell (3, 3) or one per frame")
    central = load_raman_summary(raman) if raman is not None else None
    subsets, _ = unwrap_species(pos, syms, wanted, cell_arr, pbc, unwrapped=unwrapped,
                                remove_com=remove_com, masses=masses)
    out: dict[str, SpeciesMechanism] = {}
    msds: dict[str, np.ndarray] = {}
    found_sites: dict[str, Sites] = {}
    kept: dict[str, np.ndarray] = {}
    for sym in wanted:
        sub = subsets.pop(sym)
        out[sym], msds[sym], found_sites[sym] = _species_mechanism(
            sym, sub, cell_arr, float(dt_fs), sites, core_radius_A, cage_cutoff_A,
            fit_window_fs, central)
        if keep_positions:
            kept[sym] = sub
    return MechanismResult(species=out, n_frames=n_frames, dt_fs=float(dt_fs),
                           duration_ps=(n_frames - 1) * float(dt_fs) / 1000.0,
                           time_fs=np.arange(n_frames) * float(dt_fs), msd=msds,
                           sites=found_sites, unwrapped=kept)


def mechanism_from_file(
    path: str | os.PathLike,
    species: Sequence[str] | str,
    *,
    dt_fs: float | None = None,
    every: int = 1,
    fmt: str | None = None,
    reading: dict[str, Any] | None = None,
    **options: Any,
) -> MechanismResult:
    """:func:`analyse_mechanism` of a trajectory file (any format ``ase-raman msd``
    reads); ``dt_fs`` is the time between the file's frames (needed unless the run's
    files say it), ``every`` keeps every k-th frame, ``reading`` holds frame-reading
    options of :func:`ase_raman.io.iter_frames` (e.g. ``{"type_map": ...}``);
    ``options`` go to :func:`analyse_mechanism` (``sites``, ``raman``, ``cage_cutoff_A``,
    ...)."""
    from ...io.positions import load_frames, resolve_dt

    frames = load_frames(str(path), fmt, every, reading=reading)
    dt = resolve_dt(frames, dt_fs, every)
    return analyse_mechanism(frames.positions, frames.symbols, dt, species=species,
                             cells=frames.cells, pbc=frames.pbc, masses=frames.masses,
                             **options)
