"""Benchmark: dipole-induced-dipole labelling of 128-atom alpha-AgI frames (ase-raman-did).

Thole-damped (a = 0.39, exp(-a u^3)) point-polarizable Ag+ / I- with Pauling's
polarizabilities, Ewald sum (tin-foil) with the plugin's default cutoff and accuracy,
one BLAS thread. Prints one JSON line: ``frames_per_s``, ``ms_per_frame``, the smallest
eigenvalue of the scaled interaction matrix over the frames (catastrophe margin; the
model refuses frames below 0.1), and the same for a = 2.13 (the constant of another
Thole form, too weak here) with the number of frames it would refuse.

Usage: ``python benchmarks/bench_did.py [N_FRAMES]`` (default 40).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _structures import alpha_agi  # noqa: E402


def main() -> None:
    from ase_raman_did import DipoleInducedDipole

    n_frames = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    frames = [alpha_agi((4, 4, 2), seed=s) for s in range(n_frames)]
    assert len(frames[0]) == 128
    model = DipoleInducedDipole()
    model.predict(frames[:1])  # warm-up
    start = time.perf_counter()
    alpha = model.predict(frames)
    elapsed = time.perf_counter() - start
    margin = model.smallest_eigenvalues(frames[:10])
    weak = DipoleInducedDipole(hypers={"thole_a": 2.13})
    weak_margin = weak.smallest_eigenvalues(frames[:10])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    mean_iso = float(np.mean(np.trace(alpha, axis1=1, axis2=2)) / 3.0)
    print(json.dumps({
        "frames": n_frames,
        "atoms": len(frames[0]),
        "hypers": model.hypers,
        "frames_per_s": round(n_frames / elapsed, 2),
        "ms_per_frame": round(1e3 * elapsed / n_frames, 1),
        "mean_isotropic_alpha_A3": round(mean_iso, 2),
        "epsilon_inf": round(1.0 + 4.0 * np.pi * mean_iso / frames[0].get_volume(), 3),
        "min_eigenvalue_a0.39": round(float(margin.min()), 3),
        "min_eigenvalue_a2.13": round(float(weak_margin.min()), 3),
        "refused_of_10_with_a2.13": int(np.sum(weak_margin < weak.min_eigenvalue)),
        "peak_rss_mb": round(peak, 1),
    }))


if __name__ == "__main__":
    main()
