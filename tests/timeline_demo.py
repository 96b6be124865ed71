"""A tiny harness window for the timeline alone, with made-up moments, a relevance curve and object lanes
over a real video (for looking at it, and for screenshots).

    python -m tests.timeline_demo VIDEO                                   # a window
    python -m tests.timeline_demo VIDEO --screenshot out.png --view 40 70 --at 47.3
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QVBoxLayout, QWidget

from app.timeline import Timeline
from engine.timecode import format_timecode
from engine.video import probe


def fill_demo_lanes(timeline: Timeline, duration: float, seed: int = 7) -> None:
    """Lanes like the later issues add: scored moments of a query, its relevance curve, tracked objects."""
    rng = np.random.default_rng(seed)
    step = max(duration / 600, 0.25)
    bins = np.arange(0, duration, step)
    bumps = zip(rng.uniform(0, duration, 9), rng.uniform(2, 9, 9), strict=True)
    curve = sum(np.exp(-(((bins - c) / w) ** 2)) for c, w in bumps) + rng.normal(0, 0.04, len(bins))
    curve = np.clip(curve, 0, 1)
    timeline.set_heat("Relevance", bins, bins + step, curve)
    edges = np.flatnonzero(np.diff(np.r_[0, curve > 0.55, 0]))  # runs of hot bins: [first, stop)
    first, stop = edges[::2], edges[1::2]
    scores = np.array([curve[a:b].max() for a, b in zip(first, stop, strict=True)])
    labels = [f"a person opens the door ({s:.2f})" for s in scores]
    timeline.set_spans("Moments", bins[first], bins[stop - 1] + step, scores=scores, labels=labels)
    for k, name in enumerate(("Object 1 · person", "Object 2 · car")):
        cuts = np.sort(rng.uniform(0, duration, 8 + 4 * k))
        timeline.set_spans(name, cuts[::2], cuts[1::2], labels=[name.split(" · ")[1]] * (len(cuts) // 2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("video", type=Path)
    parser.add_argument("--screenshot", type=Path)
    parser.add_argument("--view", type=float, nargs=2, metavar=("START", "END"))
    parser.add_argument("--at", type=float, default=0.0, help="playhead position")
    parser.add_argument("--width", type=int, default=1600)
    args = parser.parse_args(argv)
    if args.screenshot is not None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # a screenshot needs no display
    app = QApplication.instance() or QApplication(sys.argv[:1])
    info = probe(args.video)
    window = QMainWindow()
    window.setWindowTitle(f"{args.video.name} — timeline harness")
    central = QWidget()
    column = QVBoxLayout(central)
    status = QLabel("")
    timeline = Timeline()
    column.addWidget(status)
    column.addWidget(timeline)
    window.setCentralWidget(central)
    timeline.set_video(
        str(args.video), info.duration_s, info.frames.times_s, info.frames.start_s, info.rotation
    )
    fill_demo_lanes(timeline, info.duration_s)
    timeline.seek_requested.connect(lambda t, dragging: timeline.set_position(t))
    timeline.view_changed.connect(
        lambda a, b: status.setText(f"view {format_timecode(a)} – {format_timecode(b)}")
    )
    timeline.resize(args.width, timeline.height())
    window.resize(args.width, timeline.height() + 40)
    window.show()
    if args.view:
        timeline.set_view_range(*args.view)
    timeline.set_position(args.at)
    if args.screenshot is None:
        return app.exec()
    deadline = time.monotonic() + 20
    while (
        timeline.thumbnails_pending() or time.monotonic() < deadline - 19.5
    ) and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    ok = timeline.grab().save(str(args.screenshot))
    timeline.thumbnails.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
