"""The pretraining loop: mixed precision, gradient accumulation, clipping, logging, checkpoints.

The engine knows nothing about videos or text: it takes a model whose ``forward(batch)``
returns a dict with a scalar ``loss`` (plus any ``loss_*`` parts to log), a map-style dataset
and a collate function. Data order and per-sample randomness come from
:mod:`tempvl_core.train.data_order`, and every piece of state is checkpointed, so a resumed
run is bit-identical to an uninterrupted one on CPU.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from tempvl_core.atomic import write_atomic
from tempvl_core.train import checkpoint as ckpt
from tempvl_core.train.performance import enable_activation_checkpointing, prepare_for_ddp
from tempvl_core.train.config import TrainingConfig
from tempvl_core.train.data_order import SeededDataset, ShardedBatchSampler
from tempvl_core.train.distributed import DistContext, reduce_mean
from tempvl_core.train.optim import build_optimizer
from tempvl_core.train.schedule import build_scheduler

LOG_FILE = "train_log.jsonl"


def move_to_device(batch: Any, device: torch.device) -> Any:
    """Tensors (at any depth of dicts/lists/tuples) to ``device``; everything else unchanged."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: move_to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to_device(v, device) for v in batch)
    return batch


def clips_in(batch: Any) -> int:
    """Number of clips in a batch: the leading size of ``frames`` (or of the batch itself)."""
    if isinstance(batch, dict) and isinstance(batch.get("frames"), torch.Tensor):
        return int(batch["frames"].shape[0])
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0])
    return len(batch)


def autocast_settings(precision: str, device: torch.device) -> tuple[bool, torch.dtype, bool]:
    """``(autocast enabled, dtype, use GradScaler)`` for a precision name on a device.

    fp16 needs a GradScaler (its range underflows small gradients); bf16 does not. CPU autocast
    has no useful fp16 path, so fp16 on CPU runs as bf16.
    """
    if precision == "fp32":
        return False, torch.float32, False
    if precision == "bf16" or device.type != "cuda":
        return True, torch.bfloat16, False
    return True, torch.float16, True


class Trainer:
    """Runs ``config.total_steps`` optimizer steps of ``model`` on ``dataset``.

    ``output_dir`` receives ``train_log.jsonl`` and ``checkpoints/``. Under torchrun pass the
    :class:`DistContext` from ``init_distributed``: the model is wrapped in DDP, the data is
    sharded by rank and only rank 0 writes logs and checkpoints. ``fused_optimizer`` defaults to
    fused AdamW on CUDA (``False`` forces the plain implementation, as benchmarks' baseline).
    """

    def __init__(
        self,
        model: nn.Module,
        dataset: Dataset,
        config: TrainingConfig,
        *,
        output_dir: Path,
        collate_fn: Callable[[list[Any]], Any],
        ctx: DistContext | None = None,
        run_info: dict[str, Any] | None = None,
        console: bool = True,
        progress: bool = True,
        fused_optimizer: bool | None = None,
    ) -> None:
        self.config = config
        self.ctx = ctx or DistContext()
        self.device = torch.device(self.ctx.device)
        self.output_dir = Path(output_dir)
        self.checkpoint_root = self.output_dir / "checkpoints"
        self.collate_fn = collate_fn
        self.run_info = run_info or {}
        self.console = console and self.ctx.is_main
        self.progress = progress and self.ctx.is_main
        self.model = model.to(self.device)
        if config.channels_last:
            self.model.to(memory_format=torch.channels_last)  # only 4-d (conv) weights change layout
        self.train_model: nn.Module = self.model
        if config.activation_checkpointing:
            enable_activation_checkpointing(self.model)
        if self.ctx.is_distributed:
            # A loss switched off leaves its modules without gradients: only then must DDP search for
            # unused parameters every step (heads the config never uses are frozen instead).
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            self.train_model = DistributedDataParallel(self.model, device_ids=device_ids,
                                                       find_unused_parameters=prepare_for_ddp(self.model))
        for name in config.compile_modules:
            # In-place Module.compile keeps parameter names, so checkpoints stay loadable without it.
            try:
                target = self.train_model if name == "" else self.model.get_submodule(name)
            except AttributeError:
                raise ValueError(f"training.compile_modules: the model has no submodule '{name}'") from None
            target.compile()
        self.dataset = SeededDataset(dataset)
        self.sampler = ShardedBatchSampler(
            len(dataset), config.batch_size, seed=config.seed, rank=self.ctx.rank, world_size=self.ctx.world_size
        )
        self.optimizer = build_optimizer(self.model, lr=config.lr, weight_decay=config.weight_decay, betas=config.betas,
                                         fused=fused_optimizer)
        self.scheduler = build_scheduler(
            self.optimizer, warmup_steps=config.warmup_steps, total_steps=config.total_steps, min_lr_ratio=config.min_lr_ratio
        )
        self.autocast, self.amp_dtype, use_scaler = autocast_settings(config.precision, self.device)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=use_scaler)
        self.state = ckpt.TrainerState(world_size=self.ctx.world_size)

    # ---- data -------------------------------------------------------------------------------

    def _micro_batches(self) -> Iterator[Any]:
        """Endless batches from the checkpointed position; advances ``state`` as they are consumed."""
        while True:
            self.sampler.set_position(self.state.epoch, self.state.batch_in_epoch)
            loader = DataLoader(
                self.dataset,
                batch_sampler=self.sampler,
                collate_fn=self.collate_fn,
                num_workers=self.config.num_workers,
                pin_memory=self.device.type == "cuda",
                # A private generator: creating the loader must not draw from the global torch RNG.
                generator=torch.Generator().manual_seed(self.config.seed + self.state.epoch),
            )
            for batch in loader:
                self.state.batch_in_epoch += 1
                if self.state.batch_in_epoch == len(self.sampler):
                    self.state.epoch += 1
                    self.state.batch_in_epoch = 0
                yield batch

    # ---- one optimizer step -----------------------------------------------------------------

    def _train_step(self, batches: Iterator[Any]) -> tuple[dict[str, torch.Tensor], int]:
        accum = self.config.grad_accum_steps
        sums: dict[str, torch.Tensor] = {}
        clips = skipped = 0
        for micro in range(accum):
            batch = move_to_device(next(batches), self.device)
            clips += clips_in(batch)
            if isinstance(batch, dict):
                skipped += int(batch.pop("skipped", 0))
            last = micro == accum - 1
            sync = contextlib.nullcontext() if last or not self.ctx.is_distributed else self.train_model.no_sync()
            with sync:
                with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.autocast):
                    outputs = self.train_model(batch)
                loss = outputs["loss"]
                self.scaler.scale(loss.float() / accum).backward()
            for key, value in outputs.items():
                if key == "loss" or key.startswith("loss_"):
                    value = value.detach().float()
                    sums[key] = sums[key] + value if key in sums else value
        self.scaler.unscale_(self.optimizer)
        if self.config.clip_grad_norm is not None:
            grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip_grad_norm)
            sums["grad_norm"] = grad_norm.detach().float() * accum
        self.step_lr = self.optimizer.param_groups[0]["lr"]  # the rate this step used (logged)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.state.step += 1
        means = {k: v / accum for k, v in sums.items()}
        means["skipped"] = torch.tensor(float(skipped))
        return means, clips

    # ---- the loop ---------------------------------------------------------------------------

    def fit(self, *, resume: bool = False, stop_after: int | None = None) -> Path:
        """Train to ``total_steps`` (or stop after step ``stop_after``, checkpointing there).

        With ``resume`` the run continues from ``checkpoints/latest`` when it exists.
        Returns the directory of the last checkpoint written.
        """
        if resume:
            latest = ckpt.latest_checkpoint(self.checkpoint_root)
            if latest is not None:
                self.state = ckpt.load_checkpoint(latest, model=self.model, optimizer=self.optimizer,
                                                  scheduler=self.scheduler, scaler=self.scaler, ctx=self.ctx)
                self._echo(f"resumed from {latest} at step {self.state.step}")
            self._truncate_log(self.state.step)  # step 0 without a checkpoint: nothing logged survives
        end = self.config.total_steps if stop_after is None else min(stop_after, self.config.total_steps)
        self.train_model.train()
        last_saved: Path | None = None
        window: dict[str, list[torch.Tensor]] = {}
        window_clips, window_start = 0, time.perf_counter()
        bar = tqdm(total=self.config.total_steps, initial=self.state.step, desc="pretrain", unit="step",
                   disable=not self.progress, dynamic_ncols=True)
        batches = self._micro_batches()
        try:
            while self.state.step < end:
                values, clips = self._train_step(batches)
                for key, value in values.items():
                    window.setdefault(key, []).append(value)
                local_clips = clips
                window_clips += local_clips * self.ctx.world_size
                self.state.samples_seen += local_clips * self.ctx.world_size
                bar.update(1)
                step = self.state.step
                if step % self.config.log_every == 0 or step == end:
                    elapsed = max(time.perf_counter() - window_start, 1e-9)
                    record = self._log(window, clips_per_s=window_clips / elapsed)
                    bar.set_postfix(loss=f"{record['loss']:.4f}", clips_per_s=f"{record['clips_per_s']:.1f}")
                    window, window_clips = {}, 0
                if step % self.config.checkpoint_every == 0 or step == end:
                    last_saved = self.save()
                if not window:  # a new logging window starts after any checkpoint write
                    window_start = time.perf_counter()
        finally:
            batches.close()
            bar.close()
        if last_saved is None:
            last_saved = ckpt.latest_checkpoint(self.checkpoint_root) or self.save()
        return last_saved

    def save(self) -> Path:
        """Checkpoint the current state (every rank must call this)."""
        info = dict(self.run_info, training=self.config.__dict__ | {"betas": list(self.config.betas)})
        return ckpt.save_checkpoint(self.checkpoint_root, model=self.model, optimizer=self.optimizer,
                                    scheduler=self.scheduler, scaler=self.scaler, state=self.state, ctx=self.ctx,
                                    run_info=info, keep=self.config.keep_checkpoints)

    def _log(self, window: dict[str, list[torch.Tensor]], *, clips_per_s: float) -> dict[str, Any]:
        local = {k: float(torch.stack(v).mean()) for k, v in window.items()}
        local["skipped"] = float(sum(float(v) for v in window.get("skipped", [])))
        values = reduce_mean(local, self.ctx, device=self.device if self.device.type == "cuda" else "cpu")
        # Samples that failed to decode in this window, summed over ranks (reduce_mean averaged them).
        skipped = round(values.pop("skipped") * self.ctx.world_size)
        record: dict[str, Any] = {"step": self.state.step, "epoch": self.state.epoch,
                                  "lr": self.step_lr}
        record.update({k: values[k] for k in sorted(values)})
        record["clips_per_s"] = clips_per_s
        if skipped:
            record["skipped_samples"] = skipped
        if not math.isfinite(record.get("loss", 0.0)):
            self._echo(f"warning: non-finite loss at step {self.state.step}")
        if self.ctx.is_main:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            with open(self.output_dir / LOG_FILE, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
            parts = " ".join(f"{k}={v:.4f}" for k, v in record.items() if k.startswith("loss"))
            self._echo(f"step {record['step']}/{self.config.total_steps} {parts} lr={record['lr']:.2e} "
                       f"clips/s={clips_per_s:.1f}")
        return record

    def _truncate_log(self, step: int) -> None:
        """Drop log records after ``step``: a run killed after its last checkpoint replays them.

        A run killed while writing a record leaves a half-written last line; it is dropped with
        a message naming the file. A damaged line elsewhere is an error naming file and line.
        """
        path = self.output_dir / LOG_FILE
        if not self.ctx.is_main or not path.is_file():
            return
        text = path.read_text(encoding="utf-8", errors="replace")
        lines = text.splitlines()
        kept = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                record_step = record.get("step", 0) if isinstance(record, dict) else None
            except ValueError:
                record_step = None
            if record_step is None:
                if number == len(lines):
                    # Shown even without console output: a log line is being discarded.
                    print(f"warning: {path}: dropped a half-written last line (line {number}); the run was "
                          "killed while logging", file=sys.stderr)
                    continue
                raise ValueError(f"{path}: line {number} is not a JSON log record: {line[:80]!r}. "
                                 "Fix or delete the line, then resume again.")
            if record_step <= step:
                kept.append(line)
        if len(kept) != len(lines) or (text and not text.endswith("\n")):
            write_atomic(path, "".join(line + "\n" for line in kept))

    def _echo(self, message: str) -> None:
        if self.console:
            tqdm.write(message)
