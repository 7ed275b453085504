"""Demo pretraining episodes: clips of one scene that only their events tell apart."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from tempvl_core.data.demo.episodes import EPISODES_FILE, EpisodeCounts, cut_event, episode_scene, generate_episodes
from tempvl_core.data.demo.renderer import object_state
from tempvl_core.data.demo.scenes import event_caption
from tempvl_core.train.pretrain_data import (
    EpisodeItem,
    MediaItem,
    PretrainClipDataset,
    PretrainEpisodeDataset,
    collate_pretrain,
)


def test_a_cut_clip_shows_its_event_exactly_as_the_episode_does() -> None:
    rng = random.Random(3)
    for _ in range(5):
        scene = episode_scene(rng)
        assert 3 <= len(scene.events) <= 4 and 20 <= scene.duration_s <= 32
        for event in scene.events:
            clip = cut_event(scene, event)
            assert clip.duration_s == pytest.approx(event.end_s - event.start_s)
            assert clip.background == scene.background and len(clip.events) == 1
            for t in (0.0, 0.4 * clip.duration_s, clip.duration_s):
                for i in range(len(scene.objects)):
                    a, b = object_state(clip, i, t), object_state(scene, i, event.start_s + t)
                    assert (a.x, a.y, a.size, a.visible) == pytest.approx((b.x, b.y, b.size, b.visible), abs=1e-3)


def test_episodes_file_and_videos(tmp_path: Path) -> None:
    generate_episodes(tmp_path, seed=1, counts=EpisodeCounts(episodes=3))
    listing = json.loads((tmp_path / EPISODES_FILE).read_text())
    assert len(listing) == 3
    for episode in listing:
        assert 3 <= len(episode["clips"]) <= 4
        for clip in episode["clips"]:
            assert (tmp_path / clip["video"]).is_file()
            assert clip["caption"].startswith("the ")
    # Same seed, same bytes.
    again = tmp_path / "again"
    generate_episodes(again, seed=1, counts=EpisodeCounts(episodes=3))
    assert (again / EPISODES_FILE).read_bytes() == (tmp_path / EPISODES_FILE).read_bytes()
    first = listing[0]["clips"][0]["video"]
    assert (again / first).read_bytes() == (tmp_path / first).read_bytes()


def test_episode_batches_hold_variable_length_mergeable_clips_and_stills_are_not_merged(tmp_path: Path) -> None:
    generate_episodes(tmp_path, seed=2, counts=EpisodeCounts(episodes=2))
    listing = json.loads((tmp_path / EPISODES_FILE).read_text())
    episodes = [EpisodeItem(e["episode"], tuple(MediaItem(tmp_path / c["video"], c["caption"], False) for c in e["clips"]))
                for e in listing]
    dataset = PretrainEpisodeDataset(episodes, num_frames=8, size=32, fps=1.0, train=False)
    assert len(dataset) == 2
    still = PretrainClipDataset([MediaItem(tmp_path / listing[0]["clips"][0]["video"], "a still", True)],
                                num_frames=8, size=32, train=False)
    batch = collate_pretrain([dataset[0], dataset[1], still[0]])
    clips = sum(len(e["clips"]) for e in listing)
    assert batch["frames"].shape[:2] == (clips + 1, 8)
    assert batch["mergeable"].tolist() == [True] * clips + [False]
    lengths = batch["frame_mask"].sum(1)
    assert len(set(lengths[:clips].tolist())) > 1  # 1 frame per second of a 3-8 s event
    assert torch.all((lengths[:clips] >= 3) & (lengths[:clips] <= 8))
    assert batch["texts"][:len(listing[0]["clips"])] == [c["caption"] for c in listing[0]["clips"]]
    # The video each clip was cut from and its place there (merge_order: source); a still has none.
    first, second = len(listing[0]["clips"]), len(listing[1]["clips"])
    assert batch["source"].tolist() == [0] * first + [1] * second + [-1]
    assert batch["source_index"].tolist() == list(range(first)) + list(range(second)) + [0]
    # Host copies ride along for the model's merge planning (no read-back from a GPU).
    host = batch["host"]
    assert host.source is batch["source"] and host.mergeable is batch["mergeable"]
    assert host.frame_mask is batch["frame_mask"]


def test_event_captions_are_what_the_clips_show() -> None:
    rng = random.Random(0)
    scene = episode_scene(rng)
    for event in scene.events:
        obj = scene.objects[event.object]
        assert obj.colour in event_caption(scene, event) and obj.shape in event_caption(scene, event)


def test_pretraining_config_reads_episodes_beside_clips(tmp_path: Path) -> None:
    from tempvl_core.train.config import PretrainConfig
    from tempvl_core.train.pretrain import build_pretrain_dataset

    generate_episodes(tmp_path / "episodes", seed=0, counts=EpisodeCounts(episodes=2))
    config = PretrainConfig.from_dict({"data": {"webvid_csv": None, "cc3m_tsv": None, "episodes_json": "episodes/episodes.json",
                                                "num_frames": 8, "size": 32}}, source="test")
    dataset = build_pretrain_dataset(config, tmp_path)
    assert len(dataset) == 2
    batch = collate_pretrain([dataset[0]])
    assert batch["mergeable"].all() and len(batch["texts"]) >= 3
    broken = tmp_path / "episodes" / "episodes.json"
    broken.write_text('[{"episode": "x", "clips": [{"video": 3}]}]')
    with pytest.raises(ValueError, match=r"episodes\.json: episode 0: expected 'clips'"):
        build_pretrain_dataset(config, tmp_path)
