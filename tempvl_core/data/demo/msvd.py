"""Demo MSVD: ``raw-captions.pkl``, split lists, ``youtube_mapping.txt``, MSVD-QA, ``.avi`` clips.

The captions pickle holds only dict/list/str (protocol 2), as the public one does, so a
restricted unpickler reads it. Clip ids are ``<youtubeId>_<start>_<end>`` with YouTube ids that
contain ``_`` and ``-``. As in the public files, the train and val lists lack a trailing
newline; the QA split (by ``vid<N>`` number) differs from the retrieval split.
"""

from __future__ import annotations

import pickle
import random
from dataclasses import dataclass
from pathlib import Path

from tempvl_core.data.demo.common import SplitCounts, VideoJob, render_all, write_json, write_lines, youtube_id
from tempvl_core.data.demo.qa import scene_questions
from tempvl_core.data.demo.scenes import RenderSettings, clip_captions, clip_scene


@dataclass(frozen=True)
class MsvdCounts(SplitCounts):
    """Clips per retrieval split (real: 1200/100/670) and captions per clip (real: 18-81)."""

    train: int = 48
    val: int = 8
    test: int = 24
    min_captions: int = 4
    max_captions: int = 8


def tokens(caption: str) -> list[str]:
    """The pickle's tokenisation: lower case, punctuation dropped, split on spaces."""
    return caption.lower().replace(",", "").replace(".", "").split()


def _clip_id(rng: random.Random, first: bool) -> tuple[str, int, int]:
    yt = ("-_" + youtube_id(rng)[2:]) if first else youtube_id(rng)
    start = rng.randint(0, 300)
    end = start + rng.randint(4, 10)
    return f"{yt}_{start}_{end}", start, end


def generate_msvd(
    out_dir: Path,
    seed: int = 0,
    *,
    counts: MsvdCounts = MsvdCounts(),
    render: RenderSettings = RenderSettings(),
) -> None:
    """Write the demo MSVD dataset into ``out_dir`` (the ``msvd/`` folder of a data root)."""
    rng = random.Random(f"msvd-{seed}")
    n = counts.total
    clips: dict[str, object] = {}
    while len(clips) < n:
        clip, start, end = _clip_id(rng, first=not clips)
        if clip not in clips:
            clips[clip] = clip_scene(rng, render, duration_s=float(end - start))
    ids = sorted(clips)
    captions = {
        c: [tokens(s) for s in clip_captions(rng, clips[c], rng.randint(counts.min_captions, counts.max_captions))]
        for c in ids
    }
    (out_dir).mkdir(parents=True, exist_ok=True)
    (out_dir / "raw-captions.pkl").write_bytes(pickle.dumps(captions, protocol=2))
    shuffled = rng.sample(ids, n)
    parts = {
        "train": sorted(shuffled[: counts.train]),
        "val": sorted(shuffled[counts.train : counts.train + counts.val]),
        "test": sorted(shuffled[counts.train + counts.val :]),
    }
    for split, names in parts.items():
        write_lines(out_dir / f"{split}_list.txt", names, trailing_newline=split == "test")
    # vid<N> numbering (1-based) in clip-id order; QA splits are contiguous ranges of N.
    write_lines(out_dir / "youtube_mapping.txt", [f"{c} vid{k}" for k, c in enumerate(ids, 1)])
    n_train, n_val = round(n * 0.6), max(1, round(n * 0.125))
    qa_split = ["train"] * n_train + ["val"] * n_val + ["test"] * (n - n_train - n_val)
    qa: dict[str, list[dict]] = {"train": [], "val": [], "test": []}
    qid = 0
    for k, (clip, split) in enumerate(zip(ids, qa_split), 1):
        for item in scene_questions(clips[clip]):
            qa[split].append({"answer": item.answer, "id": qid, "question": item.question, "video_id": k})
            qid += 1
    for split, items in qa.items():
        write_json(out_dir / f"{split}_qa.json", items)
    render_all([VideoJob(clips[c], out_dir / "YouTubeClips" / f"{c}.avi") for c in ids], desc="demo msvd")
