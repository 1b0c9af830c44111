"""The ``ase-raman`` command.

Each sub-command lives in its own module of this package with three names:
``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``. Add a new one by
listing its module in :data:`COMMANDS`. A separately installed package adds a command
the same way through the entry-point group ``ase_raman.commands`` (name = the command,
value = a module with the same three names), e.g. in its ``pyproject.toml``::

    [project.entry-points."ase_raman.commands"]
    prescreen = "ase_raman_prescreen.cli"

Core commands win over a plugin of the same name; a plugin that fails to import only
breaks its own command. User mistakes raise
:class:`ase_raman.errors.AseRamanError`; :func:`main` prints them as one line
``ase-raman: error: ...`` on stderr and exits with status 2 (no traceback).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from types import ModuleType

from ..errors import AseRamanError

#: sub-command name -> module (relative to this package) implementing it.
COMMANDS: dict[str, str] = {
    "fit": ".fit",
    "predict": ".predict",
    "models": ".models",
    "calculators": ".calculators",
    "screen": ".screen",
    "msd": ".msd",
    "arrhenius": ".arrhenius",
    "vanhove": ".vanhove",
    "mechanism": ".mechanism",
    "raman": ".raman",
    "vdos": ".vdos",
    "plot": ".plot",
    "batch": ".batch",
    "harmonic": ".harmonic",
    "compare": ".compare",
    "ipi-driver": ".ipi_driver",
    "learning-curve": ".learning_curve",
    "select": ".select",
    "demo": ".demo",
}

#: entry-point group through which plugin packages add sub-commands.
COMMAND_GROUP = "ase_raman.commands"

#: commands that plugin packages of this repository provide: name -> how to get it.
PLUGIN_COMMANDS: dict[str, str] = {
    "prescreen": "install the ase-raman-prescreen plugin: pip install -e plugins/prescreen "
                 "(from the ase-raman source tree)",
}


def _plugin_commands(wanted: str | None = None) -> dict[str, ModuleType]:
    """The command modules registered in :data:`COMMAND_GROUP`, by command name.

    A plugin that fails to import (or lacks ``HELP``/``add_arguments``/``run``) is left
    out; when it is the command asked for (``wanted``) that is an :class:`AseRamanError`.
    """
    out: dict[str, ModuleType] = {}
    for ep in entry_points(group=COMMAND_GROUP):
        if ep.name in COMMANDS or ep.name in out:
            continue
        try:
            module = ep.load()
            missing = [a for a in ("HELP", "add_arguments", "run") if not hasattr(module, a)]
            if missing:
                raise AttributeError(f"{ep.value} has no {', '.join(missing)}")
        except Exception as exc:  # a broken plugin must not break the other commands
            if ep.name == wanted:
                raise AseRamanError(
                    f"the {ep.name!r} command (plugin {ep.value}) failed to load: {exc}; "
                    "reinstall the package that provides it") from exc
            continue
        out[ep.name] = module
    return out


#: commands that load model files: they take ``--trust-model``.
MODEL_COMMANDS = ("fit", "predict", "harmonic", "select", "ipi-driver", "batch",
                  "learning-curve")


class _OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        command = self.prog.removeprefix("ase-raman").strip()  # "" for the main parser
        where = f"{command}: " if command else ""
        self.exit(2, f"ase-raman: error: {where}{message} (see --help)\n")


def build_parser(plugins: dict[str, ModuleType] | None = None) -> argparse.ArgumentParser:
    """The ``ase-raman`` parser: core commands, then plugin commands (``plugins``, by
    default those installed)."""
    from .. import __version__

    parser = _OneLineParser(
        prog="ase-raman",
        description="Machine-learned polarizabilities, Raman spectra, VDOS and ion transport "
        "from molecular dynamics.",
    )
    parser.add_argument("--version", action="version", version=f"ase-raman {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_OneLineParser)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name, __name__)
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        if name in MODEL_COMMANDS:
            cmd.add_argument("--trust-model", action="store_true",
                             help="allow model files whose loading runs code (metatomic "
                             "TorchScript and its extension libraries); only for models "
                             "from sources you trust")
        cmd.set_defaults(_run=module.run)
    for name, module in (_plugin_commands() if plugins is None else plugins).items():
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ase-raman`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    wanted = argv[0] if argv else None
    try:
        plugins = _plugin_commands(wanted)
    except AseRamanError as exc:
        print(f"ase-raman: error: {exc}", file=sys.stderr)
        return 2
    if wanted in PLUGIN_COMMANDS and wanted not in plugins and wanted not in COMMANDS:
        print(f"ase-raman: error: {wanted!r} is not installed: {PLUGIN_COMMANDS[wanted]}",
              file=sys.stderr)
        return 2
    parser = build_parser(plugins)
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help(sys.stderr)
        return 2
    from ..models.registry import TRUST_ENV

    before = os.environ.get(TRUST_ENV)
    if getattr(args, "trust_model", False):
        os.environ[TRUST_ENV] = "1"  # also seen by Dask workers started from here
    from ._common import python_forms_as_options

    try:
        with python_forms_as_options():  # library parameter names -> options
            return int(args._run(args) or 0)
    except AseRamanError as exc:
        print(f"ase-raman: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ase-raman: interrupted", file=sys.stderr)
        return 130
    finally:
        if before is None:
            os.environ.pop(TRUST_ENV, None)
        else:
            os.environ[TRUST_ENV] = before


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
