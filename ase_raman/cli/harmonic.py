"""``ase-raman harmonic``: Raman activities and spectrum of harmonic (phonopy) Gamma modes.

Modes: ``--phonopy phonopy.yaml [--force-sets FORCE_SETS | --force-constants FILE]
[--born BORN]`` (force constants produced by phonopy; FORCE_SETS and BORN are taken from
beside the yaml by default) or ``--modes mesh.yaml`` (also band.yaml, qpoints.yaml,
their .hdf5 forms; the hdf5 files need ``--reference`` for the structure).
Polarizability: ``--model MODEL.npz`` (central differences along each mode, ``--step``
amu^1/2 Angstrom) or ``--dielectric DIR`` (dielectric results of displaced structures,
any names; least-squares fit, see :mod:`ase_raman.spectra.harmonic.fit`).
``--reference POSCAR``: the undisplaced cell of the displaced set when it is not phonopy's
cell (a supercell, another atom order).

``--generate-displacements DIR`` writes the structures an external DFPT code must compute
(and an index) instead. Prints one summary line per Raman-active peak.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import AseRamanError, UsageError
from ._types import FRACTION, POSITIVE, SYMPREC, image_path

HELP = "harmonic Raman (phonopy modes + model or DFPT dielectric tensors): table, CSV, PNG"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--phonopy", metavar="YAML",
                     help="phonopy.yaml (with force constants, or with --force-sets)")
    src.add_argument("--modes", metavar="FILE",
                     help="phonopy mesh/band/qpoints .yaml or .hdf5 with Gamma eigenvectors")
    parser.add_argument("--force-sets", metavar="FORCE_SETS",
                        help="phonopy FORCE_SETS file (default: FORCE_SETS beside the "
                        "--phonopy yaml when it has no forces; never the current folder's)")
    parser.add_argument("--force-constants", metavar="FILE",
                        help="FORCE_CONSTANTS or force_constants.hdf5 (e.g. from DFPT) for "
                        "--phonopy")
    born = parser.add_mutually_exclusive_group()
    born.add_argument("--born", metavar="BORN",
                      help="phonopy BORN file (Born charges, dielectric tensor) for the "
                      "non-analytic correction of LO-TO splitting (default: BORN beside the "
                      "--phonopy yaml when present)")
    born.add_argument("--no-born", action="store_true",
                      help="no non-analytic correction even when a BORN file is beside")
    parser.add_argument("--q-direction", metavar="'QX QY QZ'",
                        help="with BORN: direction of q -> 0 (reduced reciprocal coordinates, "
                        "e.g. '1 0 0') for LO modes (default: none, TO modes only)")
    parser.add_argument("--irreps", metavar="YAML",
                        help="phonopy irreps.yaml for the labels (default: one beside --modes, "
                        "else phonopy assigns them)")
    pol = parser.add_mutually_exclusive_group()
    pol.add_argument("--model", metavar="MODEL", help="polarizability model file")
    pol.add_argument("--dielectric", metavar="DIR",
                     help="folder of dielectric results (OUTCAR, vasprun.xml, ph.x output) "
                     "of displaced structures")
    pol.add_argument("--generate-displacements", metavar="DIR",
                     help="write the displaced structures (+ displacements.json) and stop")
    parser.add_argument("--reference", metavar="POSCAR",
                        help="undisplaced structure of the displaced set (default: phonopy's "
                        "cell); with an hdf5 --modes file, the cell of the modes")
    parser.add_argument("--step", type=POSITIVE, default=0.05, metavar="Q",
                        help="finite-difference step along the modes, amu^1/2 Angstrom "
                        "(default 0.05)")
    parser.add_argument("--format", default="vasp", choices=("vasp", "extxyz"),
                        help="format of generated displacements (default vasp: POSCAR-BBBB-0S)")
    parser.add_argument("--bands", metavar="LIST",
                        help="1-based bands to displace, e.g. '4 5 6' (default: every "
                        "symmetry-allowed optical mode)")
    parser.add_argument("--rcond", type=FRACTION, default=1e-2,
                        help="relative singular-value cutoff of the fit (default 1e-2)")
    parser.add_argument("--allow-undetermined", action="store_true",
                        help="report allowed modes the displacements miss as not determined")
    parser.add_argument("-o", "--output", metavar="CSV", help="spectrum CSV to write")
    parser.add_argument("--table", metavar="CSV", help="mode table (band, frequency_cm-1, "
                        "irrep, activity_A4_amu, raman_active, ...)")
    parser.add_argument("--png", metavar="PNG", type=image_path, help="plot the spectrum")
    parser.add_argument("--like", metavar="MD_CSV",
                        help="MD spectrum CSV whose grid and options to use")
    parser.add_argument("--sigma", type=POSITIVE, metavar="CM",
                        help="Gaussian sigma in cm^-1 (default 4, or --like's)")
    parser.add_argument("--temperature", type=POSITIVE, metavar="K",
                        help="temperature of the classical amplitude and quantum factor "
                        "(default 300)")
    parser.add_argument("--quantum-correction", choices=("bose", "harmonic"),
                        help="as for `ase-raman raman` (default none)")
    laser = parser.add_mutually_exclusive_group()
    laser.add_argument("--laser-nm", type=POSITIVE, metavar="NM", help="laser wavelength (532)")
    laser.add_argument("--laser-cm", type=POSITIVE, metavar="CM", help="laser wavenumber")
    laser.add_argument("--no-prefactor", action="store_true",
                       help="no (w_in - w)^4 / w prefactor")
    parser.add_argument("--max-freq", type=POSITIVE, metavar="CM", help="grid end, cm^-1")
    parser.add_argument("--resolution", type=POSITIVE, metavar="CM",
                        help="grid spacing (default sigma/8)")
    parser.add_argument("--cells", type=POSITIVE, default=1.0,
                        help="copies of the modes' cell in the MD cell (scales intensities)")
    parser.add_argument("--symprec", type=SYMPREC, default=1e-5, help="symmetry tolerance, A")


def _q_direction(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        values = [float(x) for x in text.replace(",", " ").split()]
    except ValueError:
        values = []
    if len(values) != 3:
        raise UsageError(f"--q-direction {text!r}: expected three numbers, e.g. '1 0 0'")
    return values


#: Library parameter names in messages -> the options of this command.
_OPTION_WORDS = {"(force_sets=)": "(--force-sets)", "(force_constants=)": "(--force-constants)",
                 "(structure=: a POSCAR or phonopy.yaml)": "(--reference POSCAR or phonopy.yaml)"}


def _in_option_words(exc: AseRamanError) -> AseRamanError:
    """The same error with the library's parameter names replaced by this command's options."""
    message = str(exc)
    for words, option in _OPTION_WORDS.items():
        message = message.replace(words, option)
    return type(exc)(message)


def _modes(args: argparse.Namespace):  # -> GammaModes
    from ..spectra.harmonic import load_modes, load_phonopy, modes_from_phonopy

    if args.phonopy:
        if args.irreps:
            raise UsageError("--irreps goes with --modes (phonopy assigns labels itself)")
        phonon = load_phonopy(args.phonopy, force_sets=args.force_sets,
                              force_constants=args.force_constants, symprec=args.symprec,
                              born=False if args.no_born else args.born)
        return modes_from_phonopy(phonon, source=str(args.phonopy),
                                  q_direction=_q_direction(args.q_direction))
    for option in ("force_sets", "force_constants", "born", "q_direction"):
        if getattr(args, option):
            raise UsageError(f"--{option.replace('_', '-')} goes with --phonopy")
    structure = None
    if args.reference and Path(args.modes).suffix in (".hdf5", ".h5"):
        structure = args.reference
    return load_modes(args.modes, structure=structure, irreps=args.irreps)


def run(args: argparse.Namespace) -> int:
    from ..spectra.harmonic import (
        generate_displacements,
        raman_from_dielectric,
        raman_from_model,
    )
    from ..spectra.plotting import save_figure

    try:
        modes = _modes(args)
    except AseRamanError as exc:
        raise _in_option_words(exc) from None
    if args.generate_displacements:
        bands = None
        if args.bands:
            try:
                bands = [int(b) for b in args.bands.replace(",", " ").split()]
            except ValueError:
                raise UsageError(f"--bands {args.bands!r}: expected numbers like '4 5 6'"
                                 ) from None
        paths = generate_displacements(modes, args.generate_displacements, step=args.step,
                                       bands=bands, fmt=args.format, symprec=args.symprec)
        print(f"wrote {len(paths)} displaced structures and displacements.json to "
              f"{args.generate_displacements} (step {args.step:g} amu^1/2 Angstrom)")
        return 0
    if not (args.model or args.dielectric):
        raise UsageError("give --model MODEL, --dielectric DIR or --generate-displacements DIR")
    if not (args.output or args.table or args.png):
        raise UsageError("nothing to write: give -o CSV, --table CSV and/or --png PNG")
    if args.model:
        if args.reference and Path(args.modes or "").suffix not in (".hdf5", ".h5"):
            raise UsageError("--reference is for --dielectric sets (or hdf5 --modes)")
        from ..models.registry import load_model

        result = raman_from_model(modes, load_model(args.model), model_file=args.model,
                                  step=args.step,
                                  symprec=args.symprec)
    else:
        reference = None
        if args.reference and not (args.modes and Path(args.modes).suffix in (".hdf5", ".h5")):
            from ..spectra.raman_file import read_frames

            reference = read_frames(Path(args.reference))[-1]
        result = raman_from_dielectric(modes, args.dielectric, reference=reference,
                                       rcond=args.rcond, symprec=args.symprec,
                                       allow_undetermined=args.allow_undetermined)
    spectrum = None
    if args.output or args.png:
        spectrum = result.spectrum(
            like=args.like, sigma_cm=args.sigma, laser_nm=args.laser_nm,
            laser_cm=args.laser_cm, prefactor=False if args.no_prefactor else None,
            temperature=args.temperature, quantum_correction=args.quantum_correction,
            max_freq_cm=args.max_freq, resolution_cm=args.resolution, cells=args.cells)
    if args.table:
        result.write_table(args.table)
    if spectrum is not None and args.output:
        spectrum.to_csv(args.output)
    if spectrum is not None and args.png:
        ax = spectrum.plot(polarized=False, label="harmonic")
        ax.set_title(Path(args.modes or args.phonopy).name)
        save_figure(ax, args.png)
    print(f"{'bands':>10} {'cm^-1':>10} {'irrep':>6} {'activity A^4/amu':>17}  status")
    for p in result.peaks():
        if p.acoustic:
            continue
        bands = " ".join(str(b) for b in p.bands)
        print(f"{bands:>10} {p.frequency_cm:10.2f} {p.irrep or '-':>6} {p.activity:17.6g}"
              f"  {p.status}")
    return 0
