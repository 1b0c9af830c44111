"""Benchmark: mechanism analysis against the MSD on 416 atoms x 20,000 frames.

Data (synthetic, :func:`ase_raman.spectra.transport.synthetic.kmc_hopping`): 192 Li
hopping on a 7x7x7 simple-cubic lattice of 2.9 Angstrom spacing (a 20.3 Angstrom cell,
the size of the 416-atom argyrodite cell) at 1 jump/ps with 0.25 Angstrom thermal jitter,
among 224 static framework atoms (masses of Li and S, so the centre-of-mass correction
moves the lattice as little as in Li6PS5Cl); 20 fs between frames (400 ps).

Times, in one child process that loads the positions once (so its peak memory is the
analysis', not the data generator's):

* ``msd_s`` -- :func:`~ase_raman.spectra.transport.mean_squared_displacement` of all
  species from the wrapped positions (unwrapping, drift removal, tracer + collective MSD;
  what ``ase-raman msd`` computes without blocks);
* ``mechanism_s`` -- :func:`~ase_raman.spectra.transport.analyse_mechanism` for Li with
  sites found from the density (unwrapping, drift, MSD + GLS D, regimes, alpha_2, sites,
  jumps, residences, concerted jumps, VDOS period);

``ratio = mechanism_s / msd_s`` (goal <= 3), ``peak_rss_mb`` the child's peak resident
memory with the positions loaded (goal < 1000). ``mechanism_s`` and ``msd_s`` are process
CPU times (single-threaded: set ``OMP_NUM_THREADS=1``), the best of ``--repeats`` runs
each: on a shared, overloaded machine wall times swing by 2x between runs, CPU times
much less; ``*_wall_s`` give the wall times of the same runs. The last output line is
one JSON object.

Usage: ``python benchmarks/bench_mechanism.py [--frames 20000] [--repeats 1]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile

import numpy as np
from _timing import timed

N_IONS, N_FRAMEWORK, CELLS, SPACING, DT_FS = 192, 224, 7, 2.9, 20.0


def _child(path: str, repeats: int) -> None:
    from ase_raman.spectra.transport import analyse_mechanism, mean_squared_displacement

    data = np.load(path)
    pos, cell = data["positions"], data["cell"]
    symbols = ["Li"] * N_IONS + ["S"] * N_FRAMEWORK
    masses = np.array([6.94] * N_IONS + [32.06] * N_FRAMEWORK)  # amu: drift as in Li6PS5Cl
    holder = {}

    def msd():
        mean_squared_displacement(pos, symbols, DT_FS, cells=cell, masses=masses)

    def mech():
        holder["r"] = analyse_mechanism(pos, symbols, DT_FS, species="Li", cells=cell,
                                        masses=masses)

    msd_t = min((timed(msd) for _ in range(repeats)), key=lambda t: t[1])
    mech_t = min((timed(mech) for _ in range(repeats)), key=lambda t: t[1])
    li = holder["r"].species["Li"]
    print(json.dumps({
        "mechanism_s": round(mech_t[1], 3), "msd_s": round(msd_t[1], 3),
        "ratio": round(mech_t[1] / msd_t[1], 3),
        "mechanism_wall_s": round(mech_t[0], 3), "msd_wall_s": round(msd_t[0], 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "n_atoms": int(pos.shape[1]), "n_frames": int(pos.shape[0]),
        "verdict": li.verdict, "residence_time_ps": round(li.residence_time_ps, 4),
        "n_sites": li.n_sites, "python": platform.python_version(),
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.repeats)
        return
    from ase_raman.spectra.transport.synthetic import kmc_hopping

    pos, _, cell = kmc_hopping(N_IONS, args.frames, DT_FS, spacing_A=SPACING,
                               cells_per_axis=CELLS, rate_per_ps=1.0, jitter_A=0.25,
                               n_frame=N_FRAMEWORK, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "positions.npz")
        np.savez(path, positions=pos, cell=cell)
        del pos
        out = subprocess.run([sys.executable, __file__, "--child", path,
                              "--repeats", str(args.repeats)],
                             check=True, capture_output=True, text=True)
    print(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
