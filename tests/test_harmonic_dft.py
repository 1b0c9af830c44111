"""Harmonic Raman from DFPT dielectric tensors of displaced structures (real data).

Quartz (Phonopy-Spectroscopy example): our least-squares route from the 40 OUTCARs must
reproduce Raman-PeakTable.dat (frequencies within 0.5 cm^-1, activities within 2 %).
Si (Phonopy-Spectroscopy develop example): T2g tensor from vasprun.xml, gather by index.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from ase_raman.cli import main
from ase_raman.errors import MissingDataError
from ase_raman.spectra.harmonic import (
    TABLE_COLUMNS,
    gather_displacements,
    generate_displacements,
    harmonic_spectrum,
    load_modes,
    load_phonopy,
    raman_from_dielectric,
    read_dielectric_folder,
)


@pytest.fixture(scope="module")
def quartz(shared_data):
    folder = shared_data / "quartz_phonopy_spectroscopy"
    modes = load_modes(folder / "mesh.yaml")
    frames = read_dielectric_folder(folder / "OUTCARs")
    return folder, modes, frames


def reference_table(folder):
    rows = []
    for line in (folder / "Raman-PeakTable.dat").read_text().splitlines()[1:]:
        nu, irrep, act, _ = line.split()
        rows.append((float(nu), irrep, float(act)))
    return rows


def test_quartz_reproduces_phonopy_spectroscopy_table(quartz):
    folder, modes, frames = quartz
    assert len(frames) == 40
    result = raman_from_dielectric(modes, frames)
    active = [p for p in result.peaks() if p.raman_active]
    ref = reference_table(folder)
    assert len(active) == len(ref) == 12
    for peak, (nu, irrep, act) in zip(active, ref, strict=True):
        assert abs(peak.frequency_cm - nu) < 0.5
        assert peak.irrep == irrep
        assert abs(peak.activity - act) / act < 0.02, (peak.bands, peak.activity, act)
    # the four undisplaced A2 modes: forbidden by symmetry, reported as zero
    a2 = [p for p in result.peaks() if p.irrep == "A2"]
    assert [p.bands for p in a2] == [[10], [16], [19], [24]]
    assert all(p.activity == 0.0 and not p.raman_active for p in a2)
    assert result.details["rank"] == 20
    acoustic = result.peaks()[0]
    assert acoustic.acoustic and acoustic.activity == 0.0 and "acoustic" in acoustic.status


def test_quartz_fit_needs_regularisation(quartz):
    """OUTCAR positions carry 5 decimals: without truncation the noise leaks into the
    undisplaced A2 modes as huge activities; the truncated fit keeps them out."""
    _, modes, frames = quartz
    raw = raman_from_dielectric(modes, frames, rcond=0.0, allow_undetermined=True)
    act = raw.activities()
    a2_bands = [9, 15, 18, 23]  # 0-based
    assert np.all(raw.determined[a2_bands])  # noise "determines" them
    assert np.max(act[a2_bands]) > 100.0  # ... as activities >> the strongest real 35
    reg = raman_from_dielectric(modes, frames)
    assert not np.any(reg.determined[a2_bands])


def test_quartz_missing_active_band_is_refused(quartz):
    _, modes, frames = quartz
    kept = [f for f in frames if ".0015." not in f.info["file"]]
    with pytest.raises(MissingDataError, match=r"band 15 \(A1, 455\.0"):
        raman_from_dielectric(modes, kept)
    partial = raman_from_dielectric(modes, kept, allow_undetermined=True)
    peak = [p for p in partial.peaks() if p.bands == [15]][0]
    assert not peak.determined and np.isnan(peak.activity) and peak.raman_active


def test_quartz_cli_table_and_spectrum(quartz, tmp_path, capsys):
    folder, _, _ = quartz
    table, out = tmp_path / "modes.csv", tmp_path / "harmonic.csv"
    rc = main(["harmonic", "--modes", str(folder / "mesh.yaml"), "--dielectric",
               str(folder / "OUTCARs"), "-o", str(out), "--table", str(table),
               "--sigma", "4", "--temperature", "300"])
    assert rc == 0
    assert "454.96" in capsys.readouterr().out
    with open(table) as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    assert tuple(rows[0]) == TABLE_COLUMNS
    active = [r for r in rows if r["raman_active"] == "true"]
    ref = reference_table(folder)
    for r, (nu, irrep, act) in zip(active, ref, strict=True):
        assert abs(float(r["frequency_cm-1"]) - nu) < 0.5 and r["irrep"] == irrep
        assert abs(float(r["activity_A4_amu"]) - act) / act < 0.02
    from ase_raman.spectra.plotting import read_spectrum_csv

    cols, meta = read_spectrum_csv(out)
    f, y = cols["frequency_cm-1"], cols["intensity"]
    assert meta["kind"] == "raman" and meta["sigma_cm"] == 4.0
    assert abs(f[np.argmax(y)] - 454.96) < 0.5  # strongest line, A1


def test_si_t2g_from_vasprun_and_hdf5_modes(shared_data):
    folder = shared_data / "si_phonopy_spectroscopy"
    modes = load_modes(folder / "mesh.hdf5", structure=folder / "phonopy.yaml")
    assert modes.irreps[3:] == ["T2g"] * 3
    result = raman_from_dielectric(modes, folder / "raman_ref")
    assert result.details["n_structures"] == 7  # 6 displaced + the undisplaced reference
    peak = result.peaks()[-1]
    assert peak.bands == [4, 5, 6] and peak.raman_active
    assert abs(peak.frequency_cm - 508.25) < 0.1
    # T2g: traceless Raman tensor, depolarisation ratio 3/4
    assert peak.isotropic < 1e-4 * peak.anisotropic
    assert abs(peak.depolarization_ratio - 0.75) < 1e-4
    # the summed tensor products are cubic: sum_k R_k R_k^T proportional to identity
    r = result.raman_tensors[3:6]
    s = np.einsum("kij,klj->il", r, r)
    assert np.allclose(s, s[0, 0] * np.eye(3), rtol=0, atol=2e-3 * s[0, 0])
    spec = harmonic_spectrum(result, sigma_cm=4.0, quantum_correction="bose",
                             temperature=300.0)
    assert abs(spec.frequencies[np.argmax(spec.intensity)] - 508.25) < 0.5


def test_si_gather_by_index_matches_vasprun_results(shared_data, tmp_path):
    """Our generator reproduces the upstream displacements (Q = +-0.01 along bands 4-6);
    gathering matches upstream's differently named vasprun.xml files to our index."""
    folder = shared_data / "si_phonopy_spectroscopy"
    modes = load_modes(folder / "mesh.yaml")
    paths = generate_displacements(modes, tmp_path / "disp", step=0.01)
    assert [p.name for p in paths][:2] == ["POSCAR-0004-01", "POSCAR-0004-02"]
    frames, ref = gather_displacements(tmp_path / "disp", results=folder / "raman_ref")
    assert [f.info["displacement"]["file"] for f in frames[:6]] == [p.name for p in paths]
    assert len(frames) == 7
    direct = raman_from_dielectric(modes, folder / "raman_ref")
    gathered = raman_from_dielectric(modes, frames, reference=ref)
    assert np.isclose(gathered.peaks()[-1].activity, direct.peaks()[-1].activity, rtol=1e-9)
    # an incomplete set is refused, naming what is missing
    (tmp_path / "part").mkdir()
    for p in (folder / "raman_ref").glob("vasprun-PBEsol-DFPT-0005-0*.xml"):
        (tmp_path / "part" / p.name).write_bytes(p.read_bytes())
    for p in (folder / "raman_ref").glob("vasprun-PBEsol-DFPT-0004-0*.xml"):
        (tmp_path / "part" / p.name).write_bytes(p.read_bytes())
    with pytest.raises(MissingDataError, match="POSCAR-0006-01.*POSCAR-0006-02"):
        gather_displacements(tmp_path / "disp", results=tmp_path / "part")


def test_phonopy_yaml_without_forces_is_refused(shared_data):
    with pytest.raises(MissingDataError, match="force"):
        load_phonopy(shared_data / "si_phonopy_spectroscopy" / "phonopy.yaml")
