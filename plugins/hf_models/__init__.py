"""Transformers CLIP-family models, evaluated as published: ``hf-clip`` (CLIPModel or
VisionTextDualEncoderModel, CLIP4Clip's zero-shot meanP) and ``hf-xclip`` (XCLIPModel, with
X-CLIP's own video-text similarity).

Both load a local folder (``--set model.path=DIR``, as written by ``save_pretrained``) or the
offline Hugging Face cache, with ``local_files_only``: nothing is downloaded. Listing models
imports neither torch nor transformers: the factories import them when a run builds the model.
"""

from __future__ import annotations

from tempvl_bench.api import CLIP_EMBEDDINGS, FINETUNING, FRAME_EMBEDDINGS, ModelSpec, hookimpl

from tempvl_plugins.hf_models.files import identify_clip, identify_xclip


def _build_clip(options):
    from tempvl_plugins.hf_models.clip import load_clip

    return load_clip(options)


def _build_xclip(options):
    from tempvl_plugins.hf_models.xclip import load_xclip

    return load_xclip(options)


@hookimpl
def tempvl_bench_register_models(registry) -> None:
    registry.register(ModelSpec(
        "hf-clip", _build_clip, frozenset({CLIP_EMBEDDINGS, FRAME_EMBEDDINGS, FINETUNING}),
        "transformers CLIPModel or VisionTextDualEncoderModel: frames through get_image_features (its processor), "
        "mean-pooled (CLIP4Clip meanP)",
        identify=identify_clip,
    ))
    registry.register(ModelSpec(
        "hf-xclip", _build_xclip, frozenset({CLIP_EMBEDDINGS}),
        "transformers XCLIPModel: its video encoder and its own video-text similarity (prompted texts)",
        identify=identify_xclip,
    ))
