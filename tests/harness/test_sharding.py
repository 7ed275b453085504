"""ShardedEncodedVideos on two real gloo processes (torch.multiprocessing), with a stand-in
encoding pass: whole batches per rank, results in one-process order on every rank, no padding,
failures gathered, and one rank's error raised on both."""

from __future__ import annotations

import types
from dataclasses import dataclass

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from tempvl_core.data.pipeline import FailedSample

BATCH = 3
RECORDS = list(range(10))  # 4 batches: rank 0 gets batches 0 and 2, rank 1 batches 1 and 3
BROKEN = 7  # fails to decode


@dataclass
class FakePass:
    """Stands in for the local encoding pass: ``video_emb`` = the record's value, one failure."""

    records: list
    fail_on: int | None = None

    def __post_init__(self):
        self.tracker = types.SimpleNamespace(failed=[])

    def record_index(self, failure):
        return failure.index

    def __iter__(self):
        if self.fail_on is not None and self.fail_on in self.records:
            raise ValueError(f"record {self.fail_on}: cannot read")
        for start in range(0, len(self.records), BATCH):
            local = [i for i in range(start, min(start + BATCH, len(self.records))) if self.records[i] != BROKEN]
            self.tracker.failed += [FailedSample(i, f"v{self.records[i]}.mp4", "broken")
                                    for i in range(start, min(start + BATCH, len(self.records)))
                                    if self.records[i] == BROKEN]  # fmt: skip
            yield {"index": torch.tensor(local), "batch_size": len(local), "failed": [],
                   "video_emb": torch.tensor([[float(self.records[i])] for i in local])}  # fmt: skip


def _clips():
    config = types.SimpleNamespace(batch=types.SimpleNamespace(eval=BATCH))
    return types.SimpleNamespace(ctx=types.SimpleNamespace(config=config))


def _worker(rank: int, init: str, queue, fail_on: int | None) -> None:
    from tempvl_bench.run.sharding import ShardedEncodedVideos

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    try:
        model = types.SimpleNamespace(device="cpu")
        local_pass = lambda clips, model, records, level, desc: FakePass(records, fail_on)  # noqa: E731
        encoded = ShardedEncodedVideos(_clips(), model, RECORDS, "clip", None, local_pass)
        try:
            mapped = encoded.map(lambda batch: batch["index"].tolist())
        except ValueError as exc:
            queue.put((rank, "error", str(exc)))
            return
        gathered = [b["video_emb"][:, 0].tolist() for b in ShardedEncodedVideos(_clips(), model, RECORDS, "clip",
                                                                                  None, local_pass)]  # fmt: skip
        failed = [(f.index, f.path) for f in encoded.tracker.failed]
        queue.put((rank, encoded.positions, mapped, gathered, failed))
    finally:
        dist.destroy_process_group()


def _spawn(tmp_path, fail_on=None) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    init = f"file://{tmp_path / 'rendezvous'}"
    procs = [ctx.Process(target=_worker, args=(rank, init, queue, fail_on)) for rank in range(2)]
    for p in procs:
        p.start()
    results = {}
    for _ in procs:
        item = queue.get(timeout=300)
        results[item[0]] = item[1:]
    for p in procs:
        p.join(timeout=60)
    return results


@pytest.mark.slow
def test_two_ranks_share_whole_batches_and_see_one_process_order(tmp_path):
    results = _spawn(tmp_path)
    assert results[0][0] == [0, 1, 2, 6, 7, 8] and results[1][0] == [3, 4, 5, 9]  # whole batches, no padding
    one_process = [[0, 1, 2], [3, 4, 5], [6, 8], [9]]  # record 7 failed
    for rank in (0, 1):
        _, mapped, gathered, failed = results[rank]
        assert mapped == one_process
        assert gathered == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 8.0, 9.0]]  # batch.eval encoded videos each
        assert failed == [(7, "v7.mp4")]


@pytest.mark.slow
def test_an_error_on_one_rank_is_raised_on_both(tmp_path):
    results = _spawn(tmp_path, fail_on=4)  # only rank 1 holds record 4
    assert results[0] == ("error", "record 4: cannot read") and results[1] == ("error", "record 4: cannot read")
