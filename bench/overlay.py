"""Drawing tracked objects' masks over a 1080p frame, next to what painting the frame alone costs.

    python bench/overlay.py                  # 1, 3 and 10 objects, masks + contours, 1280x720 view
    python bench/overlay.py --repeat 100
    python bench/overlay.py --steps          # and where a first paint of 3 objects goes, step by step

The real VideoView paints a 1920x1080 frame (RGB888, as the player delivers it) aspect-fit into a
1280x720 widget, rendered offscreen into a QImage, with app/mask_overlay.py's painter:
- "frame": no overlay, the picture's own paint cost;
- "prepared": the frame's mask image already made (`prepare` ran after the previous frame's paint, as
  the window does during playback; or a frame shown again): the draw alone;
- "first": a frame never drawn before (cache cleared), what a seek or a frame that playback reached
  before its prepare shows: each object's mask decoded, the indexed image, the outline, the conversion to
  ARGB, then the draw. "full decode" is the old path (pycocotools decodes the whole 1920x1080 mask, then
  its box is cut out), "box decode" the painter's own (`decode_box`: only the runs of the box's columns);
  "old/new" is the ratio of the two first paints, "+first" what the masks add to a first paint
  (box decode minus frame): the figure the target of under 8 ms for 3 objects is about.
Masks are smooth blobs (ellipses of 3-12 % of the frame), as SAM2's are. Medians over --repeat rounds,
one paint of each kind per round, so a busy moment of the machine hits all of them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from PySide6.QtGui import QColor, QImage, QPainter  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

import app.mask_overlay as mask_overlay  # noqa: E402
from app.mask_overlay import MaskOverlay  # noqa: E402
from app.tracking_controller import COLORS  # noqa: E402
from app.video_view import VideoView  # noqa: E402
from engine.tracking import FrameMask, TrackStore, decode_box, decode_mask, encode_mask  # noqa: E402

W, H = 1920, 1080
VIEW_W, VIEW_H = 1280, 720


def frame_image(rng: np.random.Generator) -> QImage:
    pixels = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    return QImage(pixels.data, W, H, W * 3, QImage.Format.Format_RGB888).copy()


def blob_store(objects: int, rng: np.random.Generator) -> TrackStore:
    store = TrackStore(width=W, height=H)
    ys, xs = np.mgrid[0:H, 0:W]
    for obj in range(1, objects + 1):
        cx, cy = rng.uniform(0.15, 0.85) * W, rng.uniform(0.15, 0.85) * H
        rx, ry = rng.uniform(0.03, 0.12) * W, rng.uniform(0.03, 0.12) * H
        mask = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 < 1
        rle, bbox, area = encode_mask(mask)
        store.put(obj, FrameMask(0, 0.0, rle, bbox, area, 1.0))
    return store


def full_decode(rle: bytes, height: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """The old path of the painter: the whole mask decoded by pycocotools, then its box cut out."""
    x, y, w, h = box
    return decode_mask(rle, height, W)[y : y + h, x : x + w]


def median_ms(step, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def steps(overlay: MaskOverlay, target: QImage, repeat: int) -> None:
    """The parts of making one frame's mask image, and two ways to draw it, at the view's 2/3 scale."""
    masks = overlay._masks(0)
    thickness = max(1, round(W / 600))
    boxes = [decode_box(m.rle, H, m.bbox) for m in masks.values()]
    topleft, argb = overlay._render(masks)
    indexed = argb.convertToFormat(QImage.Format.Format_Indexed8)  # same size, a small colour table

    def fill_and_outline() -> None:
        for inside in boxes:
            ids = np.zeros(inside.shape, np.uint8)
            ids[inside] = 1
            ids[mask_overlay._outline(inside, thickness)] = 129

    def draw(image: QImage) -> None:
        painter = QPainter(target)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)  # as the view sets it at 2/3
        painter.scale(VIEW_W / W, VIEW_H / H)
        painter.drawImage(topleft, image)
        painter.end()

    rows = [
        (
            "pycocotools: every whole mask, to bool",
            lambda: [decode_mask(m.rle, H, W) for m in masks.values()],
        ),
        ("decode_box: every mask's box", lambda: [decode_box(m.rle, H, m.bbox) for m in masks.values()]),
        (f"fill and {thickness}-pixel outline of every box", fill_and_outline),
        ("Indexed8 -> ARGB32 premultiplied", lambda: indexed.convertToFormat(argb.format())),
        ("the whole image (decode_box path)", lambda: overlay._render(masks)),
        ("draw it: ARGB32 premultiplied", lambda: draw(argb)),
        ("draw it: Indexed8 as it is", lambda: draw(indexed)),
    ]
    print(f"\n{len(masks)} objects, their image {argb.width()}x{argb.height()}, median of {repeat} (ms)")
    for name, step in rows:
        print(f"  {name:<44}{median_ms(step, repeat):>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--steps", action="store_true", help="also time the steps of a first paint")
    args = parser.parse_args()
    QApplication.instance() or QApplication([])
    rng = np.random.default_rng(0)
    view = VideoView()
    view.resize(VIEW_W, VIEW_H)
    view.set_video_size(W, H)
    view.show_frame(frame_image(rng), 0)
    target = QImage(VIEW_W, VIEW_H, QImage.Format.Format_RGB32)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} cores, load average {load} (1, 5, 15 min) at the start")
    print(f"{W}x{H} frame into a {VIEW_W}x{VIEW_H} view, median of {args.repeat} paints (ms), interleaved")
    print(f"{'':<12}{'frame':>8}{'prepared':>10}{'first: full decode':>20}{'box decode':>12}"
          f"{'old/new':>9}{'+first':>8}{'rle bytes':>11}")  # fmt: skip
    # each kind's decoder (None: no overlay); "prepared" comes after "box", which made the frame's image
    kinds = {"frame": None, "full": full_decode, "box": decode_box, "prepared": decode_box}
    made: dict[int, MaskOverlay] = {}
    for objects in (1, 3, 10):
        overlay = MaskOverlay(blob_store(objects, rng))
        overlay.colors = {obj: QColor(COLORS[(obj - 1) % len(COLORS)]) for obj in range(1, objects + 1)}
        times: dict[str, list[float]] = {kind: [] for kind in kinds}
        for _ in range(args.repeat):
            for kind, decode in kinds.items():
                view.overlays = [] if decode is None else [overlay.paint]
                mask_overlay.decode_box = decode  # what the painter calls for each object's box
                if kind in ("full", "box"):
                    overlay.clear()
                start = time.perf_counter()
                view.render(target)
                times[kind].append((time.perf_counter() - start) * 1000)
        mask_overlay.decode_box = decode_box
        frame, full, box, prepared = (statistics.median(times[k]) for k in kinds)
        rle = sum(len(m.rle) for m in (overlay.store.get(o, 0) for o in overlay.colors))
        row = f"{frame:>8.2f}{prepared:>10.2f}{full:>20.2f}{box:>12.2f}{full / box:>8.1f}x{box - frame:>8.2f}"
        print(f"{objects:>2} objects  {row}{rle:>11,}")
        made[objects] = overlay
    if args.steps:
        steps(made[3], target, args.repeat)
    print(f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end")


if __name__ == "__main__":
    main()
