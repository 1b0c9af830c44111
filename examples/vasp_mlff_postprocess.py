"""Post-process a finished VASP MD run: predict alpha along its XDATCAR, then Raman and MSD.

Scenario: a VASP (ab initio or MLFF) MD run of the argyrodite Li6PS5I is finished
(``XDATCAR``: 100 frames of 416 atoms, 2 fs MD step with every 50th step stored, so
frames are 100 fs apart; 500 K; B. J. Morgan, Chem. Mater. 2021). We want its Raman
spectrum and the Li diffusion coefficient without rerunning anything.

**Where the training labels come from (read this).** A real study labels ~150-300
snapshots with DFPT (VASP ``LEPSILON``/``LCALCEPS``) and fits the model on those. DFPT
cannot run here, so this example labels a subset of the XDATCAR frames with a *physical
model standing in for DFPT*: the dipole-induced-dipole (DID) plugin
(``ase-raman-did``, Thole-damped point-polarizable atoms, Ewald sums). The plugin has
Pauling's free-ion values for Li+ (0.029 Angstrom^3) and I- (7.10 Angstrom^3) but none
for P and S, so they are given explicitly: **P 1.0 and S 5.0 Angstrom^3** (illustrative
choices for the PS4^3- unit, not fitted to anything; they give eps_inf ~ 3.8 for this
cell). The labels are consistent physics, but the spectrum is that of the DID model, not
of DFT. Replace ``train.xyz`` by your DFPT frames (``ase-raman fit OUTCAR.* ...``) for
real work.

Steps (each ``ase-raman`` command is run as a subprocess and echoed, so you can copy it):

1. label every k-th frame with DID (Python API: ``get_learner("dipole-induced-dipole")``)
   and write them to ``train.xyz`` (extxyz key ``polarizability``, Angstrom^3);
2. ``ase-raman fit train.xyz -o model.npz --hypers '{...}'`` (lambda-SOAP, held-out R^2);
3. ``ase-raman predict model.npz XDATCAR -o alpha.h5 --dt-fs 100`` (H5MD store);
4. ``ase-raman raman alpha.h5 -o raman.csv --png raman.png --json raman.json --sigma 8``
   (frames 100 fs apart: Nyquist frequency 1/(2 c dt) = 167 cm^-1, so this covers only
   the low-frequency, central-peak region; store alpha more often for the phonon bands);
5. ``ase-raman msd XDATCAR --dt-fs 100 --species Li,I --temperature 500 --charges Li=1
   -o msd.csv --png msd.png --json msd.json`` (tracer D in cm^2/s, Nernst-Einstein sigma
   in S/cm).

Usage::

    python examples/vasp_mlff_postprocess.py [XDATCAR] [--dt-fs 100] [--temperature 500]
        [--n-train 30] [--out example-output/vasp_mlff_postprocess] [--quick]

``XDATCAR`` defaults to ``$ASE_RAMAN_SHARED_DATA/argyrodite_li6ps5i/XDATCAR`` (a
data folder outside the repository, not shipped); the script exits
with status 2 and one line when it is missing. Any XDATCAR works if the DID
polarizabilities cover its elements (``--polarizabilities '{"Cl": 3.66}'`` adds some).
About 1 minute on 2 busy cores with the defaults (30 labelled frames, alpha of all 100
frames); ``--quick`` labels 12 frames and predicts alpha of every 2nd frame (200 fs
apart, Nyquist 83 cm^-1), about 25 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
#: Atomic polarizabilities (Angstrom^3) added to the DID plugin's Pauling defaults.
EXTRA_POLARIZABILITIES = {"P": 1.0, "S": 5.0}
#: lambda-SOAP hyper-parameters (cutoff in Angstrom).
HYPERS = {"cutoff": 4.5, "max_radial": 4, "max_angular": 3}


def default_xdatcar() -> Path:
    root = os.environ.get("ASE_RAMAN_SHARED_DATA")
    base = Path(root) if root else REPO.parent / "shared" / "data"
    return base / "argyrodite_li6ps5i" / "XDATCAR"


def ase_raman(*args: str) -> str:
    """Run ``ase-raman ARGS`` in a subprocess (this interpreter), echo it, return stdout."""
    print("$ ase-raman " + " ".join(args), flush=True)
    proc = subprocess.run([sys.executable, "-m", "ase_raman", *args], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        sys.exit(f"ase-raman {args[0]} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def label_frames(xdatcar: Path, n_train: int, polarizabilities: dict, out: Path) -> Path:
    """DID labels (Angstrom^3) of ``n_train`` evenly spaced frames, written to train.xyz."""
    from ase.io import write

    from ase_raman.io.trajectory import iter_frames
    from ase_raman.models.registry import get_learner

    frames = list(iter_frames(xdatcar))
    step = max(1, len(frames) // n_train)
    chosen = frames[::step][:n_train]
    did = get_learner("dipole-induced-dipole")(
        hypers={"polarizabilities": polarizabilities, "fit": "none",
                "on_catastrophe": "nan"}, quiet=True)
    alpha = did.predict(chosen)
    kept = []
    for atoms, a in zip(chosen, alpha, strict=True):
        if np.all(np.isfinite(a)):  # a polarization catastrophe gives NaN: skip the frame
            atoms.info.clear()
            # nine numbers, row-major: the extxyz convention (ASE would write a 3x3
            # array as a JSON string, which `ase-raman fit` does not read)
            atoms.info["polarizability"] = np.asarray(a).reshape(9)
            atoms.info["label_source"] = "dipole-induced-dipole model, not DFPT"
            kept.append(atoms)
    volume = kept[0].get_volume()
    eps = 1 + 4 * np.pi * np.mean([a.info["polarizability"][::4].sum() / 3 for a in kept]) / volume
    print(f"labelled {len(kept)} of {len(frames)} frames (every {step}th) with the DID model "
          f"(polarizabilities {polarizabilities} Angstrom^3 over Pauling's defaults); "
          f"mean eps_inf = {eps:.2f}; {len(chosen) - len(kept)} catastrophes skipped")
    path = out / "train.xyz"
    write(path, kept, format="extxyz")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("xdatcar", nargs="?", default=str(default_xdatcar()),
                        help="the VASP XDATCAR (default: the shared Li6PS5I run)")
    parser.add_argument("--dt-fs", type=float, default=100.0,
                        help="time between XDATCAR frames, fs (POTIM x NBLOCK; 100)")
    parser.add_argument("--temperature", type=float, default=500.0, help="K (500)")
    parser.add_argument("--species", default="Li", help="mobile species for D (Li)")
    parser.add_argument("--charge", type=float, default=1.0,
                        help="charge of the mobile species in e, for sigma (1)")
    parser.add_argument("--n-train", type=int, default=30, help="DID-labelled frames (30)")
    parser.add_argument("--sigma", type=float, default=8.0,
                        help="Raman Gaussian smoothing, cm^-1 (8)")
    parser.add_argument("--polarizabilities", default=json.dumps(EXTRA_POLARIZABILITIES),
                        help="JSON {symbol: Angstrom^3} added to the DID defaults")
    parser.add_argument("--out", default="example-output/vasp_mlff_postprocess")
    parser.add_argument("--quick", action="store_true",
                        help="label 12 frames; predict alpha of every 2nd frame")
    args = parser.parse_args(argv)

    xdatcar = Path(args.xdatcar)
    if not xdatcar.is_file():
        print(f"XDATCAR not found: {xdatcar} (pass its path, or set ASE_RAMAN_SHARED_DATA "
              "to the folder holding argyrodite_li6ps5i/)", file=sys.stderr)
        return 2
    try:
        import ase_raman_did  # noqa: F401  (the label source)
    except ImportError:
        print("the DID plugin is needed for the labels: pip install -e plugins/did",
              file=sys.stderr)
        return 2
    n_train = 12 if args.quick else args.n_train
    every = 2 if args.quick else 1  # quick: alpha of every 2nd frame (200 fs apart)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    train = label_frames(xdatcar, n_train, json.loads(args.polarizabilities), out)
    fit = json.loads(ase_raman("fit", str(train), "-o", str(out / "model.npz"), "--hypers",
                               json.dumps(HYPERS), "--test-fraction", "0.2",
                               "--quiet").strip().splitlines()[-1])
    print(f"  lambda-SOAP vs DID labels: n_train {fit['n_train']}, held-out R^2 "
          f"{fit['r2']:.3f} (lambda=0 {fit['r2_lambda0']:.3f}, lambda=2 "
          f"{fit['r2_lambda2']:.3f}), RMSE {fit['rmse_A3']:.2f} Angstrom^3")

    ase_raman("predict", str(out / "model.npz"), str(xdatcar), "-o", str(out / "alpha.h5"),
              "--dt-fs", f"{args.dt_fs:g}", "--every", str(every), "--quiet")
    ase_raman("raman", str(out / "alpha.h5"), "-o", str(out / "raman.csv"), "--png",
              str(out / "raman.png"), "--json", str(out / "raman.json"), "--sigma",
              f"{args.sigma:g}")
    stdout = ase_raman("msd", str(xdatcar), "--dt-fs", f"{args.dt_fs:g}", "--species",
                       args.species, "--temperature", f"{args.temperature:g}", "--charges",
                       f"{args.species}={args.charge:g}", "-o", str(out / "msd.csv"),
                       "--png", str(out / "msd.png"), "--json", str(out / "msd.json"))
    print(stdout)

    raman = json.loads((out / "raman.json").read_text())
    msd = json.loads((out / "msd.json").read_text())
    central = raman.get("central_peak", {})
    d = msd["species"][args.species] if "species" in msd else msd[args.species]
    summary = {
        "xdatcar": str(xdatcar), "label_source": "dipole-induced-dipole model, not DFPT",
        "fit": fit, "central_peak": central, "msd": d,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"low-frequency Raman fraction (< {central.get('cutoff_cm', 50):g} cm^-1): "
          f"{central.get('low_frequency_fraction', float('nan')):.3f}")
    print(f"outputs in {out.resolve()}: train.xyz, model.npz (+ parity), alpha.h5, "
          "raman.csv/png/json, msd.csv/png/json, summary.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
