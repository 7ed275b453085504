"""The study's data, decoded once and kept as tensors (every variant and seed reads the same).

* pretraining episodes (demo ``episodes/``): clips at ``pretrain.fps`` frames per second;
* Charades-STA train and test (moment retrieval): ``eval.mr_frames`` uniform frames per video;
* DiDeMo train and test (paragraph-to-video retrieval): ``eval.retrieval_frames`` per video.

Decoded tensors are cached under ``DIR/cache`` as safetensors (no pickle) with a JSON sidecar
that names the source files; a killed study does not decode again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from tempvl_core.atomic import atomic_path, write_atomic
from tempvl_core.data import catalogue
from tempvl_core.data.video_index import VideoIndex
from tempvl_core.video import read_frames
from tempvl_core.video.transforms import eval_transform


@dataclass
class Moments:
    """Moment-retrieval queries over uniformly sampled videos."""

    frames: torch.Tensor  # [V, N, 3, S, S] float16, normalized
    durations: np.ndarray  # [V] seconds
    video: np.ndarray  # [Q] video index of each query
    texts: list[str]
    windows: np.ndarray  # [Q, 2] ground-truth (start, end) seconds
    motions: list[str] | None = None  # [Q] the generator's motion of each query's event (demo data)


@dataclass
class Paragraphs:
    """Paragraph-to-video retrieval: one paragraph per video, in the same order."""

    frames: torch.Tensor  # [V, N, 3, S, S]
    texts: list[str]


@dataclass
class Episodes:
    """Pretraining episodes: per episode, its clips' frames ``[T_i, 3, S, S]`` and captions."""

    frames: list[list[torch.Tensor]]
    captions: list[list[str]]


def _decode(path: Path, *, num_frames: int | None, size: int, sampling: str = "uniform",
            fps: float | None = None) -> torch.Tensor:
    clip = read_frames(path, num_frames=num_frames, sampling=sampling, fps=fps, size=None)
    return eval_transform(size)(clip.frames).to(torch.float16).contiguous()


def _cached(path: Path, meta: dict, build) -> dict[str, torch.Tensor]:
    """Tensors saved at ``path`` for exactly ``meta``, else built and saved."""
    sidecar = path.with_suffix(".json")
    if path.is_file() and sidecar.is_file():
        try:
            if json.loads(sidecar.read_text(encoding="utf-8")) == meta:
                return load_file(str(path))
        except (OSError, ValueError):
            pass  # a damaged cache is rebuilt
    tensors = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp))
    write_atomic(sidecar, json.dumps(meta, sort_keys=True))
    return tensors


def query_motions(root: Path, split: str, videos: list[str], starts: list[float]) -> list[str]:
    """The motion of each query's event, from the generator's own record: the ``actions`` column
    of demo ``Charades_v1_<split>.csv`` lists every event as ``<action id> <start> <end>``
    (:data:`tempvl_core.data.demo.charades.ACTION_IDS`). A query is the event of its video whose
    start is nearest to the query's start (events of a demo video are disjoint and at least 3 s
    long, and the query line rounds the same start to 0.1 s)."""
    import csv

    from tempvl_core.data.demo.charades import ACTION_IDS

    motion_of = {code: motion for motion, code in ACTION_IDS.items()}
    path = root / f"Charades_v1_{split}.csv"
    events: dict[str, list[tuple[float, str]]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            actions = []
            for item in filter(None, row["actions"].split(";")):
                code, start, _ = item.split()
                if code not in motion_of:
                    raise ValueError(f"{path}: video {row['id']}: action {code!r} is not a demo motion")
                actions.append((float(start), motion_of[code]))
            events[row["id"]] = actions
    out = []
    for name, start in zip(videos, starts):
        name = name[:-4] if name.endswith(".mp4") else name  # the CSV names the id, the query its file
        if not events.get(name):
            raise ValueError(f"{path}: no actions for video {name} (charades_sta_{split}.txt)")
        out.append(min(events[name], key=lambda e: abs(e[0] - start))[1])
    return out


def load_moments(root: Path, split: str, frames: int, size: int, cache: Path, progress: bool,
                 videos: int | None = None) -> Moments:
    """The queries of ``split`` (of its first ``videos`` videos by name, when given)."""
    queries = catalogue.load("charades-sta", root, "moments", split).records
    index = VideoIndex(root / "Charades_v1_480")
    names = sorted({q.video_name for q in queries})[:videos]
    queries = [q for q in queries if q.video_name in set(names)]
    position = {n: i for i, n in enumerate(names)}
    meta = {"dataset": str(root), "split": split, "frames": frames, "size": size, "videos": names}

    def build() -> dict[str, torch.Tensor]:
        clips = []
        for name in tqdm(names, desc=f"decode charades-sta {split}", unit="video", disable=not progress, leave=False):
            path = index.lookup(name)
            if path is None:
                raise FileNotFoundError(f"{root / 'Charades_v1_480'}: no video for {name} (charades_sta_{split}.txt)")
            clips.append(_decode(path, num_frames=frames, size=size))
        return {"frames": torch.stack(clips)}

    tensors = _cached(cache / f"charades-{split}-{frames}f-{size}px.safetensors", meta, build)
    durations = np.zeros(len(names))
    for q in queries:
        durations[position[q.video_name]] = float(q.duration)
    windows = np.array([q.windows[0] for q in queries], dtype=np.float64)
    motions = query_motions(root, split, [q.video_name for q in queries], windows[:, 0].tolist())
    return Moments(tensors["frames"], durations, np.array([position[q.video_name] for q in queries]),
                   [q.query for q in queries], windows, motions)


def load_paragraphs(root: Path, split: str, frames: int, size: int, cache: Path, progress: bool,
                    videos: int | None = None) -> Paragraphs:
    """One paragraph per video of ``split`` (its first ``videos`` videos, when given)."""
    items = catalogue.load("didemo", root, "retrieval", split).records[:videos]
    index = VideoIndex(root / "videos")
    meta = {"dataset": str(root), "split": split, "frames": frames, "size": size,
            "videos": [i.video_name for i in items]}

    def build() -> dict[str, torch.Tensor]:
        clips = []
        for item in tqdm(items, desc=f"decode didemo {split}", unit="video", disable=not progress, leave=False):
            path = index.lookup(item.video_name)
            if path is None:
                raise FileNotFoundError(f"{root / 'videos'}: no video for {item.video_name} ({split}_data.json)")
            clips.append(_decode(path, num_frames=frames, size=size))
        return {"frames": torch.stack(clips)}

    tensors = _cached(cache / f"didemo-{split}-{frames}f-{size}px.safetensors", meta, build)
    return Paragraphs(tensors["frames"], [" ".join(item.texts) for item in items])


def load_episodes(root: Path, fps: float, max_frames: int, size: int, cache: Path, progress: bool,
                  episodes: int | None = None) -> Episodes:
    """The first ``episodes`` episodes (all when None), clips at ``fps``, at most ``max_frames``."""
    from tempvl_core.data.demo.episodes import EPISODES_FILE

    listing = json.loads((root / EPISODES_FILE).read_text(encoding="utf-8"))[:episodes]
    meta = {"dataset": str(root), "fps": fps, "max_frames": max_frames, "size": size,
            "clips": [c["video"] for e in listing for c in e["clips"]]}

    def build() -> dict[str, torch.Tensor]:
        out = {}
        clips = [c for e in listing for c in e["clips"]]
        for k, clip in enumerate(tqdm(clips, desc="decode episodes", unit="clip", disable=not progress, leave=False)):
            out[f"clip{k}"] = _decode(root / clip["video"], num_frames=max_frames, size=size, sampling="fps", fps=fps)
        return out

    tensors = _cached(cache / f"episodes-{fps:g}fps-{max_frames}f-{size}px.safetensors", meta, build)
    frames, captions, k = [], [], 0
    for episode in listing:
        frames.append([tensors[f"clip{k + j}"] for j in range(len(episode["clips"]))])
        captions.append([c["caption"] for c in episode["clips"]])
        k += len(episode["clips"])
    return Episodes(frames, captions)


class EpisodeTensors(torch.utils.data.Dataset):
    """Pretraining dataset over decoded episodes: item = the episode's clips as
    :func:`tempvl_core.train.pretrain_data.collate_pretrain` expects them (padded, masked)."""

    def __init__(self, episodes: Episodes, num_frames: int) -> None:
        self.episodes, self.num_frames = episodes, num_frames

    def __len__(self) -> int:
        return len(self.episodes.frames)

    def __getitem__(self, index: int) -> list[dict]:
        out = []
        for frames, caption in zip(self.episodes.frames[index], self.episodes.captions[index]):
            n = min(len(frames), self.num_frames)
            padded = torch.zeros((self.num_frames, *frames.shape[1:]))
            padded[:n] = frames[:n].float()
            mask = torch.arange(self.num_frames) < n
            out.append({"frames": padded, "frame_mask": mask, "text": caption, "mergeable": True,
                        "source": index, "source_index": len(out)})
        return out
