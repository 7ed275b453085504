"""Is a video file whole? Checks that catch a download or copy cut short.

A cut-off file still opens: demuxers stop quietly where the bytes end, so a reader would see a
shorter video and sample only the part that survived. What each container offers to notice it:

- MP4/MOV and AVI declare their frame count in a header (the ``moov`` index, the ``strh``
  length); :class:`~tempvl_core.video.backends.PyAVSource` compares it with the packets.
- ASF (``.wmv``, ``.asf``) declares its file size in the File Properties object
  (:func:`asf_shortfall`).
- Every container: a last packet read short is flagged corrupt by the demuxer.
- MPEG-PS (``.mpg``) and MPEG-TS (``.ts``, ``.mts``, ``.m2ts``) declare no length at all. A cut
  shows only as a damaged last frame: :func:`damaged_tail` decodes the last group of pictures,
  and :func:`ts_partial_packet` finds a file that ends inside a transport packet.
  A cut that falls exactly between two frames leaves a valid, shorter stream: nothing in such a
  file can tell it from a shorter video.

Each check returns ``None`` for a whole file, or a sentence saying what is missing.
"""

from __future__ import annotations

import struct
from pathlib import Path

#: Formats (FFmpeg demuxer names) that declare neither duration nor frame count.
NO_DECLARED_LENGTH = frozenset({"mpeg", "mpegts", "mpegvideo"})

_ASF_HEADER = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
_ASF_FILE_PROPERTIES = bytes.fromhex("a1dcab8c47a9cf118ee400c00c205365")
_ASF_BROADCAST = 0x1  # flag: file size, packet count and duration are not filled in


def asf_declared(path: Path) -> tuple[int, float] | None:
    """``(file_size, play_seconds)`` from an ASF File Properties object, or None when the file
    is not ASF, is a broadcast (live) file, or its header cannot be parsed."""
    with open(path, "rb") as file:
        head = file.read(30)
        if len(head) < 30 or head[:16] != _ASF_HEADER:
            return None
        header_size = struct.unpack_from("<Q", head, 16)[0]
        body = file.read(max(0, min(header_size, 1 << 20) - 30))
    pos = 0
    while pos + 24 <= len(body):
        guid, size = body[pos : pos + 16], struct.unpack_from("<Q", body, pos + 16)[0]
        if guid == _ASF_FILE_PROPERTIES and pos + 104 <= len(body):
            file_size, = struct.unpack_from("<Q", body, pos + 40)
            play_100ns, _send, preroll_ms, flags = struct.unpack_from("<QQQI", body, pos + 64)
            if flags & _ASF_BROADCAST:
                return None
            return file_size, max(0.0, play_100ns / 1e7 - preroll_ms / 1e3)
        if size < 24:
            return None
        pos += size
    return None


def asf_shortfall(path: Path) -> str | None:
    """A sentence when an ASF file is shorter than its header says; None otherwise."""
    declared = asf_declared(path)
    if declared is None:
        return None
    size, seconds = declared
    actual = path.stat().st_size
    if actual >= size:
        return None
    return (f"truncated file: the ASF header declares {size} bytes ({seconds:.2f} s) "
            f"but the file has {actual}")


_TS_SYNC = 0x47


def _ts_packet_layout(head: bytes) -> tuple[int, int] | None:
    """``(packet_size, sync_offset)`` of an MPEG-TS file (188; 192 for M2TS; 204 with FEC)."""
    for size, offset in ((188, 0), (192, 4), (204, 0)):
        if len(head) >= offset + 2 * size and all(head[offset + k * size] == _TS_SYNC for k in range(2)):
            return size, offset
    return None


def ts_partial_packet(path: Path) -> str | None:
    """A sentence when an MPEG-TS file ends inside a transport packet (the demuxer drops the
    piece silently, and with it the start of a frame); None otherwise."""
    with open(path, "rb") as file:
        layout = _ts_packet_layout(file.read(612))
    if layout is None:
        return None
    packet = layout[0]
    extra = path.stat().st_size % packet
    if not extra:
        return None
    return (f"truncated file: it ends {extra} bytes into a {packet}-byte transport packet "
            f"(a whole stream is a whole number of packets)")


def _ts(obj) -> int | None:
    return obj.pts if obj.pts is not None else getattr(obj, "dts", None)


def _decode_from(path: Path, key_ts: int, seek_to: int | None) -> tuple[int, str | None] | None:
    """Decode from the packet with ``key_ts`` to the end: ``(clean frames at or after it, damage)``.

    ``None`` when the demuxer never reaches that packet (the seek landed past it)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if seek_to is not None:
            container.seek(seek_to, stream=stream)
        started, clean = False, 0
        try:
            for packet in container.demux(stream):
                if not started:
                    if packet.size == 0 or _ts(packet) != key_ts:
                        continue
                    started = True
                for frame in packet.decode():
                    ts = _ts(frame)
                    if ts is None or ts < key_ts:  # leading frames of an open GOP
                        continue
                    if frame.is_corrupt:
                        return clean, f"the frame at {float(ts * stream.time_base):.2f} s is damaged"
                    clean += 1
        except av.FFmpegError as err:
            return clean, f"the last frames do not decode ({err})"
    return (clean, None) if started else None


def damaged_tail(path: Path, key_ts: int, key_dts: int | None, expected: int | None) -> str | None:
    """Decode the last GOP (from the keyframe stamped ``key_ts``) and say what is damaged.

    ``expected`` is how many frames at or after the keyframe the index lists (None: unknown).
    """
    result = _decode_from(path, key_ts, key_dts if key_dts is not None else key_ts)
    if result is None:  # seeking missed the keyframe: read from the start instead
        result = _decode_from(path, key_ts, None)
    if result is None:
        return None  # the index's own keyframe was not found again: nothing to judge by
    clean, damage = result
    if damage is None and expected is not None and clean < expected:
        damage = f"only {clean} of the last {expected} frames decode"
    if damage is None:
        return None
    return f"truncated or damaged file: {damage}"


__all__ = ["NO_DECLARED_LENGTH", "asf_declared", "asf_shortfall", "damaged_tail", "ts_partial_packet"]
