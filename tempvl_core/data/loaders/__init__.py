"""Annotation loaders, one module per dataset family, and the dataset registry.

Each module has ``read_*`` functions taking explicit file paths and returning a
:class:`~tempvl_core.data.records.LoadResult` (records plus clipped/dropped counts), and
``load_*(dataset_root, split)`` conveniences that follow the data-root layout
(``<data_root>/<dataset folder>/<real file names>``) and return the records alone.
Malformed input raises :class:`~tempvl_core.data.errors.AnnotationError`.

``DATASETS`` (from :mod:`tempvl_core.data.catalogue`, re-exported here) maps each dataset name
to a :class:`DatasetSpec` listing its annotation files per task and split; the ``load_*``
conveniences read through it, so they open the files ``validate`` and the runs open.
"""

from tempvl_core.data.loaders.activitynet import load_activitynet, read_activitynet_bsn, read_activitynet_v13
from tempvl_core.data.loaders.anet_captions import (
    load_anet_captions_moments,
    load_anet_captions_retrieval,
    read_anet_captions_moments,
    read_anet_captions_retrieval,
)
from tempvl_core.data.loaders.charades_sta import load_charades_sta, read_charades_durations, read_charades_sta
from tempvl_core.data.loaders.didemo import (
    load_didemo_moments,
    load_didemo_retrieval,
    read_didemo_moments,
    read_didemo_retrieval,
)
from tempvl_core.data.loaders.lsmdc import load_lsmdc, read_lsmdc
from tempvl_core.data.loaders.msrvtt import (
    load_msrvtt_captioning,
    load_msrvtt_mc,
    load_msrvtt_qa,
    load_msrvtt_retrieval,
    read_msrvtt_captioning,
    read_msrvtt_data,
    read_msrvtt_mc,
    read_msrvtt_qa,
    read_msrvtt_retrieval_test,
    read_msrvtt_retrieval_train,
)
from tempvl_core.data.loaders.msvd import (
    load_msvd_captioning,
    load_msvd_qa,
    load_msvd_retrieval,
    read_msvd_captioning,
    read_msvd_captions,
    read_msvd_mapping,
    read_msvd_qa,
    read_msvd_retrieval,
)
from tempvl_core.data.loaders.pretrain import load_cc3m, load_webvid, read_cc3m, read_webvid
from tempvl_core.data.loaders.qvhighlights import load_qvhighlights, read_qvhighlights
from tempvl_core.data.loaders.tacos import load_tacos, read_tacos
from tempvl_core.data.loaders.thumos14 import (
    load_thumos14,
    read_thumos14_actionformer,
    read_thumos14_mmtad,
    read_thumos14_txt,
)
__all__ = [name for name in dir() if name.startswith(("load_", "read_"))] + ["DATASETS", "DatasetSpec", "SplitSource"]


def __getattr__(name: str):
    # The catalogue imports the loader modules, so it is read lazily, not at import time.
    if name in ("DATASETS", "DatasetSpec", "SplitSource"):
        from tempvl_core.data import catalogue

        return getattr(catalogue, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
