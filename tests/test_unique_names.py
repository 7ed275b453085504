"""One name per thing: every public top-level class or function of tempvl_core, tempvl_bench and
the plugins is defined in one module only.

Two definitions under one name make an import line ambiguous to a reader (which ``MomentQuery``
is this?) and let a rename of one silently pick up the other. Where two things differ they get
names that say what each is; where they are the same, one module defines it and the rest import it.
Names with a leading underscore are private to their module (never imported elsewhere), so they
are left out.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("tempvl_core", "tempvl_bench", "plugins")

#: Names several modules define because something outside them calls the name itself.
PROTOCOL_NAMES = {
    "main": "console and ``python -m`` entry points (tempvl-bench, python -m tempvl_core.data.demo)",
    "__getattr__": "PEP 562 lazy module attributes",
    "__dir__": "PEP 562 lazy module attributes",
}
# Hook implementations (functions decorated ``@hookimpl`` whose name a ``@hookspec`` declares) are
# found from the decorators below, not listed: pluggy calls them by the spec's name.

#: Duplicates whose fix belongs to work in progress elsewhere; each entry must still be a
#: duplicate (the test below fails once it is fixed, so the entry goes with the fix).
PENDING: dict[str, str] = {}


def _decorator_names(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> set[str]:
    names = set()
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif isinstance(target, ast.Attribute):
            names.add(target.attr)
    return names


def top_level_definitions(root: Path, packages=PACKAGES) -> dict[str, list[tuple[str, set[str]]]]:
    """Public top-level class/function name -> ``(module path, its decorator names)`` per definition."""
    found: dict[str, list[tuple[str, set[str]]]] = defaultdict(list)
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in tree.body:
                if not isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                if node.name.startswith("_") and not (node.name.startswith("__") and node.name.endswith("__")):
                    continue
                found[node.name].append((path.relative_to(root).as_posix(), _decorator_names(node)))
    return found


def duplicated_names(root: Path, packages=PACKAGES) -> dict[str, list[str]]:
    """Names defined in more than one module, hook implementations and protocol names left out."""
    out = {}
    for name, definitions in top_level_definitions(root, packages).items():
        if len(definitions) < 2 or name in PROTOCOL_NAMES:
            continue
        specs = [d for d in definitions if "hookspec" in d[1]]
        if len(specs) == 1 and all("hookimpl" in d[1] for d in definitions if d not in specs):
            continue
        out[name] = [module for module, _ in definitions]
    return out


def test_every_public_top_level_name_is_defined_once() -> None:
    duplicates = {name: modules for name, modules in duplicated_names(REPO_ROOT).items() if name not in PENDING}
    assert not duplicates, "one name, two definitions (rename what differs, import what is the same):\n" + "\n".join(
        f"  {name}: {', '.join(modules)}" for name, modules in sorted(duplicates.items()))


def test_pending_duplicates_are_still_duplicates() -> None:
    fixed = sorted(set(PENDING) - set(duplicated_names(REPO_ROOT)))
    assert not fixed, f"no longer duplicated, remove from PENDING in {Path(__file__).name}: {fixed}"


def test_the_walk_sees_every_package_and_recognises_hook_implementations() -> None:
    definitions = top_level_definitions(REPO_ROOT)
    modules = {module.split("/", 1)[0] for entries in definitions.values() for module, _ in entries}
    assert modules == set(PACKAGES)
    hooks = definitions["tempvl_bench_register_tasks"]  # declared once, implemented by each family plugin
    assert sum("hookspec" in decorators for _, decorators in hooks) == 1
    assert sum("hookimpl" in decorators for _, decorators in hooks) >= 5
    assert "tempvl_bench_register_tasks" not in duplicated_names(REPO_ROOT)


def test_a_second_definition_is_reported(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    (tmp_path / "one" / "a.py").write_text(
        "class Query:\n    pass\n\n\ndef _helper():\n    pass\n\n\ndef main():\n    pass\n")
    (tmp_path / "two" / "b.py").write_text(
        "import pluggy\nhookimpl = pluggy.HookimplMarker('x')\n\n\ndef Query():\n    pass\n\n\ndef _helper():\n"
        "    pass\n\n\ndef main():\n    pass\n\n\n@hookimpl\ndef undeclared_hook():\n    pass\n")
    (tmp_path / "two" / "c.py").write_text("@hookimpl\ndef undeclared_hook():\n    pass\n")
    assert duplicated_names(tmp_path, ("one", "two")) == {
        "Query": ["one/a.py", "two/b.py"],
        # a hook implementation counts as one only where a hookspec declares its name
        "undeclared_hook": ["two/b.py", "two/c.py"],
    }
