"""Bring your own model: tiny random transformers CLIP, X-CLIP and vision-text dual-encoder
folders, evaluated through the ``hf_models`` entry-point plugin on the demo data, checked against
transformers itself.

The models are random (small configs, saved with ``save_pretrained``), so the tests check the
plumbing and the numbers' provenance, not accuracy: every task runs and records the model's
identity, the adapter's similarities equal a direct transformers computation on the same decoded
frames, a task the model cannot run is refused before any video is read, and the feature cache
and ``--resume`` tell two models apart.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from tempvl_bench.cli.app import main
from tiny_clip import save_tiny_clip, save_tiny_dual_encoder, save_tiny_xclip

RETRIEVAL = ["didemo", "msrvtt", "msvd", "lsmdc", "activitynet-ret"]
FAST = ["--demo", "--limit", "4", "--no-progress"]


@pytest.fixture(scope="module")
def clip_dir(tiny_clip_dir) -> Path:
    return tiny_clip_dir


@pytest.fixture(scope="module")
def xclip_dir(tmp_path_factory) -> Path:
    return save_tiny_xclip(tmp_path_factory.mktemp("xclip"), num_frames=8)


@pytest.fixture(scope="module")
def dual_dir(tmp_path_factory) -> Path:
    return save_tiny_dual_encoder(tmp_path_factory.mktemp("dual"))


def _run(task: str, output: Path, *extra: str) -> dict:
    assert main(["run", "--task", task, "--output", str(output), *FAST, *extra]) == 0
    (results,) = sorted(output.glob(f"{task}/*/results.json"))
    return json.loads(results.read_text())


def _sha256(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def test_list_models_shows_the_plugin_models_and_their_capabilities(capsys):
    assert main(["list", "models"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[2:]}
    assert set(rows) >= {"tempvl", "hf-clip", "hf-xclip"}
    assert "frame-embeddings" in rows["hf-clip"] and "hf_models" in rows["hf-clip"]
    assert "generation" not in rows["hf-clip"] and "generation" in rows["tempvl"]


@pytest.mark.parametrize("task", [*RETRIEVAL, "msrvtt-mc", "charades-sta"])
def test_hf_clip_runs_zero_shot_and_records_its_identity(task, clip_dir, tmp_path):
    record = _run(task, tmp_path / "out", "--model", "hf-clip", "--set", f"model.path={clip_dir}")
    assert record["model"] == {
        "name": "hf-clip",
        "path": str(clip_dir.resolve()),
        "config_sha256": record["model"]["config_sha256"],
        "weights_sha256": _sha256(clip_dir / "model.safetensors"),
    }
    assert record["backbone"] == "hf-clip" and record["metrics"] and record["baselines"]
    assert all(np.isfinite(v) for v in record["metrics"].values())
    if task == "charades-sta":  # windows read off the similarity curve, beside the usual baselines
        assert {"best constant window", "prior-sampled windows"} <= set(record["baselines"])
        rows = [json.loads(line) for line in (next((tmp_path / "out" / task).iterdir()) / "predictions.jsonl")
                .read_text().splitlines()]
        assert all(len(row["pred_relevant_windows"]) >= 1 for row in rows)


def test_hf_xclip_runs_msrvtt(xclip_dir, tmp_path):
    record = _run("msrvtt", tmp_path / "out", "--model", "hf-xclip", "--set", f"model.path={xclip_dir}")
    assert record["model"]["name"] == "hf-xclip" and record["model"]["path"] == str(xclip_dir.resolve())
    assert record["num_samples"] == 4


def _spy_similarity(monkeypatch) -> list:
    """The retrieval family's similarity matrices, as the run computes them."""
    from tempvl_plugins.retrieval.task import RetrievalFamily

    seen, score = [], RetrievalFamily.score

    def spy(self, ctx, evaluation, ranking):
        seen.append(ranking)
        return score(self, ctx, evaluation, ranking)

    monkeypatch.setattr(RetrievalFamily, "score", spy)
    return seen


def _decoded(ranking, record_dir: Path) -> list[np.ndarray]:
    """The evaluated videos' frames, decoded as the harness samples them (8 uniform frames, own size)."""
    from tempvl_core.video import read_frames

    return [read_frames(record_dir / item.video_name, num_frames=8, sampling="uniform", size=None).frames
            for item in ranking.items]


def _run_and_decode(model: str, folder: Path, tmp_path: Path, monkeypatch):
    """The similarity of a run of ``model`` on 4 demo msrvtt videos, their frames decoded again
    as the harness samples them, and the processor of ``folder`` with its captions tokenized."""
    from tempvl_core.data.demo import ensure_demo_dataset

    seen = _spy_similarity(monkeypatch)
    _run("msrvtt", tmp_path / "out", "--model", model, "--set", f"model.path={folder}", "--no-cache")
    (ranking,) = seen
    frames = _decoded(ranking, Path(ensure_demo_dataset("msrvtt")) / "msrvtt" / "videos")
    return ranking, frames


def _tokens(processor, ranking) -> dict:
    tokens = processor(text=ranking.queries.texts, padding=True, truncation=True, max_length=32, return_tensors="pt")
    return {"input_ids": tokens["input_ids"], "attention_mask": tokens["attention_mask"]}


@pytest.mark.parametrize("kind", ["clip", "dual"])
def test_hf_clip_similarity_equals_transformers_on_the_same_frames(kind, clip_dir, dual_dir, tmp_path, monkeypatch):
    import torch
    from transformers import CLIPModel, CLIPProcessor, VisionTextDualEncoderModel, VisionTextDualEncoderProcessor

    folder, model_class, processor_class = {
        "clip": (clip_dir, CLIPModel, CLIPProcessor),
        "dual": (dual_dir, VisionTextDualEncoderModel, VisionTextDualEncoderProcessor),
    }[kind]
    ranking, decoded = _run_and_decode("hf-clip", folder, tmp_path, monkeypatch)
    model = model_class.from_pretrained(str(folder)).eval()
    processor = processor_class.from_pretrained(str(folder))
    videos = []
    with torch.no_grad():
        for frames in decoded:
            pixels = processor(images=list(frames), return_tensors="pt")["pixel_values"]
            per_frame = model.get_image_features(pixel_values=pixels).pooler_output
            per_frame = per_frame / per_frame.norm(dim=-1, keepdim=True)
            mean = per_frame.mean(0)
            videos.append(mean / mean.norm())
        texts = model.get_text_features(**_tokens(processor, ranking)).pooler_output
        texts = texts / texts.norm(dim=-1, keepdim=True)
    expected = (texts @ torch.stack(videos).T).numpy()
    assert ranking.similarity.shape == expected.shape == (4, 4)
    np.testing.assert_allclose(ranking.similarity, expected, atol=1e-5, rtol=0)


def test_hf_clip_runs_a_dual_encoder_and_finetunes_only_the_top_text_layers(dual_dir, tmp_path):
    from safetensors.torch import load_file

    record = _run("msrvtt", tmp_path / "out", "--model", "hf-clip", "--set", f"model.path={dual_dir}",
                  "--mode", "finetune", "--set", "finetune.epochs=1", "--set", "finetune.train_text_layers=1",
                  "--set", "batch.train=4", "--no-cache")
    assert record["model"]["path"] == str(dual_dir.resolve())
    assert record["model"]["weights_sha256"] == _sha256(dual_dir / "model.safetensors")
    assert record["mode"] == "finetune" and all(np.isfinite(v) for v in record["metrics"].values())
    before = load_file(str(dual_dir / "model.safetensors"))
    (state,) = (tmp_path / "out").glob("msrvtt/*/finetune/model.safetensors")
    after = {k.removeprefix("clip."): v for k, v in load_file(str(state)).items() if k.startswith("clip.")}
    assert set(after) == set(before)
    changed = {k for k in before if not np.array_equal(before[k].numpy(), after[k].numpy())}
    assert "text_model.encoder.layer.1.output.dense.weight" in changed  # the top text layer trains
    assert "visual_projection.weight" in changed and "logit_scale" in changed
    assert not any(k.startswith(("text_model.embeddings.", "text_model.encoder.layer.0.")) for k in changed)


def test_hf_clip_refuses_a_folder_of_another_model_type_naming_the_file(clip_dir, tmp_path, capsys):
    import shutil

    folder = tmp_path / "bert"
    shutil.copytree(clip_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "bert"}))
    code = main(["run", "--task", "msrvtt", "--model", "hf-clip", "--set", f"model.path={folder}", *FAST,
                 "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and str(folder / "config.json") in err and "'bert'" in err and "vision-text-dual-encoder" in err
    assert "Traceback" not in err


def test_hf_xclip_similarity_equals_its_forward_logits(xclip_dir, tmp_path, monkeypatch):
    import torch
    from transformers import XCLIPModel, XCLIPProcessor

    ranking, decoded = _run_and_decode("hf-xclip", xclip_dir, tmp_path, monkeypatch)
    model = XCLIPModel.from_pretrained(str(xclip_dir)).eval()
    processor = XCLIPProcessor.from_pretrained(str(xclip_dir))
    with torch.no_grad():
        pixels = torch.stack([processor(videos=list(f), return_tensors="pt")["pixel_values"].reshape(8, 3, 32, 32)
                              for f in decoded])
        out = model(**_tokens(processor, ranking), pixel_values=pixels)
    expected = (out.logits_per_text / model.logit_scale.exp()).detach().numpy()
    assert ranking.similarity.shape == expected.shape == (4, 4)
    np.testing.assert_allclose(ranking.similarity, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("task, extra, missing", [
    ("msrvtt-cap", [], "generation"),
    ("msrvtt-qa", [], "generation"),
    ("msrvtt-mc", ["--set", "options.mc_scorer=fused"], "matching"),
    ("charades-sta", ["--mode", "finetune"], "grounding"),
    ("thumos14", [], "tempvl-interface"),
])
def test_a_task_the_model_cannot_run_is_refused_before_any_video_is_read(task, extra, missing, clip_dir, tmp_path,
                                                                          monkeypatch, capsys):
    import tempvl_core.video.reader as reader

    def no_reading(*args, **kwargs):
        raise AssertionError("a video was read")

    monkeypatch.setattr(reader, "read_indices", no_reading)
    empty = tmp_path / "no-data"  # the data root is looked at after the check: it must not get that far
    empty.mkdir()
    code = main(["run", "--task", task, "--model", "hf-clip", "--set", f"model.path={clip_dir}", "--data-root",
                 str(empty), "--output", str(tmp_path / "out"), *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "model 'hf-clip' cannot run task" in err and repr(task) in err and missing in err
    assert not (tmp_path / "out").exists()


def test_a_missing_model_folder_is_a_user_error_naming_the_key(tmp_path, capsys):
    code = main(["run", "--task", "msrvtt", "--model", "hf-clip", "--set", f"model.path={tmp_path / 'nope'}",
                 *FAST, "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "model.path" in err and "nope" in err and "Traceback" not in err


def test_feature_cache_and_resume_key_on_the_model(clip_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TEMPVL_FEATURE_CACHE", str(tmp_path / "cache"))
    other = save_tiny_clip(tmp_path / "other", seed=1)

    def run(folder: Path, *extra: str) -> tuple[dict | None, str]:
        """The run's results.json (None when it wrote none: --resume of a complete run) and log line.
        The new file is told by the folder listing, not by run-id order: two runs started within
        one second sort by their random suffix."""
        before = set((tmp_path / "out").glob("msrvtt/*/results.json"))
        assert main(["run", "--task", "msrvtt", "--model", "hf-clip", "--set", f"model.path={folder}", *FAST,
                     "--output", str(tmp_path / "out"), *extra]) == 0
        out = capsys.readouterr().out
        line = next((line for line in out.splitlines() if "feature cache:" in line or "already complete" in line))
        new = set((tmp_path / "out").glob("msrvtt/*/results.json")) - before
        assert len(new) <= 1
        return (json.loads(new.pop().read_text()) if new else None), line

    first, line = run(clip_dir)
    assert re.search(r"0 of 4 videos hit, 4 encoded", line)
    second, line = run(clip_dir)
    assert re.search(r"4 of 4 videos hit, 0 encoded", line) and second["metrics"] == first["metrics"]
    third, line = run(other)  # other weights: other features
    assert re.search(r"0 of 4 videos hit, 4 encoded", line)
    assert third["model"]["weights_sha256"] != first["model"]["weights_sha256"]
    _, line = run(clip_dir, "--resume")
    assert "already complete" in line
    runs = sorted((tmp_path / "out" / "msrvtt").iterdir())
    (tmp_path / "other" / "model.safetensors").write_bytes((clip_dir / "model.safetensors").read_bytes())
    _, line = run(other, "--resume")  # same config, the first model's weights now: a run of its own
    assert "feature cache" in line and len(list((tmp_path / "out" / "msrvtt").iterdir())) == len(runs) + 1


def test_tempvl_records_its_identity_too(tmp_path):
    record = _run("msrvtt", tmp_path / "out", "--limit", "2")
    assert record["model"]["name"] == "tempvl" and record["model"]["weights_sha256"] is None
    assert record["model"]["path"] is None and len(record["model"]["config_sha256"]) == 64


def test_the_clip_anchor_pins_its_protocol_and_runs_on_demo_data(clip_dir, tmp_path):
    anchor = Path(__file__).resolve().parents[2] / "configs" / "anchors" / "clip-vit-b16-msrvtt-zeroshot.yaml"
    text = anchor.read_text(encoding="utf-8")
    assert "34.5" in text and "m-bain/clip-hitchhiker" in text and "UNVERIFIED" in text
    assert main(["run", "--task", str(anchor), "--set", f"model.path={clip_dir}", "--output", str(tmp_path),
                 *FAST]) == 0
    (results,) = tmp_path.glob("clip-vit-b16-msrvtt-zeroshot/*/results.json")
    record = json.loads(results.read_text())
    assert record["model"]["name"] == "hf-clip" and record["task"] == "clip-vit-b16-msrvtt-zeroshot"
    config = record["config"]
    assert (config["model"]["name"], config["video"]["num_frames"], config["video"]["sampling"]) == \
        ("hf-clip", 16, "uniform")
    assert (config["splits"]["eval"], config["options"]["protocol"], config["primary_metric"]) == \
        ("test", "square", "t2v/R@1")


def test_windows_read_off_the_similarity_curve_find_the_bump():
    import torch

    from tempvl_core.model.windows import curve_window_scores, rank_scored_windows

    curve = torch.tensor([[0.1, 0.1, 0.2, 0.9, 0.8, 0.9, 0.1, 0.0]])
    scores = curve_window_scores(curve, max_window=6)
    assert scores.shape == (1, 8, 8) and float(scores[0, 5, 3]) == -1.0  # s > e is invalid
    assert float(scores[0, 0, 7]) == -1.0  # longer than max_window
    bounds = np.arange(9, dtype=np.float64)  # frame k covers [k, k + 1) seconds
    best = rank_scored_windows(scores, bounds)[0].windows[0]
    assert tuple(best[:2]) == (3.0, 6.0) and best[2] == float(scores.max())
    flat = curve_window_scores(torch.zeros(1, 8))
    assert float(flat.max()) == 0.0 and int((flat >= 0).sum()) == 36  # all 36 windows tie at 0


def test_hf_xclip_refuses_another_frame_count_naming_the_key(xclip_dir, tmp_path, capsys):
    code = main(["run", "--task", "msrvtt", "--model", "hf-xclip", "--set", f"model.path={xclip_dir}",
                 "--set", "video.num_frames=4", *FAST, "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "video.num_frames" in err and "takes 8 frames" in err and "Traceback" not in err
