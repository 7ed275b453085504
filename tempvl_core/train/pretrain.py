"""End-to-end pretraining: config -> TemPVL model + WebVid/CC3M data -> engine -> checkpoint.

``run_pretraining`` is what ``tempvl-bench pretrain`` calls. The final checkpoint directory it
returns holds ``TemPVL.save_pretrained`` files (loadable with ``TemPVL.from_pretrained(dir,
backbone)``) next to the trainer state used by ``--resume``.

Multi-GPU: launch the same command under ``torchrun --nproc-per-node N``; every rank calls
``run_pretraining`` with ``device="cuda"`` and takes ``cuda:LOCAL_RANK``. The global batch is
``training.batch_size x training.grad_accum_steps x N``; resume with the same N.
"""

from __future__ import annotations

import dataclasses
import difflib
import random
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import ConcatDataset, Dataset

from tempvl_core.data.loaders.pretrain import read_cc3m, read_webvid
from tempvl_core.train.config import ConfigError, DataSection, PretrainConfig
from tempvl_core.train.distributed import init_distributed, shutdown
from tempvl_core.train.engine import Trainer
from tempvl_core.train.pretrain_data import (
    MediaItem,
    PretrainClipDataset,
    PretrainEpisodeDataset,
    collate_pretrain,
    read_episodes,
)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices); any int (numpy takes it modulo 2**32)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_model_config(config: PretrainConfig):
    """The ``TemPVLConfig`` a pretraining config describes.

    Loss weights, merging and the frame count/size come from their own sections; ``model.overrides``
    may set any other ``TemPVLConfig`` field, but not one of those (that would be ambiguous).
    """
    from tempvl_core.model import TemPVLConfig

    derived = {
        "loss_weights": config.losses.as_dict(),
        "merge_clips": config.merge.k,
        "merge_sampling": config.merge.strategy,
        "num_frames": config.data.num_frames,
        "image_size": config.data.size,
    }
    source = config.source
    fields = {f.name for f in dataclasses.fields(TemPVLConfig)} - {"name"}
    for key in config.model.overrides:
        if key in derived:
            raise ConfigError(f"{source}: model.overrides.{key} is set by the losses/merge/data sections; set it there")
        if key not in fields:
            close = difflib.get_close_matches(str(key), sorted(fields), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"{source}: model.overrides.{key}: not a TemPVLConfig field{hint}")
    try:
        return TemPVLConfig.preset(config.model.preset, **{**config.model.overrides, **derived})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: model: {exc}") from None


def _resolve(data_root: Path, relative: str | None, key: str) -> Path | None:
    if relative is None:
        return None
    path = data_root / relative
    if not path.exists():
        raise FileNotFoundError(f"data.{key}: {path} does not exist (paths are relative to the data root {data_root})")
    return path


def read_pretrain_items(data: DataSection, data_root: Path) -> list[MediaItem]:
    """WebVid and CC3M pairs of the config, with media paths resolved under ``data_root``."""
    items: list[MediaItem] = []
    sources = (
        (read_webvid, data.webvid_csv, data.webvid_videos, "webvid_csv", "webvid_videos"),
        (read_cc3m, data.cc3m_tsv, data.cc3m_images, "cc3m_tsv", "cc3m_images"),
    )
    for reader, annotation, media, annotation_key, media_key in sources:
        annotation_path = _resolve(data_root, annotation, annotation_key)
        if annotation_path is None:
            continue
        media_dir = _resolve(data_root, media, media_key)
        if media_dir is None:
            raise ConfigError(f"data.{media_key} is null but data.{annotation_key} is set")
        for record in reader(annotation_path).records:
            items.append(MediaItem(media_dir / record.media_name, record.caption, record.is_image))
    if not items:
        raise ConfigError("data: no pretraining source is set (webvid_csv and cc3m_tsv are both null)")
    return items


def build_pretrain_dataset(config: PretrainConfig, data_root: Path) -> Dataset:
    """The decoded-clip dataset over every configured source (episodes as one item each)."""
    data = config.data
    episodes_json = _resolve(Path(data_root), data.episodes_json, "episodes_json")
    has_clips = data.webvid_csv is not None or data.cc3m_tsv is not None
    parts: list[Dataset] = []
    if has_clips or episodes_json is None:
        items = read_pretrain_items(data, Path(data_root))
        parts.append(PretrainClipDataset(items, num_frames=data.num_frames, size=data.size, sampling=data.sampling))
    if episodes_json is not None:
        parts.append(PretrainEpisodeDataset(read_episodes(episodes_json), num_frames=data.num_frames, size=data.size,
                                            fps=data.episode_fps))
    return parts[0] if len(parts) == 1 else ConcatDataset(parts)


def run_pretraining(
    config: PretrainConfig,
    *,
    data_root: Path,
    output_dir: Path,
    backbone: nn.Module,
    resume: bool = False,
    device: str = "cpu",
    dataset: Dataset | None = None,
    stop_after: int | None = None,
    progress: bool = True,
) -> Path:
    """Pretrain TemPVL as ``config`` says; returns the final checkpoint directory.

    Under torchrun every rank calls this; only rank 0 writes. ``dataset`` replaces the
    WebVid/CC3M dataset (items as :class:`PretrainClipDataset` yields them), for tests and
    benchmarks; ``stop_after`` stops (with a checkpoint) after that many optimizer steps.
    """
    from tempvl_core.model import TemPVL

    joined_by_caller = torch.distributed.is_available() and torch.distributed.is_initialized()
    ctx = init_distributed(device)
    try:
        seed_everything(config.training.seed)  # same initial weights on every rank
        model = TemPVL(build_model_config(config), backbone)
        if dataset is None:
            dataset = build_pretrain_dataset(config, Path(data_root))
        seed_everything(config.training.seed + ctx.rank)  # per-rank masking / dropout streams
        run_info = {"pretrain_config": config.to_dict(), "data_root": str(data_root)}
        trainer = Trainer(model, dataset, config.training, output_dir=Path(output_dir), collate_fn=collate_pretrain,
                          ctx=ctx, run_info=run_info, progress=progress)
        return trainer.fit(resume=resume, stop_after=stop_after)
    finally:
        if not joined_by_caller:  # leave a process group the caller created to the caller
            shutdown(ctx)
