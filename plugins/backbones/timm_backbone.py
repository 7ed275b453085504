"""timm models as per-frame backbones, with offline weight loading."""

from __future__ import annotations

import os
import sys

from tempvl_bench.api import BackboneOptions
from tempvl_core.model.backbone_weights import load_backbone_weights


def create_timm_backbone(model_name: str, options: BackboneOptions, *, sized: bool):
    """``timm.create_model(name, num_classes=0)``: pooled features, ``num_features`` set by timm.

    ``options.pretrained``: False (random init), True (timm's cache; never downloads), or a path
    to a local ``.safetensors`` / ``torch.save`` file holding a timm state dict (its classifier
    is dropped and position embeddings resized to ``image_size`` by timm's own converter).
    """
    import timm

    if not model_name:
        raise ValueError("backbone 'timm' needs a model name: --backbone timm:<name>, e.g. timm:resnet18")
    if model_name.split(".")[0] not in timm.list_models():
        close = timm.list_models(f"*{model_name.split('_')[0]}*")[:5]
        raise ValueError(f"timm has no model {model_name!r}" + (f"; similar: {', '.join(close)}" if close else ""))
    kwargs = dict(num_classes=0, **options.extra)
    if sized:
        kwargs["img_size"] = options.image_size
    pretrained = options.pretrained
    if isinstance(pretrained, str):
        model = timm.create_model(model_name, pretrained=False, **kwargs)
        classifier = model.pretrained_cfg.get("classifier") or ()
        heads = [classifier] if isinstance(classifier, str) else list(classifier)
        filter_fn = getattr(sys.modules[type(model).__module__], "checkpoint_filter_fn", None)
        return load_backbone_weights(model, pretrained, ignore_prefixes=[f"{h}." for h in heads],
                                     adapt=filter_fn, name=f"timm {model_name} at {options.image_size}px")
    if pretrained:
        return _from_timm_cache(timm, model_name, kwargs)
    return timm.create_model(model_name, pretrained=False, **kwargs)


def _from_timm_cache(timm, model_name: str, kwargs: dict):
    previous = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"  # use what is cached; never download at run time
    try:
        return timm.create_model(model_name, pretrained=True, **kwargs)
    except Exception as exc:
        raise FileNotFoundError(
            f"pretrained weights of timm model {model_name!r} are not in the local cache ({exc}); "
            "download them once where you have internet, or pass a weights file as model.pretrained"
        ) from None
    finally:
        if previous is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = previous
