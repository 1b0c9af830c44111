"""The core CLI's plugin-command hook (entry-point group ``ase_raman.commands``): it
works without any plugin, says how to install a known one, and a broken plugin breaks
only its own command."""

from __future__ import annotations

import types
from importlib.metadata import EntryPoint

import pytest

import ase_raman.cli as cli


def _fake_entry_points(eps):
    def entry_points(group=None):
        return [ep for ep in eps if ep.group == group]
    return entry_points


def test_missing_plugin_command_says_how_to_install(monkeypatch, capsys):
    monkeypatch.setattr(cli, "entry_points", _fake_entry_points([]))
    assert cli.main(["prescreen", "fit", "train.csv", "-o", "m.model"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("ase-raman: error: 'prescreen' is not installed")
    assert "pip install -e plugins/prescreen" in err[0]


def test_plugin_command_is_added_and_runs(monkeypatch, capsys):
    module = types.ModuleType("fake_cmd")
    module.HELP = "a fake plugin command"
    module.add_arguments = lambda p: p.add_argument("--n", type=int, default=1)
    module.run = lambda args: print(f"ran {args.n}") or 0
    monkeypatch.setitem(__import__("sys").modules, "fake_cmd", module)
    ep = EntryPoint("fakecmd", "fake_cmd", cli.COMMAND_GROUP)
    shadow = EntryPoint("fit", "fake_cmd", cli.COMMAND_GROUP)  # core names win
    monkeypatch.setattr(cli, "entry_points", _fake_entry_points([ep, shadow]))
    assert cli.main(["fakecmd", "--n", "3"]) == 0
    assert "ran 3" in capsys.readouterr().out
    assert "fakecmd" in cli.build_parser().format_help()
    assert cli.build_parser()._subparsers._group_actions[0].choices["fit"].description \
        != "a fake plugin command"


def test_broken_plugin_only_breaks_itself(monkeypatch, capsys):
    ep = EntryPoint("broken", "no_such_module_anywhere_xyz", cli.COMMAND_GROUP)
    monkeypatch.setattr(cli, "entry_points", _fake_entry_points([ep]))
    assert cli.main(["broken"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'broken' command" in err[0] and "failed to load" in err[0]
    with pytest.raises(SystemExit) as exc:
        cli.main(["models", "--help"])
    assert exc.value.code == 0
