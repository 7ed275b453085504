"""Captioning plugin: caption post-processing and options; one demo finetuning run through the
real CLI, re-scored with ``tempvl-bench score``.

METEOR and the PTB tokenizer start Java (about 20 s on a busy machine), so the module keeps to
a single run; the in-process re-scoring reuses the process-wide METEOR scorer.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tempvl_bench.cli.app import main
from tempvl_bench.config import ConfigError
from tempvl_plugins.captioning.task import CAPTIONS_JSON, REFERENCES_JSON, CaptionOptions, clean_caption

CAPTION_METRICS = {"cap/BLEU@1", "cap/BLEU@2", "cap/BLEU@3", "cap/BLEU@4", "cap/METEOR", "cap/ROUGE-L", "cap/CIDEr"}


@pytest.mark.parametrize(
    "raw, expected",
    [("  a man  is\tsinging ", "a man is singing"), ("", ""), ("one", "one"), ("a\n\nb", "a b")],
)
def test_clean_caption(raw, expected):
    assert clean_caption(raw) == expected


def test_options_defaults_and_errors():
    assert CaptionOptions.parse({}, "t.yaml") == CaptionOptions(num_beams=1, max_caption_length=20)
    assert CaptionOptions.parse({"num_beams": 3}, "t.yaml").num_beams == 3
    with pytest.raises(ConfigError, match=r"t\.yaml: key 'options\.num_beam'.*Did you mean 'num_beams'"):
        CaptionOptions.parse({"num_beam": 3}, "t.yaml")
    with pytest.raises(ConfigError, match=r"options\.max_caption_length.*positive integer"):
        CaptionOptions.parse({"max_caption_length": 0}, "t.yaml")
    with pytest.raises(ConfigError, match="positive integer"):
        CaptionOptions.parse({"num_beams": True}, "t.yaml")


@pytest.mark.slow
def test_msvd_cap_finetune_generates_scored_captions(tmp_path):
    from tempvl_core.data.demo import ensure_demo_dataset

    out = tmp_path / "results"
    argv = ["run", "--task", "msvd-cap", "--demo", "--mode", "finetune", "--output", str(out), "--no-progress",
            "--set", "finetune.epochs=1", "--set", "options.num_beams=2"]
    assert main(argv) == 0
    (path,) = list((out / "msvd-cap").glob("*/results.json"))
    result, run_dir = json.loads(path.read_text()), path.parent
    root = Path(ensure_demo_dataset("msvd")) / "msvd"
    test_clips = [line for line in (root / "test_list.txt").read_text().splitlines() if line]
    assert result["family"] == "captioning" and result["split"] == "test" and result["mode"] == "finetune"
    assert set(result["metrics"]) == CAPTION_METRICS and result["primary_metric"] == "cap/CIDEr"
    assert result["num_samples"] == len(test_clips)
    assert result["config"]["options"]["num_beams"] == 2
    rows = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()]
    assert sorted(r["video_id"] for r in rows) == sorted(test_clips)
    for row in rows:
        assert isinstance(row["caption"], str) and row["references"]
        assert row["caption"] == clean_caption(row["caption"])
        assert set(row["scores"]) == CAPTION_METRICS
    references = json.loads((run_dir / REFERENCES_JSON).read_text())
    assert references == {r["video_id"]: r["references"] for r in rows}
    assert json.loads((run_dir / CAPTIONS_JSON).read_text()) == [
        {"video_id": r["video_id"], "caption": r["caption"]} for r in rows
    ]
    rescored = tmp_path / "rescored.json"
    assert main(["score", "--family", "captioning", "--predictions", str(run_dir / CAPTIONS_JSON),
                 "--ground-truth", str(run_dir / REFERENCES_JSON), "--output", str(rescored)]) == 0
    assert json.loads(rescored.read_text()) == result["metrics"]
