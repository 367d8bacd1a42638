"""Layout rules (issue 9): small modules, thin packages, no private imports, no circles.

These read the source with :mod:`ast`, imports inside functions included, so a
circle hidden in a function body is found too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import ROOT

SRC = ROOT / "src"
PACKAGE = SRC / "dicomsel"
MODULES = sorted(PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


NAMES = {_name(p): p for p in MODULES}


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """``(module, names)`` for every ``import`` and ``from ... import`` in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _name(path) if path.name == "__init__.py" else _name(path).rpartition(".")[0]
    out: list[tuple[str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((a.name, []) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            out.append((module, [a.name for a in node.names]))
    return out


def _type_checking_only(path: Path) -> set[int]:
    """Line numbers of imports under ``if TYPE_CHECKING:`` (they make no runtime edge)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Import | ast.ImportFrom):
                    lines.add(sub.lineno)
    return lines


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _name(p))
def test_module_size(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    limit = 120 if path.name == "__init__.py" else 600
    assert lines <= limit, f"{_name(path)} has {lines} lines (limit {limit})"


@pytest.mark.parametrize("path", [p for p in MODULES if p.name == "__init__.py"], ids=_name)
def test_package_init_only_reexports(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    defined = [
        n.name
        for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    ]
    assert defined == [], f"{_name(path)} defines {defined}: move them to a module"


def test_no_private_name_crosses_a_module_boundary() -> None:
    found = []
    for path in MODULES:
        for module, names in _imports(path):
            if not module.startswith("dicomsel"):
                continue
            private = [n for n in names if n.startswith("_") and n != "__version__"]
            if private or any(part.startswith("_") for part in module.split(".")):
                found.append(f"{_name(path)}: from {module} import {', '.join(private)}")
    assert found == []


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in NAMES.items():
        skip = _type_checking_only(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        edges: set[str] = set()
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom) or node.lineno in skip:
                continue
            for module, names in _imports_of(node, path):
                # "from pkg import mod" imports the module pkg.mod
                for n in names:
                    if f"{module}.{n}" in NAMES:
                        edges.add(f"{module}.{n}")
                if module in NAMES:
                    edges.add(module)
        edges.discard(name)
        graph[name] = edges
    return graph


def _imports_of(node: ast.Import | ast.ImportFrom, path: Path) -> list[tuple[str, list[str]]]:
    if isinstance(node, ast.Import):
        return [(a.name, []) for a in node.names]
    package = _name(path) if path.name == "__init__.py" else _name(path).rpartition(".")[0]
    if node.level:
        base = package.split(".")[: len(package.split(".")) - node.level + 1]
        module = ".".join([*base, node.module] if node.module else base)
    else:
        module = node.module or ""
    return [(module, [a.name for a in node.names])]


def _ancestors(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def test_no_import_circle_between_modules() -> None:
    """No module reaches itself through the modules it imports.

    Importing from one's own package (or a parent package) is not an edge: a
    package's ``__init__`` re-exports its modules, which Python runs first.
    """
    graph = {n: {e for e in edges if e not in _ancestors(n)} for n, edges in _graph().items()}
    cycles = []
    for start in graph:
        seen: set[str] = set()
        stack = [(start, [start])]
        while stack:
            node, trail = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    cycles.append(" -> ".join([*trail, nxt]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*trail, nxt]))
    assert cycles == [], "\n".join(sorted(cycles)[:10])
