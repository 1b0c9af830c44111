"""Synthetic trajectories with a known mechanism (tests, benchmark, docs).

All three put ``n_ions`` mobile ions (symbol ``"Li"``) in a cubic cell of
``cells_per_axis`` lattice spacings ``spacing_A`` with a static framework of ``n_frame``
atoms (``"S"``, at the cube centres, never moving) and return
``(positions (n_frames, n_atoms, 3) Angstrom, wrapped; symbols; cell (3, 3))``:

* :func:`kmc_hopping`: ions sit on the simple-cubic lattice sites and jump to one of the
  6 neighbours at ``rate_per_ps`` (Poisson, independent ions, no site exclusion, so the
  correlation factor is 1), with Gaussian thermal jitter ``jitter_A`` per coordinate
  about the site in every frame: residence time ``1 / rate``, jump length ``spacing``,
  ``D = rate spacing^2 / 6``;
* :func:`brownian`: continuous Gaussian random walks with diffusion coefficient ``D``
  (Angstrom^2/ps), no sites;
* :func:`vibrating`: ions jitter about their sites and never jump (``D = 0``);
* :func:`einstein_crystal`: ions are damped harmonic oscillators about their sites
  (Langevin dynamics, one frequency per ion and axis drawn from ``period_ps``, friction
  time ``damping_ps``, thermal amplitude ``amplitude_A`` per coordinate), so their
  vibrations are correlated in time over ~a period, as in a real crystal (``D = 0``,
  ``MSD -> 6 amplitude^2``).
"""

from __future__ import annotations

import numpy as np


def _frame_atoms(n_frames: int, cells_per_axis: int, spacing_A: float, n_frame: int,
                 rng: np.random.Generator) -> np.ndarray:
    centres = (rng.integers(0, cells_per_axis, size=(n_frame, 3)) + 0.5) * spacing_A
    return np.broadcast_to(centres, (n_frames, n_frame, 3))


def _assemble(ions: np.ndarray, framework: np.ndarray, length: float
              ) -> tuple[np.ndarray, list[str], np.ndarray]:
    pos = np.concatenate([ions, framework], axis=1) % length
    symbols = ["Li"] * ions.shape[1] + ["S"] * framework.shape[1]
    return pos, symbols, np.eye(3) * length


def kmc_hopping(n_ions: int = 32, n_frames: int = 5001, dt_fs: float = 20.0, *,
                spacing_A: float = 3.0, cells_per_axis: int = 4, rate_per_ps: float = 1.0,
                jitter_A: float = 0.25, n_frame: int = 8, seed: int = 0
                ) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Lattice hopping with thermal jitter (see the module docstring)."""
    rng = np.random.default_rng(seed)
    p_jump = 1.0 - np.exp(-rate_per_ps * dt_fs / 1000.0)
    jumps = rng.random((n_frames - 1, n_ions)) < p_jump
    axis = rng.integers(0, 3, size=(n_frames - 1, n_ions))
    sign = rng.choice([-1.0, 1.0], size=(n_frames - 1, n_ions))
    steps = np.zeros((n_frames - 1, n_ions, 3))
    fi, ii = np.nonzero(jumps)
    steps[fi, ii, axis[fi, ii]] = sign[fi, ii] * spacing_A
    start = rng.integers(0, cells_per_axis, size=(n_ions, 3)) * spacing_A
    sites = start + np.concatenate([np.zeros((1, n_ions, 3)), np.cumsum(steps, axis=0)])
    ions = sites + rng.normal(0.0, jitter_A, size=sites.shape)
    frame = _frame_atoms(n_frames, cells_per_axis, spacing_A, n_frame, rng)
    return _assemble(ions, frame, cells_per_axis * spacing_A)


def brownian(n_ions: int = 32, n_frames: int = 5001, dt_fs: float = 20.0, *,
             D_A2_ps: float = 1.5, spacing_A: float = 3.0, cells_per_axis: int = 4,
             n_frame: int = 8, seed: int = 0) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Continuous Brownian diffusion without sites (see the module docstring)."""
    rng = np.random.default_rng(seed)
    length = cells_per_axis * spacing_A
    step = np.sqrt(2.0 * D_A2_ps * dt_fs / 1000.0)
    walk = np.cumsum(rng.normal(0.0, step, size=(n_frames, n_ions, 3)), axis=0)
    ions = walk + rng.random((n_ions, 3)) * length
    frame = _frame_atoms(n_frames, cells_per_axis, spacing_A, n_frame, rng)
    return _assemble(ions, frame, length)


def vibrating(n_ions: int = 32, n_frames: int = 5001, dt_fs: float = 20.0, *,
              spacing_A: float = 3.0, cells_per_axis: int = 4, jitter_A: float = 0.25,
              n_frame: int = 8, seed: int = 0) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Ions vibrating about fixed sites, no jumps (see the module docstring)."""
    return kmc_hopping(n_ions, n_frames, dt_fs, spacing_A=spacing_A,
                       cells_per_axis=cells_per_axis, rate_per_ps=0.0, jitter_A=jitter_A,
                       n_frame=n_frame, seed=seed)


def einstein_crystal(n_ions: int = 64, n_frames: int = 301, dt_fs: float = 10.0, *,
                     period_ps: tuple[float, float] = (0.5, 3.0), damping_ps: float = 3.0,
                     amplitude_A: float = 0.3, spacing_A: float = 3.0,
                     cells_per_axis: int = 4, n_frame: int = 8, substeps: int = 10,
                     seed: int = 0) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Damped harmonic oscillators about lattice sites (see the module docstring),
    integrated by the BAOAB Langevin scheme with ``substeps`` steps per frame, started
    from the thermal distribution."""
    rng = np.random.default_rng(seed)
    omega2 = (2 * np.pi / rng.uniform(*period_ps, size=(n_ions, 3))) ** 2  # (rad/ps)^2
    kt = omega2 * amplitude_A**2  # unit mass: <x^2> = kT / omega^2, <v^2> = kT
    h = dt_fs / 1000.0 / substeps
    c1 = np.exp(-h / damping_ps)
    c2 = np.sqrt((1.0 - c1**2) * kt)
    x = rng.normal(0.0, amplitude_A, size=(n_ions, 3))
    v = rng.normal(0.0, 1.0, size=(n_ions, 3)) * np.sqrt(kt)
    disp = np.empty((n_frames, n_ions, 3))
    for f in range(n_frames):
        disp[f] = x
        for _ in range(substeps):
            v -= 0.5 * h * omega2 * x
            x += 0.5 * h * v
            v = c1 * v + c2 * rng.normal(size=v.shape)
            x += 0.5 * h * v
            v -= 0.5 * h * omega2 * x
    sites = rng.integers(0, cells_per_axis, size=(n_ions, 3)) * spacing_A
    frame = _frame_atoms(n_frames, cells_per_axis, spacing_A, n_frame, rng)
    return _assemble(sites + disp, frame, cells_per_axis * spacing_A)


def fcc_interstitial_hopping(n_ions: int = 48, n_frames: int = 5001, dt_fs: float = 20.0,
                             *, lattice_A: float = 5.0, cells_per_axis: int = 2,
                             tet_rate_per_ps: float = 1.0, oct_rate_per_ps: float = 1 / 0.3,
                             jitter_A: float = 0.2, seed: int = 0
                             ) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Ions (``"Li"``) hopping between the tetrahedral and octahedral holes of a static
    fcc host (``"S"``, lattice constant ``lattice_A``): from a tetrahedral hole to one of
    its 4 octahedral neighbours at ``tet_rate_per_ps``, from an octahedral hole to one of
    its 8 tetrahedral neighbours at ``oct_rate_per_ps`` (hole to hole ``a sqrt(3)/4``),
    with Gaussian jitter. A jump happens in a frame with probability
    ``p = 1 - exp(-rate dt)``, so the mean residence is exactly ``dt / p``
    (:func:`discrete_residence_ps`)."""
    rng = np.random.default_rng(seed)
    a, n = lattice_A, cells_per_axis
    fcc = np.array([[0, 0, 0], [0, .5, .5], [.5, 0, .5], [.5, .5, 0]])
    cells = np.array([[i, j, k] for i in range(n) for j in range(n) for k in range(n)])
    host = ((cells[:, None, :] + fcc[None]).reshape(-1, 3)) * a
    tet = ((cells[:, None, :] + 0.25 + 0.5 * np.array(
        [[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)])[None]).reshape(-1, 3)) * a
    octa = ((cells[:, None, :] + fcc[None] + np.array([0.5, 0, 0])).reshape(-1, 3)) * a
    sites = np.concatenate([tet, octa]) % (n * a)
    is_tet = np.arange(len(sites)) < len(tet)
    d = sites[:, None, :] - sites[None, :, :]
    d -= np.rint(d / (n * a)) * n * a
    near = np.linalg.norm(d, axis=2) < 0.5 * a  # hole-hole a sqrt(3)/4; tet-tet a/2
    neighbours = [np.flatnonzero(near[i] & (is_tet[i] != is_tet)) for i in range(len(sites))]
    p = np.where(is_tet, *(discrete_jump_probability(r, dt_fs)
                           for r in (tet_rate_per_ps, oct_rate_per_ps)))
    where = rng.integers(0, len(tet), size=n_ions)
    track = np.empty((n_frames, n_ions), dtype=int)
    for f in range(n_frames):
        track[f] = where
        go = rng.random(n_ions) < p[where]
        for i in np.flatnonzero(go):
            where[i] = rng.choice(neighbours[where[i]])
    # unwrapped ion paths: accumulate minimum-image steps between consecutive sites
    step = sites[track[1:]] - sites[track[:-1]]
    step -= np.rint(step / (n * a)) * n * a
    path = sites[track[0]] + np.concatenate([np.zeros((1, n_ions, 3)), np.cumsum(step, 0)])
    ions = path + rng.normal(0.0, jitter_A, size=path.shape)
    frame = np.broadcast_to(host, (n_frames, len(host), 3))
    return _assemble(ions, frame, n * a)


def discrete_jump_probability(rate_per_ps: float, dt_fs: float) -> float:
    """Probability of a jump within one frame of ``dt_fs`` at ``rate_per_ps``."""
    return float(1.0 - np.exp(-rate_per_ps * dt_fs / 1000.0))


def discrete_residence_ps(rate_per_ps: float, dt_fs: float) -> float:
    """Exact mean residence (ps) of the frame-by-frame jump process: ``dt / p``."""
    return dt_fs / 1000.0 / discrete_jump_probability(rate_per_ps, dt_fs)
