"""A click in tracking mode is shown before the engine answers it; one the engine refuses is taken back.

    click = Click(obj_id, frame_index, before=the object's clicks on that frame, new_object=made_by_it)
    show_click(store, click, time_s, points=[[412.0, 230.5]], labels=[1], box=None)   # drawn at once
    if take_back(store, click): ...          # refused: as before; True when the object it made is empty

Clicks on one frame merge as the engine merges them: points and labels add up, a new box replaces the old.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.tracking import Prompt, TrackStore


@dataclass(frozen=True)
class Click:
    """A click shown before the engine answered it: what to put back if the engine refuses it."""

    obj_id: int
    frame_index: int
    before: Prompt | None  # the object's clicks on that frame before it
    new_object: bool  # the click made the object


def show_click(store: TrackStore, click: Click, time_s: float, points: list, labels: list, box) -> None:
    """The click in the store (so the overlay draws it), merged with the frame's clicks before it."""
    old = click.before
    if old is not None:
        points, labels = [*old.points, *points], [*old.labels, *labels]
        box = box if box is not None else old.box
    prompt = Prompt(
        time_s,
        click.frame_index,
        tuple(tuple(p) for p in points),
        tuple(labels),
        None if box is None else tuple(box),
    )
    store.add_prompt(click.obj_id, prompt)


def take_back(store: TrackStore, click: Click) -> bool:
    """The object's clicks on that frame as before the click; True when the click made the object and
    nothing of it is left (the caller forgets the object)."""
    if click.before is None:
        store.remove_prompt(click.obj_id, click.frame_index)
    else:
        store.add_prompt(click.obj_id, click.before)
    obj = click.obj_id
    emptied = click.new_object and not store.prompts(obj) and not store.frame_indices(obj)
    if emptied:
        store.remove_object(obj)
    return emptied
