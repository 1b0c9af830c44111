"""Benchmark of the spectra: prints one JSON object as its last line.

* ``raman_s``: full Raman spectrum (:func:`ase_raman.spectra.raman.raman_spectrum`,
  default options) of ``--n-alpha`` alpha samples (default 10^6, dt = 20 fs);
* ``rfft_s``: a bare ``numpy.fft.rfft`` of one float64 series of the same length, in the
  same process; ``ratio`` = raman_s / rfft_s (goal <= 20);
* ``vdos_s``: VDOS of ``--atoms`` atoms x ``--frames`` frames (default 128 x 10^5, dt = 2 fs);
* memory: ``raman_peak_mb`` / ``vdos_peak_mb`` (tracemalloc peak of the allocations made
  by each call, inputs excluded; numpy reports its buffers to tracemalloc) and
  ``peak_rss_mb`` (the process's peak resident set, inputs included).

Times are the best of ``--repeat`` runs after one warm-up. Usage::

    python benchmarks/bench_spectra.py [--n-alpha 1000000] [--atoms 128] [--frames 100000]
"""

from __future__ import annotations

import argparse
import json
import resource
import tracemalloc

import numpy as np
from _timing import best_time

from ase_raman.spectra.raman import raman_spectrum
from ase_raman.spectra.vdos import vdos


def peak_mb(func) -> float:
    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-alpha", type=int, default=10**6)
    parser.add_argument("--atoms", type=int, default=128)
    parser.add_argument("--frames", type=int, default=10**5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    alpha = rng.standard_normal((args.n_alpha, 3, 3))
    alpha = 0.5 * (alpha + alpha.transpose(0, 2, 1)) + np.diag([30.0, 31.0, 32.0])
    series = np.ascontiguousarray(alpha[:, 0, 0])

    def do_raman():
        return raman_spectrum(alpha, 20.0)

    def do_rfft():
        return np.fft.rfft(series)

    do_rfft()
    do_raman()
    rfft_s = best_time(do_rfft, max(args.repeat, 5))
    raman_s = best_time(do_raman, args.repeat)

    vel = rng.standard_normal((args.frames, args.atoms, 3)) * 0.01
    species = ["Ag"] * (args.atoms // 2) + ["I"] * (args.atoms - args.atoms // 2)
    masses = np.where(np.array(species) == "Ag", 107.87, 126.90)

    def do_vdos():
        return vdos(vel, 2.0, masses=masses, species=species)

    vdos_s = best_time(do_vdos, max(1, args.repeat - 1))
    raman_peak = peak_mb(do_raman)
    vdos_peak = peak_mb(do_vdos)
    result = {
        "ratio": raman_s / rfft_s,
        "raman_s": raman_s,
        "rfft_s": rfft_s,
        "vdos_s": vdos_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "raman_peak_mb": raman_peak,
        "vdos_peak_mb": vdos_peak,
        "n_alpha": args.n_alpha,
        "vdos_atoms": args.atoms,
        "vdos_frames": args.frames,
        "input_mb": (alpha.nbytes + vel.nbytes) / 2**20,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
