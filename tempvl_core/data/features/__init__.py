"""Feature packs: videos given as precomputed per-clip features in the community's layouts.

- :mod:`.timebase`: row index <-> seconds for each layout;
- :mod:`.layout`: containers, path templates, streams and the named presets;
- :mod:`.reader`: one video's checked, assembled rows;
- :mod:`.writer`: writing packs (``tempvl-bench extract-features``).
"""

from tempvl_core.data.features.layout import CONTAINERS, PRESETS, FeatureLayout, LayoutError, layout_from_mapping
from tempvl_core.data.features.reader import PackError, PackReader, VideoRows, resample_rows
from tempvl_core.data.features.timebase import ClipTimeBase, SpanTimeBase, StrideTimeBase, time_base_from_mapping

__all__ = ["CONTAINERS", "PRESETS", "FeatureLayout", "LayoutError", "layout_from_mapping", "PackError", "PackReader",
           "VideoRows", "resample_rows", "ClipTimeBase", "SpanTimeBase", "StrideTimeBase", "time_base_from_mapping"]
