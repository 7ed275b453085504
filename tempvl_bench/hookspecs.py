"""Hook specifications of tempvl-bench: the whole plugin API in one place.

A plugin is a module (or object) registered under the entry-point group ``tempvl_bench`` that
implements some of these hooks with :data:`tempvl_bench.hookimpl`. Plugins receive the registries
they fill as arguments; they never import a global registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # imported for annotations only, so loading the specs stays cheap
    from tempvl_bench.registry import BackboneRegistry, TaskRegistry, TextEncoderRegistry

PROJECT_NAME = "tempvl_bench"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)


@hookspec
def tempvl_bench_register_tasks(registry: "TaskRegistry") -> None:
    """Register benchmark tasks.

    Call ``registry.register(TaskSpec(...))`` once per task. A task couples a YAML definition
    (``TaskSpec.config_path``) with the function that runs it (``TaskSpec.runner``), which receives
    a :class:`tempvl_bench.runner.RunContext` and returns a :class:`tempvl_bench.runner.TaskOutput`.
    Task names are global: registering a name twice is an error that names both plugins.
    """


@hookspec
def tempvl_bench_register_backbones(registry: "BackboneRegistry") -> None:
    """Register video backbones.

    Call ``registry.register(BackboneSpec(name, factory, ...))``. The factory receives a
    :class:`tempvl_bench.registry.BackboneOptions` and returns a ``torch.nn.Module`` mapping images
    ``[N, 3, H, W]`` to features ``[N, C]`` with an integer attribute ``num_features`` (= C).
    ``tempvl-bench run --backbone NAME`` then uses it for every task.
    """


@hookspec
def tempvl_bench_register_text_encoders(registry: "TextEncoderRegistry") -> None:
    """Register text encoders by name.

    Call ``registry.register(TextEncoderSpec(name, resolve))``; ``resolve()`` returns the local
    directory of a transformers BERT-family model (config, weights and tokenizer files).
    Nothing may be downloaded at run time: resolve to files that are on disk or raise an error
    saying how to get them.
    """
