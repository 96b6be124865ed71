"""One object's SAM2 tracking state, kept to what the model reads, so memory is O(1) in video length.

A tracking step at frame t reads (transformers `Sam2VideoModel`, as the SAM2 authors' code does):
- the outputs of every conditioning frame (frames with clicks) of the object;
- the mask memories of the `num_maskmem - 1` frames next to t on the side it comes from, and the
  object pointers of the `max_object_pointers_in_encoder - 1` frames there (6 and 15 for SAM 2.1).
The stock inference session keeps every frame's pixels and outputs, which grows without end. This
session keeps conditioning outputs, and non-conditioning outputs only within `window` frames of the
frame just tracked or of a conditioning frame (a backward sweep that follows a forward one starts by
reading the forward outputs next to the prompt). Within that rule the model sees exactly what it
would see unpruned, so pruned and unpruned tracking give identical masks.

Frames are never stored in the session: the tracker computes each frame's image features once and
hands them to every object's session through its feature cache.
"""

from __future__ import annotations

import torch
from transformers.models.sam2_video.modeling_sam2_video import Sam2VideoInferenceSession

_COND, _NON_COND = "cond_frame_outputs", "non_cond_frame_outputs"
_OBJ = 0  # each session holds one object, at index 0
_NEVER_READ = ("high_res_masks",)  # stored by the model, read by nobody: 4 MiB a frame at 1024 px
_READ_ONLY_WHEN_COND = ("pred_masks",)  # reused when a sweep passes a conditioning frame


class ObjectMemory(Sam2VideoInferenceSession):
    """The bounded SAM2 session of one object (`obj_id`) in a video of `num_video_frames` frames."""

    def __init__(
        self,
        obj_id: int,
        num_video_frames: int,
        video_size: tuple[int, int],
        device: torch.device,
        dtype: torch.dtype,
        window: int,
        keep_all: bool = False,
    ):
        width, height = video_size
        super().__init__(
            video_height=height,
            video_width=width,
            inference_device=device,
            inference_state_device=device,  # bounded, so it stays on the GPU
            video_storage_device=device,
            dtype=dtype,
        )
        self.obj_id = obj_id
        self._num_video_frames = num_video_frames
        self.window = window
        self.keep_all = keep_all  # for tests and benchmarks: the stock, unbounded behaviour
        self.obj_id_to_idx(obj_id)

    @property
    def num_frames(self) -> int:
        """Frames in the video: the model limits object pointers by it, as in offline tracking."""
        return self._num_video_frames

    @property
    def outputs(self) -> dict[str, dict[int, dict]]:
        return self.output_dict_per_obj[_OBJ]

    @property
    def cond_frames(self) -> list[int]:
        return sorted(self.outputs[_COND])

    @property
    def held_frames(self) -> set[int]:
        """Frames whose outputs the session still has."""
        return set(self.outputs[_COND]) | set(self.outputs[_NON_COND])

    def set_clicks(
        self, frame_idx: int, coords: torch.Tensor, labels: torch.Tensor, correction: bool
    ) -> None:
        """Give the next step at `frame_idx` these point inputs (model coordinates, box corners first).

        `correction`: the frame was tracked already, so the model combines the clicks with its memory
        (as SAM2 does for clicks on a tracked frame); otherwise the frame starts the object afresh.
        """
        self.add_point_inputs(_OBJ, frame_idx, {"point_coords": coords, "point_labels": labels})
        self.outputs[_COND].pop(frame_idx, None)
        self.outputs[_NON_COND].pop(frame_idx, None)
        self.frames_tracked_per_obj[_OBJ] = {frame_idx: {"reverse": False}} if correction else {}
        self.obj_with_new_inputs = [self.obj_id]

    def step(
        self, network, frame_idx: int, features: dict[str, list[torch.Tensor]], reverse: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Track one frame. Returns the low-resolution mask logits [1, 1, h, w] and the object score [1]."""
        self.cache.cache_vision_features(frame_idx, features)
        out = network(inference_session=self, frame_idx=frame_idx, reverse=reverse)
        if frame_idx in self.outputs[_NON_COND] and frame_idx in self.point_inputs_per_obj[_OBJ]:
            # A correction click: keep it as a conditioning frame, so every later frame attends to it.
            self.outputs[_COND][frame_idx] = self.outputs[_NON_COND].pop(frame_idx)
        self._drop_unread(frame_idx)
        self.prune(frame_idx)
        return out.pred_masks, out.object_score_logits

    def prune(self, frame_idx: int) -> None:
        """Forget what no later step reads (see the module doc)."""
        self.frames_tracked_per_obj[_OBJ] = {}
        if self.keep_all:
            return
        anchors = [frame_idx, *self.outputs[_COND]]
        non_cond = self.outputs[_NON_COND]
        for t in [t for t in non_cond if all(abs(t - a) > self.window for a in anchors)]:
            del non_cond[t]

    def forget_tracking(self) -> None:
        """Drop every non-conditioning output, before tracking the video again from the prompts."""
        self.outputs[_NON_COND].clear()

    def _drop_unread(self, frame_idx: int) -> None:
        if self.keep_all:
            return
        for kind in (_COND, _NON_COND):
            entry = self.outputs[kind].get(frame_idx)
            if entry is None:
                continue
            unread = _NEVER_READ if kind == _COND else _NEVER_READ + _READ_ONLY_WHEN_COND
            for key in unread:
                entry.pop(key, None)
