"""Demo MSR-VTT: retrieval CSVs, ``MSRVTT_data.json``, MSRVTT-QA and multiple choice.

Videos ``video0 .. video<N-1>``: the first ``counts.train`` form the 9k training list (its
``train``/``validate`` part is the 7k list), the last ``counts.test`` form the JSFusion test CSV
(one caption per video, row order = video order). ``split`` in ``MSRVTT_data.json`` follows the
official scheme: train / validate / test. QA files follow that split; multiple choice uses the
JSFusion test videos.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from pathlib import Path

from tempvl_core.data.demo.common import VideoJob, render_all, write_json, youtube_id
from tempvl_core.data.demo.qa import scene_questions
from tempvl_core.data.demo.renderer import Scene
from tempvl_core.data.demo.scenes import RenderSettings, clip_caption, clip_captions, clip_scene

#: MSRVTT-QA question categories (what/who/how/when/where) for the demo question kinds.
QA_CATEGORY = {"colour": 0, "shape": 0, "action": 0, "count": 2, "direction": 4}


@dataclass(frozen=True)
class MsrvttCounts:
    """Videos in the 9k training list and in the JSFusion test set (real: 9000 / 1000)."""

    train: int = 96
    test: int = 300
    captions_per_video: int = 5  # real: 20


def _csv_text(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def generate_msrvtt(
    out_dir: Path,
    seed: int = 0,
    *,
    counts: MsrvttCounts = MsrvttCounts(),
    render: RenderSettings = RenderSettings(),
) -> None:
    """Write the demo MSR-VTT dataset into ``out_dir`` (the ``msrvtt/`` folder of a data root)."""
    rng = random.Random(f"msrvtt-{seed}")
    n = counts.train + counts.test
    n_train = max(1, round(counts.train * 0.7))
    n_val = max(1, round(counts.train * 0.08))
    splits = ["train"] * n_train + ["validate"] * n_val + ["test"] * (n - n_train - n_val)
    scenes = [clip_scene(rng, render) for _ in range(n)]
    videos, sentences, jobs = [], [], []
    for i, (scene, split) in enumerate(zip(scenes, splits)):
        start = round(rng.uniform(0, 300), 2)
        videos.append(
            {
                "category": rng.randint(0, 19),
                "url": f"https://www.youtube.com/watch?v={youtube_id(rng)}",
                "video_id": f"video{i}",
                "start time": start,
                "end time": round(start + scene.duration_s, 2),
                "split": split,
                "id": i,
            }
        )
        for caption in clip_captions(rng, scene, counts.captions_per_video):
            sentences.append({"caption": caption, "video_id": f"video{i}"})
        jobs.append(VideoJob(scene, out_dir / "videos" / f"video{i}.mp4"))
    rng.shuffle(sentences)  # the public file is not grouped by video
    sentences = [{**s, "sen_id": k} for k, s in enumerate(sentences)]
    info = {"contributor": "tempvl-bench demo", "data_created": "2026-01-01 00:00:00",
            "version": "1.0", "description": "Procedural demo data in the MSR-VTT format.",
            "year": "2026"}  # fmt: skip
    write_json(out_dir / "MSRVTT_data.json", {"info": info, "videos": videos, "sentences": sentences})
    train9k = [f"video{i}" for i in range(counts.train)]
    seven_k = [v for v, s in zip(train9k, splits) if s != "test"]
    (out_dir / "MSRVTT_train.9k.csv").write_text(_csv_text([["video_id"]] + [[v] for v in train9k]))
    (out_dir / "MSRVTT_train.7k.csv").write_text(_csv_text([["video_id"]] + [[v] for v in seven_k]))
    test_ids = range(counts.train, n)
    rows = [["key", "vid_key", "video_id", "sentence"]]
    rows += [[f"ret{k}", f"msr{i}", f"video{i}", clip_caption(scenes[i])] for k, i in enumerate(test_ids)]
    (out_dir / "MSRVTT_JSFUSION_test.csv").write_text(_csv_text(rows))
    _write_qa(out_dir, rng, scenes, splits)
    _write_multiple_choice(out_dir, rng, scenes, list(test_ids))
    render_all(jobs, desc="demo msrvtt")


def _write_qa(out_dir: Path, rng: random.Random, scenes: list[Scene], splits: list[str]) -> None:
    files = {"train": [], "validate": [], "test": []}
    qid = 0
    for i, (scene, split) in enumerate(zip(scenes, splits)):
        for item in scene_questions(scene):
            files[split].append(
                {"answer": item.answer, "category_id": QA_CATEGORY[item.kind], "id": qid,
                 "question": item.question, "video_id": i}  # fmt: skip
            )
            qid += 1
    for split, name in (("train", "train_qa.json"), ("validate", "val_qa.json"), ("test", "test_qa.json")):
        write_json(out_dir / name, files[split])


def _write_multiple_choice(out_dir: Path, rng: random.Random, scenes: list[Scene], ids: list[int]) -> None:
    """Five captions per test video, one true (``answer`` is its index); distractors are the
    captions of other test videos."""
    items = []
    for i in ids:
        others = rng.sample([j for j in ids if j != i], min(4, len(ids) - 1))
        options = [clip_caption(scenes[j]) for j in others]
        answer = rng.randint(0, len(options))
        options.insert(answer, clip_caption(scenes[i]))
        items.append({"video": f"video{i}.mp4", "caption": options, "answer": answer})
    write_json(out_dir / "msrvtt_mc.json", items)
