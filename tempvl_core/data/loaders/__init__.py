"""Annotation parsers, one module per dataset family.

Each module has ``read_*`` functions taking explicit file paths and returning a
:class:`~tempvl_core.data.records.LoadResult` (records plus clipped/dropped counts). Malformed
input raises :class:`~tempvl_core.data.errors.AnnotationError`.

The parsers are leaves: they import only the records, the errors and their shared file
helpers (``_io``), never the catalogue. Which files a dataset's split is stored in, and the one
function that reads a split (``load``), are in :mod:`tempvl_core.data.catalogue`, which
imports these modules.
"""

from tempvl_core.data.loaders.activitynet import read_activitynet_bsn, read_activitynet_v13
from tempvl_core.data.loaders.anet_captions import (
    read_anet_captions_moments,
    read_anet_captions_retrieval,
)
from tempvl_core.data.loaders.charades_sta import read_charades_durations, read_charades_sta
from tempvl_core.data.loaders.didemo import (
    read_didemo_moments,
    read_didemo_retrieval,
)
from tempvl_core.data.loaders.lsmdc import read_lsmdc
from tempvl_core.data.loaders.msrvtt import (
    read_msrvtt_captioning,
    read_msrvtt_data,
    read_msrvtt_mc,
    read_msrvtt_qa,
    read_msrvtt_retrieval_test,
    read_msrvtt_retrieval_train,
)
from tempvl_core.data.loaders.msvd import (
    read_msvd_captioning,
    read_msvd_captions,
    read_msvd_mapping,
    read_msvd_qa,
    read_msvd_retrieval,
)
from tempvl_core.data.loaders.pretrain import read_cc3m, read_webvid
from tempvl_core.data.loaders.qvhighlights import read_qvhighlights
from tempvl_core.data.loaders.tacos import read_tacos
from tempvl_core.data.loaders.thumos14 import (
    read_thumos14_actionformer,
    read_thumos14_mmtad,
    read_thumos14_txt,
)

__all__ = [name for name in dir() if name.startswith("read_")]
