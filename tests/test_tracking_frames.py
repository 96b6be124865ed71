"""Between video pixels and SAM2's square input: clicks, frames and masks line up on any video shape."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.tracking import frames as tracking_frames
from engine.tracking.frames import logits_to_mask, prompt_tensors, stream_frames, to_pixel_values
from engine.tracking.model import IMAGENET_MEAN, IMAGENET_STD
from engine.video import decode_frames, probe
from tests.media import read_barcode

S = 256  # the tiny SAM2's input size

SHAPES = {  # display size differs from coded size when rotated; odd sizes need 4:4:4 in x264
    "plain": {"width": 320, "height": 240},
    "rotated_90": {"width": 320, "height": 240, "rotation_ccw": 90},
    "rotated_270_odd": {"width": 321, "height": 239, "rotation_ccw": -90, "pix_fmt": "yuv444p"},
    "odd": {"width": 321, "height": 239, "pix_fmt": "yuv444p"},
}


def test_prompt_coordinates_scale_display_pixels_to_the_model_square():
    xy, labels = prompt_tensors([(100, 75), (0, 149.5)], [1, 0], (10, 20, 190, 140), (200, 150), S)
    assert xy.shape == (1, 1, 4, 2) and labels.shape == (1, 1, 4)
    sx, sy = S / 200, S / 150
    expected = [(10 * sx, 20 * sy), (190 * sx, 140 * sy), (100 * sx, 75 * sy), (0, 149.5 * sy)]
    assert np.allclose(xy[0, 0].numpy(), np.array(expected), rtol=1e-6)
    assert labels[0, 0].tolist() == [2, 3, 1, 0]  # box corners first, as SAM2 expects
    assert xy.dtype == torch.float32 and labels.dtype == torch.int32


@pytest.mark.parametrize("shape", SHAPES)
def test_a_click_lands_on_the_same_content_in_the_model_input(media, shape):
    """Clicks on barcode cells of the displayed frame hit the same cells in what SAM2 is fed."""
    path = media(f"coords_{shape}.mp4", frames=24, fps=24, gop=8, **SHAPES[shape])
    info = probe(path)
    index = 21  # barcode 10101: bright cells at bits 0, 2, 4, dark ones elsewhere
    display = next(decode_frames(info, [index])).image  # [H, W, 3] as shown
    model_input = next(stream_frames(info, index, index, S)).image  # [S, S, 3] as SAM2 gets it
    assert display.shape == (info.height, info.width, 3) and model_input.shape == (S, S, 3)
    points = _cell_centres(display)
    assert len(points["bright"]) >= 3 and len(points["dark"]) >= 3
    for kind, pts in points.items():
        xy, _ = prompt_tensors(pts, [1] * len(pts), None, (info.width, info.height), S)
        for x, y in xy[0, 0].tolist():
            value = model_input[int(y), int(x)].mean()
            assert (value > 200) if kind == "bright" else (value < 55), (shape, kind, x, y, value)


def _cell_centres(image: np.ndarray) -> dict[str, list[tuple[float, float]]]:
    """Display pixels in the middle of uniform bright (255) and dark (0) barcode blocks."""
    gray = image.mean(axis=2)
    found: dict[str, list[tuple[float, float]]] = {"bright": [], "dark": []}
    r = 4
    for y in range(r, image.shape[0] - r, 3):
        for x in range(r, image.shape[1] - r, 3):
            patch = gray[y - r : y + r + 1, x - r : x + r + 1]
            if patch.min() > 235:
                found["bright"].append((float(x), float(y)))
            elif patch.max() < 20:
                found["dark"].append((float(x), float(y)))
    return {k: v[:: max(1, len(v) // 8)] for k, v in found.items()}  # a spread of a few


@pytest.mark.parametrize("size", [(321, 239), (240, 320), (64, 64)])
def test_mask_logits_come_out_at_the_display_size_in_place(size):
    width, height = size
    logits = torch.full((1, 1, 64, 64), -10.0)
    logits[..., :16, 48:] = 10.0  # the top-right sixteenth
    mask = logits_to_mask(logits, (width, height))
    assert mask.shape == (height, width) and mask.dtype == bool
    assert mask[: height // 4 - 2, width * 3 // 4 + 2 :].all()
    assert not mask[height // 4 + 2 :, :].any() and not mask[:, : width * 3 // 4 - 2].any()


@pytest.mark.parametrize("shape", ["plain", "rotated_270_odd"])
def test_model_input_matches_the_sam2_processor(media, shape):
    """Decoded at the model size with PIL bilinear = torchvision's antialiased bilinear, within one level."""
    info = probe(media(f"coords_{shape}.mp4", frames=24, fps=24, gop=8, **SHAPES[shape]))
    display = next(decode_frames(info, [5])).image
    reference = F.interpolate(  # what the processor does: uint8 bilinear antialias, then /255 and normalize
        torch.from_numpy(display).permute(2, 0, 1)[None], size=(S, S), mode="bilinear", antialias=True
    )[0]
    reference = (reference.float() / 255 - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(
        IMAGENET_STD
    )[:, None, None]
    ours = to_pixel_values(next(stream_frames(info, 5, 5, S)).image, IMAGENET_MEAN, IMAGENET_STD)
    one_level = 1 / 255 / min(IMAGENET_STD)
    assert ours.shape == (3, S, S)
    assert (ours - reference).abs().max().item() <= one_level + 1e-5


def test_frames_stream_backwards_in_bounded_chunks(media, monkeypatch):
    info = probe(media("square.mp4", width=256, height=256, frames=40, fps=20, gop=10))
    monkeypatch.setattr(tracking_frames, "BACKWARD_CHUNK_BYTES", 5 * S * S * 3)  # 5 frames a chunk
    backwards = list(stream_frames(info, 30, 3, S))
    assert [f.index for f in backwards] == list(range(30, 2, -1))
    assert [read_barcode(f.image) for f in backwards] == list(range(30, 2, -1))
    forwards = list(stream_frames(info, 3, 30, S))
    assert [f.index for f in forwards] == list(range(3, 31))
    assert all(np.array_equal(a.image, b.image) for a, b in zip(forwards, reversed(backwards), strict=True))


def test_the_frames_of_a_range(media):
    table = probe(media("square.mp4", width=256, height=256, frames=40, fps=20, gop=10)).frames
    assert table.frames_in() == (0, 39)
    assert table.frames_in(0.52, 1.3) == (11, 25)  # frames start at 0.55 ... 1.25 s; 26 starts at 1.3 s
    assert table.frames_in(0.5, 1.31) == (10, 26)
    assert table.frames_in(1.0, None) == (20, 39)
    assert table.frames_in(0.5, 0.5001) == (10, 10)
    assert table.frames_in(0.52, 0.54) == (10, 10)  # no frame starts inside: the one on screen
    assert table.frames_in(-3.0, 0.1) == (0, 1)
    with pytest.raises(ValueError, match="holds no frame"):
        table.frames_in(2.0, 3.0)


def test_backward_chunks_follow_keyframes_when_they_fit(media):
    info = probe(media("square.mp4", width=256, height=256, frames=40, fps=20, gop=10))
    assert np.flatnonzero(info.frames.keyframe).tolist() == [0, 10, 20, 30]
    whole_intervals = list(tracking_frames._backward_chunks(info, 39, 3, most=25))
    assert whole_intervals == [(30, 39), (20, 29), (10, 19), (3, 9)]  # each decoded from its own keyframe
    small = list(tracking_frames._backward_chunks(info, 37, 21, most=4))
    assert small == [(34, 37), (30, 33), (26, 29), (22, 25), (21, 21)]
