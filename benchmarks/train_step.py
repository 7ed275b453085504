"""Training-step throughput of the pretraining engine: optimized path vs plain eager fp32.

Every variant runs the engine's real optimizer step (``Trainer._train_step``: autocast, backward,
clipping, AdamW, LR schedule) on the same synthetic batch, starting from the same weights, in
one process; variants are timed in alternating rounds (median reported) so background load
hits them alike. Prints clips/s per variant, its ratio to eager fp32, its peak memory, and the
model FLOPs utilisation: FLOPs of one forward+backward (``FlopCounterMode``) per second against
the peak of a large matrix product measured in the same process (bf16 on CUDA, fp32 on CPU).

    python benchmarks/train_step.py                      # tiny config on CPU
    python benchmarks/train_step.py --config base --device cuda --batch-size 16 --compile
    python benchmarks/train_step.py --config base --backbone swin3d-t --device cpu --batch-size 2 \
        --steps 1 --rounds 1 --warmup 1 --no-bf16      # base preset fwd+bwd on CPU, peak memory
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import itertools
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from tabulate import tabulate

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tempvl_core.model import TemPVL  # noqa: E402
from tempvl_core.train.config import PretrainConfig, TrainingConfig  # noqa: E402
from tempvl_core.train.distributed import DistContext  # noqa: E402
from tempvl_core.train.engine import Trainer  # noqa: E402
from tempvl_core.train.pretrain import build_model_config  # noqa: E402

NAMED_CONFIGS = {"tiny": REPO / "configs/pretrain/demo.yaml", "base": REPO / "configs/pretrain/base.yaml"}
CAPTIONS = [
    "a red circle moves to the left, then a blue square appears",
    "the green triangle spins slowly on a white background",
    "two yellow crosses grow bigger and then disappear",
    "a purple diamond blinks while an orange circle moves right",
]


def make_backbone(preset: str, size: int, name: str | None) -> torch.nn.Module:
    """``name`` from the backbone registry (random init), else a timm ViT: ViT-B/16 for base,
    a ViT-Ti/8 for tiny."""
    import timm

    if name:
        from tempvl_bench.plugin.manager import load_plugins
        from tempvl_bench.run.modeling import build_backbone_by_name

        return build_backbone_by_name(load_plugins(), name, image_size=size)
    if preset == "base":
        return timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=0, img_size=size)
    return timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=0, img_size=size, patch_size=8)


def synthetic_batch(batch_size: int, frames: int, size: int, device: torch.device) -> dict:
    gen = torch.Generator().manual_seed(0)
    clips = torch.randn(batch_size, frames, 3, size, size, generator=gen).to(device)
    return {"frames": clips, "texts": [CAPTIONS[i % len(CAPTIONS)] for i in range(batch_size)]}


class _Placeholder(torch.utils.data.Dataset):
    """The trainer needs a dataset to build its sampler; batches are fed directly instead."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> int:
        return index


@dataclasses.dataclass
class Variant:
    name: str
    training: TrainingConfig
    fused: bool | None
    trainer: Trainer | None = None
    first_loss: float = float("nan")
    rates: list[float] = dataclasses.field(default_factory=list)
    error: str = ""
    peak_gib: float = float("nan")


def build_variants(base: TrainingConfig, args: argparse.Namespace, cuda: bool) -> list[Variant]:
    plain = dataclasses.replace(base, precision="fp32", channels_last=False, compile_modules=[])
    fast = dataclasses.replace(plain, precision="bf16")
    variants = [Variant("eager fp32 (baseline)", plain, fused=False)]
    if not args.no_bf16:
        variants.append(Variant("bf16 autocast + SDPA" + (" + fused AdamW" if cuda else ""), fast, fused=None))
    if args.channels_last:
        variants.append(Variant(variants[-1].name + " + channels_last",
                                dataclasses.replace(fast, channels_last=True), fused=None))
    if args.compile is not None:
        args.compile = args.compile or ["video_encoder.backbone"]
        variants.append(Variant(variants[-1].name + f" + compile({', '.join(args.compile) or 'model'})",
                                dataclasses.replace(fast, compile_modules=list(args.compile)), fused=None))
    return variants


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def count_step_flops(model: TemPVL, batch: dict) -> int:
    """FLOPs of one forward + backward (matmuls/convs/attention as FlopCounterMode counts them)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        model(batch)["loss"].backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def measured_peak_flops(device: torch.device) -> tuple[float, str]:
    """FLOP/s of the best of a few large matrix products: bf16 8192^3 on CUDA, fp32 1024^3 on CPU."""
    cuda = device.type == "cuda"
    n, dtype = (8192, torch.bfloat16) if cuda else (1024, torch.float32)
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    for _ in range(3):
        a @ b
    best = 0.0
    for _ in range(5 if cuda else 3):
        sync(device)
        start = time.perf_counter()
        for _ in range(10 if cuda else 2):
            a @ b
        sync(device)
        best = max(best, (10 if cuda else 2) * 2 * n**3 / (time.perf_counter() - start))
    return best, f"measured, {'bf16' if cuda else 'fp32'} {n}^3 matmul"


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_gib(device: torch.device) -> float:
    """CUDA: peak allocated since the last reset. CPU: the process's peak resident set."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="tiny", help="tiny | base | path to a pretraining YAML")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=None, help="clips per step (default: the config's)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per variant and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--compile", nargs="*", default=None, metavar="MODULE",
                        help="also measure torch.compile of these submodules (default: video_encoder.backbone; "
                             "'' = the whole model)")
    parser.add_argument("--channels-last", action="store_true", help="also measure channels_last weights")
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="peak for MFU (default: measured with a large matrix product)")
    parser.add_argument("--backbone", default=None, help="backbone from the registry, e.g. vit-b16 or swin3d-t")
    parser.add_argument("--text-encoder", default=None, metavar="DIR",
                        help="text encoder folder (config and tokenizer suffice: weights are not loaded)")
    parser.add_argument("--no-bf16", action="store_true", help="measure eager fp32 only")
    parser.add_argument("--activation-checkpointing", action="store_true",
                        help="recompute activations in backward in every variant")
    args = parser.parse_args()

    config = PretrainConfig.from_yaml(NAMED_CONFIGS.get(args.config, args.config))
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    batch_size = args.batch_size or config.training.batch_size
    training = dataclasses.replace(config.training, batch_size=batch_size, grad_accum_steps=1,
                                   total_steps=10**6, warmup_steps=0, num_workers=0)
    batch = synthetic_batch(batch_size, config.data.num_frames, config.data.size, device)
    torch.manual_seed(0)
    model_config = build_model_config(config)
    backbone = make_backbone(model_config.name, config.data.size, args.backbone)
    # Throughput does not depend on the text weights: the architecture alone is built.
    initial = TemPVL(model_config, backbone, text_encoder_path=args.text_encoder, load_text_weights=False)
    if args.activation_checkpointing:
        from tempvl_core.train.performance import enable_activation_checkpointing

        print("activation checkpointing:", ", ".join(enable_activation_checkpointing(initial)))
    params = sum(p.numel() for p in initial.parameters())
    print(f"config {args.config} (preset {model_config.name}), backbone {args.backbone or type(backbone).__name__}: "
          f"{params / 1e6:.1f} M parameters, {batch_size} clips x {config.data.num_frames} frames x "
          f"{config.data.size}px per step, device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if cuda else f", {torch.get_num_threads()} threads"))
    if args.peak_tflops:
        peak, peak_source = args.peak_tflops * 1e12, "given with --peak-tflops"
    else:
        peak, peak_source = measured_peak_flops(device)
    print(f"peak for MFU: {peak / 1e12:.2f} TFLOP/s ({peak_source})", flush=True)

    variants = build_variants(training, args, cuda)
    with tempfile.TemporaryDirectory() as tmp:
        for v in variants:
            torch.manual_seed(0)
            v.trainer = Trainer(copy.deepcopy(initial), _Placeholder(batch_size), v.training, output_dir=Path(tmp),
                                collate_fn=list, console=False, progress=False, fused_optimizer=v.fused,
                                ctx=DistContext(device=str(device)))  # the trainer's device (default: CPU)
            placed = next(v.trainer.model.parameters()).device
            if placed.type != device.type:
                raise RuntimeError(f"{v.name}: the model is on {placed}, not on {device}")
            v.trainer.train_model.train()
        flops = count_step_flops(variants[0].trainer.model, batch)
        for round_index in range(args.rounds):
            for v in variants:
                if v.error:
                    continue
                try:
                    steps = itertools.repeat(batch)
                    if round_index == 0:  # warm-up (and compilation) outside the timed region
                        torch.manual_seed(0)  # same MLM masks and merges: step-1 losses differ by precision only
                        reset_peak_memory(device)
                        for _ in range(args.warmup):
                            values, _ = v.trainer._train_step(steps)
                            v.first_loss = v.first_loss if v.first_loss == v.first_loss else float(values["loss"])
                        v.peak_gib = peak_memory_gib(device)
                    sync(device)
                    start = time.perf_counter()
                    for _ in range(args.steps):
                        v.trainer._train_step(steps)
                    sync(device)
                    v.rates.append(args.steps * batch_size / (time.perf_counter() - start))
                    mfu = "" if flops is None else f", MFU {100 * flops * v.rates[-1] / batch_size / peak:.1f}%"
                    print(f"  {v.name}: {v.rates[-1]:.2f} clips/s{mfu}, peak {v.peak_gib:.2f} GiB", flush=True)
                except torch.cuda.OutOfMemoryError:
                    v.error, v.trainer = "out of GPU memory (lower --batch-size)", None
                    torch.cuda.empty_cache()
            print(f"round {round_index + 1}/{args.rounds}: " + ", ".join(
                f"{v.name}: {v.rates[-1]:.2f}" for v in variants if v.rates and not v.error), flush=True)

    baseline = statistics.median(variants[0].rates) if variants[0].rates else float("nan")
    rows = []
    for v in variants:
        if v.error:
            rows.append([v.name, v.error, "", "", "", ""])
            continue
        rate = statistics.median(v.rates)
        row = [v.name, f"{rate:.2f}", f"{rate / baseline:.2f}x", f"{v.first_loss:.4f}", f"{v.peak_gib:.2f}"]
        if flops is not None:
            achieved = flops * rate / batch_size
            text = f"{achieved / 1e12:.1f} TFLOP/s" if achieved >= 1e12 else f"{achieved / 1e9:.2f} GFLOP/s"
            row.append(text + (f", MFU {100 * achieved / peak:.1f}%" if peak else ""))
        rows.append(row)
    memory = "peak GiB (CUDA allocated)" if cuda else "peak GiB (process RSS)"
    headers = ["variant", "clips/s (median)", "vs eager fp32", "loss step 1", memory, "model FLOPs"]
    print(tabulate(rows, headers=headers))
    if flops is not None:
        print(f"model FLOPs per step (fwd+bwd): {flops / 1e12:.4f} TFLOP; MFU against the peak "
              f"({peak / 1e12:.2f} TFLOP/s, {peak_source}) for every variant")


if __name__ == "__main__":
    main()
