"""Benchmark: lambda-soap model.predict vs the bare featomic lambda-SOAP computation.

Same 128-atom alpha-AgI structures, same hypers, same process, batches of 16. Prints one
JSON line: ``predict_ms`` and ``featomic_ms`` per structure, ``ratio`` (goal <= 1.3;
below 1 since the default featuriser sums over atoms before the Clebsch-Gordan coupling),
``peak_rss_mb``, and ``fit_1000_peak_rss_mb``: the peak memory of a separate process
fitting the model on 1,000 structures of 128 atoms (goal: well under 4 GB).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _structures import alpha_agi, bond_polarizability_label  # noqa: E402
from _timing import best_time  # noqa: E402

from ase_raman.models.lambda_soap import LambdaSoapRidge  # noqa: E402

HYPERS = {"cutoff": 5.0, "max_radial": 6, "max_angular": 4}
N_TRAIN, N_PREDICT, REPEATS = 48, 64, 3


def fit_many(n: int) -> None:
    """Fit on ``n`` labelled 128-atom structures (run in a child process)."""
    train = [alpha_agi((4, 4, 2), seed=s) for s in range(n)]
    for atoms in train:
        atoms.info["polarizability"] = bond_polarizability_label(atoms)
    LambdaSoapRidge(hypers=HYPERS).fit(train)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)


def main() -> None:
    train = [alpha_agi((4, 4, 2), seed=s) for s in range(N_TRAIN)]
    for atoms in train:
        atoms.info["polarizability"] = bond_polarizability_label(atoms)
    frames = [alpha_agi((4, 4, 2), seed=1000 + s) for s in range(N_PREDICT)]
    assert len(frames[0]) == 128

    model = LambdaSoapRidge(hypers=HYPERS).fit(train)
    featurizer = model.featurizer
    calculator, selected = featurizer._calculator, featurizer._selected

    def bare_featomic() -> None:
        for start in range(0, N_PREDICT, featurizer.batch_size):
            calculator.compute(frames[start:start + featurizer.batch_size],
                               selected_keys=selected, neighbors_to_properties=True)

    model.predict(frames[:16])  # warm-up
    featomic_s = best_time(bare_featomic, REPEATS)
    predict_s = best_time(lambda: model.predict(frames), REPEATS)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    child = subprocess.run([sys.executable, __file__, "--fit", "1000"], capture_output=True,
                           text=True, check=True)
    fit_peak = float(child.stdout.strip().splitlines()[-1])
    print(json.dumps({
        "structures": N_PREDICT,
        "atoms": len(frames[0]),
        "hypers": HYPERS,
        "predict_ms": round(1e3 * predict_s / N_PREDICT, 3),
        "featomic_ms": round(1e3 * featomic_s / N_PREDICT, 3),
        "ratio": round(predict_s / featomic_s, 3),
        "peak_rss_mb": round(peak, 1),
        "fit_1000_peak_rss_mb": round(fit_peak, 1),
        "train_correlation": float(np.corrcoef(
            model.predict(train[:8]).ravel(),
            np.array([a.info["polarizability"] for a in train[:8]]).ravel())[0, 1]),
    }))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--fit":
        fit_many(int(sys.argv[2]))
    else:
        main()
