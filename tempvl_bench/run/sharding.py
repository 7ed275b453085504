"""Evaluation videos shared out between torchrun ranks, with results identical to one process.

The records are cut into the batches one process would encode (``batch.eval`` each); batch
``k`` goes to rank ``k mod world size``. A rank encodes its batches exactly as one process
would (same composition, same order, so the same numbers), then the ranks exchange what they
produced. No sampler padding is added, so no video is counted twice. See
:mod:`tempvl_bench.run.distributed`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator, Sequence

from tempvl_bench.run import distributed
from tempvl_bench.run.feature_cache import _collate, _split_batch


def shard_positions(count: int, batch_size: int, world: int, me: int) -> list[int]:
    """Indices into ``count`` records of rank ``me``'s share: batch ``k`` (of ``batch_size``
    consecutive records) goes to rank ``k mod world``, in order."""
    starts = range(0, count, batch_size)
    return [i for k, s in enumerate(starts) if k % world == me for i in range(s, min(s + batch_size, count))]


@dataclass
class GatheredFailures:
    """The failed samples of every rank (``index`` into the whole record list)."""

    failed: list = field(default_factory=list)


class ShardedEncodedVideos:
    """:func:`tempvl_bench.run.encoding.encode_videos` under torchrun (see the module docstring)."""

    def __init__(self, clips: Any, model: Any, records: Sequence, level: str, desc: str | None,
                 local_pass: Callable) -> None:  # fmt: skip
        self.clips, self.model, self.records = clips, model, list(records)
        self.level, self.desc, self._local_pass = level, desc, local_pass
        self.batch_size = clips.ctx.config.batch.eval
        #: Indices into ``records`` of this rank's videos: its whole batches, in order.
        self.positions = shard_positions(len(self.records), self.batch_size, distributed.world_size(),
                                         distributed.rank())
        self.tracker = GatheredFailures()

    @property
    def failed_videos(self) -> list[dict[str, str]]:
        return [{"path": str(f.path), "error": f.error} for f in self.tracker.failed]

    def record_index(self, failure) -> int:
        return int(failure.index)

    def _local_batches(self) -> Iterator[tuple[Any, dict[str, Any]]]:
        """(local pass, batch) of this rank's batches, ``index`` rewritten to the whole list."""
        import torch

        local = self._local_pass(self.clips, self.model, [self.records[i] for i in self.positions], self.level, self.desc)
        self._local = local
        for batch in local:
            batch["index"] = torch.tensor([self.positions[i] for i in batch["index"].tolist()], dtype=torch.long)
            yield batch

    def _gather_failures(self, error: BaseException | None) -> None:
        local = getattr(self, "_local", None)
        mine = [] if local is None else [replace(f, index=self.positions[local.record_index(f)])
                                         for f in local.tracker.failed]  # fmt: skip
        distributed.raise_any(error)
        self.tracker.failed = sorted((f for part in distributed.gather(mine) for f in part), key=lambda f: f.index)

    def map(self, step: Callable[[dict[str, Any]], Any]) -> list:
        """``step`` over this rank's batches; every batch's result, in batch order, on every rank."""
        results: list[tuple[int, Any]] = []
        error = None
        try:
            for batch in self._local_batches():
                results.append((int(batch["index"][0]), step(batch)))
        except Exception as exc:  # noqa: BLE001 - raised on every rank by _gather_failures
            error = exc
        self._gather_failures(error)
        merged = sorted((item for part in distributed.gather(results) for item in part), key=lambda item: item[0])
        return [result for _, result in merged]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if self.level == "pixels":  # decoded frames are not worth sending: every rank decodes all
            everything = self._local_pass(self.clips, self.model, self.records, self.level, self.desc)
            yield from everything
            self.tracker.failed = list(everything.tracker.failed)
            return
        entries: dict[int, dict[str, Any]] = {}
        error = None
        try:
            for batch in self._local_batches():
                entries.update(_split_batch(batch, self.level))
        except Exception as exc:  # noqa: BLE001 - raised on every rank by _gather_failures
            error = exc
        self._gather_failures(error)
        for part in distributed.gather(entries):
            entries.update(part)
        done = sorted(entries)
        # Batches as the cached pass of one process forms them: ``batch.eval`` encoded videos each.
        for start in range(0, len(done), self.batch_size):
            chunk = done[start : start + self.batch_size]
            yield _collate(chunk, [entries[i] for i in chunk], self.records, self.level, self.model.device)
