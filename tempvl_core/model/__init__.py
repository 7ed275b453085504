"""TemPVL model: dual encoders (video, text), fusion and grounding encoders, heads.

Typical use::

    from tempvl_core.model import TemPVL, TemPVLConfig

    model = TemPVL(TemPVLConfig.tiny(), backbone)          # backbone: [N,3,H,W] -> [N,C], .num_features
    video = model.encode_video(frames, frame_mask)          # [B, D], L2-normalized
    text = model.encode_text(["a dog runs"])                # [B, D], L2-normalized
    scores = model.similarity(text, video)                  # cosine x learned scale
    losses = model({"frames": frames, "texts": captions})   # {"loss", "loss_vtc", "loss_mr", ...}
    model.localize("a dog runs", frames[0], top_k=5)        # [(start_frame, end_frame, score)]
    model.save_pretrained("ckpt"); TemPVL.from_pretrained("ckpt", backbone)

Modules: ``config`` (TemPVLConfig), ``text_encoder`` (offline BERT), ``video_encoder``,
``layers`` (SDPA blocks), ``fusion`` (fusion + grounding encoders), ``heads``,
``objectives`` (MLM/MR/TL/VTM), ``inference`` (re-ranking, localization, captioning, QA),
``checkpoint`` (safetensors save/load).
"""

from tempvl_core.model.config import TemPVLConfig
from tempvl_core.model.tempvl import TemPVL
from tempvl_core.model.text_encoder import TextEncoder, default_text_encoder_path
from tempvl_core.model.video_encoder import VideoEncoder

__all__ = ["TemPVL", "TemPVLConfig", "TextEncoder", "VideoEncoder", "default_text_encoder_path"]
