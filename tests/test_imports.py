"""How the modules of jobmagics depend on each other: no import cycle (counting the imports
inside functions, which run later but still tie two modules together), and the worker never
loads the display layer (HTML, widgets)."""
from __future__ import annotations

import ast
import itertools
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "jobmagics"


def module_files(package: str = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``package`` (a package by its __init__)."""
    modules = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _type_checking_only(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def import_statements(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import at any depth (module, function, class), except the body of an
    ``if TYPE_CHECKING:`` (its ``else`` does run, so it counts)."""
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, ast.If) and _type_checking_only(child):
            for statement in child.orelse:
                yield from import_statements(ast.Module(body=[statement], type_ignores=[]))
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        yield from import_statements(child)


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """The module ``name`` is, or lies in (``jobmagics.model.State`` -> ``jobmagics.model``)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imported_modules(module: str, modules: dict[str, Path]) -> dict[str, int]:
    """The modules of the package that ``module`` imports -> the line of the first such import.
    A submodule imported by name (``from . import paths``) counts as that submodule; the parent
    packages Python loads on the way are not counted (every module would depend on them)."""
    path = modules[module]
    is_package = path.name == "__init__.py"
    found: dict[str, int] = {}
    for statement in import_statements(ast.parse(path.read_text(), str(path))):
        if isinstance(statement, ast.Import):
            targets = [_known(alias.name, modules) for alias in statement.names]
        else:
            base = statement.module or ""
            if statement.level:
                here = module.split(".") if is_package else module.split(".")[:-1]
                here = here[:len(here) - statement.level + 1]
                base = ".".join(here + ([statement.module] if statement.module else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else _known(base, modules)
                       for a in statement.names]
        for target in targets:
            if target is not None and target != module:
                found.setdefault(target, statement.lineno)
    return found


def import_graph(package: str = PACKAGE) -> dict[str, dict[str, int]]:
    modules = module_files(package)
    return {name: imported_modules(name, modules) for name in modules}


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One cycle through every strongly connected group of modules (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        group.add(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(group)
            elif target not in index:
                index[target] = low[target] = len(index)
                stack.append(target)
                work.append((target, iter(graph[target])))
            elif target in stack:
                low[node] = min(low[node], index[target])
    return [_one_cycle(graph, group) for group in groups]


def _one_cycle(graph: dict[str, dict[str, int]], group: set[str]) -> list[str]:
    """A shortest path from the group's first module back to itself, inside the group."""
    first = min(group)
    paths = {first: [first]}
    frontier = [first]
    while frontier:
        following = []
        for node in frontier:
            for target in graph[node]:
                if target == first:
                    return paths[node] + [first]
                if target in group and target not in paths:
                    paths[target] = paths[node] + [target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"no cycle in {group}")


def describe(graph: dict[str, dict[str, int]], cycle: list[str]) -> str:
    steps = [f"  {a} (line {graph[a][b]}) imports {b}" for a, b in itertools.pairwise(cycle)]
    return "\n".join(steps)


def test_the_import_graph_sees_module_and_function_level_imports_but_not_type_checking_ones() -> None:
    graph = import_graph()
    assert "jobmagics.errors" in graph["jobmagics.model"]               # at the top
    assert "jobmagics.magics" in graph["jobmagics"]                     # inside a function
    assert "jobmagics.paths" in graph["jobmagics.client"]               # from . import paths
    assert "jobmagics.client" not in graph["jobmagics.display"]         # if TYPE_CHECKING only


def test_the_cycle_finder_finds_a_cycle_and_names_its_imports() -> None:
    graph = {"a": {"b": 3}, "b": {"c": 5}, "c": {"a": 7}, "d": {"a": 1}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert describe(graph, ["a", "b", "c", "a"]).splitlines()[-1] == "  c (line 7) imports a"
    assert cycles({"a": {"b": 1}, "b": {}}) == []


def test_jobmagics_has_no_import_cycle() -> None:
    graph = import_graph()
    found = cycles(graph)
    assert not found, "import cycles in jobmagics:\n" + "\n\n".join(describe(graph, c) for c in found)


# What every other module leans on: none of these imports anything but each other (so the
# store, the client and every door above them can import any of them without a cycle).
BOTTOM = ("errors", "checks", "fields", "formats", "kinds", "paths", "payloads", "runtime",
          "outputs", "model", "liveness")


@pytest.mark.parametrize("name", BOTTOM)
def test_the_bottom_layer_imports_only_from_itself(name: str) -> None:
    graph = import_graph()
    above = sorted(set(graph[f"{PACKAGE}.{name}"]) - {f"{PACKAGE}.{b}" for b in BOTTOM})
    assert above == [], f"{PACKAGE}.{name} imports {', '.join(above)}"


@pytest.mark.parametrize("entry", ["kernel_worker.worker", "kernel_worker.executors.kernel_capture"])
def test_the_worker_does_not_load_the_display_layer(entry: str) -> None:
    code = (f"import sys, {entry}\n"
            "print(' '.join(sorted(m for m in sys.modules if m == 'jobmagics.display'"
            " or m.startswith(('jobmagics.widgets', 'ipywidgets')))))")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.split()
    assert loaded == []
