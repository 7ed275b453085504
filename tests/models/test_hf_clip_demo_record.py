"""docs/tasks.md quotes the committed hf-clip demo runs (docs/models/hf-clip-demo/) as they are:
one pretrained folder (same weights hash) run zero-shot and finetuned on the demo MSR-VTT test
split, each against chance, with the numbers the docs print."""

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RECORD = REPO / "docs" / "models" / "hf-clip-demo"


def _results(name: str) -> dict:
    return json.loads((RECORD / f"{name}-results.json").read_text(encoding="utf-8"))


def _interval(lo: float, hi: float, signed: bool) -> str:
    fmt = "{:+.2f}" if signed else "{:.2f}"
    return f"[{fmt.format(lo)}, {fmt.format(hi)}]"


def test_docs_quote_the_committed_runs():
    docs = (REPO / "docs" / "tasks.md").read_text(encoding="utf-8")
    finetune, zero_shot = _results("finetune"), _results("zero-shot")
    assert (finetune["mode"], zero_shot["mode"]) == ("finetune", "zero-shot")
    for run in (finetune, zero_shot):
        assert run["task"] == "msrvtt" and run["split"] == "test" and run["demo"] is True
        assert run["model"]["name"] == "hf-clip"
        vs = run["vs_best_baseline"]
        assert vs["baseline"] == "chance" and vs["metric"] == "t2v/R@1" and vs["beats"] is True
        value = f"{run['metrics']['t2v/R@1']:.2f} {_interval(*run['ci95']['t2v/R@1'], signed=False)}"
        assert value in docs, value
        assert f"{vs['difference']:+.2f} {_interval(*vs['ci95'], signed=True)}" in docs
    assert finetune["model"]["weights_sha256"] == zero_shot["model"]["weights_sha256"]
    assert finetune["model"]["config_sha256"] == zero_shot["model"]["config_sha256"]
    pretrain = json.loads((RECORD / "pretrain.json").read_text(encoding="utf-8"))
    assert pretrain["settings"]["videos"] == 4000 and pretrain["curve"][-1]["epoch"] == pretrain["settings"]["epochs"]
