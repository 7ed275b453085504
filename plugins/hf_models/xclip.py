"""``hf-xclip``: a transformers XCLIPModel, scored with X-CLIP's own video-text similarity.

X-CLIP's text embedding depends on the video: a prompt generator attends from the text to the
video's frame patches. So :meth:`HFXClipVideo.encode_video` returns a per-video state, the video
embedding (after the multi-frame integration transformer) followed by the frame-averaged patch
features, and :meth:`HFXClipVideo.pair_scores` computes, for every text and video, the cosine of
the video embedding with the text embedding prompted by that video: ``logits_per_text`` of
``XCLIPModel.forward`` divided by its logit scale (the ranking is the same).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tempvl_bench.api import ModelOptions
from tempvl_plugins.hf_models.clip import ProcessedVideoText, load_model_and_processor, pooled
from tempvl_plugins.hf_models.files import model_folder

#: Videos prompted at once in :meth:`HFXClipVideo.pair_scores` (memory: videos x texts x width).
VIDEO_CHUNK = 16


class HFXClipVideo(ProcessedVideoText):
    """An XCLIPModel with the ``clip-embeddings`` methods (see :mod:`tempvl_bench.plugin.capabilities`)."""

    def __init__(self, xclip: nn.Module, processor) -> None:
        super().__init__(processor, xclip.config)
        self.xclip = xclip
        self.num_frames = int(xclip.config.vision_config.num_frames)

    def encode_text(self, tokens: dict[str, Tensor]) -> Tensor:
        """Projected text embeddings ``[N, D]`` before the video prompt (normalised in pair_scores)."""
        return pooled(self.xclip.get_text_features(**tokens)).float()

    def encode_video(self, frames: Tensor, frame_mask: Tensor | None = None) -> Tensor:
        """``[B, 1 + P, D]``: the normalised video embedding, then the P frame-averaged patch features."""
        b, t = frames.shape[:2]
        if t != self.num_frames or (frame_mask is not None and not bool(frame_mask.all())):
            raise ValueError(f"hf-xclip: the model takes exactly {self.num_frames} frames per video "
                             f"(vision_config.num_frames), got {t}; set video.num_frames: {self.num_frames}")
        x = self.xclip
        vision = x.vision_model(pixel_values=frames.to(self.device).flatten(0, 1))
        cls = x.visual_projection(vision.pooler_output).view(b, t, -1)
        video = F.normalize(x.mit(cls).pooler_output.float(), dim=-1)
        patches = x.prompts_visual_layernorm(vision.last_hidden_state[:, 1:, :]) @ x.prompts_visual_projection
        patches = patches.view(b, t, -1, video.shape[-1]).mean(1).float()
        return torch.cat([video[:, None], patches], 1)

    @torch.no_grad()
    def pair_scores(self, text_emb: Tensor, video_state: Tensor) -> Tensor:
        """``[N, M]`` cosine of each video embedding with the text embeddings it prompts."""
        text = text_emb.to(self.device)
        out = []
        for start in range(0, video_state.shape[0], VIDEO_CHUNK):
            state = video_state[start : start + VIDEO_CHUNK].to(self.device)
            video, patches = state[:, 0], state[:, 1:]
            prompted = text[None].expand(state.shape[0], -1, -1)
            prompted = F.normalize(prompted + self.xclip.prompts_generator(prompted, patches), dim=-1)
            out.append(torch.einsum("md,mnd->nm", video, prompted).float().cpu())
        return torch.cat(out, 1)


def load_xclip(options: ModelOptions) -> HFXClipVideo:
    from transformers import XCLIPModel, XCLIPProcessor

    folder = model_folder("hf-xclip", options)
    model = HFXClipVideo(*load_model_and_processor(XCLIPModel, XCLIPProcessor, folder))
    frames = options.config.video.num_frames
    if frames != model.num_frames:
        raise ValueError(f"{options.config.where('video.num_frames')}: {frames}, but the X-CLIP model in {folder} "
                         f"takes {model.num_frames} frames per video; --set video.num_frames={model.num_frames}")
    return model.to(options.device).eval()
