"""The committed fresh-draw study (docs/study/fresh/) is what its config and its own outcomes say.

study.json was written once by the full study; these tests recompute from it, without running
anything: the report (study.md) and the claims come out identical, the recorded config is the
committed plan's, and the claims table of docs/study/README.md quotes study.json (numbers and
held / not held), so docs and data cannot drift apart.
"""

import json
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FRESH = REPO / "docs" / "study" / "fresh"
CONFIG = REPO / "configs" / "study" / "fresh-draw.yaml"


@pytest.fixture(scope="module")
def study():
    return json.loads((FRESH / "study.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def cfg():
    from tempvl_bench.study.config import load_study_config

    return load_study_config(CONFIG)


def test_the_recorded_config_is_the_committed_plan(study, cfg):
    from tempvl_bench.study.runner import recorded_config

    assert study["config"] == json.loads(json.dumps(recorded_config(cfg, CONFIG, quick=False)))
    assert study["plan"]["dirty"] is False
    assert [c["name"] for c in study["plan"]["claims"]] == [c.name for c in cfg.claims]
    done = subprocess.run(["git", "log", "--format=%H", "--", CONFIG.name], cwd=CONFIG.parent,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        pytest.skip("not a git checkout with history")
    assert study["plan"]["config_commit"] in done.stdout.split(), "study.json names a commit that never held the plan"


@pytest.mark.slow
def test_report_and_claims_recompute_identically_from_study_json(study, cfg):
    from tempvl_bench.study.report import evaluate_claims, markdown, study_summary

    assert evaluate_claims(study, cfg) == study["claims"]
    md = markdown(study, cfg, study_summary(study, cfg))
    assert md == (FRESH / "study.md").read_text(encoding="utf-8")


def _signed(x: float) -> str:
    return f"{x:+.2f}"


def test_the_docs_claims_table_quotes_study_json(study):
    text = (REPO / "docs" / "study" / "README.md").read_text(encoding="utf-8")
    section = text[text.index("**The pre-registered claims:"):]
    section = section[:section.index("\n\n", section.index("| claim |"))]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("claim", "---"):
            rows[cells[0].strip("*")] = cells
    assert set(rows) == {c["name"] for c in study["claims"]}
    for claim in study["claims"]:
        name, _, difference, held = rows[claim["name"]]
        lo, hi = claim["ci95"]
        want = f"{_signed(claim['difference'])} [{_signed(lo)}, {_signed(hi)}]"
        assert difference.strip("*") == want, (claim["name"], difference, want)
        assert held.strip("*") == ("held" if claim["held"] else "not held"), claim["name"]
    held = sum(c["held"] for c in study["claims"])
    assert re.search(rf"{held} held, {len(study['claims']) - held} not held", section)
