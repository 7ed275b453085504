"""``benchmarks/feature_packs.py --small`` runs and prints both figures (never asserts on time)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "feature_packs.py"


@pytest.mark.slow
def test_small_run_prints_read_throughput_and_evaluation_time(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TEMPVL_FEATURE_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, str(SCRIPT), "--small"], capture_output=True, text=True, env=env,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    for dtype in ("float32", "float16"):
        assert re.search(rf"{dtype}: 40 videos of 75 x 2816: reader +[\d.]+ MB/s, np.load +[\d.]+ MB/s, ratio [\d.]+x",
                         done.stdout), done.stdout
    assert re.search(r"evaluation of 40 queries, scoring included: [\d.]+ s", done.stdout), done.stdout
