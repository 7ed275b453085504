"""The feature source of a run: which pack, in which layout, and what it read.

A run reads a pack when ``--features DIR`` is given or the task file's ``features:`` block has
a ``root`` (relative to the data root). The layout comes from the pack's ``manifest.json`` when
it has one (``extract-features`` writes it), else from the ``features:`` block (a ``preset``
plus overrides; the five MR/TAL task files name their community preset).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tempvl_core.data.features import FeatureLayout, PackReader, layout_from_mapping
from tempvl_core.data.features.writer import MANIFEST_FILE

#: Task families that can read a pack (their videos become rows of per-clip features).
FAMILIES = ("moment-retrieval", "tal")
ZERO_SHOT_REFUSAL = (
    "a zero-shot run cannot read a feature pack: the pack's features are not in the checkpoint's space (they "
    "replace its frame backbone, and only finetuning learns their projection); add --mode finetune"
)


@dataclass
class FeatureSource:
    root: Path
    layout: FeatureLayout
    manifest: dict[str, Any] | None = None
    #: Every file read so far, with its size (recorded into results.json, hashed there).
    files_read: dict[Path, int] = field(default_factory=dict)
    _reader: PackReader | None = field(default=None, repr=False)

    @property
    def reader(self) -> PackReader:
        if self._reader is None:
            self._reader = PackReader(self.root, self.layout)
        return self._reader

    @property
    def name(self) -> str:
        """How results and leaderboards name the run's video input (in place of a backbone)."""
        return f"features:{self.layout.preset or self.layout.container}"

    @property
    def dim(self) -> int:
        dim = self.layout.dim
        if dim is None:
            raise ValueError(f"--features {self.root}: the layout gives no 'dims' (one width per stream); add them to "
                             "the task file's features: block or the pack's manifest.json")
        return dim

    def read(self, record):
        """The rows of one video record (``video_id``, and ``duration``/``fps`` where it has them)."""
        rows = self.reader.read(record.video_id, getattr(record, "duration", None), getattr(record, "fps", None))
        self.files_read.update(rows.files)
        return rows

    def prepare(self, model):
        """The model, made to read this pack's rows (once): see ``VideoEncoder.read_features``."""
        from tempvl_core.model.clip_backbone import takes_features

        if not takes_features(model.video_encoder.backbone):
            model.video_encoder.read_features(self.dim)
        return model

    def model_factory(self, factory: Callable[[], Any]) -> Callable[[], Any]:
        return lambda: self.prepare(factory())

    def fingerprint(self) -> dict[str, Any]:
        """What identifies the pack for ``--resume`` and the feature cache: its layout, manifest
        and every file's name, size and modification time."""
        digest = hashlib.sha256()
        for path in sorted(p for p in self.root.rglob("*") if p.is_file()):
            stat = path.stat()
            digest.update(f"{path.relative_to(self.root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        return {"root": str(self.root.resolve()), "layout": self.layout.to_dict(), "manifest": self.manifest,
                "files_sha256": digest.hexdigest()}

    def provenance(self) -> dict[str, Any]:
        """results.json ``features``: layout, preset, manifest and the files read (size, sha256)."""
        from tempvl_bench.report.results import sha256_file

        return {
            "root": str(self.root.resolve()),
            "preset": self.layout.preset,
            "layout": self.layout.to_dict(),
            "manifest": self.manifest,
            "files": [{"path": str(p.relative_to(self.root)), "bytes": size, "sha256": sha256_file(p)}
                      for p, size in sorted(self.files_read.items())],
        }


def feature_source(config, features_dir: Path | None, data_root: Path, mode: str = "finetune") -> FeatureSource | None:
    """The run's source, or ``None`` when it reads videos. Errors (exit 2) name the file and
    key; a zero-shot ``mode`` is refused."""
    block = dict(config.features or {})
    root = Path(features_dir) if features_dir is not None else None
    where = f"--features {root}"
    if root is None and block.get("root"):
        root = Path(data_root) / str(block["root"])
        where = f"{config.source}: key 'features.root'"
    if root is None:
        return None
    if config.family not in FAMILIES:
        raise ValueError(f"{where}: task {config.name!r} (family {config.family}) cannot read feature packs; they "
                         f"serve the {' and '.join(FAMILIES)} families")
    if mode == "zero-shot":
        raise ValueError(f"task {config.name!r}: {ZERO_SHOT_REFUSAL}")
    if not root.is_dir():
        raise FileNotFoundError(f"{where}: no such folder (the feature pack's root)")
    manifest = read_manifest(root)
    if manifest is not None:
        raw = {k: v for k, v in manifest["layout"].items() if v is not None}
        layout = layout_from_mapping(raw, f"{root / MANIFEST_FILE}: key 'layout'", config.dataset)
    else:
        layout = layout_from_mapping(block, f"{config.source}: key 'features'", config.dataset)
    return FeatureSource(root, layout, manifest)


def read_manifest(root: Path) -> dict[str, Any] | None:
    path = Path(root) / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("layout"), dict):
        raise ValueError(f"{path}: key 'layout': expected the pack's layout mapping")
    return manifest
