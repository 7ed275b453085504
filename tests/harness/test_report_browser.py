"""The HTML leaderboard in a real browser: headless Chromium renders it offline, takes a
screenshot, logs no console error, and the page's own script reports every plot drawn."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tempvl_bench.cli.app import main
from tempvl_bench.report.results import write_json_atomic

pytestmark = pytest.mark.slow  # browser: renders the report in headless Chromium

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
                            {f"mr/R{r}@{t}": 60 * r / 5 - 15 * t + gain for r in (1, 5) for t in (0.3, 0.5, 0.7)},
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


def _retrieval_run(run_id: str, mode: str, created: str, gain: float, backbone: str = "tubelets") -> dict:
    metrics = {f"{d}/R@{k}": min(88.0, 8.0 * k + gain) for d in ("t2v", "v2t") for k in (1, 5, 10)}
    metrics.update({f"{d}/{m}": 151.78 - gain for d in ("t2v", "v2t") for m in ("MdR", "MnR")})
    record = _record("didemo", "retrieval", run_id, mode, "t2v/R@1", metrics, 2.17,
                     {"chance": {f"{d}/R@{k}": k / 3 for d in ("t2v", "v2t") for k in (1, 5, 10)}})
    record.update(created_at=created, backbone=backbone, num_samples=300,
                  checkpoint_sha256="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
    return record


def _dom_at_1400(browser: str, page: Path) -> str:
    dom = subprocess.run([browser, *FLAGS, "--window-size=1400,2000", "--dump-dom", page.resolve().as_uri()],
                         capture_output=True, text=True, timeout=120, check=True)
    return dom.stdout


def test_the_page_fits_1400_px_with_model_legends_and_round_ticks(tmp_path):
    """Real run ids, ten metrics with intervals: the page is no wider than a 1400 px window, legends
    name model, backbone and mode (runs alike told apart by time), and y ticks are round numbers."""
    browser = _browser()
    root = tmp_path / "results"
    runs = [_retrieval_run("20261207-032347-zero-shot-cd08d27133", "zero-shot", "2026-12-07T03:23:47+00:00", 0.0),
            _retrieval_run("20261207-032351-zero-shot-2818a8566d", "zero-shot", "2026-12-07T03:23:51+00:00", 0.5),
            _retrieval_run("20261207-041502-finetune-77aa0c1d2e", "finetune", "2026-12-07T04:15:02+00:00", 8.0,
                           backbone="cnn-tiny")]
    for record in runs:
        write_json_atomic(root / "didemo" / record["run_id"] / "results.json", record)
    page = tmp_path / "report.html"
    assert main(["leaderboard", "--results", str(root), "--format", "html", "--output", str(page)]) == 0
    dom = _dom_at_1400(browser, page)
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', re.search(r"<body([^>]*)>", dom).group(1)))
    assert attrs["data-js-errors"] == "" and attrs["data-plots-drawn"] == "2"
    assert int(attrs["data-page-width"]) <= 1400 and int(attrs["data-widest-table"]) <= 1400 - 32, attrs

    legends = re.findall(r'<text[^>]*class="legend"[^>]*>([^<]*)</text>', dom)
    assert legends[:4] == ["tempvl cnn-tiny finetune 9f86d081884c",
                           "tempvl tubelets zero-shot 9f86d081884c 2026-12-07 03:23:51",
                           "tempvl tubelets zero-shot 9f86d081884c 2026-12-07 03:23:47", "baseline: chance"]
    assert not any("20261207" in label or "…" in label for label in legends)

    ticks = [float(t) for t in re.findall(r'<text[^>]*class="ytick"[^>]*>([^<]*)</text>', dom)]
    per_plot = [ticks[i:i + len(ticks) // 2] for i in (0, len(ticks) // 2)]
    for plot_ticks in per_plot:
        steps = {round(b - a, 9) for a, b in zip(plot_ticks, plot_ticks[1:])}
        assert plot_ticks[0] == 0 and len(steps) == 1, plot_ticks
        (step,) = steps
        assert step in (10.0, 20.0, 25.0, 50.0) and plot_ticks[-1] >= 88 + 2.17, plot_ticks
