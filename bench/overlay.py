"""Drawing tracked objects' masks over a 1080p frame, next to what painting the frame alone costs.

    python bench/overlay.py                  # 1, 3 and 10 objects, masks + contours, 1280x720 view
    python bench/overlay.py --repeat 100

The real VideoView paints a 1920x1080 frame (RGB888, as the player delivers it) aspect-fit into a
1280x720 widget, rendered offscreen into a QImage, with app/mask_overlay.py's painter:
- "frame only": no overlay, the picture's own paint cost;
- "first paint": every paint a frame never drawn before (cache cleared): RLE decode of each object,
  the indexed image, the outline, the conversion to ARGB, then the draw;
- "prepared": the frame's mask image already made (`prepare` ran while the event loop was idle, as
  the window does for the next frame during playback; or a frame shown again): the draw alone.
Masks are smooth blobs (ellipses of 3-12 % of the frame), as SAM2's are. "overlay" is prepared minus frame
only: what the masks add to a paint. Medians over --repeat rounds of one paint of each kind.
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
from PySide6.QtGui import QColor, QImage  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.mask_overlay import MaskOverlay  # noqa: E402
from app.tracking_controller import COLORS  # noqa: E402
from app.video_view import VideoView  # noqa: E402
from engine.tracking import FrameMask, TrackStore, encode_mask  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()
    QApplication.instance() or QApplication([])
    rng = np.random.default_rng(0)
    view = VideoView()
    view.resize(VIEW_W, VIEW_H)
    view.set_video_size(W, H)
    view.show_frame(frame_image(rng), 0)
    target = QImage(VIEW_W, VIEW_H, QImage.Format.Format_RGB32)

    def paint() -> None:
        view.render(target)

    print(f"{W}x{H} frame into a {VIEW_W}x{VIEW_H} view, median of {args.repeat} paints (ms), interleaved")
    print(f"{'':<12}{'frame only':>12}{'first paint':>14}{'prepared':>12}{'overlay':>10}{'rle bytes':>12}")
    for objects in (1, 3, 10):
        overlay = MaskOverlay(blob_store(objects, rng))
        overlay.colors = {obj: QColor(COLORS[(obj - 1) % len(COLORS)]) for obj in range(1, objects + 1)}
        times: dict[str, list[float]] = {"frame": [], "first": [], "prepared": []}
        for _ in range(args.repeat):  # one of each per round, so a busy moment of the machine hits all three
            for kind, overlays in (("frame", []), ("first", [overlay.paint]), ("prepared", [overlay.paint])):
                view.overlays = overlays
                if kind == "first":
                    overlay.clear()
                start = time.perf_counter()
                view.render(target)
                times[kind].append((time.perf_counter() - start) * 1000)
        frame, first, prepared = (statistics.median(times[k]) for k in ("frame", "first", "prepared"))
        rle = sum(len(m.rle) for m in (overlay.store.get(o, 0) for o in overlay.colors))
        row = f"{frame:>10.2f}{first:>14.2f}{prepared:>12.2f}{prepared - frame:>10.2f}"
        print(f"{objects:>2} objects  {row}{rle:>12,}")


if __name__ == "__main__":
    main()
