"""A pack run's predictions in the community's submission formats, scored back by
``tempvl-bench score`` to the run's own metrics: QVHighlights from a Moment-DETR pack written
as Moment-DETR writes it (two npz streams per video), THUMOS14 from an extracted ActionFormer pack."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from tempvl_bench.cli import score
from tempvl_bench.cli.app import main

pytestmark = pytest.mark.slow


def _score(capsys, *argv) -> dict:
    parser = argparse.ArgumentParser()
    score.configure_parser(parser)
    capsys.readouterr()
    assert score.run(parser.parse_args([str(a) for a in argv])) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def qvhighlights_pack(tmp_path_factory) -> Path:
    """Every demo video's rows, as ``np.savez(path, features=...)`` in slowfast_features/ and
    clip_features/ (narrow streams, declared with --set features.dims, to keep the files small)."""
    from tempvl_core.data.demo import ensure_demo_dataset
    from tempvl_core.data import catalogue

    root = tmp_path_factory.mktemp("qvh-pack")
    data = Path(ensure_demo_dataset("qvhighlights"))
    rng = np.random.default_rng(0)
    for stream in ("slowfast_features", "clip_features"):
        (root / stream).mkdir()
    for split in ("train", "val"):
        for query in catalogue.load("qvhighlights", data / "qvhighlights", "moments", split).records:
            rows = int(np.ceil(query.duration / 2))
            for stream, dim in (("slowfast_features", 24), ("clip_features", 8)):
                path = root / stream / f"{query.video_id}.npz"
                if not path.exists():
                    np.savez(path, features=rng.normal(size=(rows, dim)).astype(np.float32))
    return root


def test_qvhighlights_jsonl_from_a_pack_scores_back_to_the_run_metrics(qvhighlights_pack, tmp_path, capsys):
    assert main(["run", "--task", "qvhighlights", "--demo", "--features", str(qvhighlights_pack), "--mode",
                 "finetune", "--output", str(tmp_path), "--limit", "40", "--no-progress",
                 "--set", "finetune.epochs=1", "--set", "features.dims=[24, 8]"]) == 0
    (path,) = tmp_path.glob("qvhighlights/*/results.json")
    record = json.loads(path.read_text())
    assert record["features"]["preset"] == "moment-detr" and record["features"]["layout"]["dims"] == [24, 8]
    lines = [json.loads(x) for x in (path.parent / "moment_detr_predictions.jsonl").read_text().splitlines()]
    assert {"qid", "vid", "pred_relevant_windows", "pred_saliency_scores"} <= set(lines[0])
    scored = _score(capsys, "--family", "moment-retrieval", "--protocol", "qvhighlights", "--predictions",
                    path.parent / "moment_detr_predictions.jsonl", "--ground-truth",
                    path.parent / "moment_detr_ground_truth.jsonl")
    for name, value in record["metrics"].items():
        assert scored[name] == pytest.approx(value, abs=1e-6), name


def test_activitynet_detection_json_from_a_pack_scores_back_to_the_run_metrics(tmp_path, capsys):
    pack = tmp_path / "pack"
    assert main(["extract-features", "--task", "thumos14", "--demo", "--layout", "actionformer-thumos14",
                 "--output", str(pack)]) == 0
    assert main(["run", "--task", "thumos14", "--demo", "--features", str(pack), "--mode", "finetune",
                 "--output", str(tmp_path / "out"), "--no-progress", "--set", "finetune.epochs=2"]) == 0
    (path,) = (tmp_path / "out").glob("thumos14/*/results.json")
    record = json.loads(path.read_text())
    submission = json.loads((path.parent / "submission.json").read_text())
    assert submission["version"] == "VERSION 1.3" and isinstance(submission["results"], dict)
    truth = json.loads((path.parent / "ground_truth.json").read_text())
    subset = next(iter(truth["database"].values()))["subset"]
    scored = _score(capsys, "--family", "tal", "--protocol", "thumos14", "--subset", subset, "--predictions",
                    path.parent / "submission.json", "--ground-truth", path.parent / "ground_truth.json")
    for name, value in record["metrics"].items():
        assert scored[name] == pytest.approx(value, abs=1e-6), name
