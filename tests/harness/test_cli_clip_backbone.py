"""The issue's done-when, at tiny sizes: `pretrain --backbone swin3d-t` on the demo data (the YAML's
backbone key overridden by the flag) and its checkpoint evaluated by `run`, which reads the backbone
from the checkpoint."""

import json
from pathlib import Path

import pytest
import yaml

from tempvl_bench.cli.app import main

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_pretraining_with_video_swin_and_its_evaluation(tmp_path, capsys):
    config = yaml.safe_load((REPO / "configs" / "pretrain" / "demo.yaml").read_text())
    assert config["model"]["backbone"] == "cnn-tiny"
    config["training"].update(total_steps=2, checkpoint_every=2, log_every=1, warmup_steps=1, batch_size=2)
    config_path = tmp_path / "tiny.yaml"
    config_path.write_text(yaml.safe_dump(config))
    out = tmp_path / "pretrain"
    args = ["pretrain", "--config", str(config_path), "--demo", "--backbone", "swin3d-t", "--output", str(out),
            "--no-progress"]
    assert main(args) == 0
    final = Path(capsys.readouterr().out.split("checkpoint: ")[1].split()[0])
    assert json.loads((final / "tempvl_bench.json").read_text())["backbone"] == "swin3d-t"

    results = tmp_path / "results"
    assert main(["run", "--task", "didemo", "--demo", "--checkpoint", str(final), "--limit", "4",
                 "--output", str(results), "--no-progress"]) == 0
    (path,) = results.glob("didemo/*/results.json")
    record = json.loads(path.read_text())
    assert record["backbone"] == "swin3d-t" and record["num_samples"] == 4
