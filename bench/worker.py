"""The worker as the window sees it, measured side by side in one run (docs/benchmarks.md, "Worker").

1. ping round trip (median, p99) while the worker is idle, and while it tracks a 1080p clip;
2. 1080p mask events, worker to client: the masks of a real tracking run (tiny SAM 2.1, masks at the
   clip's 1920x1080) as the client receives them, and the transport alone (the same events replayed
   through a pipe from another process into the client's parser), against the 200 masks/s that a
   60 fps playback needs with room to spare;
3. the same tracking run in-process (engine API) and through the worker: what the process boundary costs.

    python bench/worker.py [--frames 120] [--pings 300]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.worker.client import WorkerProcess  # noqa: E402
from engine.worker.protocol import encode  # noqa: E402

CLICK = {"points": [[960.0, 540.0]], "labels": [1]}


def ping_times(worker: WorkerProcess, count: int, pause_s: float = 0.0) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        assert worker.next_event(worker.request("ping"), timeout=30)["event"] == "pong"
        times.append(time.perf_counter() - start)
        time.sleep(pause_s)
    return times


def summary_ms(times: list[float]) -> str:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered) * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms (n={len(ordered)})"


def track_through_worker(worker: WorkerProcess, video: str, pings: int) -> dict:
    opened = worker.call("open_video", path=video)["video"]
    tracker = worker.call("track_prompt", video=opened, time_s=0.01, **CLICK)["tracker"]
    busy: list[float] = []
    pinger = threading.Thread(target=lambda: busy.extend(ping_times(worker, pings, pause_s=0.005)))
    start = time.perf_counter()
    rid = worker.request("track_propagate", tracker=tracker)
    pinger.start()
    masks, arrivals, line_bytes = 0, [], 0
    for event in worker.events(rid, timeout=600):
        if event["event"] == "partial":
            masks += len(event["data"]["masks"])
            arrivals.append(time.perf_counter())
            line_bytes += len(json.dumps(event))
        elif event["event"] == "error":
            raise SystemExit(f"tracking failed: {event}")
    wall = time.perf_counter() - start
    pinger.join()
    return {
        "masks": masks,
        "wall_s": wall,
        "busy_pings": busy,
        "mean_event_bytes": line_bytes / max(1, masks),
    }


def track_in_process(video: str, sam_model: str) -> dict:
    from engine.tracking import Tracker, load_sam2
    from engine.video import probe

    tracker = Tracker(load_sam2(sam_model, device="cpu"), probe(video))
    tracker.prompt(0.01, points=[(960.0, 540.0)], labels=[1])
    start = time.perf_counter()
    run = tracker.propagate()
    return {"masks": run.frames_tracked, "wall_s": time.perf_counter() - start, "store": tracker.store}


def transport_only(store, repeats: int) -> dict:
    """Real 1080p mask events written by another process into a pipe, read and parsed as the client does."""
    lines = [
        encode({"id": "t", "event": "partial", "kind": "masks", "data": {"version": i, "removed": [],
                "masks": [{"obj_id": 1, **m.to_dict()}]}})
        for i, m in enumerate(store.frames(1))
    ]  # fmt: skip
    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl", delete=False) as f:
        for _ in range(repeats):
            f.writelines(lines)
    writer = [sys.executable, "-c", f"import sys; sys.stdout.buffer.write(open({f.name!r}, 'rb').read())"]
    start = time.perf_counter()
    with subprocess.Popen(writer, stdout=subprocess.PIPE) as child:
        assert child.stdout is not None
        count = sum(1 for line in child.stdout if json.loads(line)["data"]["masks"])
    wall = time.perf_counter() - start
    os.unlink(f.name)
    return {"masks": count, "wall_s": wall, "mean_bytes": sum(map(len, lines)) / len(lines)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=120, help="frames of the 1080p clip (default 120)")
    parser.add_argument("--pings", type=int, default=300)
    args = parser.parse_args()
    from tests.media import make_video
    from tests.tiny_models import write_sam2

    folder = Path(tempfile.mkdtemp(prefix="bench-worker-"))
    video = str(
        make_video(
            folder / "clip1080.mp4", width=1920, height=1080, frames=args.frames, fps=30, gop=30, texture=True
        )
    )
    sam = str(write_sam2(folder / "sam2"))
    env = {**os.environ, "PYTHONPATH": str(REPO), "SCENESCOPE_CACHE_DIR": str(folder / "cache")}

    with WorkerProcess(["--sam-model", sam, "--device", "cpu"], env=env) as worker:
        worker.call("hello")
        idle = ping_times(worker, args.pings)
        through = track_through_worker(worker, video, args.pings)
    local = track_in_process(video, sam)
    pipe = transport_only(local["store"], repeats=max(1, 2000 // max(1, local["masks"])))

    print(f"machine: {os.cpu_count()} cores; clip 1920x1080, {args.frames} frames; tiny SAM 2.1 on the CPU")
    print(f"ping round trip, idle:            {summary_ms(idle)}")
    print(f"ping round trip, while tracking:  {summary_ms(through['busy_pings'])}")
    rate_worker = through["masks"] / through["wall_s"]
    rate_local = local["masks"] / local["wall_s"]
    done = f"{local['masks']} masks in {local['wall_s']:.2f} s"
    print(f"tracking in-process:              {done} = {rate_local:.1f} masks/s")
    print(
        f"tracking through the worker:      {through['masks']} masks in {through['wall_s']:.2f} s = "
        f"{rate_worker:.1f} masks/s ({rate_local / rate_worker:.2f}x the in-process time per mask; "
        f"{through['mean_event_bytes'] / 1024:.1f} KiB per event)"
    )
    rate_pipe = pipe["masks"] / pipe["wall_s"]
    print(
        f"1080p mask events, transport:     {pipe['masks']} in {pipe['wall_s']:.2f} s = "
        f"{rate_pipe:.0f} masks/s "
        f"({rate_pipe / 200:.1f}x the 200 masks/s target; {pipe['mean_bytes'] / 1024:.1f} KiB per event)"
    )


if __name__ == "__main__":
    main()
