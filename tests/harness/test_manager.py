"""The plugin manager, through real entry points (dist-info folders put on sys.path)."""

import sys
import textwrap
from pathlib import Path

import pytest

from plugin_helpers import BROKEN_PLUGIN, MISSPELT_HOOK_PLUGIN, plugin_distributions_env

from tempvl_bench.plugin.manager import AUTOLOAD_ENV, DISTRIBUTIONS_ENV, PluginLoadWarning, load_plugins


def _install_dist(root: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str]) -> None:
    info = root / f"{dist}-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    lines = "\n".join(f"{name} = {target}" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[tempvl_bench]\n{lines}\n")
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source))


GOOD = """
from tempvl_bench import hookimpl
from tempvl_bench.plugin.registry import BackboneSpec

@hookimpl
def tempvl_bench_register_backbones(registry):
    registry.register(BackboneSpec("good-net", lambda options: None, "from a test plugin"))
"""



@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    # The suite autoloads only its own distribution's plugins (conftest.py); these tests' own too.
    monkeypatch.setenv(DISTRIBUTIONS_ENV, plugin_distributions_env("good_dist", "broken_dist", "typo_dist"))
    yield tmp_path
    for name in ("good_plugin", "broken_plugin", "typo_plugin"):
        sys.modules.pop(name, None)


def test_broken_plugin_is_reported_by_name_and_others_keep_working(site):
    _install_dist(site, "good_dist", {"good": "good_plugin"}, {"good_plugin": GOOD})
    _install_dist(site, "broken_dist", {"broken": "broken_plugin"}, {"broken_plugin": BROKEN_PLUGIN})
    with pytest.warns(PluginLoadWarning, match="'broken' failed to import: ImportError"):
        host = load_plugins()
    assert [f.name for f in host.failures] == ["broken"]
    assert "good-net" in host.backbones
    assert "didemo" in host.tasks  # built-in plugins still load
    info = {p.name: p for p in host.plugins()}
    assert info["good"].version == "1.2.3"
    assert info["good"].hooks == ("tempvl_bench_register_backbones",)


def test_disable_one_plugin(site):
    _install_dist(site, "good_dist", {"good": "good_plugin"}, {"good_plugin": GOOD})
    host = load_plugins(["no:good", "no:retrieval"])
    assert "good-net" not in host.backbones
    assert "didemo" not in host.tasks
    assert host.disabled == ["good", "retrieval"]


def test_autoload_can_be_disabled_and_plugins_loaded_explicitly(site, monkeypatch):
    _install_dist(site, "good_dist", {"good": "good_plugin"}, {"good_plugin": GOOD})
    monkeypatch.setenv(AUTOLOAD_ENV, "1")
    host = load_plugins()
    assert len(host.tasks) == 0 and len(host.backbones) == 0
    host = load_plugins(["good_plugin"])
    assert host.backbones.names() == ["good-net"]


def test_misspelt_hook_fails_loudly(site):
    from pluggy import PluginValidationError

    _install_dist(site, "typo_dist", {"typo": "typo_plugin"}, {"typo_plugin": MISSPELT_HOOK_PLUGIN})
    with pytest.raises(PluginValidationError, match="tempvl_bench_register_backbone"):
        load_plugins()
