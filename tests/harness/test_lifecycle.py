"""The harness's one task lifecycle, driven through the CLI with probe families registered by
lazy ``module:attr`` targets: the loop, --limit, options validated by the one validator, the
metrics check, refused --set of the task's identity, and no zero-shot numbers recorded as a
finetune row. The probe families read no files; the model is the tiny demo one."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tempvl_bench.cli.app import main

REPO = Path(__file__).resolve().parents[2]

PROBE_MODULE = '''
from dataclasses import dataclass
from pathlib import Path

from tempvl_bench.api import NoOptions, Outcomes, Scores, Split, TaskFamily, TaskSpec, checked, finetune, hookimpl

HERE = Path(__file__).parent
SEEN = {}


@dataclass
class ProbeOptions:
    protocol: str = checked("square", choices=("square", "multi-caption"))
    width: int = checked(1, ge=1, expected="a positive integer")


class Probe(TaskFamily):
    options = ProbeOptions

    def load(self, ctx, split):
        SEEN["options"] = ctx.task_options
        return Split(split, [f"record-{i}" for i in range(5)])

    def finetune(self, ctx, model, train, evaluation):
        SEEN["train"] = list(train.records)
        finetune(model, lambda epoch: [None], lambda m, batch: (m.logit_scale.sum() - 1.0) ** 2, ctx.config.finetune,
                 steps_per_epoch=1, run_dir=ctx.run_dir, resume=False, progress=False)
        return "tuned"

    def predict(self, ctx, model, evaluation, train):
        SEEN["evaluated"] = list(evaluation.records)
        SEEN["finetuned"] = ctx.finetuned
        return len(evaluation.records)

    def score(self, ctx, evaluation, count):
        return Scores({"t2v/R@1": 50.0, "t2v/MdR": 2.0}, count, [{"n": count}])


class ExtraMetric(Probe):
    def score(self, ctx, evaluation, count):
        return Scores({"t2v/R@1": 50.0, "t2v/MdR": 2.0, "t2v/R@5": 1.0}, count)


class Declared(Probe):
    def metric_names(self, options):
        return ("t2v/R@1", "t2v/MdR")


class WithBaseline(Probe):
    def baselines(self, ctx, train, evaluation):
        return {"constant": {"t2v/R@1": 20.0, "t2v/MdR": 3.0}}


class WithOutcomes(Probe):
    """Per-query outcomes for the model and a baseline: intervals and the paired test follow."""

    def score(self, ctx, evaluation, count):
        hits = [100.0] * 30 + [0.0] * 10
        outcomes = Outcomes.per_unit("text", range(40), {"t2v/R@1": hits, "t2v/MdR": ([1.0] * 30 + [4.0] * 10, "median")})
        return Scores({"t2v/R@1": 75.0, "t2v/MdR": 1.0}, 40, outcomes=outcomes)

    def baselines(self, ctx, train, evaluation):
        hits = [100.0] * 2 + [0.0] * 38
        outcomes = Outcomes.per_unit("text", range(40), {"t2v/R@1": hits})
        return {"chance": Scores({"t2v/R@1": 5.0}, 40, outcomes=outcomes)}


class TrainUnreadable(Probe):
    def load_train(self, ctx, split):
        raise FileNotFoundError(f"no annotation file for split {split!r}")

    def baselines(self, ctx, train, evaluation):
        SEEN["baselines_train"] = train
        return {} if train is None else {"constant": {"t2v/R@1": 20.0, "t2v/MdR": 3.0}}


class NoFinetune(Probe):
    options = NoOptions
    supports_finetune = False


class TrainsNothing(Probe):
    """A finetune step that returns without training (nor saving any finetuning state)."""

    def finetune(self, ctx, model, train, evaluation):
        return None


@hookimpl
def tempvl_bench_register_tasks(registry):
    for name, target, task_file in (
        ("probe", "probe_family:Probe", "probe.yaml"),
        ("probe-typo", "probe_family:Probe", "probe-typo.yaml"),
        ("probe-extra", "probe_family:ExtraMetric", "probe.yaml"),
        ("probe-declared", "probe_family:Declared", "probe-unknown-metric.yaml"),
        ("probe-baseline", "probe_family:WithBaseline", "probe.yaml"),
        ("probe-outcomes", "probe_family:WithOutcomes", "probe.yaml"),
        ("probe-notrain", "probe_family:TrainUnreadable", "probe.yaml"),
        ("probe-nofinetune", "probe_family:NoFinetune", "probe-plain.yaml"),
        ("probe-untrained", "probe_family:TrainsNothing", "probe.yaml"),
        ("probe-missing", "probe_family:Missing", "probe.yaml"),
    ):
        registry.register(TaskSpec(name, HERE / task_file, target))
'''

TASK = """
name: probe
family: retrieval
plugin: probe_family
dataset: didemo
paths: {{annotations: didemo, videos: didemo/videos}}
metrics: [t2v/R@1, t2v/MdR]
primary_metric: t2v/R@1
finetune: {{epochs: 1}}
model: {{preset: tiny, backbone: cnn-tiny, text_encoder: minilm}}
{options}
"""


@pytest.fixture
def probe(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    (site / "probe_family.py").write_text(textwrap.dedent(PROBE_MODULE))
    (site / "probe.yaml").write_text(TASK.format(options="options: {protocol: square}"))
    (site / "probe-typo.yaml").write_text(TASK.format(options="options: {protocl: square}"))
    (site / "probe-plain.yaml").write_text(TASK.format(options=""))
    (site / "probe-unknown-metric.yaml").write_text(
        TASK.format(options="").replace("metrics: [t2v/R@1, t2v/MdR]", "metrics: [t2v/R@1, t2v/R@50]"))
    monkeypatch.syspath_prepend(str(site))
    sys.modules.pop("probe_family", None)
    data = tmp_path / "data"
    (data / "didemo").mkdir(parents=True)
    output = tmp_path / "out"

    class Probe:
        site_dir = site
        out = output

        @staticmethod
        def run(task: str, *extra: str) -> int:
            return main(["-p", "probe_family", "run", "--task", task, "--output", str(output), "--data-root",
                         str(data), "--no-progress", "--device", "cpu", "--no-cache", *extra])

        @staticmethod
        def seen() -> dict:
            return sys.modules["probe_family"].SEEN

        @staticmethod
        def results(task: str) -> list[dict]:
            return [json.loads(p.read_text()) for p in sorted(output.glob(f"{task}/*/results.json"))]

    yield Probe
    sys.modules.pop("probe_family", None)


def test_a_family_runs_through_the_harness_loop_with_limit_and_options(probe):
    assert probe.run("probe", "--limit", "2", "--set", "options.width=3") == 0
    seen = probe.seen()
    assert seen["evaluated"] == ["record-0", "record-1"] and seen["finetuned"] is None
    assert seen["options"].protocol == "square" and seen["options"].width == 3
    (record,) = probe.results("probe")
    assert record["metrics"] == {"t2v/R@1": 50.0, "t2v/MdR": 2.0} and record["num_samples"] == 2


def test_baselines_step_results_go_into_results_json(probe):
    assert probe.run("probe") == 0 and probe.run("probe-baseline") == 0
    (plain,) = probe.results("probe")
    assert plain["baselines"] == {} and plain["vs_best_baseline"] is None and plain["ci95"] == {}
    (record,) = probe.results("probe-baseline")
    assert record["baselines"] == {"constant": {"t2v/R@1": 20.0, "t2v/MdR": 3.0}}
    versus = record["vs_best_baseline"]  # no outcomes: a difference without an interval
    assert versus["baseline"] == "constant" and versus["difference"] == 30.0 and versus["ci95"] is None
    assert not list(probe.out.glob("*/*/outcomes.npz"))


def test_an_unreadable_training_split_costs_a_zero_shot_run_its_baselines_only(probe, capsys):
    assert probe.run("probe-notrain") == 0
    assert probe.seen()["baselines_train"] is None
    assert "no trivial baselines: training split 'train' unreadable" in capsys.readouterr().err
    (record,) = probe.results("probe-notrain")
    assert record["baselines"] == {} and record["metrics"] == {"t2v/R@1": 50.0, "t2v/MdR": 2.0}


def test_outcomes_give_intervals_and_the_paired_test_against_the_best_baseline(probe):
    from tempvl_bench.report.outcomes_file import read_outcomes

    assert probe.run("probe-outcomes") == 0
    (record,) = probe.results("probe-outcomes")
    low, high = record["ci95"]["t2v/R@1"]
    assert low < 75.0 < high and record["ci95"]["t2v/MdR"][0] == 1.0
    assert record["bootstrap"]["resamples"] == 1000 and record["bootstrap"]["units"]["t2v/R@1"] == "text"
    assert record["baselines"] == {"chance": {"t2v/R@1": 5.0}}
    assert record["baselines_ci95"]["chance"]["t2v/R@1"][0] >= 0
    versus = record["vs_best_baseline"]
    assert versus["baseline"] == "chance" and versus["difference"] == 70.0 and versus["beats"] is True
    assert versus["ci95"][0] > 0 and versus["p_value"] < 0.01
    (npz,) = probe.out.glob("probe-outcomes/*/outcomes.npz")
    assert set(read_outcomes(npz)) == {"model", "chance"}


def test_finetune_runs_the_family_step_and_hands_its_result_to_predict(probe):
    assert probe.run("probe", "--mode", "finetune") == 0
    seen = probe.seen()
    assert seen["train"] == [f"record-{i}" for i in range(5)] and seen["finetuned"] == "tuned"
    assert [r["mode"] for r in probe.results("probe")] == ["finetune"]


def test_an_option_typo_names_the_key_and_the_file_before_anything_runs(probe, capsys):
    assert probe.run("probe-typo") == 2
    err = capsys.readouterr().err
    assert f"{probe.site_dir / 'probe-typo.yaml'}: key 'options.protocl': unknown key. Did you mean 'protocol'?" in err
    assert "Traceback" not in err and not probe.out.exists()
    assert probe.run("probe", "--set", "options.width=0") == 2
    assert "key 'options.width' (set with --set): expected a positive integer, got 0" in capsys.readouterr().err


def test_set_cannot_change_which_task_or_plugin_runs(probe, capsys):
    for key in ("plugin", "family", "name"):
        assert probe.run("probe", "--set", f"{key}=nonsense") == 2
        assert f"--set '{key}=nonsense'" in capsys.readouterr().err
    assert not probe.out.exists()


def test_metrics_may_list_a_subset_of_what_the_family_computes(probe):
    assert probe.run("probe-extra") == 0
    (record,) = probe.results("probe-extra")
    assert record["metrics"] == {"t2v/R@1": 50.0, "t2v/MdR": 2.0, "t2v/R@5": 1.0}  # the full set, listed first


def test_a_listed_metric_the_family_never_reports_is_refused_before_loading(probe, capsys):
    assert probe.run("probe-declared") == 2
    err = capsys.readouterr().err
    assert "probe-unknown-metric.yaml: key 'metrics': the retrieval family does not compute t2v/R@50" in err
    assert "options" not in probe.seen() and not probe.out.exists()


def test_no_zero_shot_numbers_are_recorded_as_a_finetune_row(probe, capsys):
    assert probe.run("probe-untrained", "--mode", "finetune") == 2
    assert "trained nothing" in capsys.readouterr().err
    assert probe.results("probe-untrained") == []
    assert probe.run("probe-nofinetune", "--mode", "finetune") == 2
    assert "has no finetuning step" in capsys.readouterr().err
    assert probe.run("probe-untrained") == 0  # the same family zero-shot is fine


def test_a_wrong_target_names_the_task_and_the_target(probe, capsys):
    assert probe.run("probe-missing") == 2
    err = capsys.readouterr().err
    assert "task 'probe-missing'" in err and "'probe_family:Missing'" in err and "Traceback" not in err


def test_a_misspelt_hook_is_a_clean_error_naming_plugin_and_hook(tmp_path, monkeypatch, capsys):
    (tmp_path / "typo_hook.py").write_text(
        "from tempvl_bench.api import hookimpl\n\n@hookimpl\ndef tempvl_bench_register_taks(registry):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["-p", "typo_hook", "list"]) == 2
    err = capsys.readouterr().err
    assert "plugin 'typo_hook'" in err and "'tempvl_bench_register_taks'" in err
    assert "Did you mean 'tempvl_bench_register_tasks'?" in err and "Traceback" not in err
    sys.modules.pop("typo_hook", None)


def test_the_api_is_cheap_to_import_and_the_only_harness_import_of_the_plugins():
    code = "import sys, tempvl_bench.api; print(sorted(m for m in ('torch', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    offenders = []
    for path in sorted((REPO / "plugins").rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            words = line.split()
            if words[:1] in (["from"], ["import"]) and len(words) > 1 and words[1].startswith("tempvl_bench"):
                if words[1] != "tempvl_bench.api":
                    offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []
