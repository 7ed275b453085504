"""Running ``tempvl-bench study --quick`` as a user would (a subprocess), for the study tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def quick_study_command(config: Path, output: Path) -> list[str]:
    """The command line of a quick study of ``config`` into ``output`` (one torch thread)."""
    return [sys.executable, "-m", "tempvl_bench.cli", "study", "--config", str(config), "--output", str(output),
            "--quick", "--threads", "1", "--no-progress"]


def run_quick_study(config: Path, output: Path, *extra: str) -> subprocess.CompletedProcess:
    """Run :func:`quick_study_command` (plus ``extra`` arguments) and return the finished process."""
    return subprocess.run(quick_study_command(config, output) + list(extra), capture_output=True, text=True,
                          timeout=1200)


def quick_study_in(output: Path, config: Path) -> Path:
    """``output`` after a quick study of ``config`` that must succeed (its stderr tail if not)."""
    done = run_quick_study(config, output)
    assert done.returncode == 0, done.stderr[-3000:]
    return output
