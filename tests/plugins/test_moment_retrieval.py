"""Moment-retrieval plugin: decoding and post-processing units, and the real CLI end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from tempvl_bench.cli.app import main
from tempvl_bench.metrics import moment_metrics_single
from tempvl_bench.metrics.names import MOMENT_SINGLE, QVHIGHLIGHTS
from tempvl_core.data import catalogue
from tempvl_core.data.records import MomentQuery
from tempvl_plugins.moment_retrieval.datasets import group_queries_by_video, require_ground_truth
from tempvl_core.model.moment_queries import query_moment_logits, video_frame_features
from tempvl_core.model.windows import estimate_duration, frame_bounds, frame_span, rank_windows_in_seconds
from tempvl_plugins.moment_retrieval.decoding import clip_saliency, select_windows
from tempvl_plugins.moment_retrieval.records import json_qid, write_moment_detr


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors on a shared 2-core machine run much faster on one intra-op thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# -- time grid -------------------------------------------------------------------------------

def test_bounds_at_fixed_rate_are_start_plus_one_step() -> None:
    # fps sampling at 1 fps: frame k covers [k, k + 1); the last one ends at the duration.
    bounds = frame_bounds(np.arange(5.0), duration=4.6)
    assert bounds.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 4.6]


def test_bounds_tile_the_video_for_uniform_sampling() -> None:
    duration = 24.0
    timestamps = (np.arange(8) + 0.5) * duration / 8  # middle of each of 8 segments
    bounds = frame_bounds(timestamps, duration)
    assert bounds[0] == 0.0 and bounds[-1] == duration
    assert np.all(np.diff(bounds) > 0)


def test_bounds_are_clipped_and_monotone() -> None:
    # Repeated frames (video shorter than the clip) and a decoded video longer than annotated.
    bounds = frame_bounds(np.array([0.0, 2.0, 2.0, 9.0, 12.0]), duration=10.0)
    assert bounds.tolist() == [0.0, 2.0, 2.0, 9.0, 10.0, 10.0]
    with pytest.raises(ValueError, match="duration"):
        frame_bounds(np.array([0.0, 1.0]), duration=0.0)


def test_estimate_duration_adds_one_step() -> None:
    assert estimate_duration(np.array([0.0, 0.5, 1.0, 1.5])) == pytest.approx(2.0)
    assert estimate_duration(np.array([3.0])) == pytest.approx(4.0)


@pytest.mark.parametrize("seed", range(5))
def test_frame_span_inverts_window_decoding(seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = int(rng.integers(2, 20))
    duration = float(rng.uniform(5, 100))
    timestamps = np.sort(rng.uniform(0, duration, t))
    timestamps[0] = min(timestamps[0], duration / (4 * t))
    bounds = frame_bounds(timestamps, duration)
    for s in range(t):
        for e in range(s, t):
            if bounds[s + 1] <= bounds[s] or bounds[e + 1] <= bounds[e]:
                continue  # an empty cell cannot be told apart from its neighbour
            assert frame_span((bounds[s], bounds[e + 1]), bounds) == (s, e)


def test_frame_span_of_windows_between_frames() -> None:
    bounds = frame_bounds(np.arange(10.0), 10.0)
    assert frame_span((2.5, 4.2), bounds) == (2, 4)  # cells holding 2.5 and the instant before 4.2
    assert frame_span((2.5, 2.7), bounds) == (2, 2)
    assert frame_span((0.0, 30.0), bounds) == (0, 9)  # clipped at the last frame


# -- ranking ---------------------------------------------------------------------------------

def test_rank_windows_orders_every_valid_window() -> None:
    g = torch.Generator().manual_seed(0)
    start, end = torch.randn(3, 6, generator=g), torch.randn(3, 6, generator=g)
    bounds = frame_bounds(np.arange(6.0), 6.0)
    ranked = rank_windows_in_seconds(start, end, bounds)
    for q, r in enumerate(ranked):
        assert r.windows.shape == (21, 3)  # 6 * 7 / 2 windows with s <= e
        assert np.all(np.diff(r.windows[:, 2]) <= 0)
        assert np.all(r.windows[:, 1] > r.windows[:, 0])
        best_s, best_e = int(r.windows[0, 0]), int(r.windows[0, 1]) - 1
        p_s, p_e = start[q].softmax(-1), end[q].softmax(-1)
        expected = max((float(p_s[s] * p_e[e]), s, e) for s in range(6) for e in range(s, 6))
        assert (best_s, best_e) == expected[1:]
        assert r.windows[0, 2] == pytest.approx(expected[0], rel=1e-5)
    short = rank_windows_in_seconds(start, end, bounds, max_window=2)[0]
    assert short.windows.shape == (11, 3) and np.all(short.windows[:, 1] - short.windows[:, 0] <= 2)


def test_single_protocol_selection_keeps_the_metrics() -> None:
    """Storing only the 2D-TAN NMS survivors scores exactly as the full ranking does."""
    g = torch.Generator().manual_seed(3)
    start, end = torch.randn(40, 12, generator=g) * 2, torch.randn(40, 12, generator=g) * 2
    bounds = frame_bounds((np.arange(12) + 0.5) * 2.5, 30.0)
    ranked = rank_windows_in_seconds(start, end, bounds)
    rng = np.random.default_rng(0)
    truth = {q: tuple(sorted(rng.uniform(0, 30, 2))) for q in range(40)}
    full = moment_metrics_single({q: r.windows for q, r in enumerate(ranked)}, truth)
    kept = {q: select_windows(r, 0.5, 5).windows for q, r in enumerate(ranked)}
    assert all(1 <= len(w) <= 5 for w in kept.values())
    assert moment_metrics_single(kept, truth) == full


def test_clip_saliency_reads_the_frame_at_each_clip_centre() -> None:
    bounds = frame_bounds(np.array([0.0, 3.0, 6.0]), 9.0)
    scores = clip_saliency(np.array([0.1, 0.2, 0.3]), bounds, 9.0)
    # clips [0,2) [2,4) [4,6) [6,8): centres 1, 3, 5, 7
    assert scores.tolist() == [0.1, 0.2, 0.2, 0.3]


# -- training targets -----------------------------------------------------------------------

def test_span_targets_use_the_decoded_timestamps() -> None:
    from tempvl_plugins.moment_retrieval.training import span_targets

    queries = [
        MomentQuery("a", "v1", "v1.mp4", "first", 8.0, ((2.0, 4.0),)),
        MomentQuery("b", "v2", "v2.mp4", "second", None, ((1.0, 1.5), (6.0, 8.0))),
        MomentQuery("c", "v1", "v1.mp4", "unlabelled", 8.0, ()),
    ]
    groups = group_queries_by_video(queries)
    batch = {  # v2 first in the batch, v1 second with one padded frame
        "index": torch.tensor([1, 0]),
        "frame_mask": torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]], dtype=torch.bool),
        "timestamps": torch.tensor([[0.0, 2.0, 4.0, 6.0], [0.0, 3.0, 6.0, 0.0]]),
    }
    targets = span_targets(batch, groups, queries, np.random.default_rng(0))
    assert targets.rows[0] == 0 and targets.texts[0] == "second"
    # v2 has no duration: estimated as 6 + 2 = 8 s; windows in cells [0,2) and [6,8).
    assert (targets.starts[0], targets.ends[0]) in {(0, 0), (3, 3)}
    assert targets.inside[0].tolist() == [True, False, False, True]
    # v1: cells [0,3) [3,6) [6,8); the window 2-4 s spans frames 0..1; the padding stays out.
    assert (targets.rows[1], targets.texts[1], targets.starts[1], targets.ends[1]) == (1, "first", 0, 1)
    assert targets.inside[1].tolist() == [True, True, False, False]
    assert len(targets.rows) == 2  # the unlabelled query trains nothing


# -- grouping and ids ------------------------------------------------------------------------

def _query(qid: str, vid: str) -> MomentQuery:
    return MomentQuery(qid, vid, f"{vid}.mp4", f"text {qid}", 10.0, ((1.0, 2.0),))


def test_group_by_video_keeps_first_appearance_order() -> None:
    queries = [_query("a", "v1"), _query("b", "v2"), _query("c", "v1"), _query("d", "v3"), _query("e", "v2")]
    groups = group_queries_by_video(queries)
    assert [(g.video_id, g.video_name, g.queries) for g in groups] == [
        ("v1", "v1.mp4", (0, 2)), ("v2", "v2.mp4", (1, 4)), ("v3", "v3.mp4", (3,))]


def test_json_qid_keeps_qvhighlights_integers() -> None:
    assert json_qid("10016") == 10016
    assert json_qid("test:12") == "test:12"
    assert json_qid("v_abc#0") == "v_abc#0"
    assert json_qid("007") == "007"  # not canonical: stays a string, so ids round-trip


# -- real annotation files -------------------------------------------------------------------

def test_real_qvhighlights_rows_reproduce_moment_detr_sample_metrics(realdata: Path, tmp_path: Path, capsys) -> None:
    """Real val ground truth through our adapter and prediction rows, scored with Moment-DETR's
    own sample predictions, gives its published numbers, in memory and through the files."""
    from tempvl_plugins.moment_retrieval.records import QueryPrediction, metrics_from_rows

    folder = realdata / "qvhighlights"
    queries = catalogue.load("qvhighlights", folder, "moments", "val").records
    preds = {r["qid"]: r for r in map(json.loads, (folder / "sample_val_preds.jsonl").read_text().splitlines())}
    rows = []
    for q in queries:
        pred = preds[json_qid(q.query_id)]
        rows.append(QueryPrediction(
            json_qid(q.query_id), q.video_id, q.query, float(q.duration), np.asarray(pred["pred_relevant_windows"]),
            list(q.windows), 0, np.asarray(pred["pred_saliency_scores"]), list(q.saliency_clip_ids),
            [list(x) for x in q.saliency_scores]).to_row())
    brief = json.loads((folder / "sample_val_preds_metrics_raw.json").read_text())["brief"]
    names = {"mr/R1@0.5": "MR-full-R1@0.5", "mr/R1@0.7": "MR-full-R1@0.7", "mr/mAP@avg": "MR-full-mAP",
             "mr/mAP@0.5": "MR-full-mAP@0.5", "mr/mAP-long": "MR-long-mAP", "mr/mAP-short": "MR-short-mAP",
             "hd/mAP": "HL-min-VeryGood-mAP", "hd/HIT@1": "HL-min-VeryGood-Hit1", "hd/mAP@Fair": "HL-min-Fair-mAP"}
    ours = metrics_from_rows(rows, "qvhighlights")
    for name, reference in names.items():
        assert ours[name] == pytest.approx(brief[reference], abs=0.005), name
    predictions, truth = write_moment_detr(rows, tmp_path)
    capsys.readouterr()
    assert main(["score", "--family", "moment-retrieval", "--predictions", str(predictions),
                 "--ground-truth", str(truth)]) == 0
    assert json.loads(capsys.readouterr().out) == ours
    # Our prediction file also scores against the official ground-truth file itself.
    assert main(["score", "--family", "moment-retrieval", "--predictions", str(predictions),
                 "--ground-truth", str(folder / "highlight_val_release.jsonl")]) == 0
    assert json.loads(capsys.readouterr().out) == ours


def test_real_charades_queries_group_by_video(realdata: Path) -> None:
    loaded = catalogue.load("charades-sta", realdata / "charades-sta", "moments", "test")
    queries, files = loaded.records, loaded.files
    groups = group_queries_by_video(queries)
    assert len(queries) == 3720 and all(f.is_file() for f in files)
    assert sorted(i for g in groups for i in g.queries) == list(range(len(queries)))
    assert len(groups) == len({q.video_id for q in queries}) < len(queries) / 2


def test_real_qvhighlights_test_file_without_labels_is_refused(realdata: Path) -> None:
    """The public test file has no ground truth: loading it for scoring names the file and says
    which split to evaluate; the val file passes."""
    unlabelled = catalogue.load("qvhighlights", realdata / "qvhighlights", "moments", "test")
    with pytest.raises(ValueError, match=r"highlight_test_release\.jsonl: 1542 queries have no relevant_windows"):
        require_ground_truth(unlabelled.records, unlabelled.files)
    labelled = catalogue.load("qvhighlights", realdata / "qvhighlights", "moments", "val")
    require_ground_truth(labelled.records, labelled.files)


# -- model path ------------------------------------------------------------------------------

class _TinyCNN(nn.Module):
    num_features = 16

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 16, 3, stride=4, padding=1), nn.GELU(),
                                 nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@pytest.fixture(scope="module")
def tiny_model():
    from tempvl_core.model import TemPVL, TemPVLConfig

    torch.manual_seed(0)
    config = TemPVLConfig.tiny(image_size=32, num_frames=6, video_dim=64, embed_dim=32, fusion_layers=1,
                               text_layers=1, max_text_len=16)
    return TemPVL(config, _TinyCNN()).eval()


def test_grouped_logits_equal_moment_logits(tiny_model) -> None:
    """One video pass shared by its queries gives the model's own per-pair logits."""
    g = torch.Generator().manual_seed(0)
    frames = torch.randn(2, 6, 3, 32, 32, generator=g)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]], dtype=torch.bool)
    rows = torch.tensor([0, 1, 0, 1])
    texts = ["a red circle blinks", "a blue square moves left", "the green cross shrinks", "a dog"]
    with torch.no_grad():
        feats, fmask = video_frame_features(tiny_model, frames, mask)
        start, end = query_moment_logits(tiny_model, feats, fmask, rows, texts, 16)
        ref_start, ref_end = tiny_model.moment_logits(texts, frames[rows], mask[rows])
    torch.testing.assert_close(start, ref_start, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(end, ref_end, rtol=1e-5, atol=1e-5)


def test_ranking_matches_localize(tiny_model) -> None:
    g = torch.Generator().manual_seed(1)
    frames = torch.randn(6, 3, 32, 32, generator=g)
    text = "the yellow square shrinks"
    expected = tiny_model.localize(text, frames, top_k=5)
    with torch.no_grad():
        feats, _ = video_frame_features(tiny_model, frames[None], None)
        start, end = query_moment_logits(tiny_model, feats, None, torch.tensor([0]), [text], 16)
    ranked = rank_windows_in_seconds(start, end, frame_bounds(np.arange(6.0), 6.0))[0]
    got = [(int(s), int(e) - 1) for s, e, _ in ranked.windows[:5]]
    assert got == [(s, e) for s, e, _ in expected]
    np.testing.assert_allclose(ranked.windows[:5, 2], [v for _, _, v in expected], rtol=1e-5)


# -- CLI end to end --------------------------------------------------------------------------

def _run(tmp_path: Path, task: str, *extra: str) -> dict:
    out = tmp_path / "results"
    code = main(["run", "--task", task, "--demo", "--output", str(out), "--no-progress", *extra])
    assert code == 0
    (results,) = sorted(out.glob(f"{task}/*/results.json"))
    return json.loads(results.read_text())


def _prediction_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _rescore(tmp_path: Path, run_dir: Path, protocol: str, capsys) -> dict:
    """Moment-DETR files derived from predictions.jsonl alone, scored by `tempvl-bench score`."""
    rows = _prediction_rows(run_dir / "predictions.jsonl")
    predictions, truth = write_moment_detr(rows, tmp_path / "rescore")
    capsys.readouterr()
    code = main(["score", "--family", "moment-retrieval", "--protocol", protocol, "--predictions", str(predictions),
                 "--ground-truth", str(truth)])
    assert code == 0
    return json.loads(capsys.readouterr().out)


def _demo_queries(task: str, split: str) -> list[MomentQuery]:
    from tempvl_core.data.demo import ensure_demo_dataset

    root = Path(ensure_demo_dataset(task, seed=0))
    return catalogue.load(task, root / task, "moments", split).records


def _run_dir(tmp_path: Path, task: str) -> Path:
    (path,) = sorted((tmp_path / "results").glob(f"{task}/*/results.json"))
    return path.parent


@pytest.mark.slow
def test_charades_finetune_end_to_end(tmp_path: Path, capsys) -> None:
    record = _run(tmp_path, "charades-sta", "--mode", "finetune", "--set", "finetune.epochs=1")
    assert record["family"] == "moment-retrieval" and record["split"] == "test"
    assert set(record["metrics"]) == set(MOMENT_SINGLE) and record["primary_metric"] == "mr/R1@0.5"
    run_dir = _run_dir(tmp_path, "charades-sta")
    rows = _prediction_rows(run_dir / "predictions.jsonl")
    assert record["num_samples"] == len(rows) == len(_demo_queries("charades-sta", "test"))  # none failed
    assert set(record["annotation_sha256"]) == {f"charades-sta/{name}_{split}.{ext}" for split in ("train", "test")
                                                for name, ext in (("charades_sta", "txt"), ("Charades_v1", "csv"))}
    for row in rows:
        windows = np.asarray(row["pred_relevant_windows"])
        assert 1 <= len(windows) <= 5 and np.all(windows[:, 0] >= 0)
        assert np.all(windows[:, 1] <= row["duration"]) and np.all(np.diff(windows[:, 2]) <= 0)
        assert len(row["relevant_windows"]) == 1 and row["num_frames"] == 16
    assert (run_dir / "finetune" / "model.safetensors").is_file()
    # The run also wrote Moment-DETR files; both those and ones derived from predictions.jsonl
    # re-score to exactly the reported numbers.
    assert _rescore(tmp_path, run_dir, "single", capsys) == record["metrics"]
    assert (run_dir / "moment_detr_predictions.jsonl").read_text() == \
        (tmp_path / "rescore" / "moment_detr_predictions.jsonl").read_text()


@pytest.mark.slow
def test_qvhighlights_zero_shot_with_highlights(tmp_path: Path, capsys) -> None:
    record = _run(tmp_path, "qvhighlights")
    run_dir = _run_dir(tmp_path, "qvhighlights")
    rows = _prediction_rows(run_dir / "predictions.jsonl")
    # Length buckets without any ground-truth window have no value and are left out.
    assert set(record["metrics"]) <= set(QVHIGHLIGHTS)
    assert set(QVHIGHLIGHTS) - set(record["metrics"]) <= {"mr/mAP-short", "mr/mAP-middle", "mr/mAP-long"}
    assert record["primary_metric"] in record["metrics"]
    assert record["num_samples"] == len(rows) == len(_demo_queries("qvhighlights", "val"))
    for row in rows:
        assert isinstance(row["qid"], int)  # QVHighlights ids stay integers
        assert len(row["pred_saliency_scores"]) == int(row["duration"] / 2)
        assert 1 <= len(row["pred_relevant_windows"]) <= 10
    rescored = _rescore(tmp_path, run_dir, "qvhighlights", capsys)
    assert {k: v for k, v in rescored.items() if v is not None} == record["metrics"]


@pytest.mark.slow
def test_anet_captions_decodes_each_video_once(tmp_path: Path, monkeypatch) -> None:
    import tempvl_core.data.pipeline as pipeline

    decoded: list[str] = []
    real_read = pipeline.read_frames

    def counting_read(path, **kwargs):
        decoded.append(Path(path).name)
        return real_read(path, **kwargs)

    monkeypatch.setattr(pipeline, "read_frames", counting_read)
    # In-process loading (no worker) so the counter sees every decode.
    record = _run(tmp_path, "anet-captions", "--limit", "7", "--set", "batch.num_workers=0")
    rows = _prediction_rows(_run_dir(tmp_path, "anet-captions") / "predictions.jsonl")
    expected = _demo_queries("anet-captions", "val_1")[:7]
    assert record["num_samples"] == len(rows) == 7 and record["split"] == "val_1"
    assert [r["qid"] for r in rows] == [q.query_id for q in expected]
    assert sorted(decoded) == sorted({q.video_name for q in expected})  # once per video, not per query
    assert len(decoded) < 7
    assert set(record["metrics"]) == set(MOMENT_SINGLE)


@pytest.mark.slow
def test_fps_sampling_maps_variable_frame_counts_to_seconds(tmp_path: Path) -> None:
    """0.5 fps over videos of different lengths: padded batches, windows on the 2-second grid."""
    _run(tmp_path, "charades-sta", "--limit", "12", "--set", "video.sampling=fps", "--set", "video.fps=0.5",
         "--set", "video.num_frames=32")
    rows = _prediction_rows(_run_dir(tmp_path, "charades-sta") / "predictions.jsonl")
    assert len({r["num_frames"] for r in rows}) > 1  # the batch really mixed lengths
    for row in rows:
        assert row["num_frames"] == math.ceil(row["duration"] * 0.5)
        windows = np.asarray(row["pred_relevant_windows"])[:, :2]
        on_grid = np.isclose(windows, 2 * np.round(windows / 2)) | np.isclose(windows, row["duration"])
        assert on_grid.all()


@pytest.mark.parametrize(("setting", "message"), [
    ("options.protocol=dense", "options.protocol"),
    ("options.max_windows_frames=4", "Did you mean 'max_window_frames'"),
    ("options.nms_threshold=1.5", "options.nms_threshold"),
])
def test_bad_options_are_config_errors(tmp_path: Path, capsys, setting: str, message: str) -> None:
    code = main(["run", "--task", "charades-sta", "--demo", "--output", str(tmp_path), "--no-progress",
                 "--limit", "2", "--set", setting])
    assert code == 2
    assert message in capsys.readouterr().err


def test_charades_zero_shot_reports_grounding_diagnostics(tmp_path: Path) -> None:
    """Single-moment runs report the right-event rate, the swapped-text score and the text-blind
    ceiling; the numbers recompute from predictions.jsonl alone. (The swapped-text window of a
    query is the top-1 of the other text on the same frames, i.e. that query's own prediction:
    test_grouped_logits_equal_moment_logits checks a query's logits do not depend on its batch.)"""
    from tempvl_bench.metrics.grounding import grounding_diagnostics

    record = _run(tmp_path, "charades-sta", "--limit", "24")
    rows = _prediction_rows(_run_dir(tmp_path, "charades-sta") / "predictions.jsonl")
    videos = [r["vid"] for r in rows]
    diagnostics = record["breakdowns"]["mr/grounding"]
    expected = grounding_diagnostics(
        np.array([r["pred_relevant_windows"][0][:2] for r in rows]),
        np.array([(max(0.0, r["relevant_windows"][0][0]), min(r["duration"], r["relevant_windows"][0][1]))
                  for r in rows]),
        videos, np.array([r["duration"] for r in rows]))
    assert diagnostics == pytest.approx(expected)
    assert diagnostics["queries swapped"] == sum(videos.count(v) > 1 for v in videos) > 0
    # The demo's events of one video are disjoint: a text-blind predictor matches one per video.
    assert diagnostics["text-blind ceiling R1@0.5"] == pytest.approx(100.0 * len(set(videos)) / len(rows))
