"""Merge partners come from the globally gathered batch: two gloo processes on CPU, uneven
batch sizes, a still that must never be merged; the host metadata (frame lengths, flags,
sources) is gathered on the CPU, next to the device features."""

from __future__ import annotations

import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from tempvl_core.model.objectives import BatchState, merge_pool

pytestmark = pytest.mark.slow  # distributed: gloo processes on CPU

SIZES = (3, 2)  # rank 0 holds items 0-2, rank 1 items 3-4
STILL = 1  # global index of a still (not mergeable)
SOURCES = (0, -1, 0, 1, -1)  # the video each clip was cut from (-1: none); -1 on both ranks


def _state(rank: int) -> BatchState:
    start = sum(SIZES[:rank])
    ids = torch.arange(start, start + SIZES[rank])
    raw = ids.float()[:, None, None].repeat(1, 2, 3).requires_grad_(True)
    emb = torch.nn.functional.normalize(torch.randn(SIZES[rank], 4), dim=-1)
    frame_mask = torch.arange(2)[None, :] < (ids % 2 + 1)[:, None]  # clips of 1 and 2 real frames
    return BatchState(input_ids=ids[:, None], attention_mask=torch.ones(SIZES[rank], 1, dtype=torch.long),
                      text_feats=torch.zeros(SIZES[rank], 1, 8), frame_feats=raw.detach(), frame_mask=frame_mask,
                      video_emb=emb, raw_frame_feats=raw, mergeable=ids != STILL,
                      source=torch.tensor(SOURCES)[ids], source_index=ids % 2, frame_lengths=frame_mask.sum(1))


def _worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    s = _state(rank)
    pool = merge_pool(s)
    # Every rank weights the gathered rows by (rank + 1): each row's gradient is then the sum
    # over ranks, 1 + 2 = 3, whichever rank the row lives on.
    (pool.raw.sum() * (rank + 1)).backward()
    torch.save({"raw": pool.raw.detach(), "mask": pool.mask, "candidates": pool.candidates, "anchors": pool.anchors,
                "local": pool.local, "grad": s.raw_frame_feats.grad, "source": pool.source,
                "source_index": pool.source_index, "lengths": pool.lengths}, os.path.join(out_dir, f"r{rank}.pt"))
    dist.destroy_process_group()


def test_merge_pool_gathers_every_rank(tmp_path) -> None:
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    for rank in range(2):
        out = torch.load(tmp_path / f"r{rank}.pt", weights_only=True)
        assert out["raw"][:, 0, 0].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]  # every rank's clips, in rank order
        assert out["mask"].sum(1).tolist() == out["lengths"].tolist() == [1, 2, 1, 2, 1]
        assert out["candidates"].tolist() == [True, False, True, True, True]
        start = sum(SIZES[:rank])
        local = [i for i in range(SIZES[rank]) if start + i != STILL]
        assert out["local"].tolist() == local
        assert out["anchors"].tolist() == [start + i for i in local]  # anchors index the global pool
        assert torch.all(out["grad"] == 3.0)  # gradients come back from both ranks' losses
        # Sources travel with the clips; a clip of no source is a source of its own on every rank.
        assert out["source"].tolist() == [0, -2, 0, 1, -5] and out["source_index"].tolist() == [0, 1, 0, 1, 0]


def _model_worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    """A TemPVL step with MR, TL (token merging) and MLM on each rank's own batch."""
    import sys

    sys.path.insert(0, os.path.dirname(__file__))
    from model_helpers import TEXTS, TinyCNN, tiny_config
    from tempvl_core import merging
    from tempvl_core.model import TemPVL
    from tempvl_core.model.objectives import HostBatch

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    torch.manual_seed(0)
    model = TemPVL(tiny_config(loss_weights={"mlm": 1.0, "mr": 1.0, "tl": 1.0}, tl_strategy="tokens"), TinyCNN())
    seen = {}
    merge_text_tokens = merging.merge_text_tokens

    def recording(input_ids, *args, **kwargs):
        seen["ids"] = input_ids.clone()
        return merge_text_tokens(input_ids, *args, **kwargs)

    merging.merge_text_tokens = recording
    start, n = sum(SIZES[:rank]), SIZES[rank]
    mask = torch.arange(4)[None, :] < torch.tensor([4, 3, 2, 4, 1])[start : start + n, None]
    batch = {"frames": torch.randn(n, 4, 3, 32, 32), "frame_mask": mask, "texts": list(TEXTS + TEXTS[:1])[start : start + n],
             "mergeable": torch.tensor([i != STILL for i in range(start, start + n)])}
    batch["host"] = HostBatch.of(batch)
    out = model(batch, generator=torch.Generator().manual_seed(rank))
    out["loss"].backward()
    torch.save({"ids": seen["ids"], "loss": out["loss"].detach(), "local": model.tokenize(batch["texts"])["input_ids"]},
               os.path.join(out_dir, f"m{rank}.pt"))
    dist.destroy_process_group()


def test_model_step_merges_texts_of_every_rank(tmp_path) -> None:
    """Token merging plans from every rank's texts, gathered on the host: rank r's rows sit at its
    offset of the pool, padded to max_text_len; the losses are finite on both ranks."""
    mp.spawn(_model_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    outs = [torch.load(tmp_path / f"m{rank}.pt", weights_only=True) for rank in range(2)]
    for rank, out in enumerate(outs):
        assert torch.isfinite(out["loss"])
        assert out["ids"].shape[0] == sum(SIZES)
        for other, theirs in enumerate(outs):
            start, width = sum(SIZES[:other]), theirs["local"].shape[1]
            assert torch.equal(out["ids"][start : start + SIZES[other], :width], theirs["local"])
            assert not out["ids"][start : start + SIZES[other], width:].any()  # padding (id 0)
