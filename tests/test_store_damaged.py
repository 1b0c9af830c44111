"""Damaged stores: cut in half, cut to 3 kB, zeroed metadata, a broken superblock, text
named .h5. Every command that reads a store says what is wrong in one line, exit 2, no
traceback, nothing written, and returns at once (the subprocess timeout is only a hang
guard: before the fix, a store cut short hung the SWMR reader for many minutes)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from ase_raman.store import StoreError, open_store, read_trajectory

HANG_GUARD_S = 600


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    folder = tmp_path_factory.mktemp("damaged")
    full = folder / "full.h5"
    rng = np.random.default_rng(0)
    with open_store(full, "w", species=[47] * 16, dt_fs=1.0) as store:
        for i in range(400):
            store.append(step=i, time_fs=float(i), polarizability=np.eye(3),
                         positions=rng.uniform(0, 9, (16, 3)), cell=np.eye(3) * 9)
    data = full.read_bytes()
    out = {"half": data[: len(data) // 2], "3kB": data[:3000]}
    zeroed = bytearray(data)
    zeroed[200:4000] = bytes(3800)
    out["zeroed"] = bytes(zeroed)
    broken = bytearray(data)
    broken[20] ^= 0xFF
    out["superblock"] = bytes(broken)
    out["text"] = b"hello\n" * 100
    out["tiny"] = b"\x89HD"
    paths = {}
    for name, blob in out.items():
        paths[name] = folder / f"{name}.h5"
        paths[name].write_bytes(blob)
    return paths


COMMANDS = {
    "raman": ["raman", "{store}", "-o", "{out}/r.csv", "--sigma", "20"],
    "vdos": ["vdos", "{store}", "-o", "{out}/v.csv", "--sigma", "20"],
    "msd": ["msd", "{store}", "--species", "Ag", "--temperature", "300", "-o",
            "{out}/m.csv"],
    "vanhove": ["vanhove", "{store}", "--species", "Ag", "--lags-ps", "0.1", "-o",
                "{out}/g.csv"],
}
EXPECT = {"half": "truncated", "3kB": "truncated", "zeroed": "damaged",
          "superblock": "checksum", "text": "cannot open", "tiny": "not an HDF5"}


@pytest.mark.parametrize("damage", ["half", "3kB", "zeroed", "superblock", "text", "tiny"])
def test_read_trajectory_one_line(stores, damage):
    with pytest.raises(StoreError, match=EXPECT[damage]) as info:
        read_trajectory(stores[damage])
    assert "\n" not in str(info.value)
    if damage in ("half", "3kB"):  # appending refuses it as well, before any repair
        size = stores[damage].stat().st_size
        with pytest.raises(StoreError, match="truncated"):
            open_store(stores[damage], "a")
        assert stores[damage].stat().st_size == size


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("damage", ["half", "3kB"])
def test_cli_one_line(stores, tmp_path, command, damage):
    args = [a.format(store=stores[damage], out=tmp_path) for a in COMMANDS[command]]
    res = subprocess.run([sys.executable, "-m", "ase_raman", *args], capture_output=True,
                         text=True, timeout=HANG_GUARD_S)
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith("ase-raman: error:") and res.stderr.count("\n") == 1
    assert "truncated" in res.stderr and "Traceback" not in res.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("damage", ["half", "3kB"])
def test_batch_marks_entry_failed(stores, tmp_path, damage):
    manifest = tmp_path / "m.yaml"
    manifest.write_text(f"entries:\n  - name: cut\n    trajectory: {stores[damage]}\n"
                        "    model: null\n    temperature_K: 300\n    species: Ag\n")
    res = subprocess.run([sys.executable, "-m", "ase_raman", "batch", str(manifest), "-o",
                          str(tmp_path / "out")], capture_output=True, text=True,
                         timeout=HANG_GUARD_S)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr  # 1: an entry failed
    table = (tmp_path / "out" / "results.csv").read_text()
    assert ",failed," in table and "truncated store" in table
