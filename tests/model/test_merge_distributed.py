"""Merge partners come from the globally gathered batch: two gloo processes on CPU, uneven
batch sizes, a still that must never be merged; the host metadata (frame lengths, flags,
sources) is gathered on the CPU, next to the device features."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from tempvl_core.model.objectives import BatchState, merge_pool

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
