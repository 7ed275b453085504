"""What a model can do, what a task needs, and the check between them.

A model declares its capabilities (:class:`tempvl_bench.plugin.registry.ModelSpec`); a family declares
what it needs (:meth:`tempvl_bench.run.family.TaskFamily.capabilities_needed`, for the run's mode
and options). :func:`check_capabilities` refuses a pair that does not fit before any video is
read, naming the model, the task and what is missing. Each name stands for methods the
families call on the model:

- ``clip-embeddings``: ``tokenize(texts, max_length)``, ``encode_text(tokens) -> [N, D]`` and
  ``encode_video(frames, frame_mask) -> [B, D]`` in one space, L2-normalised, and ``device``.
  Texts rank videos by :func:`similarity`: the dot product, or the model's own
  ``pair_scores(text_emb, video_emb) -> [N, M]`` when it has one (X-CLIP, whose text embedding
  depends on the video; its ``encode_video`` may then return a per-video state ``[B, ...]``).
- ``frame-embeddings``: ``video_frame_features(frames, frame_mask) -> [B, T', C]`` and
  ``embed_video_features(features) -> [B, T', D]``, per-frame embeddings in the text space, so
  moments can be read off the similarity of each frame to the query.
- ``generation``: captions or free-form answers (``generate``, ``answer_logits``...).
- ``finetuning``: trained by the harness's finetuning (``vtc_loss(video_emb, text_emb)`` on
  its own embeddings, and its parameters).
- ``grounding``: a moment head, ``moment_logits_from_features`` (start / end logits per frame).
- ``matching``: a fused video-text matching head, ``fused_match_scores``.
- ``tempvl-interface``: the whole TemPVL interface, for families that read TemPVL's config,
  backbone or heads directly (the need of a family that declares nothing).
"""

from __future__ import annotations

from typing import Any

CLIP_EMBEDDINGS = "clip-embeddings"
FRAME_EMBEDDINGS = "frame-embeddings"
GENERATION = "generation"
FINETUNING = "finetuning"
GROUNDING = "grounding"
MATCHING = "matching"
TEMPVL_INTERFACE = "tempvl-interface"

#: Every capability name, with what it means in a refusal message.
CAPABILITIES = {
    CLIP_EMBEDDINGS: "clip embeddings of videos and texts in one space",
    FRAME_EMBEDDINGS: "per-frame embeddings in the text space",
    GENERATION: "caption or answer generation",
    FINETUNING: "finetuning",
    GROUNDING: "a moment grounding head",
    MATCHING: "a fused video-text matching head",
    TEMPVL_INTERFACE: "the whole TemPVL model interface",
}


class CapabilityError(ValueError):
    """A model that cannot run a task (or declares an unknown capability); exit 2 in the CLI."""


def check_declared(name: str, plugin: str, capabilities: frozenset[str]) -> None:
    """Refuse capability names nobody checks for (usually a typo in a plugin)."""
    unknown = sorted(set(capabilities) - set(CAPABILITIES))
    if unknown:
        raise CapabilityError(f"model {name!r} (plugin {plugin or '?'}) declares unknown capabilities "
                              f"{', '.join(unknown)}; known: {', '.join(CAPABILITIES)}")


def check_capabilities(model: Any, task: str, family: Any, config: Any, task_options: Any, mode: str) -> None:
    """Raise :class:`CapabilityError` when ``model`` (a ModelSpec) lacks what ``family`` needs
    for this run. ``family`` is the task's TaskFamily."""
    needed = tuple(family.capabilities_needed(config, task_options, mode))
    missing = [c for c in dict.fromkeys(needed) if c not in model.capabilities]
    if missing:
        what = "; ".join(f"{c} ({CAPABILITIES.get(c, 'unknown')})" for c in missing)
        has = ", ".join(sorted(model.capabilities)) or "none"
        raise CapabilityError(f"model {model.name!r} cannot run task {task!r} ({mode}): it lacks {what}. "
                              f"Model {model.name!r} has: {has}; `tempvl-bench list models` shows what each has")


def similarity(model: Any, text_emb: Any, video_emb: Any) -> Any:
    """Scores ``[N, M]`` of N texts against M videos: the model's own ``pair_scores`` when it
    defines one, else the dot product of the (L2-normalised) embeddings."""
    own = getattr(model, "pair_scores", None)
    if own is not None:
        return own(text_emb, video_emb)
    return text_emb @ video_emb.T
