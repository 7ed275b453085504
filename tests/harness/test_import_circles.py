"""No import circles in tempvl_bench, tempvl_core or the built-in plugins.

The graph is read from the source with ``ast``, not from ``sys.modules``: every ``import`` and
``from ... import`` statement counts, at module level, inside functions and under
``if TYPE_CHECKING:`` alike (a function-level import that dodges a circle at run time still
ties the two modules together). Edges are resolved precisely:

- ``import a.b.c`` and ``from a.b import c`` (``c`` a submodule) point at ``a.b.c``;
- ``from a.b import name`` (``name`` not a submodule) points at the package ``a/b/__init__``;
- relative imports are resolved against the importing module's package;
- the parent packages Python runs on the way (``a``, ``a.b``) are not edges: a submodule that
  names a sibling does not depend on the package's ``__init__``, but one that imports a name
  from the ``__init__`` does.

Any strongly connected component with more than one module is a circle; the test names one
cycle in it with the file and line of each import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Import name -> source folder (``plugins/`` installs as ``tempvl_plugins``, see setup.py).
PACKAGES = {"tempvl_bench": ROOT / "tempvl_bench", "tempvl_core": ROOT / "tempvl_core", "tempvl_plugins": ROOT / "plugins"}


def module_files(packages: dict[str, Path] = PACKAGES) -> dict[str, Path]:
    """Every module of ``packages``, by dotted name (a package by its ``__init__``)."""
    modules: dict[str, Path] = {}
    for name, folder in packages.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join([name, *parts])] = path
    return modules


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _targets(node: ast.AST, module: str, path: Path, modules: dict[str, Path]) -> list[str]:
    """The modules of the three packages one import statement points at."""
    if isinstance(node, ast.Import):
        return [_known(alias.name, modules) for alias in node.names]
    assert isinstance(node, ast.ImportFrom)
    if node.level:
        base = _package_of(module, path)
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        source = f"{base}.{node.module}" if node.module else base
    else:
        source = node.module or ""
    found = []
    for alias in node.names:
        submodule = f"{source}.{alias.name}"
        found.append(submodule if submodule in modules else _known(source, modules))
    return found


def _known(name: str, modules: dict[str, Path]) -> str:
    """``name`` itself when it is one of ours, else ``""`` (a third-party or standard module)."""
    return name if name in modules else ""


def import_graph(packages: dict[str, Path] = PACKAGES) -> tuple[dict[str, set[str]], dict[tuple[str, str], int]]:
    """The module graph, and the line of the first import behind each edge."""
    modules = module_files(packages)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    lines: dict[tuple[str, str], int] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target in _targets(node, module, path, modules):
                if target and target != module:
                    graph[module].add(target)
                    lines.setdefault((module, target), node.lineno)
    return graph, lines


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (the graph has hundreds of modules)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def one_cycle(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest cycle through the component's first module (breadth-first, inside it)."""
    members = set(component)
    start = component[0]
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [*reversed(path), start]
                if child not in parents:
                    parents[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"{component} is not strongly connected")


def describe(cycle: list[str], lines: dict[tuple[str, str], int]) -> str:
    modules = module_files()
    steps = [
        f"  {a} -> {b}   ({modules[a].relative_to(ROOT)}:{lines[(a, b)]})" for a, b in zip(cycle, cycle[1:])
    ]
    return "\n".join(steps)


def test_the_graph_resolves_imports_as_python_runs_them(tmp_path):
    """Relative, function-level and ``TYPE_CHECKING`` imports are edges; ``from pkg import sub``
    names the submodule, ``from pkg import name`` the package's ``__init__``."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "from .a import thing\n",
        "a.py": "thing = 1\n\ndef later():\n    from . import b\n",
        "b.py": "import json\nfrom pkg import a\nfrom pkg.sub import c\n",
        "sub/__init__.py": "",
        "sub/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..b import json\n",
        "sub/d.py": "from pkg import thing\nimport pkg.sub.c as c\n",
    }
    for name, text in files.items():
        (package / name).write_text(text)
    graph, lines = import_graph({"pkg": package})
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a", "pkg.sub.c"}, "pkg.sub": set(),
                     "pkg.sub.c": {"pkg.b"}, "pkg.sub.d": {"pkg", "pkg.sub.c"}}
    assert lines[("pkg.a", "pkg.b")] == 4
    circles = sorted(c for c in strongly_connected(graph) if len(c) > 1)
    assert circles == [["pkg.a", "pkg.b", "pkg.sub.c"]]
    # The package re-exports from a submodule that imports the package back: a circle too.
    (package / "a.py").write_text("from pkg import sub\nthing = 1\n")
    (package / "sub/__init__.py").write_text("from pkg import thing\n")
    graph, _ = import_graph({"pkg": package})
    assert ["pkg", "pkg.a", "pkg.sub"] in strongly_connected(graph)


def test_a_planted_circle_is_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    circles = [c for c in strongly_connected(graph) if len(c) > 1]
    assert circles == [["a", "b", "c"]]
    assert one_cycle(circles[0], graph) == ["a", "b", "c", "a"]


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_import_circle(package):
    graph, lines = import_graph()
    circles = [c for c in strongly_connected(graph) if len(c) > 1 and any(m.split(".")[0] == package for m in c)]
    report = [
        f"{len(c)} modules import each other: {', '.join(c)}\n{describe(one_cycle(c, graph), lines)}" for c in circles
    ]
    assert not circles, "import circles:\n" + "\n\n".join(report)
