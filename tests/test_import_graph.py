"""The import graph of the code keeps its shape (docs/ARCHITECTURE.md, "Layers").

Read with ``ast`` from the source, nothing imported. Every import statement counts, wherever it
is (module top, inside a function, under ``if TYPE_CHECKING:``), and so does
``importlib.import_module("a.literal.name")``. An edge goes from the importing module to the
module named: ``from pkg import name`` points at ``pkg.name`` when that is a module of the
tree, else at ``pkg`` (its ``__init__``). Parent packages that Python initializes on the way are
not edges: a package whose ``__init__`` imports its own submodules is not a cycle.

The rules:

- ``restock/`` is the plain library: it imports no Dagster and nothing of the orchestration
  layer (``pipelines``, ``checks``, ``assets``);
- the orchestration layer's imports only point down: ``pipelines`` -> ``checks`` -> ``assets``
  -> ``restock``;
- no import cycle between modules;
- no ``from module import _private`` across modules.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: top-level package -> layer; a module may import its own layer and the layers below
LAYERS = {"restock": 0, "assets": 1, "checks": 2, "pipelines": 3}
ORCHESTRATION = {"dagster", "dagster_dbt", "dagster_webserver", "dagster_pipes",
                 "pipelines", "checks", "assets"}


@dataclass(frozen=True)
class Import:
    """One import: who imports what (a dotted name), at which line, which names."""

    source: str
    target: str
    line: int
    names: tuple[str, ...] = ()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


@cache
def _modules() -> dict[str, Path]:
    found = {}
    for top in LAYERS:
        for path in sorted((REPO / top).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _absolute(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute name of a (possibly relative) ``from`` import."""
    if level == 0:
        return name or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _imports_of(module: str, path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(module, is_package, node.level, node.module)
            found.append(Import(module, target, node.lineno,
                                tuple(alias.name for alias in node.names)))
        elif (isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name))
              and (getattr(node.func, "attr", None) or getattr(node.func, "id", None))
              == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            found.append(Import(module, node.args[0].value, node.lineno))
    return found


@cache
def _all_imports() -> tuple[Import, ...]:
    return tuple(i for module, path in _modules().items() for i in _imports_of(module, path))


def _edges() -> dict[str, dict[str, int]]:
    """module -> {imported module of the tree: first line}."""
    modules = _modules()
    graph: dict[str, dict[str, int]] = {m: {} for m in modules}
    for imp in _all_imports():
        targets = []
        for name in imp.names:
            if f"{imp.target}.{name}" in modules:
                targets.append(f"{imp.target}.{name}")
            elif imp.target in modules:
                targets.append(imp.target)
        if not imp.names and imp.target in modules:
            targets.append(imp.target)
        for target in targets:
            if target != imp.source:
                graph[imp.source].setdefault(target, imp.line)
    return graph


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(components)


def _describe(component: list[str], graph: dict[str, dict[str, int]]) -> str:
    members = set(component)
    edges = [f"{a} -> {b} (line {graph[a][b]})" for a in component for b in sorted(graph[a])
             if b in members]
    return "cycle among " + ", ".join(component) + ": " + "; ".join(edges)


def cycle_violations() -> list[str]:
    """Every import cycle, with the import lines that close it."""
    graph = _edges()
    return [_describe(c, graph) for c in _cycles(graph)]


def library_violations() -> list[str]:
    """Imports of Dagster or the orchestration layer under restock/."""
    return [f"{i.source} imports {i.target} (line {i.line})" for i in _all_imports()
            if i.source.split(".")[0] == "restock" and i.target.split(".")[0] in ORCHESTRATION]


def upward_violations() -> list[str]:
    """Imports from a lower layer into a higher one."""
    out = []
    for imp in _all_imports():
        here, there = imp.source.split(".")[0], imp.target.split(".")[0]
        if there in LAYERS and LAYERS[there] > LAYERS[here]:
            out.append(f"{imp.source} ({here}) imports {imp.target} ({there}) "
                       f"(line {imp.line}): imports must point down")
    return out


def private_violations() -> list[str]:
    """``from other_module import _name`` (a private name of another module)."""
    modules = _modules()
    out = []
    for imp in _all_imports():
        if imp.target.split(".")[0] not in LAYERS or imp.target == imp.source:
            continue
        for name in imp.names:
            if name.startswith("_") and not name.startswith("__"):
                kind = "module" if f"{imp.target}.{name}" in modules else "name"
                out.append(f"{imp.source} imports the private {kind} {imp.target}.{name} "
                           f"(line {imp.line})")
    return out


def test_the_walk_sees_the_whole_tree():
    modules = _modules()
    assert {"restock.config", "assets.resources", "checks.marts", "pipelines.definitions",
            "pipelines.cli"} <= set(modules)
    graph = _edges()
    assert "assets.resources" in graph["pipelines.definitions"]
    # imports inside functions count too (the CLI loads the runner lazily)
    assert "pipelines.runner" in graph["pipelines.cli"]


def test_the_rules_catch_what_they_are_meant_to(tmp_path, monkeypatch):
    """The checks themselves, on a tiny tree with one of each violation."""
    for top in LAYERS:
        (tmp_path / top).mkdir()
        (tmp_path / top / "__init__.py").write_text("")
    (tmp_path / "restock" / "a.py").write_text(
        "from restock.b import _hidden\n\ndef f():\n    import dagster\n")
    (tmp_path / "restock" / "b.py").write_text("from restock import a\n_hidden = 1\n")
    (tmp_path / "assets" / "x.py").write_text("from checks import y\n")
    (tmp_path / "checks" / "y.py").write_text("import importlib\n"
                                              "importlib.import_module('assets.x')\n")
    monkeypatch.setitem(globals(), "REPO", tmp_path)
    _modules.cache_clear()
    _all_imports.cache_clear()
    try:
        assert library_violations() == ["restock.a imports dagster (line 4)"]
        assert upward_violations() == [
            "assets.x (assets) imports checks (checks) (line 1): imports must point down"]
        assert private_violations() == ["restock.a imports the private name restock.b._hidden "
                                        "(line 1)"]
        cycles = cycle_violations()
        assert len(cycles) == 2
        assert cycles[0].startswith("cycle among assets.x, checks.y")
        assert cycles[1].startswith("cycle among restock.a, restock.b")
    finally:
        _modules.cache_clear()
        _all_imports.cache_clear()


def test_library_imports_no_dagster_and_nothing_of_the_orchestration_layer():
    violations = library_violations()
    assert not violations, "\n".join(violations)


def test_orchestration_imports_point_down():
    violations = upward_violations()
    assert not violations, "\n".join(violations)


@pytest.mark.parametrize("rule", [cycle_violations, private_violations],
                         ids=["no_import_cycles", "no_private_names_across_modules"])
def test_rule(rule):
    violations = rule()
    assert not violations, "\n".join(violations)
