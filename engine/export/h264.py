"""Just enough H.264 bitstream handling to cut clips: IDR detection and the two ways NAL units are stored.

Containers flag "keyframes" loosely: an open-GOP I-picture (x264 --open-gop, many cameras) is a
random-access point, yet frames after it may still reference pictures before it. Only an IDR picture
(NAL unit type 5) empties the decoder's reference list, so only there may a copied run begin.

MP4/MOV/MKV store NAL units length-prefixed ("AVCC"; the prefix size and the parameter sets are in the
avcC extradata, which starts with the byte 1); MPEG-TS, raw streams and our own x264 encoder (without a
global header) separate them with 00 00 01 start codes ("Annex B").
"""

from __future__ import annotations

_IDR_SLICE = 5


def is_avcc(extradata: bytes | None) -> bool:
    return bool(extradata) and extradata[0] == 1 and len(extradata) > 6


def nal_units(data: bytes, extradata: bytes | None) -> list[bytes]:
    """The NAL units of one access unit, stored either way (`extradata` tells which)."""
    if is_avcc(extradata):
        return _length_prefixed_units(data, length_size(extradata))
    return _start_code_units(data)


def is_idr(data: bytes, extradata: bytes | None) -> bool:
    return any(unit[0] & 0x1F == _IDR_SLICE for unit in nal_units(data, extradata))


def length_size(extradata: bytes) -> int:
    """Bytes in each NAL unit's length prefix, from avcC extradata (1, 2 or 4)."""
    return (extradata[4] & 0x03) + 1


def avcc_parameter_sets(extradata: bytes) -> list[bytes]:
    """The SPS and PPS NAL units held in avcC extradata, in its order."""
    units, pos = [], 5
    for count_mask in (0x1F, 0xFF):  # 5 bits of SPS count, then a byte of PPS count
        if pos >= len(extradata):
            break
        count = extradata[pos] & count_mask
        pos += 1
        for _ in range(count):
            size = int.from_bytes(extradata[pos : pos + 2], "big")
            units.append(extradata[pos + 2 : pos + 2 + size])
            pos += 2 + size
    return units


def length_prefixed(units: list[bytes], size: int) -> bytes:
    """NAL units as AVCC data with `size`-byte prefixes; ValueError when one is too long for them."""
    limit = 1 << (8 * size)
    if any(len(unit) >= limit for unit in units):
        raise ValueError(f"a NAL unit does not fit a {size}-byte length prefix")
    return b"".join(len(unit).to_bytes(size, "big") + unit for unit in units)


def annex_b(units: list[bytes]) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + unit for unit in units)


def _length_prefixed_units(data: bytes, size: int) -> list[bytes]:
    units, pos = [], 0
    while pos + size < len(data):
        length = int.from_bytes(data[pos : pos + size], "big")
        pos += size
        if length == 0 or pos + length > len(data):
            break  # damaged: stop at what parsed
        units.append(data[pos : pos + length])
        pos += length
    return units


def _start_code_units(data: bytes) -> list[bytes]:
    """Split at 00 00 01; a NAL unit never ends in a zero byte, so zeros before a start code belong to it."""
    starts, pos = [], data.find(b"\x00\x00\x01")
    while pos >= 0:
        starts.append(pos + 3)
        pos = data.find(b"\x00\x00\x01", pos + 3)
    ends = [start - 3 for start in starts[1:]] + [len(data)]
    units = [data[start:end].rstrip(b"\x00") for start, end in zip(starts, ends, strict=True)]
    return [unit for unit in units if unit]
