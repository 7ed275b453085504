"""VTC negatives across ranks: two gloo processes on CPU (equal and unequal batch sizes) must
reproduce the loss and gradients computed by one process that sees every rank's batch."""

from __future__ import annotations

import math
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from tempvl_core import losses

pytestmark = pytest.mark.slow  # distributed: gloo processes on CPU

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


SPLITS = {"even": (0, 3, 6), "uneven": (0, 4, 6)}


def _worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    for name, bounds in SPLITS.items():
        _rank_step(rank, world, out_dir, name, bounds)
    dist.destroy_process_group()


def _rank_step(rank: int, world: int, out_dir: str, name: str, bounds: tuple[int, ...]) -> None:
    video, text, wv, wt = _data()
    wv.requires_grad_(True)
    wt.requires_grad_(True)
    part = slice(bounds[rank], bounds[rank + 1])
    loss = _loss(video[part], text[part], wv, wt, gather=True)
    loss.backward()
    # What DDP does with parameter gradients: average them over ranks.
    for p in (wv, wt):
        dist.all_reduce(p.grad)
        p.grad /= world
    dist.all_reduce(loss)
    torch.save({"loss": loss / world, "gv": wv.grad, "gt": wt.grad}, os.path.join(out_dir, f"{name}{rank}.pt"))


def _reference(video, text, wv, wt, bounds):
    """Mean over ranks of each rank's loss when every rank sees all negatives."""
    v = F.normalize(video @ wv.t(), dim=-1)
    t = F.normalize(text @ wt.t(), dim=-1)
    logits = 5.0 * t @ v.t()
    per_rank = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        labels = torch.arange(lo, hi)
        per_rank.append(0.5 * (F.cross_entropy(logits[lo:hi], labels) + F.cross_entropy(logits.t()[lo:hi], labels)))
    return torch.stack(per_rank).mean()


@pytest.fixture(scope="module")
def rank_results(tmp_path_factory) -> str:
    """Run both splits in one pair of spawned processes (spawning costs seconds)."""
    out = tmp_path_factory.mktemp("ddp")
    mp.start_processes(_worker, args=(2, str(out / "init"), str(out)), nprocs=2, start_method="spawn")
    return str(out)


@pytest.mark.parametrize("name", list(SPLITS))
def test_gathered_vtc_matches_single_process(rank_results: str, name: str) -> None:
    bounds = SPLITS[name]
    video, text, wv, wt = _data()
    wv.requires_grad_(True)
    wt.requires_grad_(True)
    expected = _reference(video, text, wv, wt, bounds)
    expected.backward()
    if name == "even":  # equal halves: exactly the full-batch loss
        assert torch.allclose(expected, _loss(video, text, wv, wt, gather=False))
    for rank in range(2):
        got = torch.load(os.path.join(rank_results, f"{name}{rank}.pt"), weights_only=True)
        assert torch.allclose(got["loss"], expected.detach(), atol=1e-6)
        assert torch.allclose(got["gv"], wv.grad, atol=1e-6)
        assert torch.allclose(got["gt"], wt.grad, atol=1e-6)
    # Without gathering each rank only sees its own negatives: a different loss.
    assert not torch.allclose(_loss(video[:3], text[:3], wv, wt, gather=False), expected)
