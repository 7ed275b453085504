"""Packages installed in the environment do not change the suite's outcomes: conftest.py makes the
plugin manager autoload only this project's own distribution's entry points, in this process and
in the CLI processes tests start. Proven with real dist-info folders put on the path: a working
third-party plugin, one that fails to import and one with a misspelt hook (which, loaded, makes
every plugin load fail)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest
from plugin_helpers import BROKEN_PLUGIN, MISSPELT_HOOK_PLUGIN

from tempvl_bench.plugin.manager import DISTRIBUTIONS_ENV, PluginLoadWarning, UnknownHookError, load_plugins

INTRUDER = """
from tempvl_bench import hookimpl
from tempvl_bench.plugin.registry import BackboneSpec

@hookimpl
def tempvl_bench_register_backbones(registry):
    registry.register(BackboneSpec("intruder-net", lambda options: None, "from an installed package"))
"""


PLUGINS = {"intruder": INTRUDER, "broken": BROKEN_PLUGIN, "typo": MISSPELT_HOOK_PLUGIN}


def _own_plugin_names() -> set[str]:
    own = metadata.distribution("tempvl-bench").entry_points.select(group="tempvl_bench")
    return {ep.name for ep in own}


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    """A site folder holding three installed third-party distributions with tempvl_bench entry points."""
    for name, source in PLUGINS.items():
        info = tmp_path / f"{name}_dist-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}-dist\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text(f"[tempvl_bench]\n{name} = {name}_plugin\n")
        (tmp_path / f"{name}_plugin.py").write_text(textwrap.dedent(source))
    yield tmp_path
    for name in PLUGINS:
        sys.modules.pop(f"{name}_plugin", None)


def test_the_suite_loads_only_its_own_distributions_plugins(installed, monkeypatch):
    monkeypatch.syspath_prepend(str(installed))
    assert os.environ[DISTRIBUTIONS_ENV] == "tempvl-bench"  # set by conftest.py for the whole session
    host = load_plugins()
    assert host.failures == []
    assert {p.name for p in host.plugins()} == _own_plugin_names()
    assert "intruder-net" not in host.backbones and "didemo" in host.tasks

    # The same path without the suite's setting: all three packages are found (the typo fails loudly).
    monkeypatch.delenv(DISTRIBUTIONS_ENV)
    with pytest.warns(PluginLoadWarning, match="'broken' failed to import"), pytest.raises(UnknownHookError, match="'typo'"):
        load_plugins()
    with pytest.warns(PluginLoadWarning, match="'broken' failed to import"):
        host = load_plugins(["no:typo"])
    assert "intruder-net" in host.backbones and [f.name for f in host.failures] == ["broken"]


def test_cli_processes_started_by_tests_inherit_it(installed):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(installed), os.environ.get("PYTHONPATH")])))
    cmd = [sys.executable, "-m", "tempvl_bench.cli", "plugins"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    listed = {line.split()[0] for line in out.stdout.splitlines() if line.strip()}
    assert not listed & set(PLUGINS), out.stdout
    assert _own_plugin_names() <= listed, out.stdout

    env.pop(DISTRIBUTIONS_ENV)
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert out.returncode != 0 and "typo" in out.stderr, out.stdout + out.stderr


def test_named_distributions_are_loaded_besides(installed, monkeypatch):
    """A test of third-party loading names its own package (plugin_helpers.plugin_distributions_env)."""
    monkeypatch.syspath_prepend(str(installed))
    monkeypatch.setenv(DISTRIBUTIONS_ENV, "tempvl-bench, Intruder_Dist")  # names compare as PEP 503 normalises them
    host = load_plugins()
    assert host.failures == [] and "intruder-net" in host.backbones
    assert {p.name for p in host.plugins()} == _own_plugin_names() | {"intruder"}
    assert host.plugins()[[p.name for p in host.plugins()].index("intruder")].version == "0.1"
