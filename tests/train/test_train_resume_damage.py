"""``--resume`` after damage a kill or a stranger can leave: a torn log line, unsafe or
mismatched checkpoint files. Each one resumes, or stops with an error naming the file."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import pytest
import torch

from tempvl_core.model.checkpoint import CheckpointError
from tempvl_core.train.engine import LOG_FILE, Trainer
from train_helpers import StandInModel, ToyClips, collate, tiny_config


def make_trainer(output_dir: Path, model: StandInModel | None = None) -> Trainer:
    torch.manual_seed(0)
    return Trainer(model or StandInModel(), ToyClips(), tiny_config(), output_dir=output_dir, collate_fn=collate,
                   console=False, progress=False)


def _steps(output_dir: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (output_dir / LOG_FILE).read_text().splitlines()]


def test_half_written_last_log_line_is_dropped_with_a_message(tmp_path, capsys):
    make_trainer(tmp_path).fit(stop_after=4)
    log = tmp_path / LOG_FILE
    with open(log, "a", encoding="utf-8") as handle:
        handle.write('{"step": 5, "epoch": 1, "loss": 0.12')  # killed in the middle of a write
    make_trainer(tmp_path).fit(resume=True)
    assert f"{log}: dropped a half-written last line (line 5)" in capsys.readouterr().err
    assert _steps(tmp_path) == [1, 2, 3, 4, 5, 6]


def test_torn_log_without_any_checkpoint_starts_a_clean_log(tmp_path, capsys):
    (tmp_path / LOG_FILE).write_text('{"step": 1, "loss": 1.0}\n{"step": 2, "lo')
    make_trainer(tmp_path).fit(resume=True)
    assert "dropped a half-written last line (line 2)" in capsys.readouterr().err
    assert _steps(tmp_path) == [1, 2, 3, 4, 5, 6]  # the old step 1 is replaced, not kept twice


def test_damaged_log_line_in_the_middle_names_file_and_line(tmp_path):
    make_trainer(tmp_path).fit(stop_after=4)
    log = tmp_path / LOG_FILE
    lines = log.read_text().splitlines()
    lines[1] = lines[1][:10]
    log.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=f"{log}: line 2 is not a JSON log record"):
        make_trainer(tmp_path).fit(resume=True)


def _latest(output_dir: Path) -> Path:
    root = output_dir / "checkpoints"
    return root / (root / "latest").read_text().strip()


def test_checkpoint_state_refused_by_weights_only_is_a_named_error(tmp_path):
    make_trainer(tmp_path).fit(stop_after=2)
    state = _latest(tmp_path) / "trainer_state.pt"
    blob = torch.load(state, weights_only=True)
    blob["extra"] = PurePosixPath("x")  # any object weights_only=True will not unpickle
    torch.save(blob, state)
    with pytest.raises(CheckpointError, match=f"{state}: cannot be loaded safely"):
        make_trainer(tmp_path).fit(resume=True)


def test_checkpoint_weights_of_another_size_or_with_a_tampered_header_are_named(tmp_path):
    make_trainer(tmp_path).fit(stop_after=2)
    weights = _latest(tmp_path) / "model.safetensors"
    with pytest.raises(CheckpointError, match=f"{weights}: weights do not match the model"):
        make_trainer(tmp_path, StandInModel(dim=8)).fit(resume=True)
    data = bytearray(weights.read_bytes())
    data[8:12] = b"\xff\xfe{]"
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=f"{weights}: not a readable safetensors file"):
        make_trainer(tmp_path).fit(resume=True)
