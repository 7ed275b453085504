"""``score --output`` is written atomically: a write that fails part-way (here: the file-size
limit of the process) leaves the previous file whole and no temporary file behind."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

SCRIPT = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))
from tempvl_bench.cli.app import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_failed_output_write_keeps_the_previous_file(tmp_path):
    np.save(tmp_path / "sim.npy", np.eye(4) + 0.1)
    output = tmp_path / "metrics.json"
    previous = '{"t2v/R@1": 12.5}\n'
    output.write_text(previous)
    done = subprocess.run([sys.executable, "-c", SCRIPT, "score", "--family", "retrieval", "--predictions",
                           str(tmp_path / "sim.npy"), "--output", str(output)], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert f"error: {output}: cannot write --output" in done.stderr and "Traceback" not in done.stderr
    assert output.read_text() == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "sim.npy"]


def test_the_output_is_the_printed_object(tmp_path):
    np.save(tmp_path / "sim.npy", np.eye(4) + 0.1)
    output = tmp_path / "out" / "metrics.json"
    done = subprocess.run([sys.executable, "-m", "tempvl_bench.cli", "score", "--family", "retrieval",
                           "--predictions", str(tmp_path / "sim.npy"), "--output", str(output)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(output.read_text()) == json.loads(done.stdout)
