"""Overhead of PolarizabilityObserver in an ASE MD of a 128-atom cell.

Runs the same VelocityVerlet MD (fcc Al, 128 atoms, ASE's EMT, 2 fs) with and without
the observer (interval 10) and prints JSON:

* ``md_step_ms`` / ``md_step_with_observer_ms``: wall time per MD step both ways;
* ``observer_ms_per_frame``: time spent inside the observer (snapshot, prediction,
  store writes, flushes) per recorded frame (``..._from_md_difference``: the same from
  the difference of the two MD timings, noisier on a loaded machine);
* ``predict_ms_per_frame``: the bare cost per frame of what the observer asks of the
  model, ``model.predict_with_uncertainty`` (alpha and its uncertainty, both stored), on
  the same frames in the observer's batch size (``predict_without_uncertainty_ms_per_
  frame``: plain ``model.predict``; ``predict_single_ms_per_frame``: one at a time);
* ``ratio``: observer cost per frame / bare prediction cost per frame of the same
  recorded frames (median over ``--repeats``; goal <= 1.2);
* ``overhead_vs_md``: (with - without) / without.

The model is the default lambda-SOAP ridge learner with the hypers of the reference
work's scale (cutoff 5 Angstrom, max_radial 6, max_angular 4), fitted on rattled cells
labelled by ASE's bond-polarizability model. Usage::

    python benchmarks/bench_observer.py [--steps 400] [--interval 10] [--batch 8]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from ase import units
from ase.build import bulk
from ase.calculators.bond_polarizability import BondPolarizability
from ase.calculators.emt import EMT
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
from ase.md.verlet import VelocityVerlet
from threadpoolctl import threadpool_limits

from ase_raman.models.lambda_soap import LambdaSoapRidge
from ase_raman.models.uncertainty import ExtrapolationWarning
from ase_raman.observe import PolarizabilityObserver
from ase_raman.store import read_trajectory

E2A2_PER_EV_TO_A3 = units.Bohr * units.Ha  # ASE polarizability unit -> Angstrom^3
HYPERS = {"cutoff": 5.0, "max_radial": 6, "max_angular": 4}


def cell128(seed: int | None = None):
    atoms = bulk("Al", "fcc", a=4.05, cubic=True).repeat((4, 4, 2))
    if seed is not None:
        atoms.rattle(0.06, seed=seed)
    return atoms


def fit_model(n_train: int = 16) -> LambdaSoapRidge:
    label = BondPolarizability()
    frames = []
    for seed in range(n_train):
        atoms = cell128(seed)
        atoms.info["polarizability"] = label(atoms) * E2A2_PER_EV_TO_A3
        frames.append(atoms)
    return LambdaSoapRidge(hypers=HYPERS, n_folds=3).fit(frames)


def md_atoms():
    atoms = cell128(seed=1234)
    MaxwellBoltzmannDistribution(atoms, temperature_K=600, rng=np.random.default_rng(0))
    atoms.calc = EMT()
    return atoms


def main() -> None:
    warnings.filterwarnings("ignore", "Use thermalize_momenta", DeprecationWarning)
    # the timing model is fitted on other cells than the MD visits: it rightly warns
    warnings.filterwarnings("ignore", category=ExtrapolationWarning)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--interval", type=int, default=10)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    parser.add_argument("--repeats", type=int, default=3,
                        help="interleaved repetitions; the median is reported")
    args = parser.parse_args()

    with threadpool_limits(args.threads), tempfile.TemporaryDirectory() as tmp:
        model = fit_model()
        warm = md_atoms()
        VelocityVerlet(warm, timestep=2 * units.fs).run(5)  # warm-up
        model.predict([warm] * args.batch)
        bare_runs, obs_runs, ratios, rows = [], [], [], []
        for rep in range(args.repeats):  # interleaved, to share the machine's load
            atoms = md_atoms()
            dyn = VelocityVerlet(atoms, timestep=2 * units.fs)
            t0 = time.perf_counter()
            dyn.run(args.steps)
            bare_runs.append(time.perf_counter() - t0)

            atoms = md_atoms()
            dyn = VelocityVerlet(atoms, timestep=2 * units.fs)
            path = Path(tmp) / f"run{rep}.h5"
            obs = PolarizabilityObserver(atoms, model, path, dyn=dyn, batch=args.batch,
                                         logfile=None)
            dyn.attach(obs, interval=args.interval)
            t0 = time.perf_counter()
            dyn.run(args.steps)
            obs.close()
            obs_runs.append(time.perf_counter() - t0)
            n = obs.summary()["frames_recorded"]

            # the bare model on exactly the recorded frames, in the same batches
            with read_trajectory(path) as traj:
                frames = list(traj.iter_atoms())
            t0 = time.perf_counter()
            for i in range(0, len(frames), args.batch):
                model.predict(frames[i : i + args.batch])
            plain_predict = (time.perf_counter() - t0) / len(frames)
            # what the observer asks of the model: alpha and its uncertainty
            t0 = time.perf_counter()
            for i in range(0, len(frames), args.batch):
                model.predict_with_uncertainty(frames[i : i + args.batch])
            bare_predict = (time.perf_counter() - t0) / len(frames)
            t0 = time.perf_counter()
            for f in frames[:8]:
                model.predict([f])
            single = (time.perf_counter() - t0) / 8
            ratios.append(obs.observer_seconds / n / bare_predict)
            rows.append((obs.observer_seconds / n, obs.predict_seconds / n, bare_predict,
                         single, plain_predict))
        size = path.stat().st_size

    k = int(np.argsort(ratios)[len(ratios) // 2])  # the median repetition
    bare, with_obs = float(np.median(bare_runs)), float(np.median(obs_runs))
    obs_frame, obs_predict, bare_predict, single, plain_predict = rows[k]
    print(json.dumps({
        "n_atoms": 128,
        "md_steps": args.steps,
        "interval": args.interval,
        "batch": args.batch,
        "repeats": args.repeats,
        "frames_recorded": n,
        "md_step_ms": 1e3 * bare / args.steps,
        "md_step_with_observer_ms": 1e3 * with_obs / args.steps,
        "observer_ms_per_frame": 1e3 * obs_frame,
        "observer_predict_ms_per_frame": 1e3 * obs_predict,
        "observer_ms_per_frame_from_md_difference": 1e3 * (with_obs - bare) / n,
        "predict_ms_per_frame": 1e3 * bare_predict,
        "predict_without_uncertainty_ms_per_frame": 1e3 * plain_predict,
        "predict_single_ms_per_frame": 1e3 * single,
        "ratio": float(np.median(ratios)),
        "ratios": ratios,
        "overhead_vs_md": (with_obs - bare) / bare,
        "store_bytes": size,
        "hypers": HYPERS,
    }))


if __name__ == "__main__":
    main()
