"""Demo QVHighlights: ``highlight_{train,val,test}_release.jsonl`` and ``videos/<vid>.mp4``.

One JSON object per line with keys in the public order ``qid, query, duration, vid,
relevant_clip_ids, saliency_scores, relevant_windows`` (test: the first four). Windows are
even, end-exclusive seconds on the 2-second clip grid; each relevant clip gets three raters'
saliency scores (0-4), highest in the middle of the event; ``vid`` is
``{ytid}_{start:.1f}_{end:.1f}``. A caption that happens twice in a video is one query with two
windows.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from tempvl_core.data.demo.common import SplitCounts, VideoJob, render_all, youtube_id
from tempvl_core.data.demo.renderer import Scene
from tempvl_core.data.demo.scenes import RenderSettings, event_caption, random_spans, sample_scene

CLIP_S = 2


@dataclass(frozen=True)
class QvhCounts(SplitCounts):
    """Videos per split, each giving one or two queries (real: 7218 / 1550 / 1542 queries).

    ``train_appended`` more training videos are drawn after the test split: the training split
    grows while val and test stay byte-identical (the generator draws the splits in sequence).
    """

    train: int = 128
    val: int = 120  # about 180 queries
    test: int = 16
    train_appended: int = 128  # 256 training videos in all, about 380 queries


def _saliency(rng: random.Random, n_clips: int) -> list[list[int]]:
    scores = []
    for i in range(n_clips):
        centre = 1.0 - abs((i + 0.5) / n_clips - 0.5) * 2  # 1 in the middle, 0 at the edges
        base = 2 + round(2 * centre)
        scores.append([min(4, max(0, base + rng.choice((-1, 0, 0, 1)))) for _ in range(3)])
    return scores


def _queries(rng: random.Random, scene: Scene) -> list[tuple[str, list[list[int]]]]:
    by_caption: dict[str, list[list[int]]] = {}
    for ev in sorted(scene.events, key=lambda e: e.start_s):
        by_caption.setdefault(event_caption(scene, ev), []).append([int(ev.start_s), int(ev.end_s)])
    chosen = rng.sample(sorted(by_caption), min(len(by_caption), rng.choice((1, 2))))
    return [(c, by_caption[c]) for c in chosen]


def _record(qid: int, text: str, scene: Scene, vid: str, windows, rng, with_gt: bool) -> dict:
    query = text[0].upper() + text[1:] + ("." if rng.random() < 0.5 else "")
    rec: dict = {"qid": qid, "query": query, "duration": int(scene.duration_s), "vid": vid}
    if with_gt:
        clip_ids = [c for s, e in windows for c in range(s // CLIP_S, e // CLIP_S)]
        scores = [x for s, e in windows for x in _saliency(rng, (e - s) // CLIP_S)]
        rec.update(relevant_clip_ids=clip_ids, saliency_scores=scores, relevant_windows=windows)
    return rec


def generate_qvhighlights(
    out_dir: Path,
    seed: int = 0,
    *,
    counts: QvhCounts = QvhCounts(),
    render: RenderSettings = RenderSettings(),
) -> None:
    """Write demo QVHighlights into ``out_dir`` (the ``qvhighlights/`` folder of a data root)."""
    rng = random.Random(f"qvhighlights-{seed}")
    qids = iter(rng.sample(range(1, 20000), 4 * counts.total))
    jobs: list[VideoJob] = []
    lines: dict[str, list[str]] = {}
    for split in ("train", "val", "test"):
        lines[split] = _videos(rng, getattr(counts, split), qids, split != "test", out_dir, render, jobs)
    if counts.train_appended:
        used = {json.loads(line)["qid"] for split_lines in lines.values() for line in split_lines}
        fresh = iter(rng.sample(sorted(set(range(1, 40000)) - used), 2 * counts.train_appended))
        lines["train"] += _videos(rng, counts.train_appended, fresh, True, out_dir, render, jobs)
    if len({job.path for job in jobs}) != len(jobs):
        raise RuntimeError(f"demo qvhighlights seed {seed}: two videos drew the same vid")
    out_dir.mkdir(parents=True, exist_ok=True)
    for split, split_lines in lines.items():
        # The public files end without a newline after the last record.
        (out_dir / f"highlight_{split}_release.jsonl").write_text("\n".join(split_lines), encoding="utf-8")
    render_all(jobs, desc="demo qvhighlights")


def _videos(rng, n: int, qids, with_gt: bool, out_dir: Path, render: RenderSettings, jobs: list) -> list[str]:
    """Draw ``n`` videos (appending their render jobs to ``jobs``); their JSON lines."""
    lines = []
    for _ in range(n):
        duration = float(rng.choice((30, 40)))
        spans = random_spans(rng, duration, rng.choice((2, 3)), min_len=4.0, max_len=10.0, grid=CLIP_S)
        scene = sample_scene(rng, duration, spans, n_objects=rng.choice((2, 3)), render=render)
        start = 30.0 * rng.randint(0, 10)
        vid = f"{youtube_id(rng)}_{start:.1f}_{start + duration:.1f}"
        for text, windows in _queries(rng, scene):
            lines.append(json.dumps(_record(next(qids), text, scene, vid, windows, rng, with_gt)))
        jobs.append(VideoJob(scene, out_dir / "videos" / f"{vid}.mp4"))
    return lines
