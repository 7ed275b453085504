"""The types every part of a run shares: its options, its context, its output and its error.

They live apart from :mod:`tempvl_bench.run.runner` so that the lifecycle, the families, the
clip loaders and the registries can name them without importing the runner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from tempvl_bench.config import TaskConfig
from tempvl_bench.plugin.capabilities import CAPABILITIES
from tempvl_bench.report.results import FailedVideoRecord
from tempvl_bench.run.checkpoint import Checkpoint, as_checkpoint
from tempvl_bench.run.tempvl_model import TEMPVL

if TYPE_CHECKING:
    from tempvl_bench.plugin.registry import TaskSpec


class RunError(RuntimeError):
    """A run that cannot start or finish; the message says what to do."""


@dataclass
class RunOptions:
    mode: str = "zero-shot"
    #: ``--model``: the registered model to evaluate (default: the task file's ``model.name``).
    model: str | None = None
    backbone: str | None = None
    text_encoder: str | None = None
    #: ``--checkpoint``, resolved once here (a path given is resolved by ``__post_init__``).
    checkpoint: Checkpoint | None = None
    data_root: Path | None = None
    demo: bool = False
    output: Path = Path("results")
    limit: int | None = None
    seed: int = 0
    overrides: Sequence[str] = ()
    device: str | None = None
    resume: bool = False
    progress: bool = True
    #: Read and write evaluation video features in the feature cache (``--no-cache``: False).
    feature_cache: bool = True
    #: A feature pack's folder read instead of the videos (``--features``; :mod:`tempvl_bench.packs`).
    features: Path | None = None

    def __post_init__(self) -> None:
        self.checkpoint = as_checkpoint(self.checkpoint)


@dataclass
class TaskOutput:
    """What a task runner returns; the harness turns it into results.json + predictions.jsonl."""

    metrics: dict[str, float]
    split: str
    num_samples: int
    predictions: Iterable[dict[str, Any]] = ()
    failed_videos: list[FailedVideoRecord] = field(default_factory=list)
    #: Annotation files the run read (hashed into results.json).
    annotation_files: list[Path] = field(default_factory=list)
    #: Trivial baselines from the family's baselines step: name -> Scores (or plain metrics).
    baselines: dict[str, Any] = field(default_factory=dict)
    #: Per-query outcomes of the metrics (``Scores.outcomes``): intervals and paired tests.
    outcomes: Any = None
    #: ``Scores.breakdowns`` (results.json ``breakdowns``).
    breakdowns: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class RunContext:
    """Everything a task runner needs; built by the harness for each task."""

    spec: TaskSpec
    config: TaskConfig
    options: RunOptions
    data_root: Path
    run_dir: Path
    device: str
    #: Builds (once) and returns the model: ``ctx.model()``.
    model: Callable[[], Any]
    backbone_name: str
    text_encoder_name: str
    #: The evaluated model's registry name, capabilities and :class:`~tempvl_bench.plugin.registry.ModelIdentity`.
    model_name: str = TEMPVL
    model_capabilities: frozenset = field(default_factory=lambda: frozenset(CAPABILITIES))
    model_identity: Any = None
    #: The task file's ``options:`` as the family's options dataclass (set by the harness).
    task_options: Any = None
    #: The run's :class:`tempvl_bench.packs.source.FeatureSource` (None: the videos are read).
    features: Any = None
    #: What the family's finetune step returned (e.g. a trained head); None zero-shot.
    finetuned: Any = None
    #: Builds ``ctx.clips`` from the context (chosen by the runner: video clips or pack rows).
    make_clips: Callable[[RunContext], Any] | None = field(default=None, repr=False)
    _clips: Any = field(default=None, repr=False)
    _video_index: Any = field(default=None, repr=False)

    @property
    def video_index(self):
        """The run's one :class:`~tempvl_core.data.video_index.VideoIndex` of ``video_dir``, with
        ``video.allow_substitutes`` from the task file; its ``substitutions`` go into results.json."""
        if self._video_index is None:
            from tempvl_core.data.video_index import VideoIndex

            self._video_index = VideoIndex(self.video_dir, allow_substitutes=self.config.video.allow_substitutes)
        return self._video_index

    def video_substitutions(self) -> dict[str, str]:
        """Video name -> the other file read for it (empty unless ``video.allow_substitutes``)."""
        if self._video_index is None:
            return {}
        return {name: str(path) for name, path in sorted(self._video_index.substitutions.items())}

    @property
    def clips(self):
        """The run's clip loader factory (:class:`tempvl_bench.run.clips.ClipLoaderFactory`, or a
        feature pack's), built on first use by the ``make_clips`` the harness gave."""
        if self._clips is None:
            if self.make_clips is None:
                raise RunError(f"task {self.spec.name!r}: this run context reads no clips (no make_clips)")
            self._clips = self.make_clips(self)
        return self._clips

    @property
    def mode(self) -> str:
        return self.options.mode

    @property
    def seed(self) -> int:
        return self.options.seed

    @property
    def limit(self) -> int | None:
        return self.options.limit

    @property
    def train_split(self) -> str:
        """The training split, with an error naming the task file when it has none."""
        split = self.config.splits.train
        if not split:
            raise ValueError(f"{self.config.source}: key 'splits.train' is empty, so --mode finetune has no data")
        return split

    def limited(self, records: list) -> list:
        """The first ``--limit`` records (all of them without ``--limit``)."""
        return records[: self.options.limit] if self.options.limit else records

    @property
    def annotation_dir(self) -> Path:
        return self.data_root / self.config.paths.annotations

    @property
    def video_dir(self) -> Path:
        return self.data_root / self.config.paths.videos

    @property
    def prepared_video_dir(self) -> Path:
        return self.data_root / self.config.prepared_videos_dir
