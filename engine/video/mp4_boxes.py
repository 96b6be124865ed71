"""Boxes of the ISO base media format (MP4, MOV): the file's top level by seeking, and boxes in a buffer.

A box is a 32-bit big-endian size (1: a 64-bit size follows the type; 0: to the end of its parent), a
four-character type, then its payload. Only the index boxes are ever read whole; media data (`mdat`)
is stepped over, so walking an hour of footage touches a few MB.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field

_MAX_INDEX_BOX_BYTES = 256 << 20  # a moov or moof bigger than this is not an index we read whole


@dataclass(frozen=True)
class Fragment:
    """A movie fragment: its index box and the media data box right after it."""

    moof: bytes  # payload of the `moof` box
    media_bytes: int  # payload size of the `mdat` that follows it (0: none follows)


@dataclass
class FileLayout:
    """The index boxes of an MP4 file, read whole, in file order."""

    moov: bytes  # payload of the one `moov` box
    fragments: list[Fragment] = field(default_factory=list)


def top_level_boxes(f, size: int) -> Iterator[tuple[bytes, int, int, int]]:
    """(type, start, header size, box size) of each top-level box of an open file of `size` bytes.

    The last box may run past `size` (the file was cut off inside it). A box whose size is smaller than
    its header (damage) is yielded too, and ends the walk: nothing after it can be found.
    """
    pos = 0
    while pos + 8 <= size:
        f.seek(pos)
        head = f.read(16)
        box_size, kind, header = int.from_bytes(head[:4], "big"), head[4:8], 8
        if box_size == 1:
            box_size, header = int.from_bytes(head[8:16], "big"), 16
        elif box_size == 0:
            box_size = size - pos
        yield kind, pos, header, box_size
        if box_size < header:
            return
        pos += box_size


def read_layout(f, size: int) -> FileLayout | None:
    """The `moov` and `moof` boxes of an open file of `size` bytes; None when the file is damaged or
    cut off (a box runs past its end), has no or several `moov`, or an index box is implausibly big."""
    moov, moofs, media_bytes, last_kind = None, [], [], b""
    for kind, pos, header, box_size in top_level_boxes(f, size):
        if box_size < header or pos + box_size > size:
            return None  # damaged, or cut off: the demuxer finds where the readable part stops
        if kind in (b"moov", b"moof"):
            if box_size > _MAX_INDEX_BOX_BYTES or (kind == b"moov" and moov is not None):
                return None
            f.seek(pos + header)
            payload = f.read(box_size - header)
            if kind == b"moov":
                moov = payload
            else:
                moofs.append(payload)
                media_bytes.append(0)
        elif kind == b"mdat" and last_kind == b"moof":
            media_bytes[-1] = box_size - header
        last_kind = kind
    if moov is None or sum(map(len, moofs)) + len(moov) > _MAX_INDEX_BOX_BYTES:
        return None
    fragments = [Fragment(*pair) for pair in zip(moofs, media_bytes, strict=True)]
    return FileLayout(moov, fragments)


def stops_inside_a_box(path: str | os.PathLike) -> bool:
    """True when the file ends inside its media data or an index box: a recording or copy that stopped
    mid-write (a fragmented MP4 survives that, and its header cannot tell how much is missing)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        return any(
            pos + box_size > size and kind in (b"mdat", b"moof", b"moov")
            for kind, pos, _, box_size in top_level_boxes(f, size)
        )


def boxes(data: bytes, start: int, end: int) -> Iterator[tuple[str, int, int]]:
    """(type, payload start, box end) of the boxes between start and end of `data`."""
    pos = start
    while pos + 8 <= end:
        size, header = int.from_bytes(data[pos : pos + 4], "big"), 8
        if size == 1:
            size, header = int.from_bytes(data[pos + 8 : pos + 16], "big"), 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield data[pos + 4 : pos + 8].decode("latin-1"), pos + header, pos + size
        pos += size


def child(data: bytes, start: int, end: int, kind: str) -> tuple[int, int] | None:
    """(payload start, end) of the first box of type `kind` between start and end."""
    return next(((s, e) for k, s, e in boxes(data, start, end) if k == kind), None)


def u32(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 4], "big")
