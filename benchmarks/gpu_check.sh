#!/usr/bin/env bash
# Pretraining throughput of the base config on one lent GPU: eager fp32 vs bf16 autocast + fused
# AdamW (+ channels_last), with model FLOPs utilisation; then, time permitting, torch.compile.
# Finishes in under 5 minutes (each step is bounded by `timeout`). Run from anywhere:
#     bash benchmarks/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
if ! python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check: CUDA is not available to torch on this machine" >&2
    exit 1
fi

echo "=== base config: eager fp32 vs bf16 (+ fused AdamW, channels_last) ==="
timeout 170 python benchmarks/train_step.py --config base --device cuda --batch-size 16 \
    --steps 5 --rounds 3 --warmup 2 --channels-last
main_rc=$?
[ "$main_rc" -eq 124 ] && echo "gpu_check: the main measurement exceeded 170 s" >&2

echo "=== base config: + torch.compile (stopped after 110 s if still compiling) ==="
timeout 110 python benchmarks/train_step.py --config base --device cuda --batch-size 16 \
    --steps 5 --rounds 1 --warmup 3 --compile
compile_rc=$?
[ "$compile_rc" -ne 0 ] && echo "gpu_check: torch.compile measurement did not complete (rc=$compile_rc)"
exit "$main_rc"
