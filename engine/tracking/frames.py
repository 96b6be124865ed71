"""Between video pixels and SAM2's square input: frames in, prompts in, masks out.

SAM2 sees every frame squashed to `image_size` x `image_size` (aspect ratio not kept), as its
processor does: bilinear resize with antialiasing, values / 255, then ImageNet mean and std. Prompts
arrive in original-video pixels in display orientation (the frames `engine.video` decodes are turned
already) and are scaled by `image_size / width` and `image_size / height`, the processor's rule. Masks
leave as booleans at the display size, upsampled bilinearly from SAM2's low-resolution logits and cut
at 0, as the SAM2 authors do.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from engine.video import Frame, VideoInfo, decode_frames

BOX_LABELS = (2, 3)  # SAM2 encodes a box as its two corners with these point labels
BACKWARD_CHUNK_BYTES = 64 << 20  # frames decoded ahead when streaming backwards
READ_AHEAD_BYTES = 16 << 20  # decoded frames waiting for the model: it is far slower than the decoder


def to_pixel_values(image: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """[S, S, 3] uint8 RGB (already resized) -> [3, S, S] float32, normalized as the processor does."""
    pixels = torch.from_numpy(np.array(image)).permute(2, 0, 1).float().div_(255.0)  # own copy
    mean_t = torch.tensor(mean, dtype=torch.float32)[:, None, None]
    std_t = torch.tensor(std, dtype=torch.float32)[:, None, None]
    return pixels.sub_(mean_t).div_(std_t)


def prompt_tensors(
    points: Sequence[tuple[float, float]],
    labels: Sequence[int],
    box: tuple[float, float, float, float] | None,
    video_size: tuple[int, int],
    image_size: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Clicks and a box in display pixels -> SAM2 point inputs ([1, 1, N, 2] float32, [1, 1, N] int32).

    `video_size` is (width, height) in display orientation. The box goes first, as its two corners.
    """
    width, height = video_size
    coords = [(float(x), float(y)) for x, y in points]
    kinds = [int(label) for label in labels]
    if box is not None:
        x0, y0, x1, y1 = box
        coords = [(x0, y0), (x1, y1), *coords]
        kinds = [*BOX_LABELS, *kinds]
    scale = torch.tensor([image_size / width, image_size / height], dtype=torch.float32)
    xy = torch.tensor(coords, dtype=torch.float32).reshape(1, 1, -1, 2) * scale
    return xy, torch.tensor(kinds, dtype=torch.int32).reshape(1, 1, -1)


def logits_to_mask(low_res_logits: torch.Tensor, video_size: tuple[int, int]) -> np.ndarray:
    """[1, 1, h, w] SAM2 mask logits -> [H, W] bool at the display size (bilinear, then > 0)."""
    width, height = video_size
    logits = F.interpolate(low_res_logits.float(), size=(height, width), mode="bilinear", align_corners=False)
    return (logits[0, 0] > 0).cpu().numpy()


def stream_frames(
    info: VideoInfo,
    first: int,
    last: int,
    size: int,
    cancel: threading.Event | None = None,
    workers: int | None = None,
) -> Iterator[Frame]:
    """Frames `first` .. `last` inclusive, resized to size x size as SAM2's processor does.

    `first > last` streams backwards, so memory stays bounded however long the range: it is decoded
    forwards in chunks, each yielded in reverse. A chunk is a whole keyframe interval when that fits in
    `BACKWARD_CHUNK_BYTES` (then no frame is decoded twice), else as many frames as fit. Setting
    `cancel` ends the stream at the next frame.
    """
    if first <= last:
        chunks = [(first, last)]
    else:
        chunks = _backward_chunks(info, first, last, max(1, BACKWARD_CHUNK_BYTES // (size * size * 3)))
    for lo, hi in chunks:
        frames = decode_frames(
            info,
            range(lo, hi + 1),
            size=size,
            resample="bilinear",
            workers=workers,
            buffer_bytes=READ_AHEAD_BYTES,
            cancel=cancel,
        )
        with contextlib.closing(frames):
            for frame in frames if first <= last else reversed(list(frames)):
                if cancel is not None and cancel.is_set():
                    return
                yield frame


def _backward_chunks(info: VideoInfo, first: int, last: int, most: int) -> Iterator[tuple[int, int]]:
    """(lo, hi) ranges covering last..first, from the end, each at most `most` frames long."""
    keyframe_of = info.frames.seek_keyframe  # [F] where decoding a frame has to start
    hi = first
    while hi >= last:
        lo = max(last, hi - most + 1)
        key = int(keyframe_of[hi])
        if lo <= key <= hi and info.frames_seekable:
            lo = max(last, key)  # start at the keyframe: the decoder reads nothing before the chunk
        yield lo, hi
        hi = lo - 1
