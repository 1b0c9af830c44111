"""Cost of ``ase-raman screen``'s production MD: alpha recording vs the MD itself.

On the 128-atom alpha-AgI cell (4x4x2 bcc cells, as the demo builds it), runs the same
Bussi NVT MD with the CHGNet plugin (``chgnet``, 1 torch thread) without and with the
:class:`~ase_raman.observe.PolarizabilityObserver` recording alpha from the
dipole-induced-dipole model every ``--every`` steps (as ``screen --alpha did`` does),
alternating the two ``--repeats`` times, and times one MD step of every registered
calculator plugin that is installed on the same cell. Prints one JSON line:

* ``md_ms_per_step``: CHGNet MD alone (median over repeats), ms;
* ``md_with_alpha_ms_per_step``: the same with alpha recorded, ms;
* ``overhead_fraction``: (with - without) / without, from the medians (goal <= 0.10);
* ``observer_fraction``: the observer's own measured time / the MD-alone time (the same
  quantity without the machine-load noise of comparing two runs);
* ``calculator_ms_per_step``: {name: ms per MD step} for ``chgnet``, ``chgnet`` with
  ``stress=False`` (``chgnet-ef``), ``sevenn`` (7net-0) and ``agi-prv`` (LAMMPS), where
  installed;
* ``ratio``: md_with_alpha / md_alone (the baseline run in this process).

Usage: ``python benchmarks/bench_screen.py [--steps 30] [--every 10] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from ase import units
from ase.md.bussi import Bussi
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

from ase_raman.demo.agi import alpha_agi
from ase_raman.engines.calculators import make_calculator
from ase_raman.observe import PolarizabilityObserver


def _atoms():
    atoms = alpha_agi((4, 4, 2), seed=0)
    MaxwellBoltzmannDistribution(atoms, temperature_K=500, rng=np.random.default_rng(0))
    return atoms


def _md_ms(calc, steps: int, model=None, every: int = 10, path: Path | None = None
           ) -> tuple[float, float]:
    """(wall ms per step, observer ms per step) of ``steps`` Bussi steps."""
    atoms = _atoms()
    atoms.calc = calc
    atoms.get_forces()  # first call outside the timing (graph set-up, LAMMPS init)
    dyn = Bussi(atoms, 2 * units.fs, temperature_K=500, taut=100 * units.fs,
                rng=np.random.default_rng(1))
    obs = None
    if model is not None:
        obs = PolarizabilityObserver(atoms, model, path, dyn=dyn, mode="w", logfile=None,
                                     batch=8, flush_every=8, record_uncertainty=False)
        dyn.attach(obs, interval=every)
    t0 = time.perf_counter()
    dyn.run(steps)
    if obs is not None:
        obs.close()
    wall = (time.perf_counter() - t0) * 1000 / steps
    return wall, (obs.observer_seconds * 1000 / steps if obs is not None else 0.0)


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from ase_raman.screen.pipeline import Material, ScreenSettings, _alpha_model

    calc = make_calculator("chgnet", threads=1)
    model = _alpha_model(ScreenSettings(), Material("AgI", ""), ["Ag", "I"])
    alone, with_alpha, observer = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            alone.append(_md_ms(calc, args.steps)[0])
            wall, obs = _md_ms(calc, args.steps, model, args.every, Path(tmp) / f"{i}.h5")
            with_alpha.append(wall)
            observer.append(obs)
    md = statistics.median(alone)
    md_alpha = statistics.median(with_alpha)
    per_calc = {"chgnet": md}
    per_calc["chgnet-ef"] = statistics.median(
        _md_ms(make_calculator("chgnet", threads=1, stress=False), args.steps)[0]
        for _ in range(args.repeats))
    try:
        sevenn = make_calculator("sevenn", threads=1)
        per_calc["sevenn"] = statistics.median(_md_ms(sevenn, max(3, args.steps // 3))[0]
                                               for _ in range(args.repeats))
    except Exception as exc:  # plugin not installed: say so in the JSON
        per_calc["sevenn"] = f"unavailable: {type(exc).__name__}"
    try:
        prv = make_calculator("agi-prv")
        per_calc["agi-prv"] = statistics.median(_md_ms(prv, 10 * args.steps)[0]
                                                for _ in range(args.repeats))
    except Exception as exc:  # LAMMPS not installed: say so in the JSON
        per_calc["agi-prv"] = f"unavailable: {type(exc).__name__}"
    print(json.dumps({
        "benchmark": "screen", "n_atoms": len(_atoms()), "steps": args.steps,
        "every": args.every, "repeats": args.repeats, "threads": 1,
        "load_average_1min": os.getloadavg()[0],
        "md_ms_per_step": md, "md_with_alpha_ms_per_step": md_alpha,
        "overhead_fraction": (md_alpha - md) / md,
        "observer_fraction": statistics.median(observer) / md,
        "calculator_ms_per_step": per_calc,
        "ratio": md_alpha / md,
    }))


if __name__ == "__main__":
    main()
