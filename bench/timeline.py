"""The timeline widget: paint time with many spans, and how soon the thumbnail strip fills, side by side.

    python bench/timeline.py                 # 1,000 / 10,000 / 100,000 spans over 2 h; a 10-min 640x360 file
    python bench/timeline.py --repeat 50

Paint: the widget at 1600x160 (ruler, an empty thumbnail strip, a lane of N moment spans, a heat strip
of 7,200 one-second bins, two object lanes of 300 spans), offscreen, over the whole 2 h and over 60 s.
"static" repaints everything (what a zoom, scroll or new data costs); "playhead" is a position change
(the cached layers are reused). The span lane alone is then filled both ways: the lane's runs (merged per
pixel column once more spans are visible than a quarter of the width) against one rectangle per visible
span, what a widget without the merge would draw.

Thumbnails: the generated 10-minute file (H.264, GOP 120, B-frames, moving texture), from `open` to the
first thumbnail and to the first 100 in the cache, against decoding the exact frame at each of the same
100 times (seek + decode from the keyframe) and against decoding every keyframe of the file in order.
Medians over --repeat runs (thumbnails: 3 runs, each in a fresh producer).
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

import av  # noqa: E402
import numpy as np  # noqa: E402
from PySide6.QtCore import QRectF, Qt  # noqa: E402
from PySide6.QtGui import QColor, QImage, QPainter  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.thumbnails import COARSE_COUNT, Source, ThumbnailProducer  # noqa: E402
from app.timeline import Timeline  # noqa: E402
from app.timeline_paint import HEADER_W  # noqa: E402
from tests.media import make_video  # noqa: E402

HOURS_2 = 7200.0
WIDTH, HEIGHT = 1600, 160


def source_video() -> Path:
    folder = REPO / "bench" / "_media"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "timeline_10min_640x360_gop120.mp4"
    if not path.exists():
        print(f"generating {path.name} (once) ...", flush=True)
        tmp = path.with_suffix(".part.mp4")
        make_video(tmp, width=640, height=360, frames=18000, fps=30, gop=120, bframes=2, texture=True)
        tmp.rename(path)
    return path


def spans(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    starts = np.sort(rng.uniform(0, HOURS_2 - 30, count))
    return starts, starts + rng.uniform(0.5, 30, count)


def timeline_with(count: int, rng: np.random.Generator) -> Timeline:
    widget = Timeline()
    widget.resize(WIDTH, HEIGHT)
    widget.set_video(None, HOURS_2, np.arange(int(HOURS_2 * 30)) / 30)
    widget.set_spans("moments", *spans(count, rng), scores=rng.uniform(0, 1, count))
    bins = np.arange(HOURS_2)
    widget.set_heat("relevance", bins, bins + 1, rng.uniform(0, 1, len(bins)))
    for name in ("object 1", "object 2"):
        widget.set_spans(name, *spans(300, rng))
    widget.setFixedSize(WIDTH, HEIGHT)
    return widget


def median_ms(action, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def paint_bench(repeat: int) -> None:
    rng = np.random.default_rng(0)
    image = QImage(WIDTH, HEIGHT, QImage.Format.Format_ARGB32_Premultiplied)
    print(f"paint at {WIDTH}x{HEIGHT}, 2 h video, median of {repeat} (ms)")
    print(f"{'':15}{'---- widget ----':>18}  {'------ span lane alone ------':>27}")
    columns = ("static", "playhead", "", "rects", "merged", "per span")
    print(f"{'spans':>8} {'view':>6}" + "".join(f"{c:>9}" if c else "  " for c in columns) + "  ratio")
    for count in (1_000, 10_000, 100_000):
        widget = timeline_with(count, rng)
        lane = widget.lane("moments")
        for label, view in (("2 h", (0.0, HOURS_2)), ("60 s", (3000.0, 3060.0))):
            widget.set_view_range(*view)

            def static(widget=widget):
                widget._content_changed()  # what new data, a zoom or a scroll costs
                widget.render(image)

            positions = iter(np.linspace(*view, 10 * repeat + 10))

            def playhead(widget=widget, positions=positions):
                widget.set_position(next(positions))
                widget.render(image)

            static_ms, playhead_ms = median_ms(static, repeat), median_ms(playhead, repeat)
            merged_ms = median_ms(lambda view=view, lane=lane: merged_rects(image, lane, *view), repeat)
            per_span_ms = median_ms(
                lambda view=view, lane=lane: one_rect_per_span(image, lane, *view), repeat
            )
            rects = len(lane.runs(view[0], (WIDTH - HEADER_W) / (view[1] - view[0]), WIDTH - HEADER_W).x0)
            print(
                f"{count:>8,} {label:>6}{static_ms:>9.2f}{playhead_ms:>9.2f}  {rects:>9}"
                f"{merged_ms:>9.2f}{per_span_ms:>9.2f}  {per_span_ms / merged_ms:.2f}x"
            )
        widget.thumbnails.close()


def merged_rects(image: QImage, lane, start: float, end: float) -> None:
    """The lane's own way: the runs (merged per pixel column when many), one fill each."""
    painter = QPainter(image)
    runs = lane.runs(start, (WIDTH - HEADER_W) / (end - start), WIDTH - HEADER_W)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#4f8cff"))
    edges = zip(runs.x0.tolist(), runs.x1.tolist(), strict=True)
    painter.drawRects([QRectF(HEADER_W + a, 60, b - a, 16) for a, b in edges])
    painter.end()


def one_rect_per_span(image: QImage, lane, start: float, end: float) -> None:
    """Without the merge: every visible span filled on its own."""
    painter = QPainter(image)
    px_per_s = (WIDTH - HEADER_W) / (end - start)
    index = lane.visible(start, end)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#4f8cff"))
    x0 = HEADER_W + (lane.starts[index] - start) * px_per_s
    x1 = np.maximum(HEADER_W + (lane.ends[index] - start) * px_per_s, x0 + 1)
    painter.drawRects([QRectF(a, 60, b - a, 16) for a, b in zip(x0.tolist(), x1.tolist(), strict=True)])
    painter.end()


def thumbnail_bench(app: QApplication, path: Path, runs: int) -> None:
    with av.open(str(path)) as container:
        duration = container.duration / 1e6
    first, hundred = [], []
    for _ in range(runs):
        producer = ThumbnailProducer()
        start = time.perf_counter()
        producer.open(Source(str(path)), duration)
        got_first = None
        while len(producer.cache) < COARSE_COUNT:
            app.processEvents()
            if got_first is None and len(producer.cache):
                got_first = time.perf_counter() - start
            time.sleep(0.0005)
        hundred.append(time.perf_counter() - start)
        first.append(got_first)
        producer.close()
    times = np.arange(COARSE_COUNT) * duration / COARSE_COUNT
    exact = min(exact_frames(path, times) for _ in range(runs))
    keyframes, count = every_keyframe(path)
    ours_first, ours = statistics.median(first), statistics.median(hundred)
    size_mb = path.stat().st_size / 1e6
    print(f"\nthumbnails of {path.name} ({size_mb:.0f} MB, {duration:.0f} s), median of {runs}")
    print(f"{'method':<34}{'first s':>9}{'100 s':>9}   ratio")
    print(f"{'ours (keyframe <= t, one decode)':<34}{ours_first:>9.3f}{ours:>9.3f}")
    print(f"{'exact frame at each t':<34}{'':>9}{exact:>9.3f}   {exact / ours:.1f}x")
    print(f"{f'all {count} keyframes in order':<34}{'':>9}{keyframes:>9.3f}   {keyframes / ours:.1f}x")


def exact_frames(path: Path, times: np.ndarray) -> float:
    start = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for t in times:
            container.seek(round(t / stream.time_base), stream=stream, backward=True)
            for frame in container.decode(stream):
                if frame.time >= t - 1e-6:
                    frame.reformat(width=171, height=96, format="rgb24")
                    break
    return time.perf_counter() - start


def every_keyframe(path: Path) -> tuple[float, int]:
    start = time.perf_counter()
    count = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"
        for frame in container.decode(stream):
            frame.reformat(width=171, height=96, format="rgb24")
            count += 1
    return time.perf_counter() - start, count


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    print(f"{os.cpu_count()} cores, Qt platform {app.platformName()}")
    paint_bench(args.repeat)
    thumbnail_bench(app, source_video(), runs=3)


if __name__ == "__main__":
    main()
