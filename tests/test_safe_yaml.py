"""No YAML file runs code or explodes memory: tags are refused before phonopy (whose own
loader is unsafe) or the batch reader sees the text; alias expansion is bounded."""

from __future__ import annotations

import gzip

import pytest

from ase_raman.cli import main
from ase_raman.errors import InputFileError
from ase_raman.io.safe_yaml import load_yaml

BOMB = "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9) if p else ', '.join('x' * 9)}]\n"
               for p, c in zip(["", "a", "b", "c", "d"], "abcde", strict=True))


def _evil(marker) -> str:
    return ("phonopy:\n  version: 2.20\n"
            f"unit_cell: !!python/object/apply:os.system ['touch {marker}']\n")


@pytest.mark.parametrize("text, match", [
    ("a: !!python/object/apply:os.system ['true']\n", "tag"),
    ("a: !!python/name:os.system\n", "tag"),
    ("a: !!str 5\n", "tag"),
    ("a: !custom 5\n", "tag"),
    ("%TAG ! tag:yaml.org,2002:python/\n---\na: !object:os.system []\n", "tag"),
    (BOMB, "aliases expand"),
    ("a: 1\n---\nb: 2\n", "more than one YAML document"),
    ("a: [1, 2\n", "not readable YAML"),
    ("a: \x00\x01\x02\n", "binary file"),
])
def test_refused(tmp_path, text, match):
    p = tmp_path / "x.yaml"
    p.write_text(text)
    with pytest.raises(InputFileError, match=match) as info:
        load_yaml(p)
    assert "\n" not in str(info.value) and str(p) in str(info.value)


def test_plain_data_and_merge_keys_load(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text("base: &b {x: 1, y: 2.5}\nentries:\n  - <<: *b\n    name: a\n  - <<: *b\n"
                 "    name: b\n    when: 2024-01-02\n")
    data = load_yaml(p)
    assert data["entries"][1] == {"x": 1, "y": 2.5, "name": "b",
                                  "when": data["entries"][1]["when"]}
    q = tmp_path / "m.yaml.gz"
    q.write_bytes(gzip.compress(p.read_bytes()))
    assert load_yaml(q) == data


def test_size_limit(tmp_path):
    p = tmp_path / "big.yaml"
    p.write_text("a: [" + "1, " * 1000 + "1]\n")
    with pytest.raises(InputFileError, match="larger than"):
        load_yaml(p, max_bytes=1024)


@pytest.mark.parametrize("option", ["--phonopy", "--modes"])
def test_harmonic_never_runs_yaml_code(tmp_path, capsys, option):
    marker = tmp_path / "pwned"
    evil = tmp_path / "phonopy.yaml"
    evil.write_text(_evil(marker))
    rc = main(["harmonic", option, str(evil), "--model", "m.npz", "-o",
               str(tmp_path / "h.csv")])
    err = capsys.readouterr().err
    assert rc == 2 and not marker.exists()
    assert err.count("\n") == 1 and err.startswith("ase-raman: error:") and "tag" in err
    assert not (tmp_path / "h.csv").exists()


def test_harmonic_compressed_yaml_checked_too(tmp_path, capsys):
    marker = tmp_path / "pwned"
    evil = tmp_path / "phonopy.yaml.xz"
    import lzma

    evil.write_bytes(lzma.compress(_evil(marker).encode()))
    assert main(["harmonic", "--phonopy", str(evil), "--model", "m.npz", "-o",
                 str(tmp_path / "h.csv")]) == 2
    assert not marker.exists() and "tag" in capsys.readouterr().err


def test_irreps_yaml_checked(tmp_path):
    from ase_raman.spectra.harmonic import read_irreps_yaml

    p = tmp_path / "irreps.yaml"
    p.write_text("normal_modes: !!python/object/apply:os.getcwd []\n")
    with pytest.raises(InputFileError, match="tag"):
        read_irreps_yaml(p)


def test_batch_manifest_alias_bomb_and_tags(tmp_path, capsys):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    assert main(["batch", str(bomb), "-o", str(tmp_path / "out")]) == 2
    assert "aliases expand" in capsys.readouterr().err
    evil = tmp_path / "evil.yaml"
    evil.write_text("- !!python/object/apply:os.system ['true']\n")
    assert main(["batch", str(evil), "-o", str(tmp_path / "out")]) == 2
    assert "tag" in capsys.readouterr().err
    assert not (tmp_path / "out" / "results.csv").exists()
