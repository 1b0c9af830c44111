"""The package's layering: no import cycles, and the lower layers never import the upper.

Imports are read from the source (no module is executed): every ``import`` of an
``ase_raman`` module, at module level or inside a function, counts, except those under
``if TYPE_CHECKING:`` (annotations only) and those inside a module-level ``__getattr__``
(a lazy re-export kept so that an old import path still works).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ase_raman

PACKAGE = Path(ase_raman.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(module: str, node: ast.AST, is_package: bool, known: set[str]) -> set[str]:
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            prefix = ".".join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module or ""
        names = [prefix] + [f"{prefix}.{alias.name}" for alias in node.names]
    return {name for name in names if name in known}


def _skipped_nodes(tree: ast.Module) -> set[int]:
    """ids of nodes under ``if TYPE_CHECKING:`` or in a module-level ``__getattr__``."""
    skipped: set[int] = set()
    for node in tree.body:
        type_checking = (isinstance(node, ast.If) and isinstance(node.test, ast.Name)
                         and node.test.id == "TYPE_CHECKING")
        shim = isinstance(node, ast.FunctionDef) and node.name == "__getattr__"
        if type_checking or shim:
            skipped.update(id(child) for child in ast.walk(node))
    return skipped


def import_graph() -> dict[str, set[str]]:
    """{module: ase_raman modules it imports}, from the source files."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    known = set(files)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        skipped = _skipped_nodes(tree)
        edges: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in skipped:
                edges |= _imported(module, node, path.name == "__init__.py", known)
        # a package's own ``__init__`` is imported with any of its modules: not an edge
        graph[module] = {m for m in edges if m != module and not module.startswith(m + ".")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cycle_detector_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def _importers(graph: dict[str, set[str]], lower: str, upper: str) -> list[str]:
    return sorted(f"{m} -> {t}" for m, targets in graph.items()
                  if m == lower or m.startswith(lower + ".")
                  for t in targets if t == upper or t.startswith(upper + "."))


@pytest.mark.parametrize(("lower", "upper"), [
    ("ase_raman.store", "ase_raman.models"),
    ("ase_raman.spectra", "ase_raman.models"),
    ("ase_raman.spectra", "ase_raman.cli"),
    ("ase_raman.models", "ase_raman.cli"),
    ("ase_raman.io", "ase_raman.cli"),
    ("ase_raman.engines", "ase_raman.cli"),
    ("ase_raman.parallel", "ase_raman.cli"),
    ("ase_raman.recording", "ase_raman.cli"),
    ("ase_raman.observe", "ase_raman.cli"),
    ("ase_raman.screen", "ase_raman.cli"),
])
def test_layers(lower, upper):
    """Nothing below the command line imports it; the store and spectra need no model."""
    assert _importers(import_graph(), lower, upper) == []


#: Most lines of code (docstring excluded) in one function; argparse option tables
#: (``add_arguments``) are lists, not logic, and are exempt.
MAX_FUNCTION_LINES = 80


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int]]:
    """(name, lines without the docstring) of the functions of ``source`` over ``limit``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        length = node.end_lineno - node.lineno + 1
        first = node.body[0]
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                and isinstance(first.value.value, str):
            length -= first.end_lineno - first.lineno + 1
        if length > limit and node.name != "add_arguments":
            found.append((node.name, length))
    return found


def test_long_function_detector():
    body = "\n".join(f"    x{i} = {i}" for i in range(5))
    source = f'def f():\n    """Doc\n\n    more.\n    """\n{body}\n'
    assert long_functions(source, limit=5) == [("f", 6)]  # the def line and 5 statements
    assert long_functions(source, limit=6) == []
    assert long_functions(source.replace("def f", "def add_arguments"), limit=1) == []


def test_functions_fit_on_a_screen():
    """A newcomer can hold a function in their head: none over MAX_FUNCTION_LINES."""
    found = [f"{path.relative_to(PACKAGE)}: {name} ({n} lines)"
             for path in sorted(PACKAGE.rglob("*.py"))
             for name, n in long_functions(path.read_text())]
    assert found == []
