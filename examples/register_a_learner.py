"""Register a third-party learner through an entry point, then use it like a built-in one.

Scenario: someone publishes a learner in a separate package (here the repository's own
``plugins/template``, distribution ``ase-raman-template``, learner
``template-additive``: alpha = sum over atoms of a per-element isotropic polarizability,
Angstrom^3). Its ``pyproject.toml`` declares::

    [project.entry-points."ase_raman.models"]
    template-additive = "ase_raman_template:AdditiveIsotropic"

Once the package is installed (``pip install -e plugins/template``), and with no change to
ase-raman, this script shows, each through the ``ase-raman`` command run as a subprocess:

1. ``ase-raman models`` lists ``template-additive`` next to ``lambda-soap``;
2. ``ase-raman fit TRAIN --learner template-additive -o template.npz`` fits it (training
   data: the shipped bulk-water reference tensors ``tests/data/water_bulk_200.xyz``,
   alpha in bohr^3 under the extxyz key ``alpha``; 32 molecules per frame);
3. ``ase-raman fit ... --learner lambda-soap`` fits the built-in learner on the same split;
4. ``ase-raman predict template.npz TRAIN --index 150: -o predicted.xyz`` predicts with the
   plugin's model file; ``ase_raman.load_model`` dispatches that file to the plugin class
   through ``metadata["learner"]``.

It prints both learners' held-out R^2 and RMSE (Angstrom^3). Expect R^2 near 0 for
``template-additive``: every frame has the same composition, so an additive isotropic
model predicts one constant tensor, the training mean, and cannot follow the structural
fluctuations that lambda-SOAP learns. That is the point of the template: the smallest
complete plugin, to copy and replace with a real model (see ``docs/plugins.md``).

Usage (from the repository root; about 40 s on 2 cores, most of it the
lambda-SOAP comparison fit; ``--quick`` skips that fit and takes about 6 s)::

    python examples/register_a_learner.py [--data tests/data/water_bulk_200.xyz]
        [--out example-output/register_a_learner] [--quick]

Outputs in ``--out``: ``template.npz`` (+ ``template.parity.png``), ``lambda_soap.npz``
(+ parity plot), ``predicted.xyz`` (frames 150 on with the plugin's alpha) and
``summary.json``. Exits with status 2 and one line when the plugin is not installed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LEARNER = "template-additive"


def ase_raman(*args: str) -> str:
    """Run ``ase-raman ARGS`` in a subprocess (this interpreter), echo it, return stdout."""
    cmd = [sys.executable, "-m", "ase_raman", *args]
    print("$ ase-raman " + " ".join(args), flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"ase-raman {args[0]} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO / "tests/data/water_bulk_200.xyz"),
                        help="extxyz training file (default: the shipped bulk water)")
    parser.add_argument("--alpha-key", default="alpha")
    parser.add_argument("--alpha-unit", default="bohr3", choices=["A3", "bohr3"])
    parser.add_argument("--out", default="example-output/register_a_learner")
    parser.add_argument("--quick", action="store_true",
                        help="skip the lambda-soap comparison fit")
    args = parser.parse_args(argv)

    found = {ep.name: ep for ep in entry_points(group="ase_raman.models")}
    if LEARNER not in found:
        print(f"the learner {LEARNER!r} is not installed: pip install -e "
              f"{REPO / 'plugins/template'}", file=sys.stderr)
        return 2
    if not Path(args.data).is_file():
        print(f"training data not found: {args.data}", file=sys.stderr)
        return 2
    ep = found[LEARNER]
    print(f"entry point ase_raman.models: {ep.name} = {ep.value} "
          f"(distribution {ep.dist.name if ep.dist else '?'})")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    listing = ase_raman("models")
    print(listing)
    if not any(line.split()[:1] == [LEARNER] for line in listing.splitlines()):
        sys.exit(f"`ase-raman models` does not list {LEARNER}")

    common = ["--alpha-key", args.alpha_key, "--alpha-unit", args.alpha_unit,
              "--test-fraction", "0.2", "--seed", "0", "--quiet"]
    metrics = {}
    learners = [LEARNER] if args.quick else [LEARNER, "lambda-soap"]
    for learner in learners:
        path = out / ("template.npz" if learner == LEARNER else "lambda_soap.npz")
        stdout = ase_raman("fit", args.data, "--learner", learner, "-o", str(path), *common)
        metrics[learner] = json.loads(stdout.strip().splitlines()[-1])
        m = metrics[learner]
        print(f"  {learner}: n_train {m['n_train']}, n_test {m['n_test']}, held-out R^2 "
              f"{m['r2']:.3f}, RMSE {m['rmse_A3']:.3f} Angstrom^3")

    model_path = out / "template.npz"
    ase_raman("predict", str(model_path), args.data, "--index", "150:", "-o",
              str(out / "predicted.xyz"), "--quiet")

    from ase.io import read

    from ase_raman import load_model

    model = load_model(model_path)  # dispatched through metadata["learner"]
    frames = read(out / "predicted.xyz", index=":")
    print(f"load_model({model_path.name}) -> {type(model).__module__}."
          f"{type(model).__name__} (learner {model.metadata['learner']!r}, distribution "
          f"{model.metadata['distribution']!r}); predicted.xyz holds {len(frames)} frames")
    summary = {"learner": LEARNER, "entry_point": ep.value,
               "model_class": f"{type(model).__module__}.{type(model).__name__}",
               "n_predicted": len(frames), "metrics": metrics}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"outputs in {out.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
