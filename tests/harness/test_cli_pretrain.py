"""`tempvl-bench pretrain --demo` writes a checkpoint that `run --checkpoint` evaluates."""

import json
from pathlib import Path

import pytest
import yaml

from tempvl_bench.cli import main

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

    results = tmp_path / "results"
    args = ["run", "--task", "didemo", "--demo", "--checkpoint", str(final), "--limit", "8", "--output", str(results),
            "--no-progress"]
    assert main(args) == 0
    (path,) = results.glob("didemo/*/results.json")
    record = json.loads(path.read_text())
    assert record["checkpoint"] == str(final) and len(record["checkpoint_sha256"]) == 64
    assert record["backbone"] == "cnn-tiny" and record["num_samples"] == 8
