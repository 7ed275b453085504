"""Hook specifications of tempvl-bench: the whole plugin API in one place.

A plugin is a module (or object) registered under the entry-point group ``tempvl_bench`` that
implements some of these hooks with :data:`tempvl_bench.hookimpl`. Plugins receive the registries
they fill as arguments; they never import a global registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # imported for annotations only, so loading the specs stays cheap
    from tempvl_bench.plugin.registry import BackboneRegistry, ModelRegistry, TaskRegistry, TextEncoderRegistry

PROJECT_NAME = "tempvl_bench"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)


@hookspec
def tempvl_bench_register_tasks(registry: "TaskRegistry") -> None:
    """Register benchmark tasks.

    Call ``registry.register(TaskSpec(...))`` once per task. A task couples a YAML definition
    (``TaskSpec.config_path``, whose ``family:`` key names the family) with the family's code,
    named lazily as ``"package.module:attr"`` (``TaskSpec.family``): a
    :class:`tempvl_bench.api.TaskFamily` whose load / finetune / predict / score / baselines
    steps the harness runs in its one lifecycle. Everything a plugin
    needs is importable from :mod:`tempvl_bench.api`.
    Task names are global: registering a name twice is an error that names both plugins.
    """


@hookspec
def tempvl_bench_register_backbones(registry: "BackboneRegistry") -> None:
    """Register video backbones.

    Call ``registry.register(BackboneSpec(name, factory, ...))``. The factory receives a
    :class:`tempvl_bench.plugin.registry.BackboneOptions` and returns a ``torch.nn.Module`` of one of
    two kinds, both with an int attribute ``num_features`` (= C):

    - **per-frame**: ``forward(images [N, 3, H, W]) -> [N, C]``. TemPVL applies it to every
      real frame (padding frames never reach it).
    - **clip** (video): also has an int attribute ``temporal_stride`` (s >= 1), which marks the
      kind; ``forward(clips [B, T, 3, H, W]) -> [B, T / s, C]``, with ``T`` always a multiple of
      ``s``. Feature ``k`` covers frames ``k*s .. k*s+s-1`` and carries the timestamp of frame
      ``k*s``, so moment retrieval and action localization stay exact in seconds. Videos of a
      batch are grouped by length and each video's last real frame is repeated up to a multiple
      of ``s``: padding never reaches a clip backbone either.

    ``options.pretrained`` is False, True (the library's own offline cache) or the path of a
    local weights file; load it with
    :func:`tempvl_core.model.backbone_weights.load_backbone_weights` so a mismatch lists the
    missing and unexpected keys. Never download at run time.
    ``tempvl-bench run --backbone NAME`` then uses the backbone for every task.
    """


@hookspec
def tempvl_bench_register_text_encoders(registry: "TextEncoderRegistry") -> None:
    """Register text encoders by name.

    Call ``registry.register(TextEncoderSpec(name, resolve))``; ``resolve()`` returns the local
    directory of a transformers BERT-family model (config, weights and tokenizer files).
    Nothing may be downloaded at run time: resolve to files that are on disk or raise an error
    saying how to get them.
    """


@hookspec
def tempvl_bench_register_models(registry: "ModelRegistry") -> None:
    """Register whole models, beside TemPVL (``tempvl``, the default).

    Call ``registry.register(ModelSpec(name, factory, capabilities, description, identify=...))``.
    ``factory(options: ModelOptions)`` returns the model, on ``options.device``, in eval mode;
    ``options.path`` is ``--set model.path=DIR`` (None: the factory's default, e.g. the offline
    Hugging Face cache). Never download at run time.

    ``capabilities`` say what the model can do (:data:`tempvl_bench.plugin.capabilities.CAPABILITIES`,
    each naming the methods the families call); a task whose family needs one the model lacks
    is refused before any video is read. A model whose frames need their own preprocessing
    (a processor's resize, crop, mean and std) has an attribute ``frame_transform``: a callable
    ``(uint8 frames [T, H, W, 3], rng) -> float [T, 3, H, W]``; the harness then decodes frames at
    their own size and hands them to it, for training and evaluation alike.

    ``identify(options)`` returns a ``ModelIdentity`` (name, path, config and weights hashes)
    from the model's files without building it: results.json records it, and the feature cache
    and ``--resume`` key on it. ``tempvl-bench run --model NAME`` picks the model.
    """
