"""Training-step throughput of the pretraining engine: optimized path vs plain eager fp32.

Every variant runs the engine's real optimizer step (``Trainer._train_step``: autocast, backward,
clipping, AdamW, LR schedule) on the same synthetic batch, starting from the same weights, in
one process; variants are timed in alternating rounds (median reported) so background load
hits them alike. Prints clips/s per variant and its ratio to eager fp32; on CUDA also the model
FLOPs utilisation (FLOPs of one forward+backward counted with ``FlopCounterMode``).

    python benchmarks/train_step.py                      # tiny config on CPU
    python benchmarks/train_step.py --config base --device cuda --batch-size 16 --compile
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import itertools
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
from tempvl_core.train.engine import Trainer  # noqa: E402
from tempvl_core.train.pretrain import build_model_config  # noqa: E402

NAMED_CONFIGS = {"tiny": REPO / "configs/pretrain/demo.yaml", "base": REPO / "configs/pretrain/base.yaml"}
# Dense bf16 tensor-core peaks (FLOP/s) for MFU; pass --peak-tflops for other GPUs.
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12}
CAPTIONS = [
    "a red circle moves to the left, then a blue square appears",
    "the green triangle spins slowly on a white background",
    "two yellow crosses grow bigger and then disappear",
    "a purple diamond blinks while an orange circle moves right",
]


def make_backbone(preset: str, size: int) -> torch.nn.Module:
    """A timm ViT without pretrained weights: ViT-B/16 for base, a ViT-Ti/8 for tiny."""
    import timm

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


def build_variants(base: TrainingConfig, args: argparse.Namespace, cuda: bool) -> list[Variant]:
    plain = dataclasses.replace(base, precision="fp32", channels_last=False, compile_modules=[])
    fast = dataclasses.replace(plain, precision="bf16")
    variants = [Variant("eager fp32 (baseline)", plain, fused=False),
                Variant("bf16 autocast" + (" + fused AdamW" if cuda else ""), fast, fused=None)]
    if args.channels_last:
        variants.append(Variant(variants[-1].name + " + channels_last",
                                dataclasses.replace(fast, channels_last=True), fused=None))
    if args.compile is not None:
        args.compile = args.compile or ["video_encoder.backbone"]
        variants.append(Variant(variants[1].name + f" + compile({', '.join(args.compile) or 'model'})",
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


def peak_flops(device: torch.device, override_tflops: float | None) -> float | None:
    if override_tflops:
        return override_tflops * 1e12
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_BF16.items() if key in name), None)


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
    parser.add_argument("--peak-tflops", type=float, default=None, help="GPU peak for MFU (default: by name)")
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
    initial = TemPVL(model_config, make_backbone(model_config.name, config.data.size))
    params = sum(p.numel() for p in initial.parameters())
    print(f"config {args.config} (preset {model_config.name}): {params / 1e6:.1f} M parameters, {batch_size} clips "
          f"x {config.data.num_frames} frames x {config.data.size}px per step, device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if cuda else f", {torch.get_num_threads()} threads"))

    variants = build_variants(training, args, cuda)
    with tempfile.TemporaryDirectory() as tmp:
        for v in variants:
            torch.manual_seed(0)
            v.trainer = Trainer(copy.deepcopy(initial), _Placeholder(batch_size), v.training, output_dir=Path(tmp),
                                collate_fn=list, console=False, progress=False, fused_optimizer=v.fused)
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
                        for _ in range(args.warmup):
                            values, _ = v.trainer._train_step(steps)
                            v.first_loss = v.first_loss if v.first_loss == v.first_loss else float(values["loss"])
                    sync(device)
                    start = time.perf_counter()
                    for _ in range(args.steps):
                        v.trainer._train_step(steps)
                    sync(device)
                    v.rates.append(args.steps * batch_size / (time.perf_counter() - start))
                except torch.cuda.OutOfMemoryError:
                    v.error, v.trainer = "out of GPU memory (lower --batch-size)", None
                    torch.cuda.empty_cache()
            print(f"round {round_index + 1}/{args.rounds}: " + ", ".join(
                f"{v.name}: {v.rates[-1]:.2f}" for v in variants if v.rates and not v.error), flush=True)

    baseline = statistics.median(variants[0].rates) if variants[0].rates else float("nan")
    peak = peak_flops(device, args.peak_tflops) if cuda else None
    rows = []
    for v in variants:
        if v.error:
            rows.append([v.name, v.error, "", "", ""])
            continue
        rate = statistics.median(v.rates)
        row = [v.name, f"{rate:.2f}", f"{rate / baseline:.2f}x", f"{v.first_loss:.4f}"]
        if flops is not None:
            achieved = flops * rate / batch_size
            text = f"{achieved / 1e12:.1f} TFLOP/s" if achieved >= 1e12 else f"{achieved / 1e9:.2f} GFLOP/s"
            row.append(text + (f", MFU {100 * achieved / peak:.1f}%" if peak else ""))
        rows.append(row)
    headers = ["variant", "clips/s (median)", "vs eager fp32", "loss step 1", "model FLOPs"]
    print(tabulate(rows, headers=headers))
    if flops is not None:
        note = "" if not cuda else "; MFU against the dense bf16 peak" + ("" if peak else " (unknown GPU: pass --peak-tflops)")
        print(f"model FLOPs per step (fwd+bwd): {flops / 1e12:.4f} TFLOP{note}")


if __name__ == "__main__":
    main()
