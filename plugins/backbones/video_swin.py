"""Video Swin-T (torchvision ``swin3d_t``) as a clip backbone: ``[B, T, 3, H, W] -> [B, T/2, 768]``."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


class VideoSwinT(nn.Module):
    """torchvision's Video Swin-T without its classifier, its features pooled over space.

    Patches of 2 x 4 x 4 give features ``[B, T/2, H/32, W/32, 768]`` (7 x 7 at 224 px); the
    spatial mean of each time step is one feature, so the temporal stride is 2. Submodule names
    are torchvision's, so its state dicts load as they are (the ``head.*`` keys are dropped).
    """

    temporal_stride = 2
    num_features = 768
    ignored_weights = ("head.",)  # torchvision's Kinetics classifier

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models.video import swin3d_t

        net = swin3d_t(weights=None)  # random init; never downloads
        self.patch_embed, self.pos_drop, self.features, self.norm = net.patch_embed, net.pos_drop, net.features, net.norm
        self.grad_checkpointing = False

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each stage's activations in backward (timm's switch, same name)."""
        self.grad_checkpointing = enable

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        x = self.pos_drop(self.patch_embed(clips.transpose(1, 2)))  # [B, 3, T, H, W] -> [B, T/2, H/4, W/4, 96]
        for stage in self.features:
            if self.grad_checkpointing and self.training and torch.is_grad_enabled():
                x = checkpoint(stage, x, use_reentrant=False)
            else:
                x = stage(x)
        return self.norm(x).mean(dim=(2, 3))  # [B, T/2, H/32, W/32, 768] -> [B, T/2, 768]


def cached_kinetics_weights() -> str:
    """torchvision's Kinetics-400 weights file in the torch hub cache (never downloaded)."""
    from pathlib import Path

    from torchvision.models.video import Swin3D_T_Weights

    url = Swin3D_T_Weights.KINETICS400_V1.url
    path = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]
    if not path.is_file():
        raise FileNotFoundError(
            f"swin3d-t: torchvision's Kinetics-400 weights are not cached at {path}. Download {url} once where "
            "you have internet and put it there, or set model.pretrained to the file's path."
        )
    return str(path)
