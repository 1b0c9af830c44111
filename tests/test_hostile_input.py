"""Bad input, table-driven: every case exits 2 with one line ``ase-raman: error: ...``, no
traceback, and leaves no output file behind (numeric options out of range, non-finite
data, unwritable or misnamed outputs, binary files, bad JSON, nonsense type maps).

Cases run in-process through :func:`ase_raman.cli.main` (fast); the ones that used to
crash the interpreter (``--symprec -1`` segfaulted in spglib) are refused by argparse
before any library sees the value. More classes live beside: YAML in
``test_safe_yaml.py``, damaged stores in ``test_store_damaged.py``, two writers in
``test_store_writers.py``, model trust in the metatomic plugin's tests.
"""

from __future__ import annotations

import ase.io
import numpy as np
import pytest
from conftest import labelled_water_molecules

from ase_raman.cli import main
from ase_raman.store import open_store


@pytest.fixture(scope="module")
def data(tmp_path_factory, small_model):
    """Inputs: a model, its NaN-weight twin, water trajectories (clean, NaN, inf), a
    store with alpha, a binary file, broken JSON, a spectrum CSV and a plain file."""
    d = tmp_path_factory.mktemp("hostile")
    small_model.save(d / "m.npz")
    with np.load(d / "m.npz", allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    weights = next(k for k, v in arrays.items() if v.dtype.kind == "f" and v.size > 3)
    arrays[weights] = arrays[weights].copy()
    arrays[weights].flat[0] = np.nan
    np.savez(d / "nan_model.npz", **arrays)
    _crafted_models(d, d / "m.npz")
    frames = labelled_water_molecules(6, seed=3)
    ase.io.write(d / "train.xyz", frames)
    for atoms in frames:
        atoms.info.pop("polarizability")
    ase.io.write(d / "w.xyz", frames)
    for name, cell in (("flat", [[9, 0, 0], [18, 0, 0], [0, 0, 9]]),
                       ("zerovec", [[9, 0, 0], [0, 9, 0], [0, 0, 0]])):
        singular = [a.copy() for a in frames[:3]]
        for a in singular:
            a.cell, a.pbc = cell, True
        ase.io.write(d / f"{name}.xyz", singular)
        for a, label in zip(singular, labelled_water_molecules(3, seed=5), strict=True):
            a.info["polarizability"] = label.info["polarizability"]
        ase.io.write(d / f"{name}_train.xyz", singular)
    frames[3].positions[1, 0] = np.nan
    ase.io.write(d / "nan.xyz", frames)
    bad_train = labelled_water_molecules(6, seed=4)
    bad_train[2].positions[0, 0] = np.inf
    ase.io.write(d / "inf_train.xyz", bad_train)
    rng = np.random.default_rng(0)
    with open_store(d / "s.h5", "w", species=[1] * 4, dt_fs=1.0) as store:
        for i in range(64):
            store.append(step=i, time_fs=float(i), polarizability=np.eye(3) + 0.01 * i,
                         positions=rng.uniform(0, 9, (4, 3)), cell=np.eye(3) * 9)
    (d / "bin.dat").write_bytes(bytes(range(256)) * 4)
    (d / "bad.json").write_text('{"a": ')
    (d / "afile").write_text("x")
    (d / "adir").mkdir()
    from test_harmonic_water import water_phonopy  # a valid phonopy.yaml (water, fc)

    water_phonopy().save(d / "x.yaml", settings={"force_constants": True})
    (d / "manifest.yaml").write_text("- {name: a, trajectory: s.h5, model: null, "
                                     "temperature_K: 300, species: H}\n")
    return d


def _crafted_models(d, source):
    """Model files with crafted metadata or array headers."""
    import io
    import json
    import zipfile

    with np.load(source, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(str(arrays["__metadata__"]))
    variants = {"fv": {**meta, "format_version": "abc"},
                "nohypers": {k: v for k, v in meta.items() if k != "hypers"},
                "hyperlist": {**meta, "hypers": ["x"]},
                "huge": {**meta, "hypers": {**meta["hypers"], "max_radial": 10**9}}}
    for name, m in variants.items():
        np.savez(d / f"{name}.npz", **{**arrays, "__metadata__": np.array(json.dumps(m))})
    with zipfile.ZipFile(source) as z, zipfile.ZipFile(d / "shape.npz", "w") as out:
        for info in z.infolist():
            data = z.read(info.filename)
            if info.filename == "lambda0_weights.npy":
                buf = io.BytesIO()
                np.lib.format.write_array_header_1_0(
                    buf, {"descr": "<f8", "fortran_order": False, "shape": (10**11,)})
                data = buf.getvalue() + bytes(64)
            out.writestr(info.filename, data)


# (class, argv); {d}: the data folder, {o}: an empty output folder
CASES = [
    # numeric options: range and implied memory, refused before any work
    ("numeric", "harmonic --phonopy {d}/x.yaml --model {d}/m.npz --symprec -1 -o {o}/h.csv"),
    ("numeric", "harmonic --phonopy {d}/x.yaml --model {d}/m.npz --cells -2 -o {o}/h.csv"),
    ("numeric", "harmonic --phonopy {d}/x.yaml --dielectric {d} --rcond -1 -o {o}/h.csv"),
    ("numeric", "harmonic --phonopy {d}/x.yaml --model {d}/m.npz --temperature inf "
                "-o {o}/h.csv"),
    ("numeric", "harmonic --phonopy {d}/x.yaml --model {d}/m.npz --step 0 -o {o}/h.csv"),
    ("numeric", "vanhove {d}/s.h5 --species H --lags-ps nan -o {o}/g.csv"),
    ("numeric", "vanhove {d}/s.h5 --species H --lags-ps 0.01 --bins 1000000000 "
                "-o {o}/g.csv"),
    ("numeric", "vanhove {d}/s.h5 --species H --lags-ps 0.01 --r-max -1 -o {o}/g.csv"),
    ("numeric", "raman {d}/s.h5 --sigma 0 --resolution 1e-9 -o {o}/r.csv"),
    ("numeric", "raman {d}/s.h5 --resolution 0 -o {o}/r.csv"),
    ("numeric", "raman {d}/s.h5 --sigma -4 -o {o}/r.csv"),
    ("numeric", "raman {d}/s.h5 --temperature -300 -o {o}/r.csv"),
    ("numeric", "raman {d}/s.h5 --laser-nm nan -o {o}/r.csv"),
    ("numeric", "vdos {d}/s.h5 --dt-fs 0 -o {o}/v.csv"),
    ("numeric", "fit {d}/train.xyz --seed -1 -o {o}/f.npz"),
    ("numeric", "fit {d}/train.xyz --test-fraction 1.5 -o {o}/f.npz"),
    ("numeric", "msd {d}/w.xyz --species H --dt-fs 1 --temperature inf -o {o}/m.csv"),
    ("numeric", "msd {d}/w.xyz --species H --dt-fs -1 -o {o}/m.csv"),
    ("numeric", "msd {d}/w.xyz --species H --dt-fs 1 --every 0 -o {o}/m.csv"),
    ("numeric", "msd {d}/w.xyz --species H --dt-fs 1 --fit-window 0:inf -o {o}/m.csv"),
    ("numeric", "msd {d}/w.xyz --species H --dt-fs 1 --temperature 300 --charges H=nan "
                "-o {o}/m.csv"),
    ("numeric", "compare {d}/a.csv {d}/b.csv --window -3 -o {o}/c.png"),
    ("numeric", "compare {d}/a.csv {d}/b.csv --min-height -1 -o {o}/c.png"),
    ("numeric", "predict {d}/m.npz {d}/w.xyz --every 0 -o {o}/p.xyz"),
    ("numeric", "predict {d}/m.npz {d}/w.xyz --dt-fs nan -o {o}/p.h5"),
    ("numeric", "select {d}/w.xyz --n 0 -o {o}/sel"),
    ("numeric", "learning-curve {d}/train.xyz --sizes 2,4 --test-fraction 1 -o {o}/c.csv"),
    ("numeric", "learning-curve {d}/train.xyz --sizes 2,4 --repeats -1 -o {o}/c.csv"),
    ("numeric", "ipi-driver --model {d}/m.npz --template {d}/w.xyz --port 0"),
    ("numeric", "arrhenius {d}/bad.json --target-temperature -5"),
    ("numeric", "demo --seed -1 --out {o}/demo"),
    ("numeric", "screen {d}/w.xyz -o {o}/screen --timestep -2"),
    ("numeric", "mechanism {d}/s.h5 --species H --core-radius -1 -o {o}/mech.json"),
    # non-finite data and model output, named by frame
    ("non-finite", "predict {d}/m.npz {d}/nan.xyz -o {o}/p.xyz"),
    ("non-finite", "predict {d}/m.npz {d}/nan.xyz -o {o}/p.h5 --dt-fs 1"),
    ("non-finite", "predict {d}/nan_model.npz {d}/w.xyz -o {o}/p.xyz"),
    ("non-finite", "predict {d}/nan_model.npz {d}/w.xyz -o {o}/p.h5 --dt-fs 1"),
    ("non-finite", "fit {d}/inf_train.xyz -o {o}/f.npz"),
    ("non-finite", "msd {d}/nan.xyz --species H --dt-fs 1 -o {o}/m.csv"),
    # periodic boundaries with a singular cell (a zero vector, two parallel vectors)
    ("cell", "predict {d}/m.npz {d}/flat.xyz -o {o}/p.xyz"),
    ("cell", "predict {d}/m.npz {d}/zerovec.xyz -o {o}/p.h5 --dt-fs 1"),
    ("cell", "msd {d}/flat.xyz --species H --dt-fs 1 -o {o}/m.csv"),
    ("cell", "vdos {d}/zerovec.xyz --dt-fs 1 -o {o}/v.csv"),
    ("cell", "fit {d}/flat_train.xyz -o {o}/f.npz"),
    ("cell", "fit {d}/zerovec_train.xyz -o {o}/f.npz"),
    # outputs that cannot be written, images with a wrong suffix
    ("output", "raman {d}/s.h5 --sigma 0 -o {d}/adir"),
    ("output", "raman {d}/s.h5 --sigma 0 -o /proc/ase-raman-x.csv"),
    ("output", "raman {d}/s.h5 --sigma 0 -o {o}/r.csv --png {o}/r.txt"),
    ("output", "vdos {d}/s.h5 --sigma 0 -o {o}/v.csv --png {o}/v.jpgx"),
    ("output", "msd {d}/w.xyz --species H --dt-fs 1 -o {o}/m.csv --png {o}/m"),
    ("output", "predict {d}/m.npz {d}/w.xyz -o /proc/ase-raman-q.xyz"),
    ("output", "predict {d}/m.npz {d}/w.xyz -o {o}/p.txt"),
    ("output", "batch {d}/manifest.yaml -o {d}/afile"),
    ("output", "compare {d}/a.csv {d}/b.csv -o {o}/c.csv"),
    # binary files, malformed JSON, bad hypers, nonsense type maps
    ("malformed", "compare {d}/bin.dat {d}/bin.dat -o {o}/c.png"),
    ("malformed", "batch {d}/bin.dat -o {o}/b"),
    ("malformed", "fit {d}/bin.dat -o {o}/f.npz"),
    ("malformed", "predict {d}/m.npz {d}/bin.dat -o {o}/p.xyz"),
    ("malformed", "raman {d}/bin.dat -o {o}/r.csv"),
    ("malformed", "arrhenius {d}/bad.json --json {o}/ea.json"),
    ("malformed", "fit {d}/train.xyz --hypers {{bad -o {o}/f.npz"),
    ("malformed", 'fit {d}/train.xyz --hypers {{"cutoff":"x"}} -o {o}/f.npz'),
    ("malformed", "fit {d}/train.xyz --hypers [1] -o {o}/f.npz"),
    ("malformed", "predict {d}/m.npz {d}/w.xyz --type-map Xx,Yy -o {o}/p.xyz"),
    ("malformed", "predict {d}/bin.dat {d}/w.xyz -o {o}/p.xyz"),
    # crafted model metadata and array headers
    ("model", "predict {d}/fv.npz {d}/w.xyz -o {o}/p.xyz"),
    ("model", "predict {d}/nohypers.npz {d}/w.xyz -o {o}/p.xyz"),
    ("model", "predict {d}/hyperlist.npz {d}/w.xyz -o {o}/p.xyz"),
    ("model", "predict {d}/huge.npz {d}/w.xyz -o {o}/p.xyz"),
    ("model", "predict {d}/shape.npz {d}/w.xyz -o {o}/p.xyz"),
]


@pytest.mark.parametrize("kind, argv", CASES, ids=[f"{k}-{i}" for i, (k, _) in
                                                  enumerate(CASES)])
def test_bad_input_one_line_exit_2_nothing_written(data, tmp_path, capsys, kind, argv):
    out = tmp_path / "out"
    out.mkdir()
    before = sorted(p.name for p in data.iterdir())
    args = argv.format(d=data, o=out).split()
    try:
        rc = main(args)
    except SystemExit as exc:  # argparse usage errors
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.startswith("ase-raman: error:") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert list(out.iterdir()) == [], "partial output left behind"
    assert sorted(p.name for p in data.iterdir()) == before


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_output_follows_umask(tmp_path, umask, mode):
    import os

    from ase_raman.atomic_write import atomic_output

    old = os.umask(umask)
    try:
        with atomic_output(tmp_path / "x.csv") as tmp:
            tmp.write_text("a\n")
    finally:
        os.umask(old)
    assert (tmp_path / "x.csv").stat().st_mode & 0o777 == mode


def test_batch_bad_entry_fails_alone(data, tmp_path, capsys):
    """One entry with a bad value is marked failed; the others still run."""
    manifest = tmp_path / "m.yaml"
    store = data / "s.h5"
    manifest.write_text(
        f"defaults: {{trajectory: {store}, model: null, species: H, sigma_cm: 0}}\n"
        "entries:\n"
        "  - {name: good, temperature_K: 300}\n"
        "  - {name: letters, temperature_K: 300, charges: {H: abc}}\n"
        "  - {name: hot, temperature_K: .inf}\n"
        "  - {name: backwards, temperature_K: 300, every: -2}\n")
    assert main(["batch", str(manifest), "-o", str(tmp_path / "out")]) == 1
    out = capsys.readouterr().out
    for name in ("letters", "hot", "backwards"):
        assert f"{name}: failed: " in out
    rows = (tmp_path / "out" / "results.csv").read_text().splitlines()[2:]
    status = {r.split(",")[0]: r.split(",")[3] for r in rows}
    assert status == {"good": status["good"], "letters": "failed", "hot": "failed",
                      "backwards": "failed"}
    assert (tmp_path / "out" / "good").is_dir()  # the good entry ran


def test_database_url_as_sites_file_is_not_opened():
    """ASE's reader connects to a database for a name like ``postgresql://...``: a sites
    file must exist as a file before ASE sees its name."""
    from ase_raman.errors import InputFileError
    from ase_raman.spectra.transport.sites import read_sites

    with pytest.raises(InputFileError, match="no such sites file"):
        read_sites("postgresql://user:pw@127.0.0.1:1/db", "Li", np.eye(3) * 10)
