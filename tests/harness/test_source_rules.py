"""Rules the package's own source keeps, checked on every module of tempvl_core, tempvl_bench and
plugins (and on the task and config files a user installs):

- one atomic writer: only ``tempvl_core/atomic.py`` renames a file over another or makes a
  temporary file to rename; every other module writes through it;
- nothing a user installs cites ``../shared``, a folder only the development checkout has.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("tempvl_core", "tempvl_bench", "plugins")
ATOMIC_WRITER = Path("tempvl_core/atomic.py")

#: module -> functions that rename over a file or make a temporary file to rename
_RENAMERS = {"os": {"replace", "rename", "renames"}, "shutil": {"move"},
             "tempfile": {"mkstemp", "mktemp", "NamedTemporaryFile"}}


def _modules() -> list[Path]:
    files = sorted(p for package in PACKAGES for p in (REPO_ROOT / package).rglob("*.py"))
    assert len(files) > 100, "the package folders were not found"  # the scan must see the source
    return files


def renames_in(source: str) -> list[tuple[int, str]]:
    """``(line, call)`` of every rename or temporary-file call in ``source``: ``os.replace(...)``,
    ``from os import rename``, ``tempfile.mkstemp(...)``, and the one-argument
    ``<path>.replace(target)`` / ``<path>.rename(target)`` of pathlib (``str.replace`` takes two)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module in _RENAMERS:
            found += [(node.lineno, f"from {node.module} import {a.name}") for a in node.names
                      if a.name in _RENAMERS[node.module]]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            func, owner = node.func, node.func.value
            if isinstance(owner, ast.Name) and func.attr in _RENAMERS.get(owner.id, ()):
                found.append((node.lineno, f"{owner.id}.{func.attr}"))
            elif func.attr in ("replace", "rename") and len(node.args) == 1 and not node.keywords:
                found.append((node.lineno, f".{func.attr}(...)"))
    return sorted(found)


def test_the_scan_finds_each_kind_of_hand_written_atomic_write():
    source = ("import os, tempfile\nfrom os import rename\nfd, tmp = tempfile.mkstemp()\nos.replace(tmp, 'a')\n"
              "Path(tmp).replace(target)\nPath(tmp).rename(target)\nname = 'a-b'.replace('-', '_')\n")
    assert renames_in(source) == [(2, "from os import rename"), (3, "tempfile.mkstemp"), (4, "os.replace"),
                                  (5, ".replace(...)"), (6, ".rename(...)")]


def test_only_the_atomic_writer_renames_files():
    offenders = []
    for path in _modules():
        if path.relative_to(REPO_ROOT) == ATOMIC_WRITER:
            assert renames_in(path.read_text(encoding="utf-8")), "the atomic writer itself was not recognized"
            continue
        offenders += [f"{path.relative_to(REPO_ROOT)}:{line}: {call}"
                      for line, call in renames_in(path.read_text(encoding="utf-8"))]
    assert not offenders, "write through tempvl_core.atomic instead:\n" + "\n".join(offenders)


@pytest.mark.parametrize("folder", ["tasks", "configs", *PACKAGES])
def test_nothing_a_user_installs_cites_the_shared_folder(folder):
    root = REPO_ROOT / folder
    files = [p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert files, f"{folder}/ holds no files"
    citing = [f"{p.relative_to(REPO_ROOT)}:{n}" for p in files
              for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
              if "../shared" in line or "shared/specs" in line or "shared/realdata" in line]
    assert not citing, "cite docs/ or the dataset's public source instead of ../shared:\n" + "\n".join(citing)
