"""Just enough H.264 bitstream reading to tell an IDR picture from other keyframes.

Containers flag "keyframes" loosely: an open-GOP I-picture (x264 --open-gop, many cameras) is a
random-access point, yet frames after it may still reference pictures before it. Only an IDR picture
(NAL unit type 5) empties the decoder's reference list, so only there may a copied clip begin.
"""

from __future__ import annotations

_IDR_SLICE = 5


def nal_unit_types(data: bytes, extradata: bytes | None) -> list[int]:
    """The NAL unit types in one access unit, in either of the two ways H.264 is stored.

    MP4/MOV/MKV store length-prefixed NAL units ("AVCC"; the length size is in the avcC extradata,
    which starts with the byte 1); MPEG-TS and raw streams separate them with 00 00 01 start codes.
    """
    if extradata and extradata[0] == 1 and len(extradata) > 4:
        return _length_prefixed_types(data, (extradata[4] & 0x03) + 1)
    return _start_code_types(data)


def is_idr(data: bytes, extradata: bytes | None) -> bool:
    return _IDR_SLICE in nal_unit_types(data, extradata)


def _length_prefixed_types(data: bytes, length_size: int) -> list[int]:
    types, pos = [], 0
    while pos + length_size < len(data):
        size = int.from_bytes(data[pos : pos + length_size], "big")
        pos += length_size
        if size == 0 or pos + size > len(data):
            break  # damaged: stop at what parsed
        types.append(data[pos] & 0x1F)
        pos += size
    return types


def _start_code_types(data: bytes) -> list[int]:
    types, pos = [], data.find(b"\x00\x00\x01")
    while pos >= 0 and pos + 3 < len(data):
        types.append(data[pos + 3] & 0x1F)
        pos = data.find(b"\x00\x00\x01", pos + 3)
    return types
