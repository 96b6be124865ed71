"""Make real media files for tests and benchmarks, with PyAV (no binaries in git, no ffmpeg CLI needed).

Every video frame carries its own index as a 16-bit barcode in its top-left corner, so a test can
check which frame a decoder delivered by its *content*, not only by its timestamp.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

BARCODE_BITS = 16


def barcode_block(width: int) -> int:
    return max(4, min(16, width // BARCODE_BITS // 2 * 2))


def draw_frame(index: int, width: int, height: int, texture: np.ndarray | None = None) -> np.ndarray:
    """[height, width, 3] uint8: a moving gradient (or texture) with `index` as a barcode at the top-left."""
    if texture is None:
        x = np.arange(width, dtype=np.int32)[None, :]
        y = np.arange(height, dtype=np.int32)[:, None]
        img = np.empty((height, width, 3), np.uint8)
        img[..., 0] = (x * 3 + index * 5) % 256
        img[..., 1] = (y * 2 + index * 3) % 256
        img[..., 2] = ((x + y) + index * 7) % 256
    else:
        img = np.roll(texture, shift=(index * 3, index * 5), axis=(0, 1)).copy()
    return stamp_barcode(img, index)


def stamp_barcode(img: np.ndarray, index: int) -> np.ndarray:
    """Draw `index` as a 16-bit barcode into the top-left corner of `img` (in place); returns `img`."""
    width = img.shape[1]
    block = barcode_block(width)
    img[: block * 2, : block * BARCODE_BITS] = 128
    for bit in range(BARCODE_BITS):
        value = 255 if (index >> bit) & 1 else 0
        img[:block, bit * block : (bit + 1) * block] = value
    return img


def draw_scene(index: int, width: int, height: int, fps: float = 30.0) -> np.ndarray:
    """A harbour at dusk for screenshots and demos: sky, water with waves, a boat crossing, a red car on
    the quay, all moving with time; the barcode as in `draw_frame`."""
    t = index / fps
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    y, x = rows / height, cols / width  # [H, W] each, 0..1
    img = np.empty((height, width, 3), np.float32)
    sky = y < 0.55
    img[..., 0] = np.where(sky, 250 - 140 * y, 30 + 20 * np.sin(40 * x + 3 * t + 25 * y))
    img[..., 1] = np.where(sky, 170 - 90 * y, 70 + 18 * np.sin(37 * x - 2 * t + 31 * y))
    img[..., 2] = np.where(sky, 120 + 120 * y, 110 + 25 * np.sin(29 * x + t + 19 * y))
    quay = (y > 0.78) & (y < 0.86)
    img[quay] = (92, 88, 84)
    hull, sail = _boat(x, y, t)
    img[hull], img[sail] = (60, 40, 35), (240, 236, 225)
    car_x = 0.85 - (0.08 * t) % 0.9
    car = (np.abs(x - car_x) < 0.035) & (y > 0.755) & (y < 0.785)
    img[car] = (200, 30, 35)
    sun = (x - 0.78) ** 2 * (width / height) ** 2 + (y - 0.3) ** 2 < 0.004
    img[sun] = (255, 225, 150)
    return stamp_barcode(np.clip(img, 0, 255).astype(np.uint8), index)


def scene_boat_mask(index: int, width: int, height: int, fps: float = 30.0) -> np.ndarray:
    """[H, W] bool: where `draw_scene` drew the boat (hull and sail) in frame `index`: the true mask."""
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    hull, sail = _boat(cols / width, rows / height, index / fps)
    return hull | sail


def _boat(x: np.ndarray, y: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
    boat_x = (0.1 + 0.05 * t) % 1.1 - 0.05
    hull = (np.abs(x - boat_x) < 0.07 - (y - 0.58) * 0.4) & (y > 0.56) & (y < 0.62)
    sail = (x > boat_x - 0.005) & (x < boat_x + 0.05 * (0.56 - y) / 0.2) & (y > 0.36) & (y < 0.56)
    return hull, sail


def read_barcode(image: np.ndarray) -> int:
    """The frame index drawn by `draw_frame` (image in coded orientation, original size)."""
    block = barcode_block(image.shape[1])
    margin = block // 4
    index = 0
    for bit in range(BARCODE_BITS):
        cell = image[margin : block - margin, bit * block + margin : (bit + 1) * block - margin]
        if cell.mean() > 127:
            index |= 1 << bit
    return index


def make_video(
    path: str | Path,
    *,
    width: int = 320,
    height: int = 240,
    frames: int = 60,
    fps: float = 25.0,
    durations_s: Sequence[float] | None = None,
    codec: str = "libx264",
    gop: int = 25,
    bframes: int = 2,
    rotation_ccw: int = 0,
    audio: bool = False,
    audio_codec: str = "aac",
    audio_rate: int = 48000,
    audio_signal: str = "tone",
    faststart: bool = False,
    texture: bool = False,
    scene: bool = False,
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
    movflags: str = "",
) -> Path:
    """Write a test video and return its path. The container follows the file extension.

    `durations_s` gives every frame's own duration (variable frame rate); otherwise frames are 1/fps
    apart. `rotation_ccw` stores a display rotation (counter-clockwise degrees, FFmpeg's convention).
    `scene` draws `draw_scene` (for screenshots) instead of the gradient.
    `movflags` go to the MP4 muxer (e.g. "frag_keyframe+empty_moov": fragmented, as recorders write).
    `audio_signal` is "tone" (440 Hz) or "noise" (seeded white noise: `audio_samples` recreates it,
    so a test can find by correlation exactly which source samples a clip's audio holds).
    """
    path = Path(path)
    time_base = Fraction(1, 90000)
    stamps = _frame_stamps(frames, fps, durations_s, time_base)
    movflags = "+".join(flag for flag in (movflags, "faststart" if faststart else "") if flag)
    container_options = {"movflags": movflags} if movflags else {}
    with av.open(str(path), "w", options=container_options) as out:
        rate = Fraction(fps).limit_denominator(1001)
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height = width, height
        stream.pix_fmt = pix_fmt
        stream.codec_context.time_base = time_base
        stream.time_base = time_base
        stream.options = _encoder_options(codec, gop, bframes) | (options or {})
        if rotation_ccw:
            stream.set_display_rotation(rotation_ccw)
        audio_stream = out.add_stream(audio_codec, rate=audio_rate) if audio else None
        rng = np.random.default_rng(0)
        tex = _texture(rng, width, height) if texture else None
        for i, pts in enumerate(stamps):
            image = draw_scene(i, width, height, fps) if scene else draw_frame(i, width, height, tex)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = pts, time_base
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        if audio_stream is not None:
            total_s = float(stamps[-1] * time_base) + (durations_s[-1] if durations_s else 1 / fps)
            _write_audio(out, audio_stream, total_s, audio_signal)
    return path


def remux_mp4(source: str | Path, target: str | Path, options: dict[str, str]) -> Path:
    """`source`'s video and audio packets, unchanged, in an MP4 written with the muxer `options`
    (e.g. `{"movflags": "frag_keyframe+empty_moov"}` for a fragmented file as recorders write them)."""
    with av.open(str(source)) as src, av.open(str(target), "w", format="mp4", options=options) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in (*src.streams.video, *src.streams.audio)}
        for packet in src.demux(*src.streams.video, *src.streams.audio):
            if packet.size:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    return Path(target)


def make_audio_only(path: str | Path, seconds: float = 2.0) -> Path:
    path = Path(path)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=48000)
        _write_audio(out, stream, seconds, "tone")
    return path


def _frame_stamps(frames, fps, durations_s, time_base) -> list[int]:
    if durations_s is None:
        return [round(i / fps / time_base) for i in range(frames)]
    stamps, t = [], 0.0
    for d in durations_s:
        stamps.append(round(t / time_base))
        t += d
    return stamps


def _encoder_options(codec: str, gop: int, bframes: int) -> dict[str, str]:
    if codec == "libx264":
        return {
            "preset": "veryfast",
            "g": str(gop),
            "keyint_min": str(gop),
            "sc_threshold": "0",
            "bf": str(bframes),
        }
    if codec == "libx265":
        return {
            "preset": "ultrafast",
            "x265-params": f"keyint={gop}:min-keyint={gop}:bframes={bframes}:scenecut=0:log-level=error",
        }
    if codec == "libvpx-vp9":
        return {"g": str(gop), "deadline": "realtime", "cpu-used": "8"}
    return {"g": str(gop)}


def _texture(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Smooth random texture, so encoded frames cost about what real footage costs to decode."""
    small = rng.integers(0, 256, (math.ceil(height / 8), math.ceil(width / 8), 3), dtype=np.uint8)
    return np.repeat(np.repeat(small, 8, axis=0), 8, axis=1)[:height, :width]


def audio_samples(signal: str, rate: int, count: int) -> np.ndarray:
    """[count] float32: the mono signal `make_video` writes (sample n is at time n / rate)."""
    if signal == "noise":
        return (0.1 * np.random.default_rng(1).standard_normal(count)).astype(np.float32)
    t = np.arange(count) / rate
    return (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def _write_audio(out, stream, seconds: float, signal: str) -> None:
    rate, samples_per_frame = stream.rate, 1024
    total = int(seconds * rate)
    samples = audio_samples(signal, rate, total)
    for start in range(0, total, samples_per_frame):
        chunk = samples[None, start : start + samples_per_frame]
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
        frame.sample_rate, frame.pts = rate, start
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))
