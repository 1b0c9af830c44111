"""The MD stages of one screening pair (material, temperature), each resumable.

1. :func:`relax`: FIRE on the positions (and the cell unless ``fixed_cell``), at most
   ``steps`` steps to ``fmax`` (eV/Angstrom); the result is written once per material.
2. :func:`equilibrate`: Langevin NVT at T for ``fixed_cell``; otherwise Berendsen NPT
   at 0 GPa (the potential's density at T) followed by a Langevin NVT stretch at the
   mean cell. Velocities from Maxwell-Boltzmann (seeded). Written as ``equilibrated.xyz``.
3. :func:`produce`: Bussi (stochastic velocity rescaling) NVT production with the
   :class:`~ase_raman.observe.PolarizabilityObserver` recording positions, velocities,
   cell and alpha every ``every`` steps into ``production.h5``. A killed run resumes
   from the store's last frame (``restart_atoms``), so no finished step is redone.

Times in fs, temperatures in K, energies in eV.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms, units
from ase.io import read, write

from ..atomic_write import atomic_output

__all__ = ["relax", "equilibrate", "produce", "stored_steps"]


def _write_xyz(path: Path, atoms: Atoms) -> None:
    with atomic_output(path) as tmp:
        write(str(tmp), atoms, format="extxyz")


def _read_xyz(path: Path, calc: Any) -> Atoms:
    atoms = read(str(path), format="extxyz")
    atoms.calc = calc
    return atoms


def relax(atoms: Atoms, calc: Any, path: Path, steps: int, fixed_cell: bool,
          fmax: float = 0.1, progress: Any = None) -> Atoms:
    """Relaxed structure (cached in ``path``)."""
    if path.exists():
        return _read_xyz(path, calc)
    from ase.optimize import FIRE

    atoms = atoms.copy()
    atoms.calc = calc
    target: Any = atoms
    if not fixed_cell:
        from ase.filters import FrechetCellFilter

        target = FrechetCellFilter(atoms)
    opt = FIRE(target, logfile=None)
    if progress is not None:
        opt.attach(progress, interval=1)
    opt.run(fmax=fmax, steps=steps)
    atoms.info["relax_steps"] = int(opt.nsteps)
    atoms.info["relax_fmax_eV_A"] = float(np.abs(atoms.get_forces()).max())
    _write_xyz(path, atoms)
    return atoms


def equilibrate(atoms: Atoms, calc: Any, path: Path, temperature_K: float, steps: int,
                timestep_fs: float, fixed_cell: bool, seed: int, progress: Any = None
                ) -> Atoms:
    """Equilibrated structure with velocities (cached in ``path``)."""
    if path.exists():
        return _read_xyz(path, calc)
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

    atoms = atoms.copy()
    atoms.calc = calc
    rng = np.random.default_rng(seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K, rng=rng)
    Stationary(atoms)
    nvt_steps = steps
    if not fixed_cell:
        from ase.md.nptberendsen import NPTBerendsen

        npt_steps = steps // 2
        nvt_steps = steps - npt_steps
        npt = NPTBerendsen(atoms, timestep_fs * units.fs, temperature_K=temperature_K,
                           pressure_au=0.0, taut=100 * units.fs, taup=500 * units.fs,
                           compressibility_au=4.57e-5 / units.bar)
        cells: list[np.ndarray] = []
        npt.attach(lambda: cells.append(atoms.cell.array.copy()), interval=1)
        if progress is not None:
            npt.attach(progress, interval=1)
        npt.run(npt_steps)
        mean_cell = np.mean(cells[len(cells) // 2:], axis=0)
        atoms.set_cell(mean_cell, scale_atoms=True)
    dyn = Langevin(atoms, timestep_fs * units.fs, temperature_K=temperature_K,
                   friction=0.01 / units.fs, rng=rng)
    if progress is not None:
        dyn.attach(progress, interval=1)
    dyn.run(nvt_steps)
    _write_xyz(path, atoms)
    return atoms


def stored_steps(path: Path) -> int:
    """MD steps already recorded in a production store (0 when there is none)."""
    if not path.exists():
        return 0
    from ..store import read_trajectory

    try:
        with read_trajectory(path) as traj:
            return int(traj.step[-1]) if len(traj) else 0
    except Exception:  # a store that never got its first flush (or is being created)
        return 0


def produce(atoms: Atoms, calc: Any, model: Any, path: Path, temperature_K: float,
            steps: int, timestep_fs: float, every: int, seed: int, progress: Any = None
            ) -> Path:
    """Run (or finish) the production into ``path``; returns ``path``."""
    from ase.md.bussi import Bussi

    from ..observe import PolarizabilityObserver
    from ..store import restart_atoms

    done = stored_steps(path)
    if done >= steps:
        return path
    if done == 0 and path.exists():
        os.unlink(path)  # killed before its first flush: nothing in it to keep
    if done > 0:
        start = restart_atoms(path)
        atoms = atoms.copy()
        atoms.positions = start.positions
        atoms.set_cell(start.cell)
        atoms.set_momenta(start.get_momenta())
    atoms.calc = calc
    rng = np.random.default_rng(seed + done)
    dyn = Bussi(atoms, timestep_fs * units.fs, temperature_K=temperature_K,
                taut=100 * units.fs, rng=rng)
    # flush every 8 frames: a kill loses at most 8 * every MD steps
    with PolarizabilityObserver(atoms, model, path, dyn=dyn, mode="a", logfile=None,
                                batch=8, flush_every=8, record_uncertainty=False) as obs:
        dyn.attach(obs, interval=every)
        if progress is not None:
            dyn.attach(progress, interval=1)
        dyn.run(steps - done)
    return path
