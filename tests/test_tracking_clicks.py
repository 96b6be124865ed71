"""A shown click merges with the frame's clicks as the engine merges them; taking it back restores them."""

from __future__ import annotations

import numpy as np

from app.tracking_clicks import Click, show_click, take_back
from engine.tracking import FrameMask, TrackStore, encode_mask


def test_clicks_merge_on_their_frame_and_taking_them_back_restores_what_was_there() -> None:
    store = TrackStore(width=64, height=48)
    first = Click(1, 5, before=None, new_object=True)
    show_click(store, first, 0.2, points=[[10.0, 12.0]], labels=[1], box=None)
    (shown,) = store.prompts(1)
    before = shown
    second = Click(1, 5, before=before, new_object=False)
    show_click(store, second, 0.2, points=[[30.0, 20.0]], labels=[0], box=[1.0, 2.0, 40.0, 30.0])
    (merged,) = store.prompts(1)
    assert merged.points == ((10.0, 12.0), (30.0, 20.0)) and merged.labels == (1, 0)
    assert merged.box == (1.0, 2.0, 40.0, 30.0) and merged.frame_index == 5
    assert take_back(store, second) is False and store.prompts(1) == [before]

    # the object the first click made is empty once that click goes: the caller forgets it
    assert take_back(store, first) is True and store.object_ids() == []


def test_an_object_with_masks_stays_when_its_first_click_is_taken_back() -> None:
    store = TrackStore(width=64, height=48)
    click = Click(2, 0, before=None, new_object=True)
    show_click(store, click, 0.0, points=[[5.0, 5.0]], labels=[1], box=None)
    mask = np.zeros((48, 64), bool)
    mask[4:9, 3:8] = True
    rle, bbox, area = encode_mask(mask)
    store.put(2, FrameMask(3, 0.1, rle, bbox, area, 1.0))
    assert take_back(store, click) is False and store.prompts(2) == [] and store.frame_indices(2) == [3]
