"""The feature cache: a second evaluation hits and gives identical metrics; touching a video or
changing the checkpoint misses; ``--no-cache``; ``cache info|clear``; unreadable entries."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from tempvl_bench.cli.app import main
from tempvl_bench.run.feature_cache import ENV, summarize

#: Demo DiDeMo in a data root of the test's own (so a video can be touched) at demo sizes.
SMALL = ["--backbone", "cnn-tiny", "--set", "model.preset=tiny", "--set", "video.size=64",
         "--set", "video.num_frames=4", "--limit", "12", "--no-progress"]  # fmt: skip


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tempvl_core.data.demo import ensure_demo_dataset

    root = tmp_path_factory.mktemp("data")
    shutil.copytree(Path(ensure_demo_dataset("didemo")) / "didemo", root / "didemo")
    return root


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def _run(data_root: Path, output: Path, capsys, *extra: str, stderr: list | None = None) -> tuple[dict, str]:
    """Metrics of one run and the line the cache logged ("" without one); ``stderr`` collects
    what the run printed there."""
    before = set(output.glob("didemo/*/results.json"))
    assert main(["run", "--task", "didemo", "--data-root", str(data_root), "--output", str(output), *SMALL, *extra]) == 0
    out, err = capsys.readouterr()
    if stderr is not None:
        stderr.append(err)
    # the file this run wrote (run ids started within one second sort by their random suffix)
    (results,) = set(output.glob("didemo/*/results.json")) - before
    line = next((line for line in out.splitlines() if "feature cache:" in line), "")
    return json.loads(results.read_text())["metrics"], line


def _hits(line: str) -> tuple[int, int]:
    hit, encoded = re.search(r"(\d+) of \d+ videos hit, (\d+) encoded", line).groups()
    return int(hit), int(encoded)


def _first_video(data_root: Path) -> Path:
    from tempvl_core.data import catalogue
    from tempvl_core.data.video_index import VideoIndex

    record = catalogue.load("didemo", data_root / "didemo", "retrieval", "test").records[0]
    return VideoIndex(data_root / "didemo" / "videos").lookup(record.video_name)


def test_second_run_hits_with_identical_metrics_and_a_touched_video_misses(data_root, cache, tmp_path, capsys):
    first, line = _run(data_root, tmp_path / "out", capsys)
    assert _hits(line) == (0, 12)
    second, line = _run(data_root, tmp_path / "out", capsys)
    assert _hits(line) == (12, 0) and second == first

    video = _first_video(data_root)
    stat = video.stat()
    os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # same bytes, newer mtime
    third, line = _run(data_root, tmp_path / "out", capsys)
    assert _hits(line) == (11, 1) and third == first

    uncached, line = _run(data_root, tmp_path / "out", capsys, "--no-cache")
    assert line == "" and uncached == pytest.approx(first, abs=1e-9)


def test_a_changed_checkpoint_misses(data_root, cache, tmp_path, capsys):
    import torch

    from tempvl_bench.config import builtin_task_file, load_task_config
    from tempvl_bench.plugin.manager import load_plugins
    from tempvl_bench.run.modeling import build_model_factory

    config = load_task_config(builtin_task_file("didemo"), overrides=["model.preset=tiny", "video.size=64", "video.num_frames=4"])
    model = build_model_factory(load_plugins(), config, "cnn-tiny", "minilm", None, "cpu")()
    model.save_pretrained(tmp_path / "a")
    with torch.no_grad():
        model.video_proj.weight.mul_(0.5)
    model.save_pretrained(tmp_path / "b")

    _, line = _run(data_root, tmp_path / "out", capsys, "--checkpoint", str(tmp_path / "a"))
    assert _hits(line) == (0, 12)
    _, line = _run(data_root, tmp_path / "out", capsys, "--checkpoint", str(tmp_path / "a"))
    assert _hits(line) == (12, 0)
    _, line = _run(data_root, tmp_path / "out", capsys, "--checkpoint", str(tmp_path / "b"))
    assert _hits(line) == (0, 12)
    assert len(summarize(cache)) == 2  # one encoder folder per set of weights


def test_cache_info_and_clear(data_root, cache, tmp_path, capsys):
    _run(data_root, tmp_path / "out", capsys)
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert str(cache) in out and "1 encoder(s), 12 entries" in out and "cnn-tiny" in out
    (cache / "notes.txt").write_text("a file the cache did not write")
    assert main(["cache", "clear"]) == 0
    assert "removed 1 encoder folder(s)" in capsys.readouterr().out
    assert summarize(cache) == [] and (cache / "notes.txt").is_file()  # only its own folders go


def test_a_truncated_entry_is_a_miss_and_is_rewritten(data_root, cache, tmp_path, capsys):
    first, _ = _run(data_root, tmp_path / "out", capsys)
    entry = sorted(cache.rglob("*.safetensors"))[0]
    entry.write_bytes(entry.read_bytes()[:-7])
    again, line = _run(data_root, tmp_path / "out", capsys)
    assert _hits(line) == (11, 1) and again == first
    assert not list(cache.rglob("*.tmp"))  # atomic writes leave no temporary files


def test_a_video_that_fails_is_reported_every_time_and_never_cached(cache, tmp_path, capsys):
    from tempvl_core.data.demo import ensure_demo_dataset

    root = tmp_path / "data"
    shutil.copytree(Path(ensure_demo_dataset("didemo")) / "didemo", root / "didemo")
    _first_video(root).unlink()
    allow = ("--set", "video.max_failed_fraction=0.5")
    first, line = _run(root, tmp_path / "out", capsys, *allow)
    assert _hits(line) == (0, 11) and "1 failed" in line
    second, line = _run(root, tmp_path / "out", capsys, *allow)
    assert _hits(line) == (11, 0) and "1 failed" in line and second == first
    records = [json.loads(p.read_text()) for p in sorted((tmp_path / "out").glob("didemo/*/results.json"))]
    assert [len(r["failed_videos"]) for r in records] == [1, 1] and records[0]["num_samples"] == 11


def test_frame_features_round_trip_through_entries():
    """Level ``frames``: each video's valid positions are stored and re-padded exactly."""
    import torch

    from tempvl_bench.run.feature_cache import _collate, _split_batch

    frames = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=torch.bool)
    stride_mask = frames[:, ::2]
    batch = {"index": torch.tensor([4, 7, 9]), "frame_mask": frames, "timestamps": torch.rand(3, 4) * frames,
             "features": torch.randn(3, 2, 5) * stride_mask[..., None], "feature_mask": stride_mask}
    entries = dict(_split_batch(batch, "frames"))
    assert sorted(entries) == [4, 7, 9] and entries[9]["features"].shape == (1, 5)
    records = {i: f"record {i}" for i in (4, 7, 9)}
    again = _collate([4, 7, 9], [entries[i] for i in (4, 7, 9)], records, "frames", "cpu")
    for key in ("frame_mask", "timestamps", "features", "feature_mask"):
        assert torch.equal(again[key], batch[key]), key
    assert again["records"] == ["record 4", "record 7", "record 9"] and again["batch_size"] == 3


# --- entries are checked, not trusted by their header (issue 21: items 7, 15, 20)


def _resave(entry: Path, tensors: dict, metadata: dict | None) -> None:
    from safetensors.torch import save

    entry.write_bytes(save(tensors, metadata=metadata))


def _forged(tensors: dict, key: str) -> dict:
    """Metadata consistent with ``tensors``: only the checks beyond the record can catch them."""
    record = {n: [str(t.dtype).removeprefix("torch."), list(t.shape)] for n, t in tensors.items()}
    return {"key": key, "level": "clip", "tensors": json.dumps(record)}


def _tampered_run(data_root, cache, tmp_path, capsys, tamper) -> None:
    """A first run fills the cache; ``tamper(entry, other)`` changes one entry; the second run must
    recompute exactly that one, warn naming it, and give the first run's metrics."""
    from safetensors.torch import load_file

    first, _ = _run(data_root, tmp_path / "out", capsys)
    entry, other = sorted(cache.rglob("*.safetensors"))[:2]
    tamper(entry, other, load_file(str(entry)), entry.stem)
    errors: list[str] = []
    again, line = _run(data_root, tmp_path / "out", capsys, stderr=errors)
    err = errors[0]
    assert _hits(line) == (11, 1) and again == first
    assert f"warning: feature cache entry {entry}:" in err and "recomputing it" in err, err
    _, line = _run(data_root, tmp_path / "out", capsys)
    assert _hits(line) == (12, 0)  # rewritten as a trusted entry


@pytest.mark.parametrize("tamper", [
    lambda entry, other, t, key: _resave(entry, {n: v.to(torch_int()) for n, v in t.items()}, None),
    lambda entry, other, t, key: _resave(entry, {n: v.to(torch_int()) for n, v in t.items()},
                                         _forged({n: v.to(torch_int()) for n, v in t.items()}, key)),
    lambda entry, other, t, key: entry.write_bytes(other.read_bytes()),
    lambda entry, other, t, key: _resave(entry, {"video_embedding": t["video_emb"]},
                                         _forged({"video_embedding": t["video_emb"]}, key)),
    lambda entry, other, t, key: _resave(entry, {"video_emb": t["video_emb"][:7]},
                                         _forged({"video_emb": t["video_emb"][:7]}, key)),
    lambda entry, other, t, key: _resave(entry, {"video_emb": t["video_emb"] * float("nan")},
                                         _forged(t, key)),
], ids=["integer-dtype", "integer-dtype-forged-record", "another-videos-entry", "wrong-tensor-name",
        "wrong-shape", "nan-values"])
def test_an_untrustworthy_entry_is_recomputed_with_a_warning(data_root, cache, tmp_path, capsys, tamper):
    _tampered_run(data_root, cache, tmp_path, capsys, tamper)


def torch_int():
    import torch

    return torch.int64


@pytest.mark.parametrize("content", [b"[1, 2]", b"{not json", b"\xff\xfe", b'"a string"'])
def test_cache_info_with_a_malformed_encoder_json_names_it(cache, capsys, content):
    folder = cache / "0123456789abcdef"
    (folder / "ab").mkdir(parents=True)
    (folder / "encoder.json").write_bytes(content)
    assert main(["cache", "info"]) == 0
    out, err = capsys.readouterr()
    assert f"warning: {folder / 'encoder.json'}: not a feature-cache description" in err and "Traceback" not in err
    assert "1 encoder(s)" in out


def test_cache_clear_that_cannot_remove_names_the_full_path(data_root, cache, tmp_path, capsys, monkeypatch):
    _run(data_root, tmp_path / "out", capsys)
    real_unlink = os.unlink

    def refuse(path, *args, **kwargs):  # tests run as root: a read-only folder would not stop them
        if str(path).endswith(".safetensors"):
            raise PermissionError(13, "Permission denied", path)
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", refuse)
    monkeypatch.chdir(tmp_path)
    assert main(["cache", "clear"]) == 2
    err = capsys.readouterr().err
    assert f"feature cache: cannot remove {cache}/" in err and ".safetensors (Permission denied)" in err, err


@pytest.mark.parametrize("where", ["file-as-cache", "file-as-parent"])
def test_an_unwritable_cache_turns_caching_off_and_says_so(data_root, tmp_path, capsys, monkeypatch, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv(ENV, str(blocker if where == "file-as-cache" else blocker / "features"))
    uncached, _ = _run(data_root, tmp_path / "ref", capsys, "--no-cache")
    errors: list[str] = []
    metrics, line = _run(data_root, tmp_path / "out", capsys, stderr=errors)
    err = errors[0]
    assert metrics == pytest.approx(uncached, abs=1e-9)
    assert line == ""  # no log line claims the folder is used
    assert f"warning: feature cache {blocker if where == 'file-as-cache' else blocker / 'features'}" in err
    assert "caching is off for this run" in err and blocker.read_text().startswith("a file")


def test_the_encoder_key_hashes_the_encoding_code_that_exists():
    """Every source file the key covers is found (a moved module would silently drop out of it)."""
    from tempvl_bench.run import feature_cache

    assert feature_cache._CODE_ROOT == Path(__file__).resolve().parents[2]
    assert [rel for rel in feature_cache._CODE_PATHS if not (feature_cache._CODE_ROOT / rel).exists()] == []
