"""The pre-registered study (configs/study/fresh-draw.yaml) in ``--quick`` mode: claims marked held
or not held, the plan's commit recorded, seen / held-out motion rows, the grounding outcomes, and
the full study's refusal to run an uncommitted plan (structure only, never the claims' outcome)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from study_helpers import quick_study_in, run_quick_study

from tempvl_bench.study import evaluate as ev
from tempvl_bench.study.config import StudyConfigError, load_study_config
from tempvl_bench.study.data import Moments, query_motions
from tempvl_bench.study.runner import plan_commit, run_study
from tempvl_bench.study.stats import crossed_ratio, crossed_ratio_difference

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "study" / "fresh-draw.yaml"


def _study(output: Path) -> subprocess.CompletedProcess:
    return run_quick_study(CONFIG, output)


@pytest.fixture(scope="module")
def plan_study(tmp_path_factory) -> Path:
    return quick_study_in(tmp_path_factory.mktemp("plan") / "quick", CONFIG)


def test_the_plan_is_fixed_in_the_config() -> None:
    cfg = load_study_config(CONFIG)
    assert {v.name for v in cfg.variants} == {"vtc_mlm", "mr_tl", "control", "random_init"}
    assert all(v.seeds == 8 for v in cfg.variants) and cfg.seeds == list(range(11, 19))
    assert cfg.eval["test_seed"] != 0  # the evaluation draw is not the one the recipe was chosen on
    demo = load_study_config(REPO / "configs" / "study" / "demo.yaml")
    assert not set(cfg.seeds) & set(demo.seeds) and not set(cfg.seeds) & {0, 1, 2}
    for section in ("model", "finetune"):  # the recipe is not re-chosen
        assert getattr(cfg, section) == getattr(demo, section)
    assert {k: v for k, v in cfg.pretrain.items() if k != "seeds"} == \
        {k: v for k, v in demo.pretrain.items() if k != "seeds"}
    compared = {(c.a, c.b, c.metric) for c in cfg.claims}
    for metric in ("zero-shot/mr/R1@0.5", "zero-shot/right-event rate"):
        assert ("mr_tl", "vtc_mlm", metric) in compared and ("mr_tl", "control", metric) in compared
    assert ("mr_tl", "chance", "zero-shot/right-event rate") in compared
    assert ("vtc_mlm", "random_init", "retrieval zero-shot/t2v/R@1") in compared


def test_quick_plan_marks_claims_and_records_the_commit(plan_study: Path) -> None:
    study = json.loads((plan_study / "study.json").read_text())
    cfg = load_study_config(CONFIG, quick=True)
    assert set(study["runs"]) == {f"{v}/seed0" for v in ("vtc_mlm", "mr_tl", "control", "random_init")}
    assert study["plan"] == {**plan_commit(CONFIG), "claims": [
        {"name": c.name, "metric": c.metric, "a": c.a, "b": c.b, "rule": c.rule} for c in cfg.claims]}
    assert [c["name"] for c in study["claims"]] == [c.name for c in cfg.claims]
    for claim in study["claims"]:
        assert isinstance(claim["held"], bool) and claim["seeds"] == [0]
        if claim["difference"] is not None:
            low, high = claim["ci95"]
            assert low <= claim["difference"] <= high or low == high
            assert claim["held"] == (low > 0 if claim["rule"] == "lower > 0" else high < 0)
    md = (plan_study / "study.md").read_text()
    assert "## Pre-registered claims" in md
    marked = [line for line in md.splitlines() if line.endswith(("| held |", "| not held |"))
              and not line.startswith("| claim |")]
    assert len(marked) == len(cfg.claims)
    assert sum(line.endswith("| held |") for line in marked) == sum(c["held"] for c in study["claims"])


def test_quick_plan_reports_grounding_and_motion_rows(plan_study: Path) -> None:
    study = json.loads((plan_study / "study.json").read_text())
    data = study["data"]
    queries = data["charades_test_queries"]
    assert data["charades_test_seed"] == 0  # --quick never scores the evaluation draw
    assert len(data["query_motions"]) == len(data["event_chance"]) == queries
    assert "appear" not in data["pretraining_motions"] and "disappear" not in data["pretraining_motions"]
    held_out = sum(m not in data["pretraining_motions"] for m in data["query_motions"])
    assert 0 < held_out < queries
    swapped = data["swapped_queries"]
    for run in study["runs"].values():
        for evaluation in ("zero-shot", "finetuned"):
            out = run["outcomes"][evaluation]
            assert len(out["event/matched"]) == len(out["event/right"]) == queries
            assert all(r <= m for r, m in zip(out["event/right"], out["event/matched"]))  # own event is an event
            assert out["event/right"] == out["mr/R1@0.5"]
            assert len(out["swapped/R1@0.5"]) == len(swapped)
    assert {"text-blind ceiling", "best constant frame"} <= set(study["baselines"])
    # No text-blind predictor beats the ceiling; the constant window is one of them.
    ceiling = np.mean(study["baselines"]["text-blind ceiling"]["mr/R1@0.5"])
    assert np.mean(study["baselines"]["best constant window"]["mr/R1@0.5"]) <= ceiling
    md = (plan_study / "study.md").read_text()
    assert "## Choosing the right event" in md and "| *text-blind ceiling* |" in md
    assert f"| seen in pretraining ({queries - held_out}) | +MR+TL |" in md
    assert f"| held out of pretraining ({held_out}) | +MR+TL |" in md
    assert "| random init |" in md


def test_the_report_of_a_finished_plan_repeats_exactly(plan_study: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    shutil.copytree(plan_study, again)
    study = json.loads((again / "study.json").read_text())
    del study["claims"]
    (again / "study.json").write_text(json.dumps(study, sort_keys=True) + "\n")
    (again / "study.md").unlink()
    done = _study(again)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "[study]" not in done.stdout  # nothing was trained again
    assert (again / "study.json").read_bytes() == (plan_study / "study.json").read_bytes()
    assert (again / "study.md").read_text() == (plan_study / "study.md").read_text()


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                   capture_output=True)


def test_the_full_study_refuses_an_uncommitted_plan(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    config = repo / "plan.yaml"
    shutil.copy(CONFIG, config)
    # Not in git: no commit to record, so no plan.
    assert plan_commit(config) == {"config_commit": None, "dirty": True}
    _git(repo, "init", "-q")
    _git(repo, "add", "plan.yaml")
    _git(repo, "commit", "-q", "-m", "plan")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    assert plan_commit(config) == {"config_commit": head, "dirty": False}
    config.write_text(config.read_text().replace("test_seed: 251", "test_seed: 252"))
    assert plan_commit(config) == {"config_commit": head, "dirty": True}
    with pytest.raises(ValueError, match="uncommitted changes"):
        run_study(config, tmp_path / "out", quick=False, progress=False, host=object())
    assert not (tmp_path / "out").exists()  # refused before anything ran


def test_claim_errors_name_the_key(tmp_path: Path) -> None:
    text = CONFIG.read_text()
    bad = tmp_path / "bad.yaml"
    cases = [
        (text.replace("b: chance, rule: lower > 0}", "b: chance, rule: lower > 1}", 1), r"claims\[0\].rule"),
        (text.replace("a: mr_tl, b: chance", "a: mr, b: chance", 1), r"claims\[0\].a"),
        (text.replace("a: mr_tl, b: chance", "a: mr_tl, b: luck", 1), r"claims\[0\].b"),
        (text.replace("{name: right-event above chance (ZS), ", "{nme: x, ", 1), r"claims\[0\].nme"),
        (text.replace("shuffled_texts: true}", "shuffled_texts: true, seeds: 3}"), "equal seeds"),
        (text.replace("test_seed: 251", "test_seed: -1"), "eval.test_seed"),
    ]
    for broken, match in cases:
        assert broken != text
        bad.write_text(broken)
        with pytest.raises(StudyConfigError, match=match):
            load_study_config(bad)


def test_query_motions_follow_the_generator_record() -> None:
    from tempvl_core.data.demo import ensure_demo_dataset
    from tempvl_core.data.demo.vocab import MOTIONS
    from tempvl_core.data import catalogue

    root = ensure_demo_dataset("charades-sta") / "charades-sta"
    queries = catalogue.load("charades-sta", root, "moments", "test").records[:200]
    motions = query_motions(root, "test", [q.video_name for q in queries], [q.windows[0][0] for q in queries])
    assert {"appear", "disappear"} <= set(motions)
    for query, motion in zip(queries, motions):  # the caption says the same motion
        assert query.query.rstrip(".").endswith(" " + MOTIONS[motion].phrase), (query.query, motion)


def test_grounding_outcomes_separate_choosing_from_detecting() -> None:
    # One 24 s video, three disjoint events with one query each.
    windows = np.array([[0.0, 6.0], [8.0, 14.0], [16.0, 22.0]])
    moments = Moments(torch.zeros(1, 24, 3, 1, 1), np.array([24.0]), np.zeros(3, dtype=int), ["a", "b", "c"], windows)
    grounded = ev.grounding_outcomes(windows, moments)  # each query finds its own event
    assert grounded["event/right"].tolist() == [100.0] * 3 and grounded["event/matched"].tolist() == [100.0] * 3
    assert grounded["swapped/R1@0.5"].tolist() == [0.0] * 3  # a sibling's text finds the sibling's event
    detector = ev.grounding_outcomes(np.repeat(windows[:1], 3, 0), moments)  # one event whatever the text
    assert detector["event/right"].tolist() == [100.0, 0.0, 0.0] and detector["event/matched"].tolist() == [100.0] * 3
    assert sorted(detector["swapped/R1@0.5"].tolist()) == [0.0, 0.0, 100.0]  # the text changes nothing
    assert ev.event_chance(moments).tolist() == pytest.approx([100 / 3] * 3)


def test_the_right_event_rate_is_a_ratio_resampled_as_one() -> None:
    rng = np.random.default_rng(0)
    matched = (rng.random((4, 600)) < 0.5) * 1.0
    right = matched * (rng.random((4, 600)) < 0.6) * 100.0
    est = crossed_ratio(right, matched, resamples=300, seed=0)
    assert est.mean == pytest.approx(right.sum() / matched.sum()) and est.low < est.mean < est.high
    # A model that matches twice as many queries at the same rate has the same rate: the ratio
    # compares choosing, not how often some event is found.
    more = np.minimum(matched + (rng.random((4, 600)) < 0.5), 1.0)
    right_more = np.where(matched > 0, right, more * (rng.random((4, 600)) < 0.6) * 100.0)
    same = crossed_ratio_difference((right_more, more), (right, matched), resamples=300, seed=0)
    assert same.low < 0 < same.high
    chance = matched * 25.0
    above = crossed_ratio_difference((right, matched), (chance, matched), resamples=300, seed=0)
    assert above.mean == pytest.approx(right.sum() / matched.sum() - 25.0) and above.low > 0
