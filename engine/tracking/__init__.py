"""Click-to-track with SAM 2.1: prompts, streaming propagation with bounded memory, refinement, RLE results.

    model = load_sam2("facebook/sam2.1-hiera-tiny")                 # or a local folder
    tracker = Tracker(model, probe("clip.mp4"))
    tracker.prompt(12.5, points=[(640, 360)], labels=[1])           # -> FrameMask of object 1 at 12.5 s
    tracker.propagate(job=Job(on_progress=print))                   # both ways, whole video
    tracker.refine(1, 31.0, points=[(700, 300)], labels=[0])         # re-tracks from 31 s on only
    tracker.store.save("tracks.json")                                # COCO RLE, docs/formats.md

Times are seconds, pixels are original-video pixels in display orientation.
"""

from typing import TYPE_CHECKING

from engine.lazy import lazy_attributes
from engine.tracking.store import (
    FrameMask,
    Prompt,
    StoreChanges,
    TrackingRun,
    TrackStore,
    decode_box,
    decode_mask,
    encode_mask,
    masks_at,
)

if TYPE_CHECKING:
    from engine.tracking.model import DEFAULT_SAM_MODEL, Sam2, load_sam2
    from engine.tracking.tracker import Tracker

# The model side imports torch and transformers (seconds); results and exports need neither, so those
# names load on first use.
_MODEL_SIDE = {
    "DEFAULT_SAM_MODEL": "engine.tracking.model",
    "Sam2": "engine.tracking.model",
    "load_sam2": "engine.tracking.model",
    "Tracker": "engine.tracking.tracker",
}

__getattr__ = lazy_attributes(__name__, _MODEL_SIDE)


__all__ = [
    "DEFAULT_SAM_MODEL",
    "FrameMask",
    "Prompt",
    "Sam2",
    "StoreChanges",
    "TrackStore",
    "Tracker",
    "TrackingRun",
    "decode_box",
    "decode_mask",
    "encode_mask",
    "load_sam2",
    "masks_at",
]
