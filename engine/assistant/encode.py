"""Sampled frames of a video -> visual tokens, decoding later frames while earlier ones are encoded.

`decode_frames` decodes in its own threads (FFmpeg releases the GIL) and hands the frames over in order,
already resized to 448x448 in the workers. This loop gathers them into chunks of whole groups of 4 and
runs the vision tower on each chunk as soon as it is complete; meanwhile the decoder threads keep filling
their bounded buffer with the next frames. On a GPU the tower's kernels run asynchronously as well, so
decoding, host-to-device copies and encoding overlap.

Memory stays bounded whatever N is: one chunk of 448x448 uint8 frames (32 frames: 19 MiB), the decoder's
buffer, and the tokens [N, 16, D]; never N full-size frames.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from engine.errors import ModelError, VideoError
from engine.jobs import Job, job_or_new
from engine.models.internvideo import InternVideo
from engine.video import DecodeStats, SampledFrames, VideoInfo, decode_frames


@dataclass(frozen=True)
class EncodedVideo:
    """Visual tokens of sampled frames, and what they cost."""

    visual_tokens: torch.Tensor  # [N, 16, D] on the model's device
    vision_passes: int  # vision-tower forward passes run (one per chunk)
    decode_wait_s: float  # time spent waiting for decoded frames (decoding that encoding did not hide)
    encode_s: float  # preprocessing + vision tower (on a GPU: until its last kernel finished)
    wall_s: float  # the whole decode -> encode pipeline
    frames_decoded: int  # pictures the decoder produced to deliver the N frames


def encode_video(
    model: InternVideo,
    info: VideoInfo,
    frames: SampledFrames,
    *,
    chunk_frames: int | None = None,
    decode_workers: int | None = None,
    job: Job | None = None,
) -> EncodedVideo:
    """Decode `frames` of the video at the model's input size and encode them chunk by chunk.

    `chunk_frames` (rounded down to whole groups of 4; default: the model's `encode_chunk_frames`) bounds
    the vision tower's memory. Progress: stage "encode", frames encoded, after each chunk; a cancelled
    `job` stops decoding and encoding and raises `Cancelled`.
    """
    n, group = len(frames), model.frame_group
    if n == 0 or n % group:
        raise ModelError(f"InternVideo2.5 takes whole groups of {group} frames; {n} were sampled")
    step = max(group, (chunk_frames or model.encode_chunk_frames) // group * group)
    job = job_or_new(job)
    stats = DecodeStats()
    chunks: list[torch.Tensor] = []
    batch: list[np.ndarray] = []  # decoded [448, 448, 3] uint8 frames of the chunk being gathered
    done, wait_s, encode_s = 0, 0.0, 0.0
    start = time.perf_counter()
    stream = decode_frames(
        info, frames.indices, size=model.image_size, workers=decode_workers, stats=stats, cancel=job.event
    )
    try:
        mark = time.perf_counter()
        for frame in stream:
            batch.append(frame.image)
            if len(batch) < step and done + len(batch) < n:
                continue
            now = time.perf_counter()
            wait_s += now - mark
            job.check()
            chunks.append(encode_images(model, batch))
            done += len(batch)
            batch = []
            mark = time.perf_counter()
            encode_s += mark - now
            job.progress("encode", done, n)
    finally:
        stream.close()  # stops the decoder threads when we leave early
    if done != n:
        job.check()  # a cancelled decoder ends its stream early
        # decode_frames stands in a neighbour for a frame it cannot decode, so this is a bug
        raise VideoError(f"decoding {info.path} delivered {done} of the {n} frames asked for")
    sync = time.perf_counter()
    if model.device.type == "cuda":
        torch.cuda.synchronize(model.device)
    end = time.perf_counter()
    return EncodedVideo(
        visual_tokens=torch.cat(chunks),
        vision_passes=len(chunks),
        decode_wait_s=wait_s,
        encode_s=encode_s + (end - sync),
        wall_s=end - start,
        frames_decoded=stats.frames_decoded,
    )


def encode_images(model: InternVideo, images: Sequence[np.ndarray]) -> torch.Tensor:
    """One vision-tower pass: uint8 frames [c, 448, 448, 3] -> visual tokens [c, 16, D] on the device.

    The uint8 frames travel to the device and are normalized there (4x less to copy than float32).
    """
    pixels = torch.from_numpy(np.stack(images))  # [c, 448, 448, 3] uint8
    if model.device.type == "cuda":
        pixels = pixels.pin_memory().to(model.device, non_blocking=True)
    return model.encode_frames(model.preprocess(pixels), chunk_frames=len(images))
