"""``tempvl-bench study --quick``: structure, resume and determinism (never the claim: the
quick budgets train for a few steps; docs/study/ holds the full study)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from study_helpers import quick_study_in, run_quick_study

from tempvl_bench.study.config import StudyConfigError, load_study_config
from tempvl_bench.study.data import Moments
from tempvl_bench.study.evaluate import _span_targets
from tempvl_bench.study.stats import crossed_difference, crossed_estimate

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "study" / "demo.yaml"


def _study(output: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_quick_study(CONFIG, output, *extra)


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory) -> Path:
    return quick_study_in(tmp_path_factory.mktemp("study") / "quick", CONFIG)


@pytest.mark.slow
def test_quick_study_writes_every_output(quick_study: Path) -> None:
    study = json.loads((quick_study / "study.json").read_text())
    assert set(study["runs"]) == {"vtc_mlm/seed0", "mr_tl/seed0", "control/seed0"}
    queries = study["data"]["charades_test_queries"]
    assert queries > 12  # the 12 quick test videos hold several queries each
    for run in study["runs"].values():
        zero_shot = run["outcomes"]["zero-shot"]
        assert set(zero_shot) == {"mr/R1@0.3", "mr/R1@0.5", "mr/R1@0.7", "mr/mIoU", "probe/hit",
                                  "event/matched", "event/right", "swapped/R1@0.5"}
        swapped = len(study["data"]["swapped_queries"])
        assert all(len(v) == (swapped if k.startswith("swapped/") else queries) for k, v in zero_shot.items())
        assert all(0 <= x <= 100 for v in zero_shot.values() for x in v)
        assert 1 <= run["distinct_top1_windows"] <= queries
        assert len(run["outcomes"]["retrieval zero-shot"]["t2v/R@1"]) == study["data"]["didemo_test_videos"]
    assert set(study["baselines"]) == {"best constant window", "prior-sampled windows", "chance",
                                       "text-blind ceiling", "best constant frame"}
    assert study["claims"] == [] and study["plan"]["claims"] == []  # demo.yaml pre-registers no claims
    md = (quick_study / "study.md").read_text()
    assert "| +MR+TL shuffled texts (control) |" in md and "## Paired difference against VTC+MLM" in md
    assert "*best constant window*" in md
    assert (quick_study / "study.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_a_killed_study_continues_and_repeats_exactly(quick_study: Path, tmp_path: Path) -> None:
    # As if the study had been killed while its second run trained: that run is not in
    # study.json and its pretraining folder holds only a mid-way checkpoint (or nothing).
    resumed = tmp_path / "resumed"
    shutil.copytree(quick_study, resumed)
    study = json.loads((resumed / "study.json").read_text())
    del study["runs"]["mr_tl/seed0"]
    (resumed / "study.json").write_text(json.dumps(study, sort_keys=True) + "\n")
    shutil.rmtree(resumed / "runs" / "mr_tl")
    done = _study(resumed)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "1/3" not in done.stdout and "2/3 +MR+TL" in done.stdout  # only the missing run ran
    assert (resumed / "study.json").read_bytes() == (quick_study / "study.json").read_bytes()


@pytest.mark.slow
def test_a_shard_skips_a_run_another_process_holds_and_takes_over_unstarted_ones(quick_study: Path,
                                                                                  tmp_path: Path) -> None:
    fcntl = pytest.importorskip("fcntl")
    shared = tmp_path / "shared"
    shutil.copytree(quick_study, shared)
    study = json.loads((shared / "study.json").read_text())
    for key in ("mr_tl/seed0", "control/seed0"):
        del study["runs"][key]
        shutil.rmtree(shared / "runs" / key.split("/")[0])
    (shared / "study.json").write_text(json.dumps(study, sort_keys=True) + "\n")
    for report in ("study.md", "study.png"):
        (shared / report).unlink()
    shard = ["--shard", "0/2"]  # its own runs are numbers 1 and 3 (VTC+MLM, the control)
    (shared / "runs" / "mr_tl").mkdir()
    with (shared / "runs" / "mr_tl" / "seed0.claim").open("a") as claim:
        fcntl.flock(claim, fcntl.LOCK_EX)  # as if shard 1/2 were pretraining +MR+TL right now
        done = _study(shared, *shard)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "3/3 +MR+TL shuffled texts (control)" in done.stdout and "2/3" not in done.stdout
    assert "1 runs left (mr_tl/seed0" in done.stdout and not (shared / "study.md").exists()
    # The holder died without finishing: shard 0/2 now takes +MR+TL although it is not its own.
    done = _study(shared, *shard)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2/3 +MR+TL (seed 0)" in done.stdout and "3/3" not in done.stdout
    assert (shared / "study.json").read_bytes() == (quick_study / "study.json").read_bytes()
    assert (shared / "study.md").read_text() == (quick_study / "study.md").read_text()


def test_study_config_errors_name_the_key(tmp_path: Path) -> None:
    text = CONFIG.read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("reference: vtc_mlm", "reference: vtc"))
    with pytest.raises(StudyConfigError, match="'reference'"):
        load_study_config(bad)
    bad.write_text(text.replace("merge_clips: 2}", "merge_clips: 1}"))
    with pytest.raises(StudyConfigError, match="variants.mr_tl_k2.merge_clips"):
        load_study_config(bad)
    bad.write_text(text.replace("shuffled_texts: true", "shuffled_text: true"))
    with pytest.raises(StudyConfigError, match="variants.control.shuffled_text"):
        load_study_config(bad)


def test_bootstrap_intervals_cover_the_mean_and_pairing_removes_shared_noise() -> None:
    rng = np.random.default_rng(0)
    difficulty = rng.normal(size=(3, 2000)) * 0 + rng.normal(size=2000) * 30
    a = 50 + difficulty + rng.normal(size=(3, 2000))
    b = a - 2.0 + rng.normal(size=(3, 2000)) * 0.5
    est = crossed_estimate(a, resamples=500, seed=0)
    assert est.low < est.mean < est.high and est.high - est.low < 4
    diff = crossed_difference(a, b, resamples=500, seed=0)
    # 2.0 apart with strongly shared per-query noise: the paired interval is narrow and excludes 0.
    assert diff.low > 1.8 and diff.high < 2.2 and diff.p_value < 0.01
    same = crossed_difference(a, a + rng.normal(size=a.shape) * 0.1, resamples=500, seed=0)
    assert same.low < 0 < same.high


def test_finetuning_targets_are_the_frames_whose_cells_hold_the_window() -> None:
    # 24 frames over 28 s: frame 15 starts at 17.5 s exactly (17.5 / step rounds to 14.999...).
    moments = Moments(torch.zeros(1, 24, 3, 1, 1), np.array([28.0]), np.array([0, 0, 0]), ["a", "b", "c"],
                      np.array([[17.5, 20.5], [0.0, 28.0], [3.0, 3.5]]))
    starts, ends = _span_targets(moments)
    assert starts.tolist() == [15, 0, 2] and ends.tolist() == [17, 23, 2]


def test_building_the_cli_does_not_import_torch() -> None:
    """Every command builds the full parser: the study subcommand must not make `score` or
    `--version` pay for importing torch (3-4 s)."""
    code = "import sys; from tempvl_bench.cli.app import build_parser; build_parser(); print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
