"""``tempvl-bench score``: every family through files, real-data reproductions, malformed input."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import pytest

from tempvl_bench.cli import score
from tempvl_bench.metrics.names import QVHIGHLIGHTS


def run_score(capsys: pytest.CaptureFixture, *argv: str | Path) -> tuple[int, dict | None, str]:
    parser = argparse.ArgumentParser()
    score.configure_parser(parser)
    code = score.run(parser.parse_args([str(a) for a in argv]))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


# -- real data ---------------------------------------------------------------------------------

BRIEF_NAMES = {
    "MR-full-R1@0.5": "mr/R1@0.5", "MR-full-R1@0.7": "mr/R1@0.7", "MR-full-mAP": "mr/mAP@avg",
    "MR-full-mAP@0.5": "mr/mAP@0.5", "MR-full-mAP@0.75": "mr/mAP@0.75", "MR-short-mAP": "mr/mAP-short",
    "MR-middle-mAP": "mr/mAP-middle", "MR-long-mAP": "mr/mAP-long",
    "HL-min-Fair-mAP": "hd/mAP@Fair", "HL-min-Fair-Hit1": "hd/HIT@1@Fair",
    "HL-min-Good-mAP": "hd/mAP@Good", "HL-min-Good-Hit1": "hd/HIT@1@Good",
    "HL-min-VeryGood-mAP": "hd/mAP", "HL-min-VeryGood-Hit1": "hd/HIT@1",
}


def test_qvhighlights_sample_reproduces_official_metrics(realdata: Path, capsys, tmp_path: Path) -> None:
    folder = realdata / "qvhighlights"
    output = tmp_path / "metrics.json"
    code, metrics, _ = run_score(capsys, "--family", "moment-retrieval", "--protocol", "qvhighlights",
                                 "--predictions", folder / "sample_val_preds.jsonl",
                                 "--ground-truth", folder / "highlight_val_release.jsonl", "--output", output)
    assert code == 0
    expected = json.loads((folder / "sample_val_preds_metrics_raw.json").read_text())["brief"]
    assert set(BRIEF_NAMES) == set(expected)
    assert set(metrics) == set(QVHIGHLIGHTS)
    for official, ours in BRIEF_NAMES.items():
        assert round(metrics[ours], 2) == expected[official], official  # reference prints 2 decimals
    assert json.loads(output.read_text()) == metrics


def _activitynet_gt_from_bsn(realdata: Path, tmp_path: Path) -> Path:
    """BSN keys carry a ``v_`` prefix the submission lacks; the subset comes from video_info_new.csv."""
    bsn = realdata / "activitynet-v1.3" / "bsn"
    annotations = json.loads((bsn / "anet_anno_action.json").read_text())
    with open(bsn / "video_info_new.csv", newline="") as handle:
        subsets = {row["video"]: row["subset"] for row in csv.DictReader(handle)}
    database = {vid.removeprefix("v_"): {"subset": subsets[vid], "annotations": entry["annotations"]}
                for vid, entry in annotations.items()}
    return write(tmp_path / "anet_gt.json", {"version": "BSN copy", "taxonomy": [], "database": database})


def test_activitynet_sample_submission_sanity(realdata: Path, capsys, tmp_path: Path) -> None:
    gt_path = _activitynet_gt_from_bsn(realdata, tmp_path)
    sample = realdata / "activitynet-v1.3" / "sample_detection_prediction.json"
    code, metrics, _ = run_score(capsys, "--family", "tal", "--predictions", sample, "--ground-truth", gt_path)
    assert code == 0
    # The sample is the ground truth itself (all scores 1.0) plus videos absent from the BSN copy:
    # every segment is found at every threshold, the extra videos add false positives.
    values = [v for k, v in metrics.items() if k != "tal/mAP@avg"]
    assert len(values) == 10 and len(set(values)) == 1
    assert 95 < metrics["tal/mAP@avg"] < 100
    # Restricted to videos in the ground truth, it is perfect, zero-length segments included
    # (the validation subset has three; 0/0 tIoU counts as a match).
    database = json.loads(gt_path.read_text())["database"]
    results = json.loads(sample.read_text())["results"]
    val = {v for v, e in database.items() if e["subset"] == "validation"}
    zero_length = [a for v in val for a in database[v]["annotations"] if a["segment"][0] == a["segment"][1]]
    assert zero_length
    restricted = write(tmp_path / "restricted.json", {"results": {v: d for v, d in results.items() if v in val}})
    code, metrics, _ = run_score(capsys, "--family", "tal", "--predictions", restricted, "--ground-truth", gt_path)
    assert code == 0 and set(metrics.values()) == {100.0}


# -- each family through files -----------------------------------------------------------------

def test_retrieval_square_and_multi_caption(capsys, tmp_path: Path) -> None:
    sim = np.array([[0.9, 0.1, 0.0], [0.7, 0.5, 0.6], [0.2, 0.8, 0.4]], dtype=np.float32)
    np.save(tmp_path / "sim.npy", sim)
    code, metrics, _ = run_score(capsys, "--family", "retrieval", "--predictions", tmp_path / "sim.npy")
    assert code == 0 and metrics["t2v/MdR"] == 2.0 and len(metrics) == 10
    np.save(tmp_path / "multi.npy", np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.4]]))
    index = write(tmp_path / "index.json", [0, 0, 1])
    code, metrics, _ = run_score(capsys, "--family", "retrieval", "--predictions", tmp_path / "multi.npy",
                                 "--ground-truth", index)
    assert code == 0 and metrics["v2t/R@1"] == 50.0 and metrics["t2v/MdR"] == 1.0


def test_qa_through_files(capsys, tmp_path: Path) -> None:
    gt = write(tmp_path / "gt.json", [{"question_id": 1, "answer": "dog", "question_type": "what"},
                                      {"question_id": 2, "answer": "man", "question_type": "who"}])
    preds = write(tmp_path / "preds.json", {"1": "dog", "2": "man"})
    vocab = write(tmp_path / "vocab.json", ["dog"])
    code, metrics, _ = run_score(capsys, "--family", "qa", "--predictions", preds, "--ground-truth", gt,
                                 "--answer-vocab", vocab)
    assert code == 0
    assert metrics == {"qa/acc": 50.0, "qa/acc/what": 100.0, "qa/acc/who": 0.0}


def test_single_moment_through_files(capsys, tmp_path: Path) -> None:
    gt = write_jsonl(tmp_path / "gt.jsonl", [
        {"qid": 1, "vid": "a", "duration": 20, "relevant_windows": [[0, 10]]},
        {"qid": 2, "vid": "b", "duration": 8, "relevant_windows": [[4, 12]]},  # clipped to [4, 8]
    ])
    preds = write_jsonl(tmp_path / "preds.jsonl", [
        {"qid": 1, "pred_relevant_windows": [[0, 5, 0.1], [20, 30, 0.9], [2, 10, 0.5]]},
        {"qid": 2, "pred_relevant_windows": [[4, 8, 1.0]]},
    ])
    code, metrics, _ = run_score(capsys, "--family", "moment-retrieval", "--protocol", "single",
                                 "--predictions", preds, "--ground-truth", gt)
    assert code == 0
    assert metrics["mr/R1@0.5"] == 50.0 and metrics["mr/R5@0.7"] == 100.0
    assert metrics["mr/mIoU"] == 75.0


def test_captioning_through_files(capsys, tmp_path: Path) -> None:
    pytest.importorskip("pycocoevalcap")
    refs = write(tmp_path / "refs.json", {"7": ["a man plays a guitar", "someone plays guitar"],
                                          "8": ["a cat sleeps"]})
    preds = write(tmp_path / "preds.json", [{"video_id": 7, "caption": "a man plays guitar"},
                                            {"video_id": "8", "caption": "a cat is sleeping"}])
    code, metrics, _ = run_score(capsys, "--family", "captioning", "--predictions", preds, "--ground-truth", refs)
    assert code == 0
    assert list(metrics) == ["cap/BLEU@1", "cap/BLEU@2", "cap/BLEU@3", "cap/BLEU@4",
                             "cap/METEOR", "cap/ROUGE-L", "cap/CIDEr"]
    assert 1 < metrics["cap/BLEU@1"] <= 100  # x100, as captioning papers print it


# -- malformed input ---------------------------------------------------------------------------

def _tal_gt(tmp_path: Path) -> Path:
    return write(tmp_path / "gt.json", {"database": {"v1": {"subset": "validation", "annotations": [
        {"segment": [0, 10], "label": "A"}]}}})


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ({"predictions": {}}, "missing key 'results'"),
    ({"results": {"v1": [{"label": "A", "score": float("nan"), "segment": [0, 10]}]}}, "finite number"),
    ({"results": {"v1": [{"label": "A", "score": 1, "segment": [0]}]}}, "[start, end] pair"),
    ({"results": {"v1": [{"label": "A", "segment": [0, 1]}]}}, "missing key 'score'"),
])
def test_tal_malformed_predictions(capsys, tmp_path: Path, content: object, message: str) -> None:
    preds = write(tmp_path / "preds.json", content)
    code, _, err = run_score(capsys, "--family", "tal", "--predictions", preds, "--ground-truth", _tal_gt(tmp_path))
    assert code == 2
    assert str(preds) in err and message in err


def test_tal_unknown_subset_lists_subsets(capsys, tmp_path: Path) -> None:
    preds = write(tmp_path / "preds.json", {"results": {}})
    code, _, err = run_score(capsys, "--family", "tal", "--subset", "Test", "--predictions", preds,
                             "--ground-truth", _tal_gt(tmp_path))
    assert code == 2 and "['validation']" in err


def test_mr_unknown_qid_and_bad_line(capsys, tmp_path: Path) -> None:
    gt = write_jsonl(tmp_path / "gt.jsonl", [{"qid": 1, "vid": "a", "duration": 20, "relevant_windows": [[0, 10]]}])
    preds = write_jsonl(tmp_path / "preds.jsonl", [{"qid": 1, "pred_relevant_windows": [[0, 5, 1.0]]},
                                                   {"qid": 99, "pred_relevant_windows": [[0, 5, 1.0]]}])
    code, _, err = run_score(capsys, "--family", "moment-retrieval", "--predictions", preds, "--ground-truth", gt)
    assert code == 2 and "unknown ['99']" in err and str(preds) in err
    (tmp_path / "bad.jsonl").write_text('{"qid": 1, "pred_relevant_windows": [[0, 5, NaN]]}\n')
    code, _, err = run_score(capsys, "--family", "moment-retrieval", "--predictions", tmp_path / "bad.jsonl",
                             "--ground-truth", gt)
    assert code == 2 and "line 1" in err and "NaN" in err


def test_retrieval_rejects_pickles_nan_and_shape(capsys, tmp_path: Path) -> None:
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    code, _, err = run_score(capsys, "--family", "retrieval", "--predictions", tmp_path / "obj.npy")
    assert code == 2 and "pickle" in err
    np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan], [0.0, 1.0]]))
    code, _, err = run_score(capsys, "--family", "retrieval", "--predictions", tmp_path / "nan.npy")
    assert code == 2 and "NaN" in err
    np.save(tmp_path / "rect.npy", np.ones((2, 3)))
    code, _, err = run_score(capsys, "--family", "retrieval", "--predictions", tmp_path / "rect.npy")
    assert code == 2 and "as many texts as videos" in err


def test_qa_missing_ground_truth_and_protocol_errors(capsys, tmp_path: Path) -> None:
    preds = write(tmp_path / "preds.json", {"1": "dog"})
    code, _, err = run_score(capsys, "--family", "qa", "--predictions", preds)
    assert code == 2 and "needs a ground-truth file" in err
    code, _, err = run_score(capsys, "--family", "tal", "--protocol", "coco", "--predictions", preds,
                             "--ground-truth", preds)
    assert code == 2 and "unknown protocol 'coco'" in err


def test_thumos14_actionformer_ground_truth_loads(realdata: Path, capsys, tmp_path: Path) -> None:
    """Real ActionFormer-format file (subset "Test"): perfect detections, then lower-scored
    shifted duplicates (false positives ranked last) keep every AP at 100."""
    gt_path = realdata / "thumos14" / "actionformer" / "thumos14.json"
    database = json.loads(gt_path.read_text())["database"]
    results: dict[str, list] = {}
    for vid, entry in database.items():
        if entry["subset"] != "Test":
            continue
        for ann in entry["annotations"]:
            start, end = ann["segment"]
            shift = (end - start) / 2
            results.setdefault(vid, []).append({"label": ann["label"], "score": 1.0, "segment": [start, end]})
            results[vid].append({"label": ann["label"], "score": 0.5, "segment": [start + shift, end + shift]})
    preds = write(tmp_path / "preds.json", {"results": results})
    code, metrics, _ = run_score(capsys, "--family", "tal", "--protocol", "thumos14", "--subset", "Test",
                                 "--predictions", preds, "--ground-truth", gt_path)
    assert code == 0
    assert list(metrics)[:5] == ["tal/mAP@0.3", "tal/mAP@0.4", "tal/mAP@0.5", "tal/mAP@0.6", "tal/mAP@0.7"]
    assert set(metrics.values()) == {100.0}
