"""`tempvl-bench pretrain --demo` writes a checkpoint that `run --checkpoint` evaluates."""

import json
from pathlib import Path

import pytest
import yaml

from tempvl_bench.cli.app import main

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_pretraining_checkpoint_is_evaluated_by_run(tmp_path, capsys):
    config = yaml.safe_load((REPO / "configs" / "pretrain" / "demo.yaml").read_text())
    config["training"].update(total_steps=3, checkpoint_every=3, log_every=1, warmup_steps=1, batch_size=4)
    config_path = tmp_path / "tiny.yaml"
    config_path.write_text(yaml.safe_dump(config))
    out = tmp_path / "pretrain"
    assert main(["pretrain", "--config", str(config_path), "--demo", "--output", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    final = Path(printed.split("checkpoint: ")[1].split()[0])
    assert (final / "model.safetensors").is_file()
    assert json.loads((final / "tempvl_bench.json").read_text())["backbone"] == "cnn-tiny"

    # The closing hint is a command that works as printed: demo pretraining -> a --demo run.
    hint = printed.split("evaluate it with: tempvl-bench ")[1].split("\n")[0].split()
    assert hint == ["run", "--task", "didemo", "--demo", "--checkpoint", str(final)]
    results = tmp_path / "results"
    assert main([*hint, "--limit", "8", "--output", str(results), "--no-progress"]) == 0
    (path,) = results.glob("didemo/*/results.json")
    record = json.loads(path.read_text())
    assert record["checkpoint"] == str(final) and len(record["checkpoint_sha256"]) == 64
    assert record["backbone"] == "cnn-tiny" and record["num_samples"] == 8


def _short_config(tmp_path: Path, steps: int, every: int) -> Path:
    config = yaml.safe_load((REPO / "configs" / "pretrain" / "demo.yaml").read_text())
    config["training"].update(total_steps=steps, checkpoint_every=every, log_every=1, warmup_steps=1)
    path = tmp_path / "short.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.slow
def test_pretraining_killed_mid_run_resumes_to_the_same_weights(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    import torch
    from safetensors.torch import load_file

    config = _short_config(tmp_path, steps=12, every=4)
    reference = tmp_path / "reference"
    assert main(["pretrain", "--config", str(config), "--demo", "--output", str(reference), "--no-progress"]) == 0

    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "tempvl_bench.cli", "pretrain", "--config", str(config), "--demo",
           "--output", str(killed), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    latest = killed / "checkpoints" / "latest"
    deadline = time.monotonic() + 300
    while not latest.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert latest.read_text().strip() == "step_000004", "the run was not killed between checkpoints"

    assert main(["pretrain", "--config", str(config), "--demo", "--output", str(killed), "--resume", "--no-progress"]) == 0
    a = load_file(reference / "checkpoints" / "step_000012" / "model.safetensors")
    b = load_file(killed / "checkpoints" / "step_000012" / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_readme_names_the_checkpoint_folder_pretrain_writes():
    """README's ``--checkpoint results/pretrain/...`` is the folder ``pretrain --config
    configs/pretrain/demo.yaml --demo`` writes with its default --output."""
    from tempvl_core.train.checkpoint import checkpoint_name

    readme = (REPO / "README.md").read_text()
    named = {line.split("--checkpoint ")[1].split()[0] for line in readme.splitlines()
             if line.startswith("tempvl-bench run ") and "--checkpoint results/pretrain/" in line}
    steps = yaml.safe_load((REPO / "configs" / "pretrain" / "demo.yaml").read_text())["training"]["total_steps"]
    assert named == {f"results/pretrain/{checkpoint_name(steps)}"}
