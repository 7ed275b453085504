"""Feature-pack layouts: where a video's rows live, in which container, and their time base.

A layout is read from a ``features:`` mapping (a task file's block or a pack's manifest) over a
named preset. The presets carry the published settings (docs/data.md has the table):

========================  ==========  ============================================  ==============
preset                    container   file per video (under the pack folder)        time base
========================  ==========  ============================================  ==============
``moment-detr``           npz         ``{slowfast,clip}_features/{vid}.npz``          2 s clips
``lighthouse``            npz         ``{slowfast,clip}/{vid}.npz``                   1 s (QVH 2 s)
``actionformer-thumos14`` npy         ``i3d_features/{vid}.npy``                      stride 4, 16 f, 30 fps
``actionformer-anet``     npy         ``tsp_features/v_{vid}.npy``                    stride 16, 16 f, 15 fps
``2d-tan-charades``       hdf5        ``vgg_rgb_features.hdf5`` dataset ``{vid}``      span
``mmn-anet-captions``     hdf5        ``sub_activitynet_v1-3.c3d.hdf5`` ``{vid}/c3d_features``  span
========================  ==========  ============================================  ==============

``{stream}`` in ``path`` is replaced by each of ``streams`` and ``{vid}`` by the video id; in
HDF5, ``key`` is the dataset path inside the file (``{vid}`` replaced as well).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from tempvl_core.data.features.timebase import TimeBase, time_base_from_mapping

CONTAINERS = ("npy", "npz", "hdf5")

#: The published settings of each community layout (``dataset_overrides`` apply per dataset).
PRESETS: dict[str, dict[str, Any]] = {
    # jayleicn/moment_detr start_end_dataset.py: clip_len 2, max_v_l 75, L2-normalised streams
    # cut to the shortest, then concatenated.
    "moment-detr": {
        "container": "npz", "key": "features", "path": "{stream}/{vid}.npz",
        "streams": ["slowfast_features", "clip_features"], "dims": [2304, 512], "normalize": True,
        "time_base": {"clip_seconds": 2.0}, "max_rows": 75,
    },
    # line/lighthouse: features/{dataset}/{feature}/{vid}.npz, clip_length 1 s, 2 s for QVHighlights.
    "lighthouse": {
        "container": "npz", "key": "features", "path": "{stream}/{vid}.npz",
        "streams": ["slowfast", "clip"], "dims": [2304, 512], "normalize": True,
        "time_base": {"clip_seconds": 1.0},
        "dataset_overrides": {"qvhighlights": {"time_base": {"clip_seconds": 2.0}, "max_rows": 75}},
    },
    # happyharrycn/actionformer_release configs/thumos_i3d.yaml: RGB+flow I3D, 16-frame windows, stride 4.
    "actionformer-thumos14": {
        "container": "npy", "path": "i3d_features/{vid}.npy", "dims": [2048], "normalize": False,
        "time_base": {"feat_stride": 4, "num_frames": 16, "fps": 30.0},
    },
    # configs/anet_tsp.yaml: TSP features, stride 16 at 15 fps, resized to 192 rows (force_upsampling);
    # the per-video fps comes from the annotations.
    "actionformer-anet": {
        "container": "npy", "path": "tsp_features/v_{vid}.npy", "dims": [512], "normalize": False,
        "time_base": {"feat_stride": 16, "num_frames": 16, "fps": 15.0}, "resample": 192,
    },
    # 2D-TAN (Charades-STA): one HDF5 file, a (T, 4096) VGG dataset per video id, spread over the video.
    "2d-tan-charades": {
        "container": "hdf5", "path": "vgg_rgb_features.hdf5", "key": "{vid}", "dims": [4096], "normalize": True,
        "time_base": {"span": True},
    },
    # MMN / 2D-TAN (ActivityNet Captions): C3D features under {vid}/c3d_features.
    "mmn-anet-captions": {
        "container": "hdf5", "path": "sub_activitynet_v1-3.c3d.hdf5", "key": "{vid}/c3d_features", "dims": [500],
        "normalize": True, "time_base": {"span": True},
    },
}

_KEYS = {"preset", "container", "path", "key", "streams", "dims", "normalize", "time_base", "max_rows", "resample",
         "tolerance_rows", "tolerance_fraction", "dataset_overrides"}


class LayoutError(ValueError):
    """A ``features:`` mapping that does not describe a layout (names the file and key)."""


@dataclass(frozen=True)
class FeatureLayout:
    container: str
    path: str
    time_base: TimeBase
    key: str | None = None
    streams: tuple[str, ...] = ("",)
    #: Columns of each stream (None: taken from the first file read).
    dims: tuple[int, ...] | None = None
    #: L2-normalise each stream's rows before concatenating (Moment-DETR's rule).
    normalize: bool = False
    #: Rows kept from the start of each stream (Moment-DETR's ``max_v_l``).
    max_rows: int | None = None
    #: Resample every video to this many rows (linear); the rows then span the video evenly.
    resample: int | None = None
    #: A file may have this many rows fewer than its duration implies, or this fraction of them,
    #: whichever is more, before it is refused (decoders round clip counts differently).
    tolerance_rows: int = 2
    tolerance_fraction: float = 0.05
    preset: str | None = None
    settings: dict = field(default_factory=dict, compare=False)

    @property
    def dim(self) -> int | None:
        return sum(self.dims) if self.dims else None

    def to_dict(self) -> dict[str, Any]:
        """The resolved settings (what a manifest and results.json record)."""
        return {"preset": self.preset, "container": self.container, "path": self.path, "key": self.key,
                "streams": list(self.streams), "dims": list(self.dims) if self.dims else None,
                "normalize": self.normalize, "time_base": self.time_base.to_dict(), "max_rows": self.max_rows,
                "resample": self.resample, "tolerance_rows": self.tolerance_rows,
                "tolerance_fraction": self.tolerance_fraction}


def layout_from_mapping(raw: dict[str, Any], where: str, dataset: str | None = None) -> FeatureLayout:
    """A layout from a ``features:`` mapping (a ``preset`` plus keys that override it).

    ``where`` names the file for errors (``"tasks/x.yaml: key 'features'"``); ``dataset`` picks
    the preset's per-dataset settings (lighthouse's 2-second clips for QVHighlights)."""
    if not isinstance(raw, dict):
        raise LayoutError(f"{where}: expected a mapping, got {type(raw).__name__}")
    unknown = sorted(set(raw) - _KEYS - {"root"})
    if unknown:
        raise LayoutError(f"{where}: unknown key {unknown[0]!r}; expected some of {sorted(_KEYS)}")
    preset = raw.get("preset")
    merged: dict[str, Any] = {}
    if preset is not None:
        if preset not in PRESETS:
            raise LayoutError(f"{where}.preset: unknown preset {preset!r}; expected one of {sorted(PRESETS)}")
        merged = copy.deepcopy(PRESETS[preset])
    merged.update({k: v for k, v in raw.items() if k not in ("preset", "root")})
    merged.update(merged.pop("dataset_overrides", {}).get(dataset, {}) if dataset else {})
    merged.pop("dataset_overrides", None)
    for required in ("container", "path", "time_base"):
        if merged.get(required) is None:
            raise LayoutError(f"{where}: key {required!r} is missing (give it, or a 'preset')")
    container = merged["container"]
    if container not in CONTAINERS:
        raise LayoutError(f"{where}.container: {container!r}; expected one of {', '.join(CONTAINERS)}")
    if container in ("npz", "hdf5") and not merged.get("key"):
        raise LayoutError(f"{where}.key: a {container} layout needs the key of the array (npz) or dataset (hdf5)")
    streams = tuple(merged.get("streams") or ("",))
    if ("{stream}" in merged["path"]) != (streams != ("",)):
        raise LayoutError(f"{where}.path: {merged['path']!r} must contain '{{stream}}' exactly when 'streams' is given")
    dims = merged.get("dims")
    if dims is not None and (not isinstance(dims, list) or len(dims) != len(streams)
                             or not all(isinstance(d, int) and d > 0 for d in dims)):
        raise LayoutError(f"{where}.dims: expected one positive int per stream ({len(streams)}), got {dims!r}")
    try:
        time_base = time_base_from_mapping(merged["time_base"], f"{where}.time_base")
    except ValueError as exc:
        raise LayoutError(str(exc)) from None
    for name in ("max_rows", "resample", "tolerance_rows"):
        value = merged.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "tolerance_rows" else 1)):
            raise LayoutError(f"{where}.{name}: expected a positive integer or null, got {value!r}")
    return FeatureLayout(
        container=container, path=merged["path"], time_base=time_base, key=merged.get("key"), streams=streams,
        dims=tuple(dims) if dims else None, normalize=bool(merged.get("normalize", False)),
        max_rows=merged.get("max_rows"), resample=merged.get("resample"),
        tolerance_rows=int(merged.get("tolerance_rows", 2)),
        tolerance_fraction=float(merged.get("tolerance_fraction", 0.05)), preset=preset, settings=dict(raw),
    )
