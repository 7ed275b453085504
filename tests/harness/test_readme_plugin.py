"""The README's "Writing a plugin" packages, extracted verbatim from the README and pip-installed
for real: the backbone package (a per-frame and a clip backbone) and the task package (its
task file and its family). Both load through the entry point and run on demo data."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from plugin_helpers import cli_with_site, demo_run_with_backbone, pip_install_target, site_env

README = Path(__file__).resolve().parents[2] / "README.md"
#: A code block whose first line is ``# <path>`` is that file of an example package.
_BLOCK = re.compile(r"```(?:toml|python|yaml)\n# (\S+)\n(.*?)```", flags=re.S)


def readme_files() -> dict[str, str]:
    """``{path: text}`` of every file shown in the "Writing a plugin" section."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Writing a plugin"):]
    section = section[: section.index("\n## ", 1)]
    found = {path: f"# {path}\n{body}" for path, body in _BLOCK.findall(section)}
    assert found, "no code block of the form '# <path>' in README 'Writing a plugin'"
    return found


def install_readme_package(name: str, tmp_path_factory) -> Path:
    """Write the README's files of package folder ``name`` and pip-install them; the site folder."""
    src = tmp_path_factory.mktemp(f"readme_src_{name}")
    files = {path: text for path, text in readme_files().items() if path.split("/")[0] == name}
    assert f"{name}/pyproject.toml" in files, f"README shows no {name}/pyproject.toml"
    for path, text in files.items():
        (src / path).parent.mkdir(parents=True, exist_ok=True)
        (src / path).write_text(text, encoding="utf-8")
    return pip_install_target(src / name, tmp_path_factory.mktemp(f"readme_site_{name}"))


def test_readme_shows_both_packages_with_every_file():
    paths = set(readme_files())
    assert {"my-backbone/pyproject.toml", "my-backbone/my_backbone/__init__.py"} <= paths
    assert {"my-matching/pyproject.toml", "my-matching/my_matching/__init__.py", "my-matching/my_matching/family.py",
            "my-matching/my_matching/didemo-pairs.yaml"} <= paths  # fmt: skip
    for path, text in readme_files().items():
        if path.endswith(".py"):
            imports = set(re.findall(r"^from (tempvl\w*(?:\.\w+)*) import", text, flags=re.M))
            assert imports <= {"tempvl_bench.api"}, f"{path} imports {imports}: the README shows the public API only"


@pytest.fixture(scope="module")
def backbone_site(tmp_path_factory) -> Path:
    return install_readme_package("my-backbone", tmp_path_factory)


@pytest.fixture(scope="module")
def task_site(tmp_path_factory) -> Path:
    return install_readme_package("my-matching", tmp_path_factory)


_cli = cli_with_site


def test_readme_backbones_are_listed_and_run_forward(backbone_site):
    out = _cli(backbone_site, "list", "backbones")
    assert out.returncode == 0, out.stderr
    names = {line.split()[0] for line in out.stdout.splitlines() if line.strip()}
    assert {"thumbnail", "tubelets"} <= names
    code = (
        "import torch; from tempvl_bench.plugin.manager import load_plugins; "
        "from tempvl_bench.run.modeling import build_backbone_by_name as b; h = load_plugins(); "
        "print(tuple(b(h, 'thumbnail', image_size=32)(torch.zeros(5, 3, 32, 32)).shape), "
        "tuple(b(h, 'tubelets', image_size=32)(torch.zeros(2, 6, 3, 32, 32)).shape))"
    )
    shapes = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=site_env(backbone_site))
    assert shapes.returncode == 0, shapes.stderr
    assert shapes.stdout.split() == ["(5,", "128)", "(2,", "3,", "128)"]


@pytest.mark.slow
def test_demo_task_runs_with_the_readme_clip_backbone(backbone_site, tmp_path):
    demo_run_with_backbone(backbone_site, tmp_path, "tubelets")


def test_readme_task_is_listed_and_its_yaml_installed(task_site):
    assert (task_site / "my_matching" / "didemo-pairs.yaml").is_file()
    out = _cli(task_site, "list", "tasks")
    assert out.returncode == 0, out.stderr
    assert any(line.split()[:1] == ["didemo-pairs"] for line in out.stdout.splitlines()), out.stdout
    validated = _cli(task_site, "validate", "--task", "didemo-pairs", "--demo")
    assert validated.returncode == 0, validated.stdout + validated.stderr


@pytest.mark.slow
def test_readme_task_runs_on_demo_data(task_site, tmp_path):
    out = _cli(task_site, "run", "--task", "didemo-pairs", "--demo", "--limit", "6", "--output", str(tmp_path),
               "--no-progress")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no 'demo:' block" not in out.stdout + out.stderr
    (results,) = tmp_path.glob("didemo-pairs/*/results.json")
    record = json.loads(results.read_text())
    assert record["family"] == "matching" and record["num_samples"] == 6
    assert set(record["metrics"]) == {"match/acc"} and record["metrics"]["match/acc"] in {100.0 * k / 6 for k in range(7)}
    assert record["baselines"]["chance"]["match/acc"] == 50.0 and "match/acc" in record["ci95"]
    rows = [json.loads(line) for line in (results.parent / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and 100.0 * sum(r["correct"] for r in rows) / 6 == record["metrics"]["match/acc"]

    refused = _cli(task_site, "run", "--task", "didemo-pairs", "--demo", "--mode", "finetune", "--output",
                   str(tmp_path / "ft"), "--no-progress")
    assert refused.returncode == 2 and "no finetuning step" in refused.stderr


@pytest.fixture(scope="module")
def model_site(tmp_path_factory) -> Path:
    return install_readme_package("my-model", tmp_path_factory)


@pytest.mark.slow
def test_readme_model_is_listed_runs_retrieval_and_moments_and_is_refused_captioning(model_site, tmp_path):
    assert "my-model/my_model/__init__.py" in readme_files()
    listed = _cli(model_site, "list", "models")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.split()[:1] == ["colour-words"])
    assert "clip-embeddings" in row and "frame-embeddings" in row
    for task, metric in (("msrvtt", "t2v/R@1"), ("charades-sta", "mr/R1@0.5")):
        out = _cli(model_site, "run", "--task", task, "--demo", "--model", "colour-words", "--limit", "6",
                   "--output", str(tmp_path), "--no-progress")
        assert out.returncode == 0, out.stdout + out.stderr
        (results,) = tmp_path.glob(f"{task}/*/results.json")
        record = json.loads(results.read_text())
        assert record["model"]["name"] == "colour-words" and 0.0 <= record["metrics"][metric] <= 100.0
    refused = _cli(model_site, "run", "--task", "msrvtt-cap", "--demo", "--model", "colour-words", "--output",
                   str(tmp_path / "cap"), "--no-progress")
    assert refused.returncode == 2 and "colour-words" in refused.stderr and "generation" in refused.stderr
    assert not (tmp_path / "cap").exists()
