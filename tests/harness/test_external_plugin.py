"""A third-party package that registers a backbone through the entry point, pip-installed for real."""

import textwrap
from pathlib import Path

import pytest
from plugin_helpers import cli_with_site, demo_run_with_backbone, pip_install_target

PYPROJECT = """
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "tempvl-ext-backbone"
version = "0.3.0"
dependencies = []

[project.entry-points.tempvl_bench]
ext = "tempvl_ext_backbone"
"""

MODULE = '''
"""An external tempvl-bench plugin: a tiny MLP over an 8x8 thumbnail of each frame."""
import torch
from torch import nn

from tempvl_bench import hookimpl
from tempvl_bench.plugin.registry import BackboneSpec


class ThumbnailMLP(nn.Module):
    def __init__(self, num_features=64):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(8)
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(3 * 64, num_features), nn.GELU())
        self.num_features = num_features

    def forward(self, images):
        return self.mlp(self.pool(images))


@hookimpl
def tempvl_bench_register_backbones(registry):
    registry.register(BackboneSpec("ext-mlp", lambda options: ThumbnailMLP(), "thumbnail MLP from an external package"))
'''


@pytest.fixture(scope="module")
def external_site(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("ext_src")
    (src / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    (src / "tempvl_ext_backbone").mkdir()
    (src / "tempvl_ext_backbone" / "__init__.py").write_text(textwrap.dedent(MODULE))
    site = tmp_path_factory.mktemp("ext_site")
    pip_install_target(src, site)
    assert list(site.glob("tempvl_ext_backbone-0.3.0.dist-info"))
    return site


_cli = cli_with_site


def test_external_backbone_is_listed_with_its_plugin_and_version(external_site):
    out = _cli(external_site, "list", "backbones")
    assert out.returncode == 0, out.stderr
    line = next(l for l in out.stdout.splitlines() if l.startswith("ext-mlp"))
    assert "ext" in line.split()[1]
    plugins = _cli(external_site, "plugins")
    row = next(l for l in plugins.stdout.splitlines() if l.startswith("ext "))
    assert "0.3.0" in row and "tempvl_bench_register_backbones" in row


def test_external_backbone_not_visible_without_the_package(tmp_path):
    out = _cli(tmp_path, "list", "backbones")
    assert "ext-mlp" not in out.stdout


@pytest.mark.slow
def test_demo_task_runs_with_the_external_backbone(external_site, tmp_path):
    demo_run_with_backbone(external_site, tmp_path, "ext-mlp")
