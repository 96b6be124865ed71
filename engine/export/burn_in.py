"""Burn-in: the pictures of a clip with tracked masks and object ids drawn in.

    export_clip(info, 61.2, 64.0, "span.mp4", tracks=tracker.store)   # a "burn-in" clip

A burn-in clip is made by the clip pipeline (`clip.export_clip` with `tracks`) like any re-encoded
clip: the same frames, times, audio path, `EncodeSettings`, colours and atomic write. Only the
pictures differ: each frame is decoded in display orientation (the orientation the masks' pixels are
in), drawn on, and encoded as it is shown, so the clip is stored upright with no rotation flag and
any player shows the labels the right way up.
"""

from __future__ import annotations

import av
import cv2
import numpy as np

from engine.errors import ExportError
from engine.export.frames import FrameRange
from engine.export.video_track import DECODE_AHEAD_BYTES, Pictures
from engine.jobs import Job
from engine.tracking import TrackStore, decode_mask, masks_at
from engine.video import VideoInfo, decode_frames

ALPHA = 0.45  # opacity of the mask colour
PALETTE = (  # RGB, distinct on most footage; object id n gets PALETTE[(n - 1) % len]
    (255, 64, 64),
    (64, 200, 255),
    (255, 210, 0),
    (120, 255, 80),
    (255, 80, 220),
    (255, 150, 40),
    (150, 110, 255),
    (0, 255, 190),
)


def check_tracks_fit(info: VideoInfo, store: TrackStore) -> None:
    """Raise `ExportError` unless the store's masks have the video's displayed size."""
    if (store.width, store.height) != (info.width, info.height):
        raise ExportError(
            f"The tracks are for a {store.width}x{store.height} picture but {info.path.name} shows "
            f"{info.width}x{info.height}: they belong to another video. Use the tracks made from this one."
        )


def drawn_pictures(
    info: VideoInfo, frames: FrameRange, store: TrackStore, encoder: av.VideoCodecContext, job: Job
) -> Pictures:
    """The frames of `frames` upright with `store`'s masks drawn, in `encoder`'s pixel format and colours."""
    indices = range(frames.first, frames.last + 1)
    for frame in decode_frames(info, indices, buffer_bytes=DECODE_AHEAD_BYTES, cancel=job.event):
        picture = av.VideoFrame.from_ndarray(draw_masks(frame.image, store, frame.index), format="rgb24")
        # Back to YUV with the matrix and range the stream is tagged with, which `decode_frames` read the
        # source with: swscale's default (BT.601, limited) would shift the colours of a BT.709 source.
        yield (
            frame.index,
            picture.reformat(
                format=encoder.pix_fmt, dst_colorspace=encoder.colorspace, dst_color_range=encoder.color_range
            ),
        )


def draw_masks(image: np.ndarray, store: TrackStore, frame_index: int) -> np.ndarray:
    """[H, W, 3] uint8 RGB with every object's mask tinted, outlined and labelled with its id."""
    picture = image.copy()
    for obj_id, m in sorted(masks_at(store, frame_index).items()):
        if not m.area:
            continue
        color = np.array(PALETTE[(obj_id - 1) % len(PALETTE)], dtype=np.float32)
        mask = decode_mask(m.rle, store.height, store.width)
        picture[mask] = (picture[mask] * (1 - ALPHA) + color * ALPHA).astype(np.uint8)
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        thickness = max(1, round(min(store.width, store.height) / 360))
        cv2.drawContours(picture, contours, -1, tuple(int(c) for c in color), thickness)
        _label(picture, str(obj_id), m.bbox, tuple(int(c) for c in color))
    return picture


def _label(picture: np.ndarray, text: str, bbox: tuple[int, int, int, int], color: tuple[int, ...]) -> None:
    scale = max(0.4, picture.shape[0] / 720)
    thickness = max(1, round(scale * 2))
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    x = min(max(bbox[0], 0), max(0, picture.shape[1] - tw))
    y = min(max(bbox[1] - 4, th + 2), picture.shape[0] - 2)
    for ink, extra in (((0, 0, 0), 2), (color, 0)):  # dark outline first, so it reads on any background
        font = cv2.FONT_HERSHEY_SIMPLEX
        cv2.putText(picture, text, (x, y), font, scale, ink, thickness + extra, cv2.LINE_AA)
