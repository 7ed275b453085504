"""Parse every annotation file of a dataset (never its videos) and report what it holds.

``validate_dataset("didemo", Path("data"))`` reads each task/split listed in the dataset
catalogue (:mod:`tempvl_core.data.catalogue`) through the layout a run would read (the first one
whose files exist) and returns per-split counts: records,
distinct videos, and what the loader clipped, dropped or found missing. A malformed file is
reported with the loader's message (file, line or key, what was expected) instead of raised,
so one bad split does not hide the others. The CLI prints ``report.format_table()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tabulate import tabulate

from tempvl_core.data.errors import AnnotationError
from tempvl_core.data.catalogue import DATASETS, DatasetSpec, Layout
from tempvl_core.data.records import ActionVideo, LoadResult, PretrainItem

OK, MISSING, ERROR = "ok", "missing", "error"


@dataclass(frozen=True)
class SplitReport:
    """The outcome for one task/split: ``status`` is ``ok``, ``missing`` (files absent) or ``error``."""

    task: str
    split: str
    files: tuple[str, ...]
    status: str
    records: int = 0
    videos: int = 0
    clipped: int = 0
    dropped: int = 0
    other: dict[str, int] = field(default_factory=dict)
    message: str = ""
    #: The files read (folders expanded), exactly those a run of this split reads.
    paths: tuple[Path, ...] = ()
    #: Which layout was read when the catalogue offers several ("official", "BSN", ...).
    layout: str = ""


@dataclass(frozen=True)
class ValidationReport:
    """All splits of one dataset. ``ok`` is true when nothing failed and something was read."""

    dataset: str
    dataset_dir: Path
    splits: tuple[SplitReport, ...]

    @property
    def ok(self) -> bool:
        return any(s.status == OK for s in self.splits) and not any(s.status == ERROR for s in self.splits)

    def get(self, task: str, split: str) -> SplitReport:
        """The report of one task/split (KeyError if the dataset has no such split)."""
        for report in self.splits:
            if (report.task, report.split) == (task, split):
                return report
        raise KeyError(f"{self.dataset} has no {task}/{split}")

    def format_table(self) -> str:
        """A plain-text table, one row per task/split, then one line per error or missing file."""
        rows = []
        for s in self.splits:
            other = ", ".join(f"{k}={v}" for k, v in sorted(s.other.items()) if v)
            numbers = (s.records, s.videos, s.clipped, s.dropped) if s.status == OK else ("", "", "", "")
            rows.append((s.task, s.split, s.status, *numbers, other))
        header = ("task", "split", "status", "records", "videos", "clipped", "dropped", "other counts")
        lines = [f"{self.dataset}: {self.dataset_dir}", tabulate(rows, header, tablefmt="simple")]
        lines += [f"{s.status.upper()} {s.task}/{s.split}: {s.message}" for s in self.splits if s.status != OK]
        # Where the catalogue offers several layouts, say which one was read (and a run reads).
        lines += [f"read {s.task}/{s.split} from the {s.layout} layout: {', '.join(s.files)}"
                  for s in self.splits if s.status == OK and s.layout != "official"]
        return "\n".join(lines)


def _video_key(record: object) -> str:
    if isinstance(record, PretrainItem):
        return record.media_name
    return getattr(record, "video_id")


def _summarise(source_task: str, split: str, folder: Path, layout: Layout, result: LoadResult) -> SplitReport:
    stats = dict(result.stats)
    if result.records and isinstance(result.records[0], ActionVideo):
        stats["instances"] = sum(len(v.instances) for v in result.records)
    paths = tuple(layout.paths(folder))
    return SplitReport(
        source_task, split, layout.files, OK, paths=paths, layout=layout.label,
        records=len(result.records),
        videos=len({_video_key(r) for r in result.records}),
        clipped=stats.pop("clipped", 0),
        dropped=stats.pop("dropped", 0),
        other=stats,
    )  # fmt: skip


def dataset_dir(spec: DatasetSpec, root: Path) -> Path:
    """``root/<folder>`` when it exists, else ``root`` itself (a dataset folder was given)."""
    nested = Path(root) / spec.folder
    return nested if nested.is_dir() else Path(root)


def validate_dataset(dataset: str, root: Path) -> ValidationReport:
    """Parse all annotation files of ``dataset`` under the data root ``root``.

    ``root`` may be the data root (holding ``<dataset folder>/``) or the dataset folder itself.
    Raises ``KeyError`` naming the known datasets when ``dataset`` is unknown.
    """
    if dataset not in DATASETS:
        raise KeyError(f"unknown dataset {dataset!r}; known: {', '.join(sorted(DATASETS))}")
    spec = DATASETS[dataset]
    folder = dataset_dir(spec, root)
    reports = []
    for source in spec.sources:
        layout = source.resolve(folder)
        if layout is None:
            message = source.missing_message(folder)
            reports.append(SplitReport(source.task, source.split, source.files, MISSING, message=message))
            continue
        try:
            result = layout.read(folder, source.split)
        except AnnotationError as exc:
            reports.append(SplitReport(source.task, source.split, layout.files, ERROR, message=str(exc),
                                       paths=tuple(layout.paths(folder)), layout=layout.label))
            continue
        reports.append(_summarise(source.task, source.split, folder, layout, result))
    return ValidationReport(dataset, folder, tuple(reports))
