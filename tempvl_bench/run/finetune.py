"""A small finetuning loop shared by the benchmark plugins.

AdamW with pretraining's learning-rate schedule (:func:`tempvl_core.train.schedule.build_scheduler`:
linear warmup, cosine decay), gradient clipping, a progress bar, and a resumable state saved
after every epoch under ``<run dir>/finetune/``: weights as safetensors, optimizer, scheduler
and the RNG states (:func:`tempvl_core.train.checkpoint.capture_rng_state`, as pretraining
checkpoints hold them) readable with ``torch.load(weights_only=True)``.

Every random state a finetune draws from is in that saved state, so a resumed finetune equals
an uninterrupted one bit for bit: the global python / numpy / torch (and CUDA) generators, and
the loop's own numpy generators, passed as ``generators`` (e.g. the one that picks a caption per
video). The data loaders need nothing saved: their shuffling and augmentation generators are
seeded from (seed, epoch) afresh each epoch (:meth:`tempvl_bench.run.clips.ClipLoaderFactory.loader`).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np
import torch
from torch import nn

from tempvl_core.atomic import remove_directory, replace_directory
from tempvl_core.train.schedule import build_scheduler

from tempvl_bench.run import interrupts
from tempvl_bench.config import FinetuneConfig

STATE_DIR = "finetune"
#: Written last into a saved state folder: the folder is complete (and holds this epoch).
COMPLETE_FILE = "complete.json"


@dataclass
class EpochLog:
    epoch: int
    loss: float
    steps: int


def warmup_steps(total_steps: int, warmup_ratio: float) -> int:
    """Optimizer steps of linear warmup: ``warmup_ratio`` of all steps, at least one when positive."""
    return max(1, int(round(total_steps * warmup_ratio))) if warmup_ratio > 0 else 0


def _save_state(directory: Path, model: nn.Module, optimizer, scheduler, epoch: int, history: list[EpochLog],
                generators: Mapping[str, np.random.Generator]) -> None:
    """Write the state into ``<dir>.tmp``, mark it complete, then promote it with
    :func:`recover_state`, which is safe to interrupt at any point (see there)."""
    from tempvl_core.model.checkpoint import save_weights
    from tempvl_core.train.checkpoint import capture_rng_state

    recover_state(directory)  # settles what a killed save left, so the names below are free
    tmp = directory.with_name(directory.name + ".tmp")
    tmp.mkdir(parents=True)
    save_weights(model, tmp / "model.safetensors")
    torch.save(
        {
            "epoch": epoch,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "history": [[h.epoch, h.loss, h.steps] for h in history],
            "rng": capture_rng_state(),
            "generators": {name: _generator_state(g) for name, g in generators.items()},
        },
        tmp / "state.pt",
    )
    for name in ("model.safetensors", "state.pt"):
        _fsync(tmp / name)
    marker = tmp / COMPLETE_FILE
    marker.write_text(json.dumps({"epoch": epoch}) + "\n", encoding="utf-8")
    _fsync(marker)
    recover_state(directory)


def recover_state(directory: Path) -> int | None:
    """Leave ``directory`` holding the newest complete saved state (if any) and nothing else
    around it; returns that state's epoch.

    A save writes ``<dir>.tmp`` and marks it complete last; every other step is one rename or
    the deletion of a folder already renamed to ``<dir>.trash``. So after a kill at any point,
    the newest complete copy is intact under one of ``<dir>``, ``<dir>.tmp`` or ``<dir>.old``,
    and running this again finishes the job. (No save writes ``<dir>.old``; a complete state
    found there is read all the same.)
    """
    trash = directory.with_name(directory.name + ".trash")
    shutil.rmtree(trash, ignore_errors=True)
    names = [directory, directory.with_name(directory.name + ".tmp"), directory.with_name(directory.name + ".old")]
    complete = [(epoch, path) for path in names if (epoch := _complete_epoch(path)) is not None]
    best_epoch, best = max(complete, key=lambda item: item[0]) if complete else (None, None)  # ties: the first
    for path in names:
        if path.exists() and path != best:
            remove_directory(path, trash)
    if best is not None and best != directory:
        replace_directory(best, directory)
    return best_epoch


def _complete_epoch(path: Path) -> int | None:
    """The epoch a completely written state folder holds; None for a partial or missing one."""
    marker = path / COMPLETE_FILE
    if marker.is_file():
        try:
            return int(json.loads(marker.read_text(encoding="utf-8"))["epoch"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
    if not ((path / "model.safetensors").is_file() and (path / "state.pt").is_file()):
        return None
    try:  # a folder without the marker: complete when its state loads
        return int(torch.load(path / "state.pt", weights_only=True)["epoch"])
    except Exception:
        return None


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _generator_state(generator: np.random.Generator) -> str:
    # JSON text: the bit generator's state holds 128-bit integers, which weights_only loading
    # cannot be relied on to read back as numbers.
    return json.dumps(generator.bit_generator.state)


def _restore_generators(directory: Path, saved: Mapping[str, str], generators: Mapping[str, np.random.Generator]) -> None:
    missing = sorted(set(generators) - set(saved))
    if missing:
        raise ValueError(f"{directory / 'state.pt'}: holds no state of the generator(s) {', '.join(missing)}, so a "
                         "resumed finetune would draw other numbers than an uninterrupted one; run it again "
                         "without --resume")
    for name, generator in generators.items():
        generator.bit_generator.state = json.loads(saved[name])


def _load_state(directory: Path, model: nn.Module, optimizer, scheduler,
                generators: Mapping[str, np.random.Generator]) -> tuple[int, list[EpochLog]]:
    from safetensors.torch import load_model

    from tempvl_core.model.checkpoint import CheckpointError
    from tempvl_core.train.checkpoint import load_tensors_file, restore_rng_state

    weights = directory / "model.safetensors"
    try:
        load_model(model, str(weights))
    except Exception as exc:  # another model's weights, or a damaged file
        raise CheckpointError(f"{weights}: cannot resume from it ({type(exc).__name__}: {exc})") from exc
    state = load_tensors_file(directory / "state.pt")
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if "rng" in state:
        restore_rng_state(state["rng"])
    else:  # a state that holds the three generators' states as separate keys
        torch.set_rng_state(state["rng_torch"])
        np.random.set_state(("MT19937", np.array(state["rng_numpy"], dtype=np.uint32), state["rng_numpy_pos"], 0, 0.0))
        random.setstate((3, tuple(state["rng_python"]), None))
    _restore_generators(directory, state.get("generators", {}), generators)
    history = [EpochLog(int(e), float(l), int(s)) for e, l, s in state["history"]]
    return int(state["epoch"]), history


def finetune(
    model: nn.Module,
    batches: Callable[[int], Iterable],
    loss_fn: Callable[[nn.Module, object], torch.Tensor],
    config: FinetuneConfig,
    *,
    steps_per_epoch: int,
    run_dir: Path,
    resume: bool = False,
    progress: bool = True,
    parameters: Iterable[nn.Parameter] | None = None,
    generators: Mapping[str, np.random.Generator] | None = None,
    log: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
) -> list[EpochLog]:
    """Train ``model`` for ``config.epochs`` epochs; ``batches(epoch)`` yields that epoch's batches.

    With ``resume``, continues after the last completed epoch saved in ``run_dir/finetune``.
    ``generators`` names every numpy generator ``batches`` draws from: their states are saved
    with each epoch and restored on resume.
    """
    from tqdm.auto import tqdm

    generators = dict(generators or {})
    params = [p for p in (parameters if parameters is not None else model.parameters()) if p.requires_grad]
    if not params:
        raise ValueError("finetune: the model has no trainable parameters")
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    total = max(1, config.epochs * steps_per_epoch)
    scheduler = build_scheduler(optimizer, warmup_steps=warmup_steps(total, config.warmup_ratio), total_steps=total)
    state_dir = Path(run_dir) / STATE_DIR
    start_epoch, history = 0, []
    if resume:
        if recover_state(state_dir) is None:
            log(f"finetune: no completed epoch saved in {state_dir}; training from epoch 1")
        else:
            done, history = _load_state(state_dir, model, optimizer, scheduler, generators)
            start_epoch = done + 1
            log(f"finetune: resuming from {state_dir} after epoch {done + 1} of {config.epochs}")
    model.train()
    for epoch in range(start_epoch, config.epochs):
        bar = tqdm(total=steps_per_epoch, desc=f"finetune {epoch + 1}/{config.epochs}", disable=not progress, leave=False)
        running, steps = 0.0, 0
        for batch in batches(epoch):
            interrupts.check()  # an interrupt swallowed on the way (e.g. in a __del__) still ends the run
            loss = loss_fn(model, batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"finetune: loss became {loss.item()} at epoch {epoch + 1}, step {steps + 1}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
            optimizer.step()
            scheduler.step()
            running += loss.item()
            steps += 1
            bar.update(1)
            bar.set_postfix(loss=f"{running / steps:.4f}")
        bar.close()
        history.append(EpochLog(epoch, running / max(1, steps), steps))
        _save_state(state_dir, model, optimizer, scheduler, epoch, history, generators)
    model.eval()
    return history


def trainable_parameters(model: nn.Module, train_text_layers: int | None) -> list[nn.Parameter]:
    """All parameters, or with the text encoder frozen except its top ``train_text_layers`` layers.

    Freezing the lower text layers keeps the pretrained language knowledge and makes CPU
    finetuning cheap; ``None`` trains everything.
    """
    if train_text_layers is None:
        return [p for p in model.parameters() if p.requires_grad]
    text = getattr(model, "text_encoder", None)
    layers = _transformer_layers(text) if text is not None else None
    if layers is None:
        raise ValueError("finetune.train_text_layers is set but the model has no recognizable text encoder layers")
    trainable_layers = list(layers)[len(layers) - train_text_layers :] if train_text_layers > 0 else []
    keep = {id(p) for layer in trainable_layers for p in layer.parameters()}
    for p in text.parameters():
        if id(p) not in keep:
            # Frozen for real (no gradient is even computed), not just left out of the optimizer:
            # the word-embedding gradient alone is vocabulary x hidden floats per step.
            p.requires_grad_(False)
    return [p for p in model.parameters() if p.requires_grad]


def _transformer_layers(module: nn.Module):
    for name, child in module.named_modules():
        # BERT-family "encoder.layer", CLIP's text tower "encoder.layers"
        if name.endswith(("encoder.layer", "encoder.layers")) and isinstance(child, nn.ModuleList):
            return child
    return None


def finetune_vtc(ctx, model: nn.Module, items, clips) -> list[EpochLog]:
    """Contrastive (VTC) finetuning on records with ``.texts``: one random text per video per
    step (CLIP4Clip's multi-caption sampling), the task's finetune settings, resumable.

    ``ctx`` is the :class:`tempvl_bench.run.types.RunContext`; ``clips`` its
    :class:`tempvl_bench.run.clips.ClipLoaderFactory`.
    """
    cfg = ctx.config
    rng = np.random.default_rng(ctx.seed)

    def batches(epoch: int):
        for batch in clips.batches(items, train=True, epoch=epoch):
            texts = [items[i].texts[rng.integers(len(items[i].texts))] for i in batch["index"].tolist()]
            yield batch["frames"], batch["frame_mask"], texts

    def loss_fn(model, batch):
        frames, mask, texts = batch
        video = model.encode_video(frames.to(model.device), mask.to(model.device))
        text = model.encode_text(model.tokenize(texts, cfg.text.max_length))
        return model.vtc_loss(video, text)

    params = trainable_parameters(model, cfg.finetune.train_text_layers)
    return finetune(model, batches, loss_fn, cfg.finetune, steps_per_epoch=clips.steps_per_epoch(len(items)),
                    run_dir=ctx.run_dir, resume=ctx.options.resume, progress=ctx.options.progress, parameters=params,
                    generators={"texts": rng})
