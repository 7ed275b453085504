"""TemPVL model: dual encoders (video, text), fusion and grounding encoders, heads.

Public entry points: :class:`TemPVL`, :class:`TemPVLConfig`, :func:`default_text_encoder_path`.
"""

from tempvl_core.model.config import TemPVLConfig
from tempvl_core.model.tempvl import TemPVL
from tempvl_core.model.text_encoder import TextEncoder, default_text_encoder_path
from tempvl_core.model.video_encoder import VideoEncoder

__all__ = ["TemPVL", "TemPVLConfig", "TextEncoder", "VideoEncoder", "default_text_encoder_path"]
