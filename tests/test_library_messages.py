"""Library messages speak the library's parameter names, never ase-raman's CLI options.

Only :mod:`ase_raman.cli` knows the command line: a message anywhere else that names an
option (``--dt-fs``, ``-o``) would tell a Python user about a flag they never passed. The
CLI words the library's parameter names as its options itself
(:func:`ase_raman.cli._common.options_named`, :func:`~ase_raman.cli._common.in_option_words`).

Every string literal outside ``ase_raman/cli`` is scanned (docstrings and the option
definitions of ``add_argument`` excepted), so a message built in a variable before it is
raised or warned is caught too. Allowed: options of other programs (``phonopy
--eigvecs``, ``pip install -e``, ``h5clear -s``, ``ase info --formats``) and an
instruction to run an ase-raman command (``rerun 'ase-raman msd' with --temperature``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import ase_raman

ROOT = Path(ase_raman.__file__).resolve().parent
#: A long option (``--dt-fs``) or a short one standing alone (``-o FILE``).
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z](?=[\s:,)]|$))")
#: Text right before an option that makes it another program's, or a command to run.
OTHER_PROGRAM = re.compile(r"(\bphonopy( with)?|\bpip install|\bh5clear|\base info|"
                           r"\base-raman [a-z-]+'?( with)?)\s*[`'\"]?$")


def _skipped(tree: ast.AST) -> set[int]:
    """Ids of docstring nodes and of the strings of ``add_argument`` calls."""
    skip = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)):
            skip.add(id(body[0].value))
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "add_argument"):
            skip.update(id(sub) for sub in ast.walk(node))
    return skip


def option_mentions(source: str) -> list[tuple[int, str]]:
    """(line, option) for every CLI option named by a string literal of ``source``."""
    tree = ast.parse(source)
    skip = _skipped(tree)
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and id(node) not in skip):
            found += [(node.lineno, m.group(1)) for m in OPTION.finditer(node.value)
                      if not OTHER_PROGRAM.search(node.value[:m.start()])]
    return sorted(found)


def test_the_scanner_finds_options_in_messages():
    source = ('"""A docstring may say --dt-fs."""\n'
              'import sys, warnings\n'
              'raise UsageError(f"{x}: pass --dt-fs")\n'
              'warnings.warn("use -o FILE", UserWarning)\n'
              'hint = "; pass --alpha-unit bohr3"\n'
              'raise ValueError("dt_fs must be > 0, got -1.5 fs (an e-mail, x-ray)")\n'
              'raise E("rerun phonopy with --eigvecs, then \'ase-raman msd\' with --temperature")\n'
              'raise E("pip install -e plugins/did")\n'
              'parser.add_argument("--scheduler", help="-o")\n')
    assert option_mentions(source) == [(3, "--dt-fs"), (4, "-o"), (5, "--alpha-unit")]


def test_library_messages_name_no_command_line_option():
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] == "cli":
            continue
        offenders += [f"{rel}:{line}: {option}"
                      for line, option in option_mentions(path.read_text())]
    assert offenders == []


def test_the_command_line_words_library_parameters_as_options():
    from ase_raman.cli._common import in_option_words

    assert in_option_words("x: pass drop_labels=['L', 'X'] to leave them out") == (
        "x: pass --drop-labels L,X to leave them out")
    assert in_option_words("e.g. type_map=['O', 'H']") == "e.g. --type-map O,H"
    assert in_option_words("pass alpha_unit='bohr3'") == "pass --alpha-unit bohr3"
    assert in_option_words("pass trust=True (or set X=1)") == "pass --trust-model (or set X=1)"
    assert in_option_words("scheduler='local:0': expected") == "--scheduler 'local:0': expected"
    assert in_option_words("calculator='nope': not an") == "--calculator nope: not an"


def test_library_and_command_line_words_of_the_same_error(capsys):
    import pytest

    from ase_raman.cli import main
    from ase_raman.engines.calculators import make_calculator
    from ase_raman.errors import UsageError
    from ase_raman.parallel.cluster import parse_scheduler

    with pytest.raises(UsageError, match=r"^calculator='no-such-calc': not an ASE") as exc:
        make_calculator("no-such-calc")
    assert "--" not in str(exc.value).split("(")[0]
    with pytest.raises(UsageError, match=r"^scheduler='local:0': expected local:N"):
        parse_scheduler("local:0")
    # the command line says which option to change
    pytest.importorskip("distributed")
    assert main(["raman", "x.h5", "-o", "x.csv", "--scheduler", "local:0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ase-raman: error: --scheduler 'local:0': expected local:N")
