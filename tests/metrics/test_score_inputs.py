"""``tempvl-bench score`` refuses input that would silently change a metric, and never shows a
traceback: repeated keys and ids, reversed windows, bad durations, non-UTF-8 text, directories,
empty or lying ``.npy`` headers and numbers beyond float range (issue 9, items 1, 6 and 12)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.metrics.test_score import run_score, write, write_jsonl

TAL_GT = {"database": {v: {"subset": "validation", "annotations": [{"segment": [0, 10], "label": "A"}]}
                       for v in ("v1", "v2", "v3", "v4")}}
PERFECT = {v: [{"label": "A", "score": 1.0, "segment": [0, 10]}] for v in ("v1", "v2", "v3", "v4")}


def _tal(capsys, tmp_path: Path, predictions: Path, ground_truth: Path | None = None):
    gt = ground_truth or write(tmp_path / "gt.json", TAL_GT)
    return run_score(capsys, "--family", "tal", "--predictions", predictions, "--ground-truth", gt)


# -- item 1 through the command: a collapsed model --------------------------------------------

def test_constant_similarity_file_scores_chance_not_perfect(capsys, tmp_path: Path) -> None:
    np.save(tmp_path / "c.npy", np.zeros((100, 100)))
    code, metrics, _ = run_score(capsys, "--family", "retrieval", "--predictions", tmp_path / "c.npy")
    assert code == 0
    assert metrics["t2v/R@1"] == 1.0 and metrics["v2t/R@1"] == 1.0
    assert metrics["t2v/R@10"] == 10.0 and metrics["t2v/MnR"] == 50.5 and metrics["v2t/MdR"] == 50.5


def test_infinite_similarity_is_refused_naming_the_file(capsys, tmp_path: Path) -> None:
    sim = np.eye(3)
    sim[1, 2] = np.inf
    np.save(tmp_path / "inf.npy", sim)
    code, _, err = run_score(capsys, "--family", "retrieval", "--predictions", tmp_path / "inf.npy")
    assert code == 2 and str(tmp_path / "inf.npy") in err and "[1, 2]" in err


def test_qa_tied_answers_through_files(capsys, tmp_path: Path) -> None:
    gt = write(tmp_path / "gt.json", [{"question_id": "1", "answer": "dog"}, {"question_id": "2", "answer": "man"}])
    preds = write(tmp_path / "preds.json", {"1": ["cat", "dog"], "2": "man"})
    code, metrics, _ = run_score(capsys, "--family", "qa", "--predictions", preds, "--ground-truth", gt)
    assert code == 0 and metrics == {"qa/acc": 75.0}


# -- item 6: repeated keys and ids --------------------------------------------------------------

def test_repeated_video_key_in_tal_predictions_is_refused(capsys, tmp_path: Path) -> None:
    # json.loads would keep the second "v1" list only: mAP 25 instead of 100 or an error.
    body = json.dumps(PERFECT)[1:-1]
    text = '{"results": {' + body + ', "v1": [{"label": "A", "score": 0.5, "segment": [50, 60]}]}}'
    preds = write(tmp_path / "preds.json", text)
    code, _, err = _tal(capsys, tmp_path, preds)
    assert code == 2 and str(preds) in err and "repeats the key 'v1'" in err


def test_repeated_key_hidden_next_to_an_escaped_colon_is_refused(capsys, tmp_path: Path) -> None:
    """The fast parser's colon count must not be fooled by a colon written as \\u003a."""
    text = ('{"results": {"v1": [{"label": "A", "score": 1, "segment": [0, 10]}], '
            '"v1": [{"label": "A\\u003a", "score": 1, "segment": [0, 10]}]}}')
    preds = write(tmp_path / "preds.json", text)
    code, _, err = _tal(capsys, tmp_path, preds)
    assert code == 2 and "repeats the key 'v1'" in err


def test_colons_inside_strings_do_not_trip_the_fast_check(capsys, tmp_path: Path) -> None:
    gt = {"database": {"v:1": {"subset": "validation", "annotations": [{"segment": [0, 10], "label": "A:b"}]}}}
    preds = write(tmp_path / "preds.json", {"results": {"v:1": [{"label": "A:b", "score": 1, "segment": [0, 10]}]},
                                            "note": "a: b: c"})
    code, metrics, _ = _tal(capsys, tmp_path, preds, write(tmp_path / "gt.json", gt))
    assert code == 0 and set(metrics.values()) == {100.0}


@pytest.mark.parametrize("text, key", [
    ('{"results": {"v1": [{"label": "A", "score": 1, "score": 0.1, "segment": [0, 10]}]}}', "score"),
    ('{"results": {}, "results": {"v1": []}}', "results"),
])
def test_repeated_keys_anywhere_in_tal_predictions(capsys, tmp_path: Path, text: str, key: str) -> None:
    preds = write(tmp_path / "preds.json", text)
    code, _, err = _tal(capsys, tmp_path, preds)
    assert code == 2 and str(preds) in err and f"repeats the key {key!r}" in err


def test_repeated_video_in_tal_ground_truth_is_refused(capsys, tmp_path: Path) -> None:
    entry = '{"subset": "validation", "annotations": [{"segment": [0, 10], "label": "A"}]}'
    gt = write(tmp_path / "gt.json", '{"database": {"v1": ' + entry + ', "v1": ' + entry + "}}")
    preds = write(tmp_path / "preds.json", {"results": {}})
    code, _, err = _tal(capsys, tmp_path, preds, gt)
    assert code == 2 and str(gt) in err and "'v1'" in err


def test_qa_repeated_keys_and_ids(capsys, tmp_path: Path) -> None:
    gt = write(tmp_path / "gt.json", [{"question_id": 1, "answer": "dog"}, {"question_id": 2, "answer": "man"}])
    preds = write(tmp_path / "preds.json", '{"1": "cat", "2": "man", "1": "dog"}')
    code, _, err = run_score(capsys, "--family", "qa", "--predictions", preds, "--ground-truth", gt)
    assert code == 2 and str(preds) in err and "repeats the key '1'" in err
    preds = write(tmp_path / "preds.json", {"1": "dog", "2": "man"})
    gt = write(tmp_path / "gt.json", [{"question_id": 1, "answer": "dog"}, {"question_id": "1", "answer": "cat"},
                                      {"question_id": 2, "answer": "man"}])
    code, _, err = run_score(capsys, "--family", "qa", "--predictions", preds, "--ground-truth", gt)
    assert code == 2 and str(gt) in err and "entry 1" in err and "'1'" in err


def test_caption_references_with_a_repeated_video_are_refused(capsys, tmp_path: Path) -> None:
    refs = write(tmp_path / "refs.json", '{"7": ["a man plays guitar"], "7": ["a dog runs"]}')
    preds = write(tmp_path / "preds.json", [{"video_id": 7, "caption": "a man plays guitar"}])
    code, _, err = run_score(capsys, "--family", "captioning", "--predictions", preds, "--ground-truth", refs)
    assert code == 2 and str(refs) in err and "repeats the key '7'" in err


def test_repeated_key_inside_a_jsonl_line_names_the_line(capsys, tmp_path: Path) -> None:
    gt = write_jsonl(tmp_path / "gt.jsonl", [{"qid": 1, "vid": "a", "duration": 20, "relevant_windows": [[0, 10]]}])
    preds = write(tmp_path / "preds.jsonl", '{"qid": 1, "pred_relevant_windows": [[0, 10, 1]], '
                                            '"pred_relevant_windows": [[10, 20, 1]]}\n')
    code, _, err = run_score(capsys, "--family", "moment-retrieval", "--protocol", "single", "--predictions", preds,
                             "--ground-truth", gt)
    assert code == 2 and str(preds) in err and "line 1" in err and "pred_relevant_windows" in err


# -- item 6: the single-moment protocol ----------------------------------------------------------

GOOD_GT = [{"qid": 1, "vid": "a", "duration": 20, "relevant_windows": [[0, 10]]},
           {"qid": 2, "vid": "b", "duration": 30, "relevant_windows": [[5, 10]]}]
GOOD_PREDS = [{"qid": 1, "pred_relevant_windows": [[0, 10, 1.0]]},
              {"qid": 2, "pred_relevant_windows": [[5, 10, 1.0]]}]


def _single(capsys, tmp_path: Path, gt: list[dict], preds: list[dict]):
    gt_path, pred_path = write_jsonl(tmp_path / "gt.jsonl", gt), write_jsonl(tmp_path / "preds.jsonl", preds)
    code, metrics, err = run_score(capsys, "--family", "moment-retrieval", "--protocol", "single",
                                   "--predictions", pred_path, "--ground-truth", gt_path)
    return code, metrics, err, gt_path, pred_path


def test_single_protocol_accepts_the_good_files(capsys, tmp_path: Path) -> None:
    code, metrics, _, _, _ = _single(capsys, tmp_path, GOOD_GT, GOOD_PREDS)
    assert code == 0 and metrics["mr/mIoU"] == 100.0


def test_single_protocol_refuses_reversed_predicted_windows(capsys, tmp_path: Path) -> None:
    preds = [GOOD_PREDS[0], {"qid": 2, "pred_relevant_windows": [[5, 10, 1.0], [12, 4, 0.5]]}]
    code, _, err, _, pred_path = _single(capsys, tmp_path, GOOD_GT, preds)
    assert code == 2 and str(pred_path) in err and "line 2" in err and "ends before it starts" in err


@pytest.mark.parametrize("duration", [-5, 0])
def test_single_protocol_refuses_non_positive_durations(capsys, tmp_path: Path, duration: float) -> None:
    gt = [GOOD_GT[0], {**GOOD_GT[1], "duration": duration}]
    code, _, err, gt_path, _ = _single(capsys, tmp_path, gt, GOOD_PREDS)
    assert code == 2 and str(gt_path) in err and "line 2" in err and "duration must be positive" in err


def test_single_protocol_refuses_repeated_ground_truth_qids(capsys, tmp_path: Path) -> None:
    gt = [GOOD_GT[0], GOOD_GT[1], {**GOOD_GT[1], "relevant_windows": [[20, 30]]}]
    code, _, err, gt_path, _ = _single(capsys, tmp_path, gt, GOOD_PREDS)
    assert code == 2 and str(gt_path) in err and "line 3" in err and "qid 2 already appeared at line 2" in err


def test_single_protocol_refuses_a_window_outside_the_video(capsys, tmp_path: Path) -> None:
    gt = [GOOD_GT[0], {**GOOD_GT[1], "relevant_windows": [[40, 50]]}]
    code, _, err, gt_path, _ = _single(capsys, tmp_path, gt, GOOD_PREDS)
    assert code == 2 and str(gt_path) in err and "outside the video" in err


# -- item 6: non-UTF-8 text names the file ------------------------------------------------------

@pytest.mark.parametrize("bad", ["predictions", "ground truth"])
def test_non_utf8_jsonl_names_the_bad_file_and_line(capsys, tmp_path: Path, bad: str) -> None:
    gt_path = write_jsonl(tmp_path / "gt.jsonl", GOOD_GT)
    pred_path = write_jsonl(tmp_path / "preds.jsonl", GOOD_PREDS)
    broken = pred_path if bad == "predictions" else gt_path
    broken.write_bytes(broken.read_bytes().replace(b'"qid": 2', b'"qid": 2, "x": "\xe9t\xe9"'))  # Latin-1
    other = gt_path if broken is pred_path else pred_path
    code, _, err = run_score(capsys, "--family", "moment-retrieval", "--predictions", pred_path,
                             "--ground-truth", gt_path)
    assert code == 2 and str(broken) in err and str(other) not in err
    assert "not UTF-8" in err and "line 2" in err


def test_non_utf8_json_names_the_file(capsys, tmp_path: Path) -> None:
    preds = tmp_path / "preds.json"
    preds.write_bytes(b'{"results": {"v\xff": []}}')
    code, _, err = _tal(capsys, tmp_path, preds)
    assert code == 2 and str(preds) in err and "not UTF-8" in err


# -- item 12: no tracebacks ---------------------------------------------------------------------

def _valid_inputs(tmp_path: Path) -> dict[str, list[str | Path]]:
    np.save(tmp_path / "sim.npy", np.eye(3))
    return {
        "retrieval": ["--predictions", tmp_path / "sim.npy", "--ground-truth", write(tmp_path / "idx.json", [0, 1, 2])],
        "captioning": ["--predictions", write(tmp_path / "cap.json", [{"video_id": 1, "caption": "a"}]),
                       "--ground-truth", write(tmp_path / "refs.json", {"1": ["a"]})],
        "qa": ["--predictions", write(tmp_path / "qa.json", {"1": "a"}), "--ground-truth",
               write(tmp_path / "qagt.json", [{"question_id": 1, "answer": "a"}]),
               "--answer-vocab", write(tmp_path / "vocab.json", ["a"])],
        "tal": ["--predictions", write(tmp_path / "tal.json", {"results": PERFECT}),
                "--ground-truth", write(tmp_path / "talgt.json", TAL_GT)],
        "moment-retrieval": ["--predictions", write_jsonl(tmp_path / "mr.jsonl", GOOD_PREDS),
                             "--ground-truth", write_jsonl(tmp_path / "mrgt.jsonl", GOOD_GT)],
    }


@pytest.mark.parametrize("family, option", [
    ("retrieval", "--predictions"), ("retrieval", "--ground-truth"), ("captioning", "--predictions"),
    ("captioning", "--ground-truth"), ("qa", "--predictions"), ("qa", "--ground-truth"), ("qa", "--answer-vocab"),
    ("tal", "--predictions"), ("tal", "--ground-truth"), ("moment-retrieval", "--predictions"),
    ("moment-retrieval", "--ground-truth"),
])
def test_a_directory_where_a_file_is_expected(capsys, tmp_path: Path, family: str, option: str) -> None:
    argv = _valid_inputs(tmp_path)[family]
    folder = tmp_path / "a_folder"
    folder.mkdir()
    argv[argv.index(option) + 1] = folder
    code, _, err = run_score(capsys, "--family", family, *argv)
    assert code == 2 and str(folder) in err and "is a directory" in err


def test_output_that_is_a_directory_is_refused_before_scoring(capsys, tmp_path: Path) -> None:
    argv = _valid_inputs(tmp_path)["tal"]
    code, _, err = run_score(capsys, "--family", "tal", *argv, "--output", tmp_path)
    assert code == 2 and str(tmp_path) in err and "is a directory" in err


def test_empty_npy_files(capsys, tmp_path: Path) -> None:
    (tmp_path / "zero_bytes.npy").write_bytes(b"")
    np.save(tmp_path / "no_rows.npy", np.zeros((0, 5)))
    for name, message in (("zero_bytes.npy", "empty"), ("no_rows.npy", "empty")):
        code, _, err = run_score(capsys, "--family", "retrieval", "--predictions", tmp_path / name)
        assert code == 2 and str(tmp_path / name) in err and message in err


def test_npy_header_claiming_a_huge_matrix_is_refused_before_allocating(capsys, tmp_path: Path) -> None:
    path = tmp_path / "huge.npy"
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": "<f8", "fortran_order": False,
                                                      "shape": (200000, 200000)})
        handle.write(np.zeros(16).tobytes())
    code, _, err = run_score(capsys, "--family", "retrieval", "--predictions", path)
    assert code == 2 and str(path) in err and "200000 x 200000" in err and "298.0 GiB" in err


def test_truncated_npy_and_npz_are_refused(capsys, tmp_path: Path) -> None:
    np.save(tmp_path / "cut.npy", np.eye(50))
    (tmp_path / "cut.npy").write_bytes((tmp_path / "cut.npy").read_bytes()[:-8])
    np.savez(tmp_path / "archive.npz", sim=np.eye(3))
    for name in ("cut.npy", "archive.npz"):
        code, _, err = run_score(capsys, "--family", "retrieval", "--predictions", tmp_path / name)
        assert code == 2 and str(tmp_path / name) in err


HUGE = "1" + "0" * 400  # above 1e308: float() overflows


@pytest.mark.parametrize("family, field", [
    ("tal", "score"), ("tal", "segment"), ("moment-retrieval", "duration"), ("moment-retrieval", "window"),
    ("retrieval", "index"),
])
def test_integer_literals_beyond_float_range(capsys, tmp_path: Path, family: str, field: str) -> None:
    argv = _valid_inputs(tmp_path)[family]
    if family == "tal":
        target = argv[1]
        detection = ('{"label": "A", "score": ' + HUGE + ', "segment": [0, 10]}' if field == "score"
                     else '{"label": "A", "score": 1, "segment": [0, ' + HUGE + ']}')
        write(target, '{"results": {"v1": [' + detection + "]}}")
    elif family == "moment-retrieval" and field == "duration":
        target = argv[3]
        write(target, '{"qid": 1, "vid": "a", "duration": ' + HUGE + ', "relevant_windows": [[0, 10]]}\n')
    elif family == "moment-retrieval":
        target = argv[1]
        write(target, '{"qid": 1, "pred_relevant_windows": [[0, ' + HUGE + ', 1]]}\n')
    else:
        target = argv[3]
        write(target, "[0, 1, " + HUGE + "]")
    code, _, err = run_score(capsys, "--family", family, *argv)
    assert code == 2 and str(target) in err


def test_integer_literal_beyond_python_digit_limit(capsys, tmp_path: Path) -> None:
    argv = _valid_inputs(tmp_path)["tal"]
    write(argv[1], '{"results": {"v1": [{"label": "A", "score": ' + "9" * 5000 + ', "segment": [0, 10]}]}}')
    code, _, err = run_score(capsys, "--family", "tal", *argv)
    assert code == 2 and str(argv[1]) in err
