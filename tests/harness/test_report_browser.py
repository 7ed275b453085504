"""The HTML leaderboard in a real browser: headless Chromium renders it offline, takes a
screenshot, logs no console error, and the page's own script reports every plot drawn."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tempvl_bench.cli import main
from tempvl_bench.results import write_json_atomic

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--disable-extensions", "--disable-background-networking"]


def _browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(f"no Chromium found on PATH (tried {', '.join(BROWSERS)}); .ci/run installs it with apt-get "
                "install chromium")


def _record(task, family, run_id, mode, primary, metrics, ci_width, baselines, **extra):
    return {
        "schema_version": 4, "run_id": run_id, "task": task, "family": family, "split": "test", "mode": mode,
        "demo": True, "metrics": metrics, "primary_metric": primary, "backbone": "cnn-tiny",
        "checkpoint_sha256": None, "num_samples": 40, "created_at": f"2026-01-0{1 if mode == 'zero-shot' else 2}",
        "ci95": {m: [max(v - ci_width, 0), v + ci_width] for m, v in metrics.items()},
        "baselines": baselines, "baselines_ci95": {}, **extra,
    }


def _write_runs(root: Path) -> int:
    """Runs of four families; returns the number of plots the page must draw."""
    runs = []
    for mode, gain in (("zero-shot", 0.0), ("finetune", 10.0)):
        runs.append(_record("didemo", "retrieval", f"ret-{mode}", mode, "t2v/R@1",
                            {f"{d}/R@{k}": min(100.0, 5.0 * k + gain) for d in ("t2v", "v2t") for k in (1, 5, 10)},
                            2.0, {"chance": {f"{d}/R@{k}": k * 100 / 40 for d in ("t2v", "v2t") for k in (1, 5, 10)}}))
        runs.append(_record("charades-sta", "moment-retrieval", f"mr-{mode}", mode, "mr/R1@0.5",
                            {f"mr/R{r}@{t}": 60 * r / 5 - 50 * t + gain for r in (1, 5) for t in (0.3, 0.5, 0.7)},
                            5.0, {"best constant window": {f"mr/R1@{t}": 40 - 30 * t for t in (0.3, 0.5, 0.7)}}))
        runs.append(_record("thumos14", "action-localization", f"tal-{mode}", mode, "tal/mAP@avg",
                            {**{f"tal/mAP@{t}": 30 - 30 * t + gain for t in (0.3, 0.4, 0.5, 0.6, 0.7)},
                             "tal/mAP@avg": 15 + gain}, 1.5,
                            {"class-prior segments": {"tal/mAP@0.3": 4.0, "tal/mAP@0.5": 2.0, "tal/mAP@avg": 2.0}},
                            breakdowns={"tal/AP per class": {"Diving": 20.0 + gain, "Shotput": 5.0, "Billiards": 1.0}}))
        runs.append(_record("msvd-qa", "qa", f"qa-{mode}", mode, "qa/acc",
                            {"qa/acc": 20 + gain, "qa/acc/what": 15 + gain, "qa/acc/who": 30 + gain}, 4.0,
                            {"majority answer": {"qa/acc": 12.0, "qa/acc/what": 10.0, "qa/acc/who": 20.0}}))
    for record in runs:
        write_json_atomic(root / record["task"] / record["run_id"] / "results.json", record)
    return 2 + 2 + 1 + 1 + 1  # t2v/v2t recall@K, R1/R5 vs tIoU, AP vs tIoU, AP per class, per-type accuracy


def test_report_renders_in_chromium_with_every_plot_drawn(tmp_path):
    browser = _browser()
    expected = _write_runs(tmp_path / "results")
    page = tmp_path / "report.html"
    assert main(["leaderboard", "--results", str(tmp_path / "results"), "--format", "html", "--output", str(page)]) == 0
    url = page.resolve().as_uri()

    shot = tmp_path / "report.png"
    subprocess.run([browser, *FLAGS, "--window-size=1400,2000", f"--screenshot={shot}", url],
                   capture_output=True, text=True, timeout=120, check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000

    dom = subprocess.run([browser, *FLAGS, "--dump-dom", "--enable-logging=stderr", "--v=0", url],
                         capture_output=True, text=True, timeout=120, check=True)
    body = re.search(r"<body([^>]*)>", dom.stdout)
    assert body, dom.stdout[:500]
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(1)))
    assert attrs.get("data-js-errors") == "", attrs
    assert attrs["data-plots-total"] == str(expected) and attrs["data-plots-drawn"] == str(expected)
    assert dom.stdout.count('data-drawn="true"') == expected
    assert dom.stdout.count("<svg") == expected
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console
    assert "baseline: chance" in dom.stdout and "±" in dom.stdout
