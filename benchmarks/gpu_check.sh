#!/usr/bin/env bash
# Pretraining throughput at the base preset on one GPU, for ViT-B/16 and Video Swin-T (swin3d-t):
# clips/s, peak memory and MFU (against a bf16 matmul peak measured in the same process) for eager
# fp32, bf16 autocast + SDPA (+ fused AdamW), and bf16 + torch.compile of the backbone. Each
# backbone is bounded by `timeout`; per-variant lines print as soon as they are measured, so a
# compile that runs long still leaves the eager numbers. Run from anywhere:
#     bash benchmarks/gpu_check.sh
#     GPU_CHECK_DEVICE=cpu bash benchmarks/gpu_check.sh    # smoke version: tiny preset, batch 2, no compile
# GPU_CHECK_TEXT_ENCODER=DIR names a text encoder folder (config and tokenizer suffice).
set -uo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
DEVICE=${GPU_CHECK_DEVICE:-cuda}
TEXT=${GPU_CHECK_TEXT_ENCODER:-}

if [ "$DEVICE" = cuda ]; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    if ! python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
        echo "gpu_check: CUDA is not available to torch on this machine" >&2
        exit 1
    fi
    CONFIG=base BACKBONES="vit-b16 swin3d-t" LIMIT=${GPU_CHECK_LIMIT:-180}
    RUN_ARGS=(--batch-size 16 --steps 5 --rounds 2 --warmup 2 --compile)
else
    CONFIG=tiny BACKBONES="vit-tiny swin3d-t" LIMIT=${GPU_CHECK_LIMIT:-600}
    RUN_ARGS=(--batch-size 2 --steps 1 --rounds 1 --warmup 1)
fi
[ -n "$TEXT" ] && RUN_ARGS+=(--text-encoder "$TEXT")

status=0
for backbone in $BACKBONES; do
    echo "=== $CONFIG preset, backbone $backbone, $DEVICE: eager fp32 | bf16 + SDPA | + torch.compile ==="
    timeout "$LIMIT" python benchmarks/train_step.py --config "$CONFIG" --backbone "$backbone" --device "$DEVICE" \
        "${RUN_ARGS[@]}"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "gpu_check: $backbone did not complete (rc=$rc$([ "$rc" -eq 124 ] && echo ", over ${LIMIT} s"))" >&2
        status=$rc
    fi
done
exit "$status"
