"""``tempvl-bench compare``: a paired test of two real demo runs, and refusals that say why."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tempvl_bench.cli.app import main

FAST = ["--no-progress", "--limit", "12"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("runs")
    found = {}
    for name, extra in (("four", ["--set", "video.num_frames=4"]), ("two", ["--set", "video.num_frames=2"]),
                        ("fewer", ["--set", "video.num_frames=4", "--limit", "8"])):
        target = out / name
        assert main(["run", "--task", "didemo", "--demo", "--output", str(target), *FAST, *extra]) == 0
        (found[name],) = target.glob("didemo/*/")
    return found


def test_compare_reports_the_paired_difference(runs, capsys):
    assert main(["compare", str(runs["four"]), str(runs["two"]), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    a = json.loads((runs["four"] / "results.json").read_text())["metrics"]
    b = json.loads((runs["two"] / "results.json").read_text())["metrics"]
    assert set(result["metrics"]) == set(a)
    for metric, row in result["metrics"].items():
        assert row["difference"] == pytest.approx(a[metric] - b[metric])
        assert row["ci95"][0] <= row["difference"] <= row["ci95"][1] and 0 < row["p_value"] <= 1
    assert main(["compare", str(runs["four"]), str(runs["four"]), "--metric", "t2v/R@1"]) == 0
    text = capsys.readouterr().out
    assert "| t2v/R@1 " in text and "+0.00" in text and "v2t/R@1" not in text


def test_compare_refuses_other_queries_splits_and_annotations(runs, tmp_path, capsys):
    assert main(["compare", str(runs["four"]), str(runs["fewer"])]) == 2
    assert "evaluated different" in capsys.readouterr().err

    for key, change, expected in (("split", "val", "different splits: 'test'"),
                                  ("annotation_sha256", None, "annotation files differ")):
        copy = tmp_path / key
        shutil.copytree(runs["two"], copy)
        record = json.loads((copy / "results.json").read_text())
        if change is None:
            name = sorted(record[key])[0]
            record[key][name] = "0" * 64
            expected += f" between the runs (split 'test'): {name}"
        else:
            record[key] = change
        (copy / "results.json").write_text(json.dumps(record))
        assert main(["compare", str(runs["four"]), str(copy)]) == 2
        assert expected in capsys.readouterr().err

    assert main(["compare", str(runs["four"]), str(runs["two"]), "--metric", "qa/acc"]) == 2
    assert "not a metric of both runs" in capsys.readouterr().err
