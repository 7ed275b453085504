"""The family table (tempvl_bench.metrics.families) is the one place a built-in family is named
and described: task files, the plugins' metric names, ``score --family``, the annotation kinds
of ``validate``/``check-videos`` and results.json all read it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import yaml

from tempvl_bench.cli.app import build_parser, main
from tempvl_bench.cli.commands import split_kinds
from tempvl_bench.config import builtin_task_file, load_task_config
from tempvl_bench.run.lifecycle import load_family, parse_family_options
from tempvl_bench.plugin.manager import load_plugins
from tempvl_bench.metrics.families import FAMILIES, Family
from tempvl_bench.plugin.registry import TaskSpec

HOST = load_plugins()
TASKS = HOST.tasks.names()


def test_every_builtin_task_file_names_a_family_of_the_table():
    families = {load_task_config(HOST.tasks.get(task).config_path).family for task in TASKS}
    assert families == set(FAMILIES)  # every entry is used by a task, every task's family has one


@pytest.mark.parametrize("task", TASKS)
def test_a_family_code_reports_the_table_metric_names_of_its_protocol(task):
    config = load_task_config(HOST.tasks.get(task).config_path)
    family = load_family(HOST.tasks.get(task))
    options = parse_family_options(family, config)
    table = FAMILIES[config.family].metric_names(getattr(options, "protocol", None))
    offered = family.metric_names(options)
    # open-ended QA adds one accuracy per question type of the data (qa/acc/*) to the table's names
    assert offered[:len(table)] == table and all(name.endswith("/*") for name in offered[len(table):])
    assert set(config.metrics) <= set(table) | {m for m in config.metrics if m.startswith("qa/acc/")}


def test_the_table_protocols_are_those_of_the_metrics_and_the_plugins():
    from tempvl_plugins.moment_retrieval.records import PROTOCOLS as MOMENT_PROTOCOLS
    from tempvl_plugins.retrieval.datasets import PROTOCOLS as RETRIEVAL_PROTOCOLS

    from tempvl_bench.metrics.tal import TAL_PROTOCOLS

    assert FAMILIES["tal"].protocols == tuple(TAL_PROTOCOLS)
    assert set(FAMILIES["moment-retrieval"].protocols) == set(MOMENT_PROTOCOLS)
    assert set(RETRIEVAL_PROTOCOLS) <= set(FAMILIES["retrieval"].protocols)


def test_canonical_metric_names_are_unchanged():
    assert FAMILIES["retrieval"].metric_names()[0] == "t2v/R@1"
    assert "mr/R1@0.5" in FAMILIES["moment-retrieval"].metric_names("single")
    assert "mr/R1@0.5" in FAMILIES["moment-retrieval"].metric_names("qvhighlights")
    assert "tal/mAP@0.5" in FAMILIES["tal"].metric_names("thumos14")
    assert FAMILIES["tal"].metric_names()[-1] == "tal/mAP@avg"
    assert "cap/CIDEr" in FAMILIES["captioning"].metric_names() and FAMILIES["qa"].metric_names() == ("qa/acc",)
    with pytest.raises(ValueError, match="family 'tal' has no protocol 'coco'"):
        FAMILIES["tal"].metric_names("coco")


def _score_choices() -> list[str]:
    """The ``--family`` choices of ``tempvl-bench score``, as the CLI parser holds them."""
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return list(next(a for a in commands.choices["score"]._actions if a.dest == "family").choices)


def test_score_accepts_exactly_the_table_families(capsys):
    assert _score_choices() == list(FAMILIES)
    with pytest.raises(SystemExit) as exit_info:  # the old short spelling is gone
        main(["score", "--family", "mr", "--predictions", "p.jsonl"])
    assert exit_info.value.code == 2 and "invalid choice: 'mr'" in capsys.readouterr().err


def _read_numbers(path: Path, *_) -> list[float]:
    return json.loads(Path(path).read_text())


def _mean(predictions, truth, request) -> dict[str, float]:
    return {"toy/mean": sum(predictions) / len(predictions) - (truth[0] if truth else 0.0)}


TOY = Family("toy", "retrieval", ("plain",), lambda protocol: ("toy/mean",), _read_numbers, _read_numbers, _mean,
             "a JSON list of numbers")


def test_an_entry_is_all_a_new_family_needs(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(FAMILIES, "toy", TOY)
    predictions, truth = tmp_path / "p.json", tmp_path / "gt.json"
    predictions.write_text("[1, 2, 6]")
    truth.write_text("[1]")
    assert "toy" in _score_choices()
    assert main(["score", "--family", "toy", "--predictions", str(predictions), "--ground-truth", str(truth)]) == 0
    assert json.loads(capsys.readouterr().out) == {"toy/mean": 2.0}
    assert main(["score", "--family", "toy", "--protocol", "other", "--predictions", str(predictions),
                 "--ground-truth", str(truth)]) == 2
    assert "unknown protocol 'other' for toy; expected one of ['plain']" in capsys.readouterr().err

    raw = yaml.safe_load(builtin_task_file("didemo").read_text())
    raw.update(name="toy-task", family="toy")
    (tmp_path / "toy.yaml").write_text(yaml.safe_dump(raw))
    assert set(split_kinds(load_task_config(tmp_path / "toy.yaml")).values()) == {"retrieval"}


def test_a_family_outside_the_table_names_its_annotation_kinds_itself(tmp_path):
    raw = yaml.safe_load(builtin_task_file("didemo").read_text())
    raw.update(name="matching-task", family="matching")
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ValueError, match="family 'matching' has no default annotation kind .* set splits.train_kind"):
        split_kinds(load_task_config(tmp_path / "mine.yaml"))
    raw["splits"] = {"train": None, "eval": "test", "eval_kind": "retrieval"}
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(raw))
    assert split_kinds(load_task_config(tmp_path / "mine.yaml")) == {"test": "retrieval"}


def test_a_task_spec_holds_the_family_code_and_refuses_a_family_name():
    spec = TaskSpec("probe", Path("probe.yaml"), "probe_family:Probe")
    assert spec.family == "probe_family:Probe"
    with pytest.raises(TypeError, match="TaskSpec\\(name, config_path, family\\).*'family:' key"):
        TaskSpec("probe", "retrieval", Path("probe.yaml"))  # the signature before the name moved to the file
