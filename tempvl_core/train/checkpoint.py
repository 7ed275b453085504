"""Training checkpoints: weights in safetensors, everything else loadable with ``weights_only=True``.

Layout under ``<output>/checkpoints/``::

    step_000100/
        <model weights>        model.save_pretrained(dir) if the model has it, else model.safetensors
        trainer_state.pt       optimizer, scheduler, GradScaler, step counters, data position
        rng_rank0.pt ...       python / numpy / torch CPU / CUDA RNG states, one file per rank
        run.json               the run's config (for humans and provenance)
    latest                     text file naming the newest complete checkpoint directory

A checkpoint is written into a hidden temp directory and renamed into place once complete, and
``latest`` is replaced atomically, so a run killed mid-save leaves the previous one usable.
The ``.pt`` files hold only tensors, dicts, lists, tuples, numbers and strings.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch
from torch import nn

from tempvl_core.atomic import replace_directory, write_atomic
from tempvl_core.model.checkpoint import CheckpointError, save_weights
from tempvl_core.train.distributed import DistContext, barrier

LATEST = "latest"
STATE_FILE = "trainer_state.pt"
FORMAT_VERSION = 1


@dataclass
class TrainerState:
    """Counters that say where a run is; the data position is in per-rank micro-batches."""

    step: int = 0  # optimizer steps done
    epoch: int = 0
    batch_in_epoch: int = 0  # micro-batches of ``epoch`` already consumed
    samples_seen: int = 0  # over all ranks
    world_size: int = 1


def checkpoint_name(step: int) -> str:
    return f"step_{step:06d}"


def capture_rng_state() -> dict[str, Any]:
    """The process's RNG states in a ``weights_only``-safe form."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np_state = state["numpy"]
    np.random.set_state((np_state["kind"], np_state["keys"].numpy().astype(np.uint32), np_state["pos"],
                         np_state["has_gauss"], np_state["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_model_weights(model: nn.Module, directory: Path) -> None:
    """Weights in safetensors: the model's own ``save_pretrained`` when it has one."""
    if hasattr(model, "save_pretrained"):
        model.save_pretrained(directory)
    else:
        save_weights(model, directory / "model.safetensors")


def load_model_weights(model: nn.Module, directory: Path) -> None:
    """Load the weights :func:`save_model_weights` wrote back into ``model`` (strictly)."""
    files = sorted(directory.glob("*.safetensors"))
    if len(files) != 1:
        raise FileNotFoundError(f"{directory}: expected exactly one *.safetensors weights file, found {[f.name for f in files]}")
    try:
        missing, unexpected = safetensors.torch.load_model(model, str(files[0]), strict=False)
    except RuntimeError as exc:  # a tensor of another shape
        raise CheckpointError(f"{files[0]}: weights do not match the model: {exc}") from exc
    except Exception as exc:  # safetensors' own error type: a damaged or tampered header
        raise CheckpointError(f"{files[0]}: not a readable safetensors file ({type(exc).__name__}: {exc})") from exc
    if missing or unexpected:
        raise CheckpointError(f"{files[0]}: weights do not match the model: missing {missing[:5]}, unexpected {unexpected[:5]}")


def load_tensors_file(path: Path) -> Any:
    """``torch.load(path, weights_only=True)`` with an error naming the file when it is damaged or
    holds anything but tensors and plain containers (which ``weights_only`` refuses to unpickle)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # UnpicklingError, a truncated zip, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{path}: cannot be loaded safely ({type(exc).__name__}: {first}). It is damaged, or holds objects "
            "other than tensors and plain containers; tempvl-bench never unpickles those."
        ) from exc


def _torch_save(obj: Any, path: Path) -> None:
    with open(path, "wb") as handle:
        torch.save(obj, handle)
        handle.flush()
        os.fsync(handle.fileno())


def save_checkpoint(
    root: Path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    state: TrainerState,
    ctx: DistContext,
    run_info: dict[str, Any] | None = None,
    keep: int | None = None,
) -> Path:
    """Write ``root/step_NNNNNN`` atomically; every rank must call this (it synchronizes)."""
    final = root / checkpoint_name(state.step)
    tmp = root / f".tmp-{final.name}"
    if ctx.is_main:
        root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
    barrier(ctx)
    _torch_save(capture_rng_state(), tmp / f"rng_rank{ctx.rank}.pt")
    if ctx.is_main:
        save_model_weights(model, tmp)
        _torch_save({"format": FORMAT_VERSION, "counters": asdict(state), "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict()}, tmp / STATE_FILE)
        (tmp / "run.json").write_text(json.dumps(run_info or {}, indent=2, default=str), encoding="utf-8")
    barrier(ctx)
    if ctx.is_main:
        replace_directory(tmp, final)
        write_atomic(root / LATEST, final.name + "\n")
        if keep is not None:
            _prune(root, keep)
    barrier(ctx)
    return final


def _prune(root: Path, keep: int) -> None:
    done = sorted(p for p in root.glob("step_*") if p.is_dir())
    for old in done[: max(0, len(done) - keep)]:
        shutil.rmtree(old, ignore_errors=True)


def latest_checkpoint(root: Path) -> Path | None:
    """The directory ``latest`` points to, or None when no checkpoint was completed."""
    pointer = root / LATEST
    if not pointer.is_file():
        return None
    target = root / pointer.read_text(encoding="utf-8").strip()
    if not (target / STATE_FILE).is_file():
        raise FileNotFoundError(f"{pointer} names {target.name}, which has no {STATE_FILE}")
    return target


def load_checkpoint(
    directory: Path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    ctx: DistContext,
) -> TrainerState:
    """Restore everything :func:`save_checkpoint` wrote; returns the counters to continue from."""
    blob = load_tensors_file(directory / STATE_FILE)
    if not isinstance(blob, dict) or blob.get("format") != FORMAT_VERSION:
        found = blob.get("format") if isinstance(blob, dict) else type(blob).__name__
        raise CheckpointError(f"{directory / STATE_FILE}: format {found}, expected {FORMAT_VERSION}")
    state = TrainerState(**blob["counters"])
    if state.world_size != ctx.world_size:
        raise CheckpointError(
            f"{directory}: saved by a run with {state.world_size} processes; resuming with {ctx.world_size} "
            "would change the data order. Resume with the same number of processes."
        )
    load_model_weights(model, directory)
    optimizer.load_state_dict(blob["optimizer"])
    scheduler.load_state_dict(blob["scheduler"])
    scaler.load_state_dict(blob["scaler"])
    rng_file = directory / f"rng_rank{ctx.rank}.pt"
    restore_rng_state(load_tensors_file(rng_file))
    return state
