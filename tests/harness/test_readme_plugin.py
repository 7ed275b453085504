"""The README's "Writing a plugin" package, extracted from the README and pip-installed for real:
both its per-frame and its clip backbone load through the entry point, and a demo task runs with
the clip one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from plugin_helpers import cli_with_site, demo_run_with_backbone, pip_install_target

README = Path(__file__).resolve().parents[2] / "README.md"


def _section_blocks(language: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Writing a plugin"):]
    section = section[: section.index("\n## ", 1)]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


@pytest.fixture(scope="module")
def readme_site(tmp_path_factory) -> Path:
    (toml,) = _section_blocks("toml")
    (module,) = _section_blocks("python")
    src = tmp_path_factory.mktemp("readme_src")
    (src / "pyproject.toml").write_text(toml)
    package = re.search(r'^my_backbone = "(\w+)"', toml, flags=re.M).group(1)
    (src / package).mkdir()
    (src / package / "__init__.py").write_text(module)
    site = tmp_path_factory.mktemp("readme_site")
    pip_install_target(src, site)
    return site


_cli = cli_with_site


def test_readme_backbones_are_listed_and_run_forward(readme_site):
    out = _cli(readme_site, "list", "backbones")
    assert out.returncode == 0, out.stderr
    names = {line.split()[0] for line in out.stdout.splitlines() if line.strip()}
    assert {"thumbnail", "tubelets"} <= names
    code = (
        "import torch; from tempvl_bench.manager import load_plugins; "
        "from tempvl_bench.modeling import build_backbone_by_name as b; h = load_plugins(); "
        "print(tuple(b(h, 'thumbnail', image_size=32)(torch.zeros(5, 3, 32, 32)).shape), "
        "tuple(b(h, 'tubelets', image_size=32)(torch.zeros(2, 6, 3, 32, 32)).shape))"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(readme_site), os.environ.get("PYTHONPATH")])))
    shapes = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert shapes.returncode == 0, shapes.stderr
    assert shapes.stdout.split() == ["(5,", "128)", "(2,", "3,", "128)"]


@pytest.mark.slow
def test_demo_task_runs_with_the_readme_clip_backbone(readme_site, tmp_path):
    demo_run_with_backbone(readme_site, tmp_path, "tubelets")
