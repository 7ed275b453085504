"""Runs under ``torchrun``: which rank this process is, and the few collectives the harness needs.

``torchrun --nproc-per-node N --no-python tempvl-bench run --task T`` starts N copies of the
command. They join one process group (gloo on CPU, NCCL on GPU) and evaluate exactly what one
process would:

- every rank loads the same records and builds the same model (same seed); finetuning is
  replicated (every rank trains on the whole training split, so the weights stay identical);
- :func:`tempvl_bench.run.encoding.encode_videos` gives each rank whole evaluation batches (batch
  ``k`` goes to rank ``k mod N``, so each batch is encoded exactly as it is alone) and gathers
  the encoded videos: every rank then sees the same batches as a single process. Nothing is
  padded, so nothing is counted twice;
- rank 0 alone scores, writes the one run folder and results.json, and prints. The other ranks
  run in a scratch folder that is removed afterwards.

Without ``WORLD_SIZE`` > 1 in the environment every helper here is a no-op.
"""

from __future__ import annotations

import os
from typing import Any, Callable, TypeVar

T = TypeVar("T")


def world_size() -> int:
    """Processes in the job (1 unless a process group is initialized)."""
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    """True on rank 0 (or alone): the process that writes results and prints."""
    return rank() == 0


def launched() -> bool:
    """True when started by torchrun with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def join(device: str) -> str:
    """Join the torchrun process group (once; a no-op alone) and return this rank's device
    (``cuda:LOCAL_RANK`` for ``cuda``)."""
    if not launched():
        return device
    from tempvl_core.train.distributed import init_distributed

    return init_distributed(device).device


def leave_process_group() -> None:
    """Leave the process group :func:`join` created (a no-op alone)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def gather(obj: T) -> list[T]:
    """Every rank's ``obj`` (picklable), in rank order, on every rank."""
    if world_size() == 1:
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast(obj: T) -> T:
    """Rank 0's ``obj`` on every rank."""
    if world_size() == 1:
        return obj
    import torch.distributed as dist

    holder = [obj]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def on_main(fn: Callable[[], T]) -> T:
    """``fn()`` run on rank 0 and its result sent to every rank; an exception there is raised
    on every rank (the others get a RuntimeError naming it), so no rank waits forever."""
    if world_size() == 1:
        return fn()
    result: tuple[bool, Any] = (True, None)
    if is_main():
        try:
            result = (True, fn())
        except Exception as exc:  # noqa: BLE001 - re-raised below, after the others know
            broadcast((False, f"{type(exc).__name__}: {exc}"))
            raise
    ok, value = broadcast(result)
    if not ok:
        raise RuntimeError(f"rank 0 failed: {value}")
    return value


def raise_any(error: BaseException | None) -> None:
    """After a step every rank ran: raise the first rank's error on every rank, as the same
    exception where it can be sent (so the CLI reports a user error as one), so one rank's
    failure never leaves the others waiting in a collective."""
    errors = gather(None if error is None else (rank(), _sendable(error)))
    if error is not None:
        raise error
    for found in errors:
        if found is not None:
            raise found[1]


def _sendable(error: BaseException) -> BaseException:
    import pickle

    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:  # noqa: BLE001 - an exception that cannot travel travels as its text
        return RuntimeError(f"rank {rank()} failed: {type(error).__name__}: {error}")
