"""Running from feature packs end to end: extract-features on demo videos, finetune from the
pack, provenance, resume, refusals and bad files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tempvl_bench.cli.app import main

QUICK = ["--no-progress", "--set", "finetune.epochs=2"]


@pytest.fixture(scope="module")
def thumos_pack(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("packs") / "thumos"
    assert main(["extract-features", "--task", "thumos14", "--demo", "--layout", "actionformer-thumos14",
                 "--output", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def pack_run(thumos_pack, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("results")
    assert main(["run", "--task", "thumos14", "--demo", "--features", str(thumos_pack), "--mode", "finetune",
                 "--output", str(out), *QUICK]) == 0
    (path,) = out.glob("thumos14/*/results.json")
    return path


def test_extract_writes_the_actionformer_layout_with_a_manifest(thumos_pack):
    files = sorted((thumos_pack / "i3d_features").glob("*.npy"))
    manifest = json.loads((thumos_pack / "manifest.json").read_text())
    assert len(files) == manifest["videos"] == 87 and manifest["failed_videos"] == [] and manifest["complete"]
    assert manifest["backbone"] == "cnn-tiny" and len(manifest["weights_sha256"]) == 64
    assert manifest["time_base"] == {"feat_stride": 4.0, "num_frames": 16.0, "fps": 30.0}
    rows = np.load(files[0], allow_pickle=False)
    assert rows.dtype == np.float32 and rows.shape[1] == manifest["dims"][0] == 512  # appearance + motion
    assert not list(thumos_pack.rglob("*.tmp"))  # every file was renamed into place


def test_extract_resumes_skipping_valid_files_and_redoes_a_bad_one(thumos_pack, capsys):
    victim = sorted((thumos_pack / "i3d_features").glob("*.npy"))[0]
    good = np.load(victim)
    np.save(victim, good[:3])  # too short for its video: rewritten
    others = {p: p.stat().st_mtime_ns for p in (thumos_pack / "i3d_features").glob("*.npy") if p != victim}
    assert main(["extract-features", "--task", "thumos14", "--demo", "--layout", "actionformer-thumos14",
                 "--output", str(thumos_pack)]) == 0
    assert "1 videos written, 86 already valid, 0 failed" in capsys.readouterr().out
    assert np.array_equal(np.load(victim), good)
    assert all(p.stat().st_mtime_ns == t for p, t in others.items())
    # Other weights would mix two feature spaces in one pack: refused.
    assert main(["extract-features", "--task", "thumos14", "--demo", "--layout", "actionformer-thumos14",
                 "--output", str(thumos_pack), "--seed", "1"]) == 2
    assert "key 'weights_sha256': this pack was written with another weights sha256" in capsys.readouterr().err


def test_finetune_from_a_pack_records_its_provenance(pack_run, thumos_pack):
    record = json.loads(pack_run.read_text())
    assert record["backbone"] == "features:actionformer-thumos14" and record["mode"] == "finetune"
    source = record["features"]
    assert source["preset"] == "actionformer-thumos14" and source["manifest"]["backbone"] == "cnn-tiny"
    assert source["layout"]["time_base"] == {"feat_stride": 4.0, "num_frames": 16.0, "fps": 30.0}
    files = {f["path"]: f for f in source["files"]}
    assert len(files) == 87  # train and eval videos
    import hashlib

    some = files[sorted(files)[0]]
    path = thumos_pack / some["path"]
    assert some["bytes"] == path.stat().st_size and some["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert "tal/mAP@avg" in record["metrics"]
    run = json.loads((pack_run.parent / "run.json").read_text())
    assert run["features"]["layout"]["preset"] == "actionformer-thumos14" and len(run["features"]["files_sha256"]) == 64


def test_resume_reuses_the_run_until_the_pack_changes(pack_run, thumos_pack, tmp_path, capsys):
    out = pack_run.parents[2]
    args = ["run", "--task", "thumos14", "--demo", "--features", str(thumos_pack), "--mode", "finetune",
            "--output", str(out), "--resume", *QUICK]
    assert main(args) == 0
    assert "already complete" in capsys.readouterr().out
    from tempvl_bench.config import builtin_task_file, load_task_config
    from tempvl_bench.packs.source import feature_source

    copy = tmp_path / "copy"
    shutil.copytree(thumos_pack, copy)
    config = load_task_config(builtin_task_file("thumos14"), demo=True)
    before = feature_source(config, copy, Path(".")).fingerprint()
    victim = sorted((copy / "i3d_features").glob("*.npy"))[0]
    np.save(victim, np.load(victim) * 2)  # same size, different content
    assert feature_source(config, copy, Path(".")).fingerprint() != before


def test_zero_shot_from_a_pack_is_refused(thumos_pack, tmp_path, capsys):
    code = main(["run", "--task", "thumos14", "--demo", "--features", str(thumos_pack), "--output", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "zero-shot run cannot read a feature pack" in err and "--mode finetune" in err
    assert "Traceback" not in err and not any(tmp_path.iterdir())


def test_a_task_that_reads_no_packs_refuses_features(thumos_pack, tmp_path, capsys):
    code = main(["run", "--task", "didemo", "--demo", "--features", str(thumos_pack), "--mode", "finetune",
                 "--output", str(tmp_path)])
    assert code == 2 and "cannot read feature packs" in capsys.readouterr().err


@pytest.mark.slow
def test_a_bad_pack_file_stops_the_run_naming_it_or_is_listed_when_allowed(thumos_pack, tmp_path, capsys):
    pack = tmp_path / "pack"
    shutil.copytree(thumos_pack, pack)
    victim = sorted((pack / "i3d_features").glob("video_test_*.npy"))[0]
    rows = np.load(victim)
    rows[2, 3] = np.nan
    np.save(victim, rows)
    base = ["run", "--task", "thumos14", "--demo", "--features", str(pack), "--mode", "finetune", *QUICK]
    assert main([*base, "--output", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert f"{victim.name}: holds 1 NaN or inf values (first in row 2)" in err
    assert main([*base, "--output", str(tmp_path / "b"), "--set", "video.max_failed_fraction=0.1"]) == 0
    (path,) = (tmp_path / "b").glob("thumos14/*/results.json")
    failed = json.loads(path.read_text())["failed_videos"]
    assert [Path(f["path"]).name for f in failed] == [victim.name]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun is not on PATH")
def test_extract_under_torchrun_shares_the_videos_and_writes_the_same_pack(thumos_pack, tmp_path):
    import os
    import subprocess

    out = tmp_path / "pack"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [shutil.which("torchrun"), "--standalone", "--nproc-per-node", "2", "--no-python", "tempvl-bench",
               "extract-features", "--task", "thumos14", "--demo", "--layout", "actionformer-thumos14",
               "--output", str(out)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("87 videos written") == 1  # rank 0 reports, once
    alone = sorted((thumos_pack / "i3d_features").glob("*.npy"))
    shared = sorted((out / "i3d_features").glob("*.npy"))
    assert [p.name for p in shared] == [p.name for p in alone]
    for a, b in zip(alone, shared):
        assert np.allclose(np.load(a), np.load(b), atol=1e-5), a.name
    assert json.loads((out / "manifest.json").read_text())["videos"] == 87


def test_a_task_files_features_root_selects_the_pack_too(thumos_pack, tmp_path, capsys):
    code = main(["run", "--task", "thumos14", "--demo", "--set", f"features.root={thumos_pack}",
                 "--output", str(tmp_path)])
    assert code == 2 and "zero-shot run cannot read a feature pack" in capsys.readouterr().err
    code = main(["run", "--task", "thumos14", "--demo", "--features", str(tmp_path / "nowhere"), "--mode",
                 "finetune", "--output", str(tmp_path)])
    assert code == 2 and "nowhere: no such folder" in capsys.readouterr().err
