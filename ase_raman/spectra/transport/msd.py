"""Mean squared displacements from MD positions: unwrapping, FFT MSD, collective MSD.

Conventions (``docs/theory.md``, "Mean squared displacement and diffusion"): positions in
Angstrom, time in fs at the API, cells as ASE does them (rows are the lattice vectors, Angstrom).

``MSD(t) = < |r_i(tau + t) - r_i(tau)|^2 >`` averaged over the atoms ``i`` of a species and
over *all* time origins ``tau``, from unwrapped positions. The average over origins is
computed by the FFT algorithm (Kneller et al., Comput. Phys. Commun. 91, 191 (1995);
Calandrini et al., Collection SFN 12, 201 (2011)): with ``x(t)`` an atom's displacement
from its first position, ``N`` frames and ``k`` the lag,

    MSD(k) = S1(k) - 2 S2(k),
    S1(k)  = 1/(N-k) sum_{tau=0}^{N-1-k} [x(tau)^2 + x(tau+k)^2]      (a running sum),
    S2(k)  = 1/(N-k) sum_{tau=0}^{N-1-k}  x(tau) . x(tau+k)            (an autocorrelation),

which is exact (it equals the direct double loop to rounding) and costs O(N log N) per
atom. Atoms are processed in blocks (default 32) so that the memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import fft as sp_fft

#: Atoms per FFT block: bounds the memory to about ``block * 3 * 2 N`` complex numbers.
DEFAULT_ATOM_BLOCK = 32


# ----------------------------------------------------------------------------- unwrapping
def _as_cells(cells: np.ndarray | None, n_frames: int) -> np.ndarray | None:
    if cells is None:
        return None
    arr = np.asarray(cells, dtype=float)
    if arr.shape == (3, 3):
        return np.broadcast_to(arr, (n_frames, 3, 3))
    if arr.shape != (n_frames, 3, 3):
        raise ValueError(f"cells must have shape (3, 3) or ({n_frames}, 3, 3), got {arr.shape}")
    return arr


def _unwrap_rows(rows: np.ndarray, cells: np.ndarray | None, periodic: np.ndarray) -> float:
    """Unwrap ``rows`` in place; returns the largest remaining fractional step.

    ``rows`` is ``(n_atoms, 3, N)``: every Cartesian coordinate of an atom as one
    contiguous time series (Angstrom), the layout the FFT MSD transforms, so every pass
    below runs along contiguous memory. ``cells`` is ``(N, 3, 3)`` (rows = lattice
    vectors) or None; ``periodic`` the (3,) periodic directions. The scheme is the one
    documented in :func:`unwrap_positions`.
    """
    n = rows.shape[2]
    if n < 2 or cells is None or not periodic.any():
        return 0.0
    cell0 = np.asarray(cells[0])
    fixed = bool(np.all(cells == cell0))
    lengths = np.diag(cell0)
    orthorhombic = fixed and bool(np.all(cell0 == np.diag(lengths)))
    steps = np.diff(rows, axis=2)  # r(t+1) - r(t), (n_atoms, 3, N-1)
    if orthorhombic:  # fractional steps: a scaling per axis, in place
        frac = np.divide(steps, lengths[:, None], out=steps)
    elif fixed:  # frac[a, i, t] = sum_j steps[a, j, t] inv[j, i]
        frac = np.matmul(np.linalg.inv(cell0).T, steps)
    else:  # in the *new* cell of every step
        frac = np.einsum("ajt,tji->ait", steps, np.linalg.inv(cells[1:]))
    del steps
    shift = np.rint(frac)  # whole cells jumped, per step
    shift[:, ~periodic] = 0.0
    frac -= shift
    # largest remaining fractional step per axis, from its extremes (no |.| pass)
    largest = np.maximum(frac.max(axis=(0, 2)), -frac.min(axis=(0, 2)))
    del frac
    # unwrapped(t) = r(t) - sum_{s < t} (jumps of step s, Cartesian): only the series
    # that jumped at all need the running sum
    if orthorhombic:
        series = shift.reshape(-1, n - 1)
        jumped = np.flatnonzero(series.any(axis=1))
        if jumped.size:
            cart = series[jumped] * np.tile(lengths, rows.shape[0])[jumped, None]
            np.cumsum(cart, axis=1, out=cart)
            flat = rows.reshape(-1, n)
            flat[jumped, 1:] -= cart
    else:
        jumped = np.flatnonzero(shift.any(axis=(1, 2)))
        if jumped.size:
            moved = shift[jumped]
            if fixed:
                cart = np.matmul(cell0.T, moved)
            else:
                cart = np.einsum("ajt,tji->ait", moved, cells[1:])
            np.cumsum(cart, axis=2, out=cart)
            rows[jumped, :, 1:] -= cart
    return float(np.max(np.where(periodic, largest, 0.0)))


def _atom_rows(pos: np.ndarray, a0: int, a1: int) -> np.ndarray:
    """Atoms ``a0:a1`` of a time-major ``(N, n_atoms, 3)`` array as contiguous rows
    ``(a1 - a0, 3, N)`` (one transposing copy)."""
    return np.ascontiguousarray(pos[:, a0:a1, :].transpose(1, 2, 0))


def unwrap_positions(
    positions: np.ndarray,
    cells: np.ndarray | None = None,
    pbc: bool | Sequence[bool] = True,
    block: int = 256,
) -> tuple[np.ndarray, float]:
    """Unwrap periodic positions by minimum-image jumps between consecutive frames.

    ``positions`` is ``(n_frames, n_atoms, 3)`` Cartesian, Angstrom (wrapped or not);
    ``cells`` is ``(3, 3)`` or ``(n_frames, 3, 3)`` (rows = lattice vectors, Angstrom).
    Each frame-to-frame difference ``d = r(t+1) - r(t)`` is expressed in fractional
    coordinates of the *new* cell, the integer part of the jump is removed
    (``s -= round(s)`` along periodic directions) and the corrected Cartesian steps are
    accumulated from the first frame. This is the "toroidal" scheme of von Buelow,
    Bullerjahn and Hummer (J. Chem. Phys. 153, 021101 (2020)), which stays correct when the
    cell changes (NPT): multiplying unwrapped *fractional* coordinates by the current cell
    instead adds spurious displacements that grow with the number of boundary crossings.

    Returns ``(unwrapped, max_jump)`` where ``max_jump`` is the largest remaining
    fractional step of any atom between consecutive frames (after removing whole cells).
    Unwrapping is unambiguous only while atoms move less than half a cell between frames;
    a ``max_jump`` above about 0.25 means frames are too far apart to trust it.
    Already-unwrapped input comes back unchanged as long as that condition holds.
    Atoms are processed ``block`` at a time (bounds the temporaries).
    """
    pos = np.asarray(positions, dtype=float)
    if pos.ndim != 3 or pos.shape[2] != 3:
        raise ValueError(f"positions must be (n_frames, n_atoms, 3), got {pos.shape}")
    n_frames, n_atoms, _ = pos.shape
    periodic = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))
    cell_arr = _as_cells(cells, n_frames)
    out = np.empty_like(pos)
    max_jump = 0.0
    for a0 in range(0, n_atoms, block):
        a1 = min(a0 + block, n_atoms)
        rows = _atom_rows(pos, a0, a1)
        max_jump = max(max_jump, _unwrap_rows(rows, cell_arr, periodic))
        out[:, a0:a1, :] = rows.transpose(2, 0, 1)
    return out, max_jump


def remove_drift(
    unwrapped: np.ndarray, masses: np.ndarray | None = None, *, in_place: bool = False
) -> np.ndarray:
    """Subtract the displacement of the centre of mass of every frame.

    ``unwrapped`` is ``(n_frames, n_atoms, 3)`` Angstrom; ``masses`` (amu, one per atom) weight
    the centre of mass (equal weights when None). Afterwards the mass-weighted total
    displacement is zero in every frame: the drift of the whole cell (e.g. from the
    thermostat or from numerical noise in AIMD) no longer counts as diffusion. Returns a
    new array, or ``unwrapped`` itself modified when ``in_place`` (float64 input only).
    """
    pos = np.asarray(unwrapped, dtype=float)
    n_atoms = pos.shape[1]
    w = np.ones(n_atoms) if masses is None else np.asarray(masses, dtype=float)
    if w.shape != (n_atoms,):
        raise ValueError(f"masses must have shape ({n_atoms},), got {w.shape}")
    w = w / w.sum()
    com = np.einsum("fai,a->fi", pos, w)
    drift = (com - com[0])[:, None, :]
    if in_place:
        pos -= drift
        return pos
    return pos - drift


def unwrap_species(
    positions: np.ndarray,
    symbols: Sequence[str],
    species: Sequence[str],
    cells: np.ndarray | None = None,
    pbc: bool | Sequence[bool] = True,
    *,
    unwrapped: bool = False,
    remove_com: bool = True,
    masses: np.ndarray | None = None,
    block: int = 256,
) -> tuple[dict[str, np.ndarray], float]:
    """Unwrapped, drift-corrected positions of some species only, streamed over atoms.

    Same scheme and arguments as :func:`unwrap_positions` and :func:`remove_drift` (the
    centre of mass of *all* atoms, weighted by ``masses``), but atoms are unwrapped
    ``block`` at a time and only the ``species``' atoms are kept: no second array of the
    whole trajectory's size is made. Returns ``({symbol: (n_frames, n_s, 3)}, max_jump)``.
    """
    pos = np.asarray(positions, dtype=float)
    n_frames, n_atoms, _ = pos.shape
    syms = np.asarray(list(symbols))
    periodic = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))
    cell_arr = None if unwrapped else _as_cells(cells, n_frames)
    weights = np.ones(n_atoms) if masses is None else np.asarray(masses, dtype=float)
    weights = weights / weights.sum()
    out = {s: np.empty((n_frames, int(np.count_nonzero(syms == s)), 3)) for s in species}
    filled = dict.fromkeys(species, 0)
    com = np.zeros((3, n_frames))
    max_jump = 0.0
    for a0 in range(0, n_atoms, block):
        a1 = min(a0 + block, n_atoms)
        rows = _atom_rows(pos, a0, a1)
        max_jump = max(max_jump, _unwrap_rows(rows, cell_arr, periodic))
        if remove_com:
            com += np.einsum("a,act->ct", weights[a0:a1], rows)
        for sym in species:
            local = np.flatnonzero(syms[a0:a1] == sym)
            if local.size:
                k = filled[sym]
                out[sym][:, k:k + local.size] = rows[local].transpose(2, 0, 1)
                filled[sym] = k + local.size
    if remove_com:
        drift = (com - com[:, :1]).T[:, None, :]
        for arr in out.values():
            arr -= drift
    return out, max_jump


# ------------------------------------------------------------------------------ FFT MSD
def _summed_acf_rows(buf: np.ndarray, n: int) -> np.ndarray:
    """``sum_rows sum_tau x(tau) x(tau+k)`` for ``k < n`` from padded rows (overwritten)."""
    nfft = buf.shape[1]
    spec = sp_fft.rfft(buf, axis=1, overwrite_x=True)
    re_im = spec.view(np.float64)  # (m, 2 (nfft//2 + 1)): re, im interleaved
    sq = np.einsum("ij,ij->j", re_im, re_im)
    power = sq[0::2] + sq[1::2]
    return sp_fft.irfft(power, n=nfft)[:n]


def summed_autocorrelation(x: np.ndarray) -> np.ndarray:
    """Sum over series of the un-normalised autocorrelations, ``sum_j sum_tau x_j(tau) x_j(tau+k)``.

    ``x`` is ``(N, ...)``: axis 0 is time, every other axis indexes an independent series.
    Same zero padding as :func:`ase_raman.spectra.signal.autocorrelation` (the result is
    the exact direct sum), but the power spectra are summed *before* the inverse transform,
    so a block of ``m`` series costs ``m`` forward FFTs and a single inverse one. Returns
    ``(N,)``.
    """
    arr = np.asarray(x, dtype=float)
    n = arr.shape[0]
    nfft = sp_fft.next_fast_len(2 * n, real=True)
    flat = arr.reshape(n, -1)
    buf = np.zeros((flat.shape[1], nfft))
    buf[:, :n] = flat.T
    return _summed_acf_rows(buf, n)


def _msd_sum_rows(rows: np.ndarray) -> np.ndarray:
    """Sum over the series ``rows`` (``(m, N)``, one coordinate time series per row, any
    strides; each row's first value is subtracted) of ``sum_tau |x(tau+k) - x(tau)|^2``
    for every lag ``k`` (not yet divided by ``N - k``). One copy into zero-padded
    C-contiguous rows (transforms along contiguous rows are several times faster than
    along axis 0 of a time-major array), ``m`` forward FFTs and one inverse."""
    m, n = rows.shape
    nfft = sp_fft.next_fast_len(2 * n, real=True)
    buf = np.empty((m, nfft))
    buf[:, n:] = 0.0
    np.subtract(rows, rows[:, :1], out=buf[:, :n])  # displacement from the first value
    sq = np.einsum("ij,ij->j", buf[:, :n], buf[:, :n])  # sum over series of x(t)^2
    csum = np.cumsum(sq)
    total = csum[-1]
    lag = np.arange(n)
    # sum_{tau=0}^{N-1-k} x(tau)^2  +  sum_{tau=k}^{N-1} x(tau)^2
    s1 = csum[n - 1 - lag] + (total - np.concatenate(([0.0], csum[:-1])))
    return s1 - 2.0 * _summed_acf_rows(buf, n)


def _msd_sum(x: np.ndarray) -> np.ndarray:
    """:func:`_msd_sum_rows` of time-major positions ``x`` (``(N, m, 3)``)."""
    n = x.shape[0]
    return _msd_sum_rows(x.reshape(n, -1).T)


def msd_fft(displacements: np.ndarray, block: int = DEFAULT_ATOM_BLOCK) -> np.ndarray:
    """MSD averaged over atoms and all time origins, by FFT.

    ``displacements`` is ``(N, n_atoms, 3)`` unwrapped positions (Angstrom; any constant
    per atom may be added, each atom's first position is subtracted first to avoid
    cancellation). Returns ``(N,)`` MSD in Angstrom^2 for lags ``0 .. N-1`` frames.
    """
    arr = np.asarray(displacements, dtype=float)
    if arr.ndim == 2:
        arr = arr[:, None, :]
    n, n_atoms, _ = arr.shape
    if n == 0 or n_atoms == 0:
        raise ValueError("MSD needs at least one frame and one atom")
    acc = np.zeros(n)
    for a0 in range(0, n_atoms, block):
        acc += _msd_sum(arr[:, a0 : a0 + block, :])
    out = acc / (np.arange(n, 0, -1) * n_atoms)
    out[0] = 0.0
    return np.maximum(out, 0.0) if n > 1 else out


def msd_direct(displacements: np.ndarray) -> np.ndarray:
    """Reference MSD by the direct O(N^2) double loop over lags and origins (tests, bench).

    Same input and output as :func:`msd_fft`; Angstrom^2.
    """
    arr = np.asarray(displacements, dtype=float)
    if arr.ndim == 2:
        arr = arr[:, None, :]
    n = arr.shape[0]
    out = np.zeros(n)
    for k in range(1, n):
        d = arr[k:] - arr[:-k]
        out[k] = np.einsum("tai,tai->", d, d) / (d.shape[0] * d.shape[1])
    return out


# ------------------------------------------------------------------------------- results
@dataclass
class MSDResult:
    """MSDs of one trajectory. Lengths in Angstrom, times in fs.

    ``msd[s]`` is the tracer MSD of species ``s`` (Angstrom^2) at ``time_fs``;
    ``collective[s]`` the MSD of the summed displacement of all atoms of ``s``
    (Angstrom^2, it grows like ``6 N D_sigma t``); ``charge_msd`` the MSD of the
    charge-weighted summed displacement ``sum_i q_i dr_i`` (e^2 Angstrom^2, when charges
    were given). With ``n_blocks >= 2`` the ``*_blocks`` arrays hold the same quantities for
    each of ``n_blocks`` consecutive, equally long pieces of the trajectory, at
    ``block_time_fs``.
    """

    time_fs: np.ndarray
    dt_fs: float
    species: list[str]
    counts: dict[str, int]
    msd: dict[str, np.ndarray]
    collective: dict[str, np.ndarray]
    volume_A3: float
    max_jump: float = 0.0
    charges: dict[str, float] | None = None
    charge_msd: np.ndarray | None = None
    n_blocks: int = 1
    block_time_fs: np.ndarray | None = None
    msd_blocks: dict[str, np.ndarray] = field(default_factory=dict)
    collective_blocks: dict[str, np.ndarray] = field(default_factory=dict)
    charge_msd_blocks: np.ndarray | None = None

    @property
    def time_ps(self) -> np.ndarray:
        """Lag times in ps."""
        return self.time_fs / 1000.0

    def msd_err(self, species: str) -> np.ndarray | None:
        """Standard error (Angstrom^2) of the MSD of ``species`` from the block scatter,
        at ``block_time_fs`` (None without blocks)."""
        blocks = self.msd_blocks.get(species)
        if blocks is None or blocks.shape[0] < 2:
            return None
        return blocks.std(axis=0, ddof=1) / np.sqrt(blocks.shape[0])

    def msd_at(self, species: str, t_ps: float) -> float:
        """MSD of ``species`` (Angstrom^2) at lag ``t_ps``, linearly interpolated."""
        t = self.time_ps
        if t_ps < 0 or t_ps > t[-1] + 1e-9:
            raise ValueError(f"lag {t_ps} ps outside 0..{t[-1]:g} ps")
        return float(np.interp(t_ps, t, self.msd[species]))


def _select(rows: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Atoms ``idx`` of a block's rows: a view when they are consecutive, else a copy."""
    if len(idx) and np.all(np.diff(idx) == 1):
        return rows[idx[0] : idx[-1] + 1]
    return rows[idx]


@dataclass
class _StreamSums:
    """What one pass over the atoms (in blocks) leaves: ``tracer[k][s]`` the summed
    squared-displacement sums of species ``s`` over time segment ``k`` (see
    :func:`_msd_sum_rows`); ``species[s]`` the summed unwrapped positions of its atoms
    and ``com`` the centre of mass, ``(3, n_frames)``, Angstrom, for the whole run."""

    tracer: list[dict[str, np.ndarray]]
    species: dict[str, np.ndarray]
    com: np.ndarray
    counts: dict[str, int]


def _stream_atom_blocks(pos: np.ndarray, cells: np.ndarray | None, pbc: Any,
                        unwrapped: bool, remove_com: bool, masses: np.ndarray | None,
                        groups: Mapping[str, np.ndarray], segments: list[tuple[int, int]],
                        block: int) -> tuple[_StreamSums, float]:
    """One pass over the atoms, ``block`` at a time: copy the block into contiguous
    per-coordinate rows, unwrap them there (atoms unwrap independently), then accumulate
    the per-atom FFT sums and the species and centre-of-mass positions. No array of the
    whole trajectory's size is made."""
    n_frames, n_atoms, _ = pos.shape
    weights = np.ones(n_atoms) if masses is None else np.asarray(masses, dtype=float)
    if weights.shape != (n_atoms,):
        raise ValueError(f"masses must have shape ({n_atoms},), got {weights.shape}")
    weights = weights / weights.sum()
    periodic = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))
    cell_arr = None if unwrapped else _as_cells(cells, n_frames)
    member = {sym: np.isin(np.arange(n_atoms), idx) for sym, idx in groups.items()}
    sums = _StreamSums(
        tracer=[{s: np.zeros(b - a) for s in groups} for a, b in segments],
        species={s: np.zeros((3, n_frames)) for s in groups},
        com=np.zeros((3, n_frames)),
        counts={s: int(len(idx)) for s, idx in groups.items()},
    )
    max_jump = 0.0
    needed = np.zeros(n_atoms, bool)
    for mask in member.values():
        needed |= mask
    for a0 in range(0, n_atoms, block):
        a1 = min(a0 + block, n_atoms)
        if not remove_com and not needed[a0:a1].any():
            continue
        rows = _atom_rows(pos, a0, a1)  # (atoms, 3, n_frames)
        max_jump = max(max_jump, _unwrap_rows(rows, cell_arr, periodic))
        if remove_com:
            sums.com += np.einsum("a,act->ct", weights[a0:a1], rows)
        for sym, mask in member.items():
            local = np.flatnonzero(mask[a0:a1])
            if not len(local):
                continue
            sub = _select(rows, local)
            sums.species[sym] += sub.sum(axis=0)
            series = sub.reshape(-1, n_frames)
            for k, (t0, t1) in enumerate(segments):
                sums.tracer[k][sym] += _msd_sum_rows(series[:, t0:t1])
    return sums, max_jump


def _series_msd_sum(x: np.ndarray) -> np.ndarray:
    """:func:`_msd_sum` of one 3-vector series ``(L, 3)``."""
    return _msd_sum(x[:, None, :])


def _normalised(acc: np.ndarray, n_series: int) -> np.ndarray:
    """Sums over origins and series -> mean squared displacement per lag (as msd_fft)."""
    n = acc.shape[0]
    out = acc / (np.arange(n, 0, -1) * n_series)
    out[0] = 0.0
    return np.maximum(out, 0.0) if n > 1 else out


def _species_results(sums: _StreamSums, segment: tuple[int, int], k: int,
                     groups: Mapping[str, np.ndarray], charges: Mapping[str, float] | None,
                     remove_com: bool
                     ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray | None]:
    """Tracer, collective and charge MSDs of segment ``k`` (frames ``segment``), with the
    centre-of-mass drift removed exactly by expanding ``|dr_i - dR|^2 = |dr_i|^2 -
    2 dr_i.dR + |dR|^2`` summed over a species' atoms: ``sum_i dr_i`` is the species'
    summed displacement ``S``, and the cross term is ``[msd(S + N dR) - msd(S - N dR)] /
    (4 N)`` (polarisation)."""
    t0, t1 = segment

    def displacement(series: np.ndarray) -> np.ndarray:  # (3, n) -> (L, 3) from t0
        return (series[:, t0:t1] - series[:, t0:t0 + 1]).T

    com = displacement(sums.com)
    msd, coll, summed = {}, {}, {}
    for sym in groups:
        n_s = sums.counts[sym]
        species = displacement(sums.species[sym])
        acc = sums.tracer[k][sym]
        if remove_com:
            scaled = n_s * com
            cross = (_series_msd_sum(species + scaled) - _series_msd_sum(species - scaled)) / 4.0
            acc = acc - 2.0 * cross / n_s + n_s * _series_msd_sum(com)
            species = species - scaled
        msd[sym] = _normalised(acc, n_s)
        summed[sym] = species
        coll[sym] = msd_fft(species[:, None, :])
    charge = None
    if charges:
        total = sum(q * summed[sym] for sym, q in charges.items())
        charge = msd_fft(total[:, None, :])
    return msd, coll, charge


def mean_squared_displacement(
    positions: np.ndarray,
    symbols: Sequence[str],
    dt_fs: float,
    *,
    cells: np.ndarray | None = None,
    pbc: bool | Sequence[bool] = True,
    species: Sequence[str] | None = None,
    unwrapped: bool = False,
    remove_com: bool = True,
    masses: np.ndarray | None = None,
    charges: Mapping[str, float] | None = None,
    n_blocks: int = 1,
    volume_A3: float | None = None,
    block: int = DEFAULT_ATOM_BLOCK,
) -> MSDResult:
    """Tracer and collective MSD per species, averaged over all time origins (FFT).

    Parameters
    ----------
    positions : (n_frames, n_atoms, 3) Cartesian positions, Angstrom.
    symbols : chemical symbol of every atom.
    dt_fs : time between consecutive frames, fs.
    cells : (3, 3) or (n_frames, 3, 3) cells, Angstrom (needed to unwrap, and for the
        volume of the conductivity).
    pbc : periodic directions.
    species : species to report (default: all, in order of first appearance).
    unwrapped : True when ``positions`` are already unwrapped (taken as given).
    remove_com : subtract each frame's centre-of-mass displacement (all atoms,
        weighted by ``masses``) before computing MSDs.
    masses : amu per atom (equal weights when None).
    charges : ``{symbol: charge in e}`` for the charge-weighted collective MSD.
    n_blocks : cut the trajectory into this many equal consecutive blocks and also return
        each block's MSDs (for error bars); 1 = no blocks.
    volume_A3 : cell volume (default: mean ``|det(cell)|``).
    block : atoms per FFT block (memory bound).
    """
    pos, syms = _checked_input(positions, symbols, dt_fs, n_blocks)
    n_frames = pos.shape[0]
    wanted, charges, groups = _species_groups(syms, species, charges)
    if volume_A3 is None:
        cell_arr = _as_cells(cells, n_frames)
        volume_A3 = np.nan if cell_arr is None else float(np.abs(np.linalg.det(cell_arr)).mean())

    length = n_frames // n_blocks if n_blocks > 1 else n_frames
    segments = [(0, n_frames)] + ([(b * length, (b + 1) * length) for b in range(n_blocks)]
                                  if n_blocks > 1 else [])
    sums, max_jump = _stream_atom_blocks(pos, cells, pbc, unwrapped, remove_com, masses,
                                         groups, segments, block)
    parts = [_species_results(sums, seg, k, groups, charges, remove_com)
             for k, seg in enumerate(segments)]
    msd, coll, charge = parts[0]
    result = MSDResult(
        time_fs=np.arange(n_frames) * float(dt_fs),
        dt_fs=float(dt_fs),
        species=wanted,
        counts={sym: int(len(groups[sym])) for sym in groups},
        msd={s: msd[s] for s in wanted},
        collective={s: coll[s] for s in wanted},
        volume_A3=float(volume_A3),
        max_jump=max_jump,
        charges=charges,
        charge_msd=charge,
        n_blocks=int(n_blocks),
    )
    if n_blocks > 1:
        _add_blocks(result, parts[1:], length)
    return result


def _checked_input(positions: np.ndarray, symbols: Sequence[str], dt_fs: float,
                   n_blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """``(positions (n_frames, n_atoms, 3) float, symbols array)``; ValueError when the
    shapes, ``dt_fs`` or ``n_blocks`` do not fit."""
    pos = np.asarray(positions, dtype=float)
    if pos.ndim != 3 or pos.shape[2] != 3:
        raise ValueError(f"positions must be (n_frames, n_atoms, 3), got {pos.shape}")
    n_frames, n_atoms, _ = pos.shape
    syms = np.asarray(list(symbols))
    if syms.shape != (n_atoms,):
        raise ValueError(f"{len(syms)} symbols for {n_atoms} atoms")
    if not dt_fs > 0:
        raise ValueError(f"dt_fs must be positive, got {dt_fs}")
    if n_frames < 2:
        raise ValueError("an MSD needs at least two frames")
    if n_blocks < 1 or (n_blocks > 1 and n_frames // n_blocks < 2):
        raise ValueError(f"cannot cut {n_frames} frames into {n_blocks} blocks")
    return pos, syms


def _species_groups(syms: np.ndarray, species: Sequence[str] | None,
                    charges: Mapping[str, float] | None
                    ) -> tuple[list[str], dict[str, float] | None, dict[str, np.ndarray]]:
    """``(species reported, charges, atom indices of every species needed)``."""
    order = list(dict.fromkeys(syms.tolist()))
    wanted = list(species) if species is not None else order
    charges = dict(charges) if charges else None
    for sym in wanted + list(charges or {}):
        if sym not in order:
            raise ValueError(f"species {sym!r} not in the trajectory (has {', '.join(order)})")
    needed = dict.fromkeys(wanted + list(charges or {}))
    return wanted, charges, {sym: np.flatnonzero(syms == sym) for sym in needed}


def _add_blocks(result: MSDResult, parts: list, length: int) -> None:
    """Store each block's MSDs (``parts``: per block (msd, collective, charge MSD))."""
    result.block_time_fs = result.time_fs[:length]
    result.msd_blocks = {s: np.stack([p[0][s] for p in parts]) for s in result.species}
    result.collective_blocks = {s: np.stack([p[1][s] for p in parts])
                                for s in result.species}
    if result.charges:
        result.charge_msd_blocks = np.stack([p[2] for p in parts])
