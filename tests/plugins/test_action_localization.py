"""Action localization plugin: decoding, targets, head, options, and the real CLI on demo data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tempvl_bench.cli.app import main
from tempvl_bench.metrics import tal_metrics
from tempvl_core.data import catalogue
from tempvl_plugins.action_localization.datasets import ADAPTERS, camel_to_words
from tempvl_plugins.action_localization.decode import (
    DecodeConfig,
    FrameScores,
    decode,
    nms,
    runs,
    video_class_shares,
)
from tempvl_plugins.action_localization.head import (
    HeadConfig,
    LocalizationHead,
    frame_targets,
    head_loss,
    load_head,
    save_head,
)
from tempvl_plugins.action_localization.options import LocalizationOptions
from tempvl_plugins.action_localization.submission import (
    detection_rows,
    ground_truth_table,
    prediction_table,
    write_ground_truth,
)
from tempvl_tasks import __file__ as _tasks_init

TASKS_DIR = Path(_tasks_init).parent


@pytest.fixture(autouse=True)
def _one_torch_thread():
    # These models are tiny: with several processes sharing 2 cores, a second intra-op thread
    # only adds spin-waiting (a 60-step toy training went from 0.1 s to 6 s).
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# ----------------------------------------------------------------------------- decoding

def test_runs_finds_maximal_true_stretches():
    assert runs(np.array([0, 1, 1, 0, 1, 0, 0, 1], dtype=bool)) == [(1, 2), (4, 4), (7, 7)]
    assert runs(np.zeros(4, dtype=bool)) == []
    assert runs(np.ones(3, dtype=bool)) == [(0, 2)]


def _plateau_scores(n=40, fps=2.0, spans=((1, 10, 19),), num_classes=3, low=0.02, high=0.9):
    times = np.arange(n) / fps
    classes = np.full((n, num_classes), low)
    for c, a, b in spans:
        classes[a : b + 1, c] = high
    return FrameScores(times=times, classes=classes, duration=n / fps)


def test_decode_returns_the_plateau_as_the_best_segment():
    scores = _plateau_scores()
    dets = decode(scores, DecodeConfig(nms="hard"))
    best = dets[0]
    assert best.label == 1
    # Frames 10..19 at 2 fps cover [5.0, 10.0).
    assert best.start == pytest.approx(5.0) and best.end == pytest.approx(10.0)
    assert best.score == pytest.approx(0.9)
    assert all(d.score <= best.score for d in dets)


def test_decode_clips_segments_to_the_video_and_respects_top_k():
    scores = _plateau_scores(spans=((0, 30, 39), (2, 0, 3)))
    dets = decode(scores, DecodeConfig(top_k=3))
    assert len(dets) <= 3
    assert all(0.0 <= d.start < d.end <= scores.duration for d in dets)
    assert {d.label for d in dets[:2]} == {0, 2}


def test_boundary_probabilities_choose_between_candidate_runs():
    # Class scores ramp up and down, so the thresholds give nested runs. Alone, the plateau
    # (frames 12-17) has the best mean; boundary probabilities peaking at frames 9 and 20 must
    # make the run 10-19 win (a boundary one frame off the run's edge counts).
    n = 30
    times = np.arange(n) / 1.0
    column = np.interp(np.arange(n), [0, 8, 12, 17, 21, 29], [0.0, 0.2, 0.8, 0.8, 0.2, 0.0])
    start = np.full(n, 0.01)
    end = np.full(n, 0.01)
    start[9], end[20] = 0.95, 0.95
    scores = FrameScores(times, column[:, None], float(n), start, end)
    best = decode(scores, DecodeConfig(nms="none"))[0]
    assert (best.start, best.end) == (10.0, 20.0)
    no_boundaries = decode(FrameScores(times, column[:, None], float(n)), DecodeConfig(nms="none"))[0]
    assert (no_boundaries.start, no_boundaries.end) == (12.0, 18.0)


def test_hard_nms_drops_overlaps_and_soft_nms_decays_them():
    starts, ends, scores = np.array([0.0, 1.0, 20.0]), np.array([10.0, 10.0, 30.0]), np.array([0.9, 0.8, 0.5])
    kept, kept_scores = nms(starts, ends, scores, DecodeConfig(nms="hard", nms_iou=0.5))
    assert kept.tolist() == [0, 2] and kept_scores.tolist() == [0.9, 0.5]
    kept, kept_scores = nms(starts, ends, scores, DecodeConfig(nms="soft", nms_sigma=0.5))
    assert kept.tolist() == [0, 2, 1]
    assert kept_scores[2] == pytest.approx(0.8 * np.exp(-(0.9**2) / 0.5))
    assert kept_scores[1] == pytest.approx(0.5)  # no overlap: unchanged


def test_actionness_proposals_take_the_segment_from_all_classes_and_the_label_from_the_video():
    # One activity on frames 10-19, but the head is confused frame by frame: class 1 on the
    # first half, class 0 on the second. Per class, each half is a separate (wrong-length)
    # segment; class-agnostic runs find the whole span, labelled with the video's best class.
    n = 40
    times = np.arange(n) / 2.0
    classes = np.full((n, 3), 0.02)
    classes[10:15, 1], classes[15:20, 0] = 0.8, 0.8
    classes[15:20, 1] = 0.5  # class 1 holds on into the second half: the video's best class
    scores = FrameScores(times, classes, n / 2.0)
    per_class = decode(scores, DecodeConfig(nms="hard", max_classes=1))
    assert (per_class[0].start, per_class[0].end) != (5.0, 10.0)
    fused = decode(scores, DecodeConfig(nms="hard", max_classes=1, proposals="actionness"))
    best = fused[0]
    assert best.label == 1 and (best.start, best.end) == (5.0, 10.0)
    assert {d.label for d in fused} == {1}
    # The score is the proposal's mean actionness times the class's share of the video.
    shares = video_class_shares(classes)
    assert shares.sum() == pytest.approx(1.0) and int(np.argmax(shares)) == 1
    assert best.score == pytest.approx(0.8 * shares[1])
    two = decode(scores, DecodeConfig(nms="hard", max_classes=2, proposals="actionness"))
    assert {d.label for d in two} == {0, 1}
    assert all(d.score <= best.score for d in two)


def test_video_class_shares_of_an_empty_video_are_uniform():
    assert video_class_shares(np.zeros((5, 4))).tolist() == [0.25] * 4


def test_decode_config_errors_name_the_key():
    with pytest.raises(ValueError, match=r"options.decode.*unknown key.*'nms_thresh'"):
        DecodeConfig.from_options({"nms_thresh": 0.5})
    with pytest.raises(ValueError, match="decode.nms"):
        DecodeConfig.from_options({"nms": "fast"})
    with pytest.raises(ValueError, match="decode.proposals"):
        DecodeConfig.from_options({"proposals": "class-agnostic"})
    assert DecodeConfig.from_options({"thresholds": [0.5]}).thresholds == (0.5,)


def test_targets_decode_back_to_the_ground_truth_with_full_map():
    """Frame targets used as scores must decode to the annotated segments (mAP 100)."""
    fps, n = 2.0, 120
    times = np.arange(n) / fps
    truth = [(0, 5.0, 12.0), (1, 20.5, 31.0), (0, 40.0, 52.5)]
    targets = frame_targets(times, 1 / fps, truth, num_classes=2)
    scores = FrameScores(times, targets.classes.astype(np.float64), n / fps, targets.start, targets.end)
    classes = ["Jump", "Run"]
    rows = detection_rows(decode(scores, DecodeConfig()), classes)
    gt = ground_truth_table([_video("v1", [(classes[c], s, e) for c, s, e in truth])])
    metrics = tal_metrics(gt, prediction_table({"v1": rows}), protocol="thumos14")
    assert metrics["tal/mAP@avg"] == pytest.approx(100.0)


def test_frame_targets_mark_frames_and_boundaries():
    times = np.arange(10) / 1.0
    t = frame_targets(times, 1.0, [(1, 2.0, 5.0)], num_classes=2)
    assert t.classes[:, 1].tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 0, 0]  # centres 2.5, 3.5, 4.5
    assert t.classes[:, 0].sum() == 0
    assert int(np.argmax(t.start)) == 2 and int(np.argmax(t.end)) == 4  # frame 4 ends at 5.0


# ----------------------------------------------------------------------------- head

def test_head_ignores_padding_and_round_trips_through_safetensors(tmp_path):
    torch.manual_seed(0)
    head = LocalizationHead(HeadConfig(in_dim=16, classes=("a", "b", "c"), hidden=8)).eval()
    feats = torch.randn(1, 12, 16)
    padded = torch.cat([feats, torch.randn(1, 5, 16) * 100], dim=1)
    mask = torch.tensor([[True] * 12 + [False] * 5])
    with torch.no_grad():
        alone, with_pad = head(feats), head(padded, mask)
    assert torch.allclose(alone.classes, with_pad.classes[:, :12], atol=1e-5)
    assert torch.allclose(alone.start, with_pad.start[:, :12], atol=1e-5)
    save_head(head, tmp_path)
    again = load_head(tmp_path).eval()
    assert again.config == head.config
    with torch.no_grad():
        assert torch.equal(again(feats).classes, alone.classes)


def test_head_loss_decreases_on_a_learnable_signal():
    torch.manual_seed(0)
    times = np.arange(20) / 1.0
    t = frame_targets(times, 1.0, [(0, 4.0, 9.0)], num_classes=2)
    feats = torch.zeros(1, 20, 4)
    feats[0, 4:9, 0] = 1.0  # the action is visible in feature 0
    targets = {k: torch.from_numpy(getattr(t, k))[None] for k in ("classes", "start", "end")}
    mask = torch.ones(1, 20, dtype=torch.bool)
    head = LocalizationHead(HeadConfig(in_dim=4, classes=("x", "y"), hidden=16, dropout=0.0))
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    first = None
    for _ in range(60):
        loss = head_loss(head(feats, mask), targets, mask)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


# ----------------------------------------------------------------------------- options, datasets

def test_camel_case_class_names_become_prompt_words():
    assert camel_to_words("CricketBowling") == "cricket bowling"
    assert camel_to_words("MoveLeft") == "move left"
    assert camel_to_words("Discus throw") == "discus throw"
    assert ADAPTERS["thumos14"].prompt_words("HighJump") == "high jump"


class _Config:
    def __init__(self, options):
        self.options = options
        self.source = "tasks/x.yaml"


def test_options_are_validated_with_the_file_and_key():
    with pytest.raises(ValueError, match=r"tasks/x.yaml: key 'options.protocol'"):
        LocalizationOptions.from_config(_Config({"protocol": "thumos"}))
    with pytest.raises(ValueError, match=r"options.prompt_template"):
        LocalizationOptions.from_config(_Config({"protocol": "thumos14", "prompt_template": "no slot"}))
    with pytest.raises(ValueError, match=r"options.head"):
        LocalizationOptions.from_config(_Config({"protocol": "thumos14", "head": {"width": 3}}))
    parsed = LocalizationOptions.from_config(_Config({"protocol": "activitynet", "decode": {"top_k": 5}}))
    assert parsed.decode.top_k == 5 and not parsed.train_video_encoder


def test_task_files_list_the_protocol_metrics():
    from tempvl_bench.config import load_task_config
    from tempvl_bench.metrics import TAL_PROTOCOLS, format_threshold

    for name in ("thumos14", "activitynet-tal"):
        for demo in (False, True):
            cfg = load_task_config(TASKS_DIR / f"{name}.yaml", demo=demo)
            options = LocalizationOptions.from_config(cfg)
            expected = [f"tal/mAP@{format_threshold(t)}" for t in TAL_PROTOCOLS[options.protocol]] + ["tal/mAP@avg"]
            assert cfg.metrics == expected and cfg.primary_metric == "tal/mAP@avg"
            assert cfg.video.sampling == "fps" and cfg.groups == ["action-localization"]


def _video(video_id, spans, subset="test", duration=60.0):
    from tempvl_core.data.records import ActionInstance, ActionVideo

    return ActionVideo(video_id, f"{video_id}.mp4", duration, subset,
                       tuple(ActionInstance(label, s, e) for label, s, e in spans))


def test_real_thumos14_ground_truth_round_trips_through_the_score_reader(realdata, tmp_path):
    from tempvl_bench.metrics.files import load_tal_ground_truth

    loaded = catalogue.load("thumos14", realdata / "thumos14" / "actionformer", "action", "test")
    videos, files = loaded.records, loaded.files
    assert len(videos) == 212 and sum(len(v.instances) for v in videos) == 3358
    write_ground_truth(tmp_path / "gt.json", videos)
    ours, read = ground_truth_table(videos), load_tal_ground_truth(tmp_path / "gt.json", "test")
    assert list(read.video_ids) == list(ours.video_ids) and list(read.labels) == list(ours.labels)
    assert np.array_equal(read.starts, ours.starts) and np.array_equal(read.ends, ours.ends)


def test_real_activitynet_bsn_files_are_read_when_the_official_json_is_absent(realdata):
    loaded = catalogue.load("activitynet", realdata / "activitynet-v1.3" / "bsn", "action", "validation")
    videos, files = loaded.records, loaded.files
    assert [f.name for f in files] == ["anet_anno_action.json", "video_info_new.csv"]
    assert len(videos) == 4728 and len({i.label for v in videos for i in v.instances}) == 200
    assert all(v.video_name == f"v_{v.video_id}.mp4" for v in videos)


# ----------------------------------------------------------------------------- CLI on demo data

def _run(tmp_path, task, *extra):
    code = main(["run", "--task", task, "--demo", "--output", str(tmp_path), "--no-progress", *extra])
    assert code == 0
    (results,) = sorted(tmp_path.glob(f"{task}/*/results.json"))
    return results.parent, json.loads(results.read_text())


def _rescore(run_dir, protocol, subset, capsys):
    out = run_dir / "rescored.json"
    code = main(["score", "--family", "tal", "--predictions", str(run_dir / "submission.json"),
                 "--ground-truth", str(run_dir / "ground_truth.json"), "--protocol", protocol,
                 "--subset", subset, "--output", str(out)])
    capsys.readouterr()
    assert code == 0
    return json.loads(out.read_text())


@pytest.mark.slow
def test_thumos14_demo_zero_shot_is_rescorable_and_finetuning_beats_it(tmp_path, capsys):
    run_dir, results = _run(tmp_path, "thumos14")
    assert results["task"] == "thumos14" and results["family"] == "tal" and results["split"] == "test"
    assert set(results["metrics"]) == set(results["config"]["metrics"])
    assert all(0.0 <= v <= 100.0 for v in results["metrics"].values())
    rows = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()]
    assert results["num_samples"] == len(rows) == 63  # the ambiguous-only test video is not evaluated
    assert all(r["detections"] for r in rows)
    assert all(d["segment"][0] < d["segment"][1] for r in rows for d in r["detections"])
    assert _rescore(run_dir, "thumos14", "test", capsys) == pytest.approx(results["metrics"], abs=1e-9)
    # The demo data is learnable: the trained head (demo epochs, frozen features) must beat the
    # text-prompted baseline of an untrained model by a clear margin.
    _, finetuned = _run(tmp_path / "ft", "thumos14", "--mode", "finetune")
    assert finetuned["metrics"]["tal/mAP@avg"] > results["metrics"]["tal/mAP@avg"] + 1.0


@pytest.mark.slow
def test_activitynet_finetune_demo_saves_the_head_and_resumes(tmp_path, capsys):
    args = ("--mode", "finetune", "--set", "finetune.epochs=2")
    run_dir, results = _run(tmp_path, "activitynet-tal", *args)
    assert results["split"] == "validation" and results["num_samples"] == 64
    assert set(results["metrics"]) == set(results["config"]["metrics"])
    assert (run_dir / "head.safetensors").is_file() and (run_dir / "finetune" / "state.pt").is_file()
    head = load_head(run_dir)
    assert head.config.in_dim > 0 and len(head.config.classes) >= 2
    assert _rescore(run_dir, "activitynet", "validation", capsys) == pytest.approx(results["metrics"], abs=1e-9)
    # A crash after training: --resume restores the trained head from the finetune state and
    # must reproduce the same detections.
    submission = (run_dir / "submission.json").read_text()
    (run_dir / "results.json").unlink()
    resumed_dir, resumed = _run(tmp_path, "activitynet-tal", *args, "--resume")
    assert resumed_dir == run_dir
    assert resumed["metrics"] == results["metrics"]
    assert (run_dir / "submission.json").read_text() == submission


@pytest.mark.slow
def test_end_to_end_finetune_trains_and_checkpoints_the_video_encoder_with_the_head(tmp_path):
    from safetensors import safe_open

    # 16 frames per video (fps sampling thinned evenly) keeps the backbone's backward pass cheap.
    run_dir, results = _run(tmp_path, "thumos14", "--mode", "finetune", "--limit", "2", "--set", "finetune.epochs=1",
                            "--set", "options.train_video_encoder=true", "--set", "video.num_frames=16")
    assert results["num_samples"] == 2 and set(results["metrics"]) == set(results["config"]["metrics"])
    with safe_open(str(run_dir / "finetune" / "model.safetensors"), "pt") as f:
        keys = list(f.keys())
    assert any(k.startswith("model.video_encoder.") for k in keys) and any(k.startswith("head.") for k in keys)
    assert (run_dir / "head.safetensors").is_file()


def test_a_split_without_labels_is_refused_before_any_decoding(tmp_path, capsys):
    code = main(["run", "--task", "activitynet-tal", "--demo", "--output", str(tmp_path), "--no-progress",
                 "--set", "splits.eval=testing"])
    assert code != 0
    assert "no ground-truth segments" in capsys.readouterr().err


@pytest.mark.parametrize("writer", ["submission", "ground_truth"])
def test_the_submission_files_are_replaced_atomically(tmp_path, monkeypatch, writer):
    """A write that fails before it is complete (here the disk fills at the final flush) leaves
    the previous file byte for byte, and no temporary file beside it."""
    import os

    from tempvl_plugins.action_localization.submission import write_submission

    path = tmp_path / f"{writer}.json"

    def write(name):
        if writer == "submission":
            write_submission(path, {name: [{"label": "Jump", "score": 0.5, "segment": [1.0, 2.0]}]})
        else:
            write_ground_truth(path, [_video(name, [("Jump", 1.0, 2.0)])])

    write("v_old")
    before = path.read_bytes()

    def disk_full(fd):
        raise OSError(28, os.strerror(28))

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match=os.strerror(28)):
        write("v_new")
    assert path.read_bytes() == before and b"v_old" in before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    monkeypatch.undo()
    write("v_new")  # and the same write succeeds once the disk has room
    assert b"v_new" in path.read_bytes()
