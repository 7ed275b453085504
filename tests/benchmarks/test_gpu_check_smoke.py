"""The GPU check's CPU smoke version: the same script and benchmark at the tiny preset, batch 2,
for a per-frame (vit-tiny) and a clip (swin3d-t) backbone. Checks that every number is printed;
speed is not asserted (it is what the script is for)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_gpu_check_cpu_smoke_prints_rates_memory_and_mfu_for_both_backbone_kinds():
    env = dict(os.environ, GPU_CHECK_DEVICE="cpu", OMP_NUM_THREADS="1")
    out = subprocess.run(["bash", str(REPO / "benchmarks/gpu_check.sh")], capture_output=True, text=True, env=env,
                         timeout=1200)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    sections = out.stdout.split("=== ")[1:]
    assert [s.split(",")[0] for s in sections] == ["tiny preset", "tiny preset"]
    assert "backbone vit-tiny" in sections[0] and "backbone swin3d-t" in sections[1]
    for section in sections:
        assert re.search(r"peak for MFU: [\d.]+ TFLOP/s \(measured, fp32", section)
        for variant in ("eager fp32 (baseline)", "bf16 autocast + SDPA"):
            row = next(line for line in section.splitlines() if line.startswith(variant) and "MFU" in line
                       and "clips/s" not in line)
            rate, ratio, loss, memory = row[len(variant):].split()[:4]
            assert float(rate) > 0 and ratio.endswith("x") and float(loss) > 0 and float(memory) > 0.1
            assert re.search(r"MFU \d+\.\d%", row)
