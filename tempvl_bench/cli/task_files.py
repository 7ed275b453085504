"""A user's own task YAML, named by path: ``--task ./my-task.yaml``.

The file is validated like a built-in task file and runs with the steps of a registered task of
the same ``family`` and ``plugin`` (a plugin registers its family's code with its tasks; a task
file only adds data and settings). The registered task the code is taken from is the one that
reads the same dataset the same way when there is one, else the first of the family. The task
is registered under the file's ``name`` for this invocation, so ``run``, ``validate``,
``check-videos`` and ``prepare-videos`` treat it like any other task (results go to
``<output>/<name>/``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tempvl_bench.config import ConfigError, TaskConfig, load_task_config
from tempvl_bench.plugin.manager import PluginHost
from tempvl_bench.plugin.registry import TaskSpec

SUFFIXES = (".yaml", ".yml")


def is_task_file(part: str) -> bool:
    """True when a ``--task`` entry names a file (by its suffix) rather than a task or group."""
    return part.strip().lower().endswith(SUFFIXES)


def expand_tasks(host: PluginHost, selection: str) -> list[str]:
    """Task names of a ``--task`` value: names, groups and task files, comma-separated, in order."""
    names: list[str] = []
    for part in (p.strip() for p in selection.split(",")):
        if not part:
            continue
        found = [register_task_file(host, Path(part))] if is_task_file(part) else host.tasks.expand(part)
        names.extend(n for n in found if n not in names)
    return names


def _kinds(config: TaskConfig) -> tuple[str | None, str | None]:
    return config.splits.train_kind, config.splits.eval_kind


def _template(host: PluginHost, config: TaskConfig, path: Path) -> TaskSpec:
    """The registered task whose code runs the file: same family (its task file's ``family:``)
    and plugin, preferring the same dataset and annotation kinds."""
    same_plugin = [(s, load_task_config(s.config_path)) for s in host.tasks if s.plugin == config.plugin]
    family = [(s, other) for s, other in same_plugin if other.family == config.family]
    if not family:
        offered = sorted({f"{load_task_config(s.config_path).family} (plugin {s.plugin})" for s in host.tasks})
        raise ConfigError(f"{path}: keys 'family: {config.family}' and 'plugin: {config.plugin}' match no registered "
                          f"task, so no code can run it; registered: {', '.join(offered) or 'none'}")

    def score(pair: tuple[TaskSpec, TaskConfig]) -> int:
        other = pair[1]
        return 2 * (other.dataset == config.dataset) + (_kinds(other) == _kinds(config))

    return max(family, key=score)[0]


def register_task_file(host: PluginHost, path: Path) -> str:
    """Validate the task file at ``path``, register it, and return its task name."""
    if not path.is_file():
        raise FileNotFoundError(f"--task {path}: no such task file (a path ending in .yaml names a file; "
                                "a registered task is named without the suffix)")
    path = path.resolve()
    config = load_task_config(path)
    if config.name in host.tasks:
        existing = host.tasks.get(config.name)
        if Path(existing.config_path).resolve() == path:
            return config.name
        raise ConfigError(f"{path}: key 'name': {config.name!r} is already a registered task (plugin "
                          f"{existing.plugin or '?'}, {existing.config_path}); give your task a name of its own, "
                          "so its results are not filed under the other task")
    template = _template(host, config, path)
    spec = dataclasses.replace(template, name=config.name, config_path=path, groups=tuple(config.groups),
                               description=config.description or f"task file {path.name}")  # fmt: skip
    host.tasks.register(spec)
    return config.name
