"""Helpers of the tests that install a plugin package the way a user does (pip) and run the CLI
with it on the path, and of those that load a probe plugin module with ``-p``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: The task file of the probe tasks (a retrieval task on DiDeMo's annotations, registered by a
#: test's plugin module ``probe_plugin``).
PROBE_TASK = """
name: probe
family: retrieval
plugin: probe_plugin
dataset: didemo
paths: {annotations: didemo, videos: didemo/videos}
metrics: [t2v/R@1]
primary_metric: t2v/R@1
model: {preset: tiny, backbone: cnn-tiny, text_encoder: minilm}
"""


#: A plugin module that fails to import, and one whose hook name is misspelt: each must be
#: reported by name without taking the other plugins down.
BROKEN_PLUGIN = "raise ImportError('this plugin needs a missing library')\n"

MISSPELT_HOOK_PLUGIN = """
from tempvl_bench import hookimpl

@hookimpl
def tempvl_bench_register_backbone(registry):  # misspelt hook name
    pass
"""


def install_probe(tmp_path: Path, monkeypatch, module_source: str):
    """``module_source`` importable as ``probe_plugin`` (with ``probe.yaml`` beside it) and a data
    root ``tmp_path/data`` holding DiDeMo's demo annotations (no videos: a probe reads none).
    Returns the imported module."""
    import importlib
    import shutil
    import textwrap

    from tempvl_core.data.demo import ensure_demo_dataset

    site = tmp_path / "site"
    site.mkdir()
    (site / "probe_plugin.py").write_text(textwrap.dedent(module_source))
    (site / "probe.yaml").write_text(PROBE_TASK)
    monkeypatch.syspath_prepend(str(site))
    sys.modules.pop("probe_plugin", None)
    module = importlib.import_module("probe_plugin")
    (tmp_path / "data" / "didemo").mkdir(parents=True)
    for path in (Path(ensure_demo_dataset("didemo")) / "didemo").glob("*.*"):
        shutil.copy(path, tmp_path / "data" / "didemo" / path.name)
    return module


def pip_install_target(src: Path, site: Path) -> Path:
    """``pip install --target site src`` (no dependencies: the harness is already installed)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(site), str(src)],
        check=True, capture_output=True, text=True,
    )
    return site


def distributions_under(site: Path) -> list[str]:
    """The names of the distributions installed in the folder ``site``."""
    from importlib import metadata

    return sorted({d.metadata["Name"] for d in metadata.distributions(path=[str(site)]) if d.metadata["Name"]})


def plugin_distributions_env(*names: str) -> str:
    """``TEMPVL_BENCH_PLUGIN_DISTRIBUTIONS`` for the suite's own distribution (conftest.py) plus ``names``."""
    return ",".join(filter(None, [os.environ.get("TEMPVL_BENCH_PLUGIN_DISTRIBUTIONS", ""), *names]))


def site_env(site: Path) -> dict[str, str]:
    """The environment of a process that sees the packages under ``site`` and autoloads their
    plugins besides the project's own (and no other installed package's)."""
    return dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
        TEMPVL_BENCH_PLUGIN_DISTRIBUTIONS=plugin_distributions_env(*distributions_under(site)),
    )


def cli_with_site(site: Path, *args: str) -> subprocess.CompletedProcess:
    """``tempvl-bench ARGS`` in a fresh process that also sees the packages under ``site``."""
    return subprocess.run([sys.executable, "-m", "tempvl_bench.cli", *args], capture_output=True, text=True,
                          env=site_env(site))


def demo_run_with_backbone(site: Path, output: Path, backbone: str) -> dict:
    """``run --task didemo --demo --backbone NAME --limit 8`` with ``site`` on the path; the
    results record, after checking the run used that backbone on 8 queries with a sane R@1."""
    import json

    out = cli_with_site(site, "run", "--task", "didemo", "--demo", "--backbone", backbone, "--limit", "8",
                        "--output", str(output), "--no-progress")
    assert out.returncode == 0, out.stderr
    (results,) = output.glob("didemo/*/results.json")
    record = json.loads(results.read_text())
    assert record["backbone"] == backbone and record["num_samples"] == 8
    assert 0.0 <= record["metrics"]["t2v/R@1"] <= 100.0
    return record
