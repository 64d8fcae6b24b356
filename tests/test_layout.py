"""The package's boundaries, checked on its source: no import cycle (imports inside functions and
the package `__init__`s an import runs count too), no module over 400 lines, no function over
50, and no private name imported from another module."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "metamath"
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 400, 50


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = _modules()
TREES = {name: ast.parse(path.read_text()) for name, path in MODULES.items()}


def _imported(tree: ast.AST) -> list[tuple[str, str]]:
    """(module, name) of every `from metamath... import name` anywhere in the tree."""
    return [(node.module, alias.name) for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("metamath")
            for alias in node.names]


def _dependencies(name: str) -> set[str]:
    deps = set()
    for module, imported in _imported(TREES[name]):
        target = f"{module}.{imported}" if f"{module}.{imported}" in MODULES else module
        parts = target.split(".")
        deps |= {".".join(parts[:k]) for k in range(2, len(parts) + 1)}  # each package init runs too
    return {d for d in deps if d in MODULES and d != name and not name.startswith(d + ".")}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

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
            while not component or component[-1] != v:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle():
    assert _cycles({name: _dependencies(name) for name in MODULES}) == []


def test_the_cycle_finder_finds_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_and_functions_stay_small(name):
    assert len(MODULES[name].read_text().splitlines()) <= MAX_MODULE_LINES
    long = [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(TREES[name])
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == []


def test_no_private_name_crosses_a_module():
    crossing = [(name, f"{module}.{imported}") for name in MODULES for module, imported in _imported(TREES[name])
                if imported.startswith("_") and not imported.startswith("__")]
    assert crossing == []
