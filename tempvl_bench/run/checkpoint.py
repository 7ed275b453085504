"""A ``--checkpoint``, resolved once where the run's options are built.

The path a user gives may be a TemPVL checkpoint folder or its ``model.safetensors``; every
later step (the backbone default, the model's identity, the loading, results.json) reads the
one :class:`Checkpoint` it resolves to instead of resolving the path again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from tempvl_bench.report.results import sha256_file

#: Written next to the weights by ``tempvl-bench pretrain``: the backbone they were trained with.
INFO_FILE = "tempvl_bench.json"


@dataclass(frozen=True)
class Checkpoint:
    """A TemPVL checkpoint: the path as given, its folder and the weights file that is loaded."""

    #: The path given with ``--checkpoint`` (results.json ``checkpoint``).
    given: Path
    folder: Path
    #: The file the model loads, and the one hashed into results.json (``checkpoint_file``).
    weights: Path
    #: The backbone it was pretrained with (from :data:`INFO_FILE`), or None when not recorded.
    backbone: str | None = None

    @classmethod
    def resolve(cls, given: Path | str) -> Checkpoint:
        """The checkpoint at ``given``: a folder or its weights file. Any other file name is
        refused rather than hashed and ignored; errors name the path given."""
        from tempvl_core.model.checkpoint import WEIGHTS_FILE

        given = Path(given)
        if given.is_dir():
            folder, weights = given, given / WEIGHTS_FILE
        elif given.is_file():
            if given.name != WEIGHTS_FILE:
                raise FileNotFoundError(
                    f"--checkpoint {given}: expected a TemPVL checkpoint folder or its {WEIGHTS_FILE}; "
                    f"{given.name} is not what would be loaded (pass the folder {given.parent} "
                    f"to load {given.parent / WEIGHTS_FILE})"
                )
            folder, weights = given.parent, given
        else:
            raise FileNotFoundError(f"--checkpoint {given}: no such file or folder")
        if not weights.is_file():
            raise FileNotFoundError(f"--checkpoint {given}: {weights.name} not found (not a TemPVL checkpoint)")
        return cls(given, folder, weights, _pretrained_backbone(folder / INFO_FILE))

    @cached_property
    def sha256(self) -> str:
        """The weights file's sha256, read once however many steps ask for it."""
        return sha256_file(self.weights)


def as_checkpoint(value: Checkpoint | Path | str | None) -> Checkpoint | None:
    """``value`` resolved (a path), kept (already a :class:`Checkpoint`) or None."""
    if value is None or isinstance(value, Checkpoint):
        return value
    return Checkpoint.resolve(value)


def _pretrained_backbone(info: Path) -> str | None:
    if not info.is_file():
        return None
    return json.loads(info.read_text(encoding="utf-8")).get("backbone")
