"""The retrieval tasks and their evaluation protocol.

``square``: one text per video (DiDeMo and ActivityNet paragraphs, MSR-VTT 1k-A, LSMDC), a
square similarity matrix. ``multi-caption``: every caption of a test video is a query (MSVD),
CLIP4Clip's multi-sentence evaluation. Records come from the dataset catalogue (``catalogue.load``).
"""

from __future__ import annotations

PROTOCOLS = ("square", "multi-caption")

#: task name -> description
TASKS = {
    "didemo": "DiDeMo paragraph-to-video retrieval",
    "msrvtt": "MSR-VTT 1k-A (JSFusion) text-to-video retrieval",
    "msvd": "MSVD multi-caption text-to-video retrieval",
    "lsmdc": "LSMDC 1000-clip text-to-video retrieval",
    "activitynet-ret": "ActivityNet Captions paragraph-to-video retrieval (val_1)",
}
