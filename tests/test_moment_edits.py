"""The arithmetic of editing moments: frame boundaries on a variable-rate table, edges that keep a frame,
splits on a boundary, merges; and a moment's strict reading."""

from __future__ import annotations

import numpy as np
import pytest

from app.moment import Moment
from app.moment_edits import FrameGrid, merged, moved_edge, split
from engine.spans import Span

TIMES = np.array([0.0, 0.04, 0.08, 0.1, 0.13, 0.2, 0.3])  # variable frame durations
GRID = FrameGrid(TIMES, 0.35)


def test_the_grid_holds_every_frame_start_and_the_end_of_the_last_frame() -> None:
    assert GRID.bounds.tolist() == [*TIMES.tolist(), 0.35]
    assert [GRID.nearest(t) for t in (-1.0, 0.01, 0.03, 0.115, 0.116, 0.34, 9.0)] == [
        0.0, 0.0, 0.04, 0.1, 0.13, 0.35, 0.35,
    ]  # fmt: skip
    assert (GRID.before(0.13), GRID.before(0.125), GRID.before(0.0)) == (0.1, 0.1, 0.0)
    assert (GRID.after(0.13), GRID.after(0.125), GRID.after(0.35)) == (0.2, 0.13, 0.35)


def test_an_edge_lands_on_a_boundary_and_a_moment_keeps_at_least_one_frame() -> None:
    moment = Moment(Span(0.04, 0.2), "m")
    assert moved_edge(moment, "start", 0.11, GRID).span.start_s == 0.1
    assert moved_edge(moment, "end", 0.27, GRID).span.end_s == 0.3
    assert moved_edge(moment, "start", 0.5, GRID).span.start_s == 0.13  # past the end: the last frame
    assert moved_edge(moment, "end", 0.0, GRID).span.end_s == 0.08  # before the start: the first frame
    assert moved_edge(moment, "end", 0.27, GRID).id == "m"
    with pytest.raises(ValueError, match="edge"):
        moved_edge(moment, "middle", 0.1, GRID)


def test_a_split_cuts_on_the_nearest_boundary_inside_and_keeps_state_and_provenance() -> None:
    moment = Moment(Span(0.04, 0.3, 0.8, "both", "van", "a van"), "m", "accepted", {"query": "a van"})
    first, second = split(moment, 0.12, GRID)
    assert (first.span.start_s, first.span.end_s, second.span.start_s, second.span.end_s) == (
        0.04,
        0.13,
        0.13,
        0.3,
    )
    assert first.id == "m" and second.id != "m"
    assert (second.state, second.provenance, second.span.label, second.span.score) == (
        "accepted", {"query": "a van"}, "van", 0.8,
    )  # fmt: skip
    assert split(moment, 0.02, GRID) is None and split(moment, 0.31, GRID) is None  # not inside


def test_a_merge_covers_both_and_keeps_the_first() -> None:
    a = Moment(Span(0.0, 0.1, 0.4, "text", None, "q"), "a", "rejected", {"query": "q"})
    b = Moment(Span(0.2, 0.3, 0.9, "curve", "b", "q"), "b")
    both = merged(a, b)
    assert both.span == Span(0.0, 0.3, 0.9, "both", "b", "q") and (both.id, both.state) == ("a", "rejected")
    by_hand = merged(Moment(Span(0.0, 0.1)), Moment(Span(0.2, 0.3, 0.5, "curve")))
    assert (by_hand.span.source, by_hand.span.score) == ("user", 0.5)


def test_a_moment_reads_strictly() -> None:
    moment = Moment(Span(1.0, 2.0, query="q"), "x", "accepted", {"query": "q", "model": "m"})
    assert Moment.from_dict(moment.to_dict()) == moment
    with pytest.raises(ValueError, match="'state' must be one of"):
        Moment(Span(1.0, 2.0), state="maybe")
