"""VTC negatives across ranks: two gloo processes on CPU must reproduce the loss and the
gradients of one process that sees the whole batch."""

from __future__ import annotations

import math
import os
import tempfile

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from tempvl_core import losses

B, D_IN, D = 6, 5, 4


def _data():
    g = torch.Generator().manual_seed(0)
    video, text = torch.randn(B, D_IN, generator=g), torch.randn(B, D_IN, generator=g)
    weight_v, weight_t = torch.randn(D, D_IN, generator=g), torch.randn(D, D_IN, generator=g)
    return video, text, weight_v, weight_t


def _loss(video, text, wv, wt, gather):
    v = F.normalize(video @ wv.t(), dim=-1)
    t = F.normalize(text @ wt.t(), dim=-1)
    return losses.vtc_loss(v, t, torch.tensor(math.log(5.0)), gather=gather)


def _worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    video, text, wv, wt = _data()
    wv.requires_grad_(True)
    wt.requires_grad_(True)
    half = slice(rank * B // world, (rank + 1) * B // world)
    loss = _loss(video[half], text[half], wv, wt, gather=True)
    loss.backward()
    # What DDP does with parameter gradients: average them over ranks.
    for p in (wv, wt):
        dist.all_reduce(p.grad)
        p.grad /= world
    dist.all_reduce(loss)
    torch.save({"loss": loss / world, "gv": wv.grad, "gt": wt.grad}, os.path.join(out_dir, f"r{rank}.pt"))
    dist.destroy_process_group()


def test_gathered_vtc_equals_full_batch_vtc() -> None:
    video, text, wv, wt = _data()
    wv.requires_grad_(True)
    wt.requires_grad_(True)
    full = _loss(video, text, wv, wt, gather=False)
    full.backward()
    with tempfile.TemporaryDirectory() as tmp:
        mp.start_processes(_worker, args=(2, os.path.join(tmp, "init"), tmp), nprocs=2, start_method="spawn")
        for rank in range(2):
            got = torch.load(os.path.join(tmp, f"r{rank}.pt"), weights_only=True)
            assert torch.allclose(got["loss"], full.detach(), atol=1e-6)
            assert torch.allclose(got["gv"], wv.grad, atol=1e-6)
            assert torch.allclose(got["gt"], wt.grad, atol=1e-6)
    # Without gathering each rank only sees its own negatives: a different (easier) loss.
    half = _loss(video[:3], text[:3], wv, wt, gather=False)
    assert not torch.allclose(half, full)
