"""The two questions grounding asks the model: where in the video is it, and is it in this part.

The first goes with the whole sampled video. The frames arrive labelled "Frame1: <image>" ... (the chat
prompt's video prefix), so the question says when each was taken, in the long form of the time message
the model family was fine-tuned with ("The video lasts for 60.00 seconds, and 128 frames are sampled
from it at 0.2, 0.7, ... seconds"), followed by the Charades-STA task wording of VideoChat-Flash, whose
answer format ("The event happens in the 24.3 - 30.4 seconds") `parse.py` reads. Times are real
presentation times of the sampled frames, so they stay right on variable-frame-rate video.

The second goes with a few consecutive frames and is answered by its first token: yes or no.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from engine.errors import ScenescopeError
from engine.questions import MAX_QUERY_CHARS, check_question

GROUNDING_TASK = (
    "Please find the visual event described by the query in the video, determining its starting and "
    "ending times. The format should be: 'The event happens in the start time - end time seconds'. "
    "If it happens more than once, give the start and end time of each occurrence. "
    "Now I will give you the query: {query}. Please return its start time and end time."
)
RELEVANCE_QUESTION = 'Does this video show the following: "{query}"? Answer with Yes or No.'
MAX_DECIMALS = 3


def check_query(query: str) -> str:
    """The query without surrounding space and end punctuation; `ScenescopeError` if nothing is left or
    it is longer than `MAX_QUERY_CHARS`."""
    cleaned = check_question(query, "query", MAX_QUERY_CHARS).strip().rstrip("?.!").strip()
    if not cleaned:
        raise ScenescopeError(
            "The query is empty: describe the moment to find, e.g. 'a van stops at the gate'."
        )
    return cleaned


def time_decimals(times_s: Sequence[float] | np.ndarray) -> int:
    """Decimals to write frame times with: the last digit's unit no larger than the smallest gap between
    frames (1 to 3 decimals), so neighbouring frames read apart and no digit is noise."""
    gaps = np.diff(np.unique(np.asarray(times_s, dtype=np.float64)))
    if len(gaps) == 0:
        return 1
    return int(np.clip(math.ceil(-math.log10(gaps.min()) - 1e-9), 1, MAX_DECIMALS))


def time_message(frame_times_s: Sequence[float] | np.ndarray, duration_s: float) -> str:
    """'The video lasts for D seconds, and N frames are sampled from it at t1, t2, ... seconds.'"""
    decimals = time_decimals(frame_times_s)
    times = ", ".join(f"{t:.{decimals}f}" for t in frame_times_s)
    n = len(frame_times_s)
    return (
        f"The video lasts for {duration_s:.2f} seconds, and {n} frames are sampled from it "
        f"at {times} seconds (Frame1 to Frame{n})."
    )


def grounding_question(query: str, frame_times_s: Sequence[float] | np.ndarray, duration_s: float) -> str:
    """The question asked with the whole video: the frames' times, then where the query happens."""
    return time_message(frame_times_s, duration_s) + "\n" + GROUNDING_TASK.format(query=check_query(query))


def relevance_question(query: str) -> str:
    """The yes/no question asked with each window of frames."""
    return RELEVANCE_QUESTION.format(query=check_query(query))
