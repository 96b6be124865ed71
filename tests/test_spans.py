"""The spans file: both JSON shapes load, times may be timecodes, bad input names what to fix."""

from __future__ import annotations

import json

import pytest

from engine.errors import ScenescopeError
from engine.spans import Span, load_spans, save_spans

SPANS = [
    Span(1.5, 4.25, score=0.91, source="model", label="a boat docks", query="when does the boat dock?"),
    Span(60.0, 61.0),
]


def test_save_and_load_round_trip(tmp_path):
    path = tmp_path / "spans.json"
    save_spans(path, SPANS)
    assert load_spans(path) == SPANS
    assert json.loads(path.read_text())["spans"][1] == {
        "start_s": 60.0, "end_s": 61.0, "score": None, "source": "user", "label": None, "query": None,
    }  # fmt: skip


def test_plain_list_and_grounding_output_both_load(tmp_path):
    items = [{"start_s": 1, "end_s": 2.5, "score": 0.5, "source": "model"}]
    (tmp_path / "list.json").write_text(json.dumps(items))
    (tmp_path / "ground.json").write_text(json.dumps({"query": "q", "curve": [0.1, 0.2], "spans": items}))
    expected = [Span(1.0, 2.5, score=0.5, source="model")]
    assert load_spans(tmp_path / "list.json") == expected
    assert load_spans(tmp_path / "ground.json") == expected


def test_times_may_be_timecodes(tmp_path):
    (tmp_path / "s.json").write_text(json.dumps([{"start_s": "01:02.5", "end_s": "1:01:02.250"}]))
    assert load_spans(tmp_path / "s.json") == [Span(62.5, 3662.25)]


def test_saving_refuses_to_replace_unless_asked(tmp_path):
    path = tmp_path / "spans.json"
    path.write_text("[]")
    with pytest.raises(FileExistsError):
        save_spans(path, SPANS)
    assert path.read_text() == "[]"
    save_spans(path, SPANS, overwrite=True)
    assert load_spans(path) == SPANS


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", r"not valid JSON \(line 1, column 2\)"),
        ('{"spans": 3}', 'a "spans" list'),
        ('[{"start_s": 1, "end_s": 2}, {"start_s": 1}]', "span 2: the span has no 'end_s'"),
        ('[{"start_s": 5, "end_s": 2}]', "span 1: a span must end after it starts"),
        ('[{"start_s": -1, "end_s": 2}]', "start_s cannot be negative"),
        ('[{"start_s": 1e308, "end_s": 1.7e308}]', "start_s of 1e[+]308 s is past the limit of 360000000 s"),
        ('[{"start_s": 1, "end_s": 1e999}]', "1e999 is too large a number"),
        ('[{"start_s": NaN, "end_s": 2}]', "NaN is not a number"),
        ('[{"start_s": 1, "end_s": Infinity}]', "Infinity is not a number"),
        ("[" * 100_000 + "]" * 100_000, "nests lists or objects too deeply"),
        ('[{"start_s": "1:75", "end_s": 2}]', "seconds must be below 60"),
        ('[{"start_s": 1, "end_s": 2, "score": "high"}]', "'score' must be a number"),
        ('[{"start_s": "soon", "end_s": 2}]', "not a time: 'soon'"),
        ('[{"start_s": 1, "end_s": 2, "label": 7}]', "'label' must be text"),
        ("[1]", "must be an object"),
    ],
)
def test_bad_spans_files_say_what_is_wrong(tmp_path, content, message):
    path = tmp_path / "spans.json"
    path.write_text(content)
    with pytest.raises(ScenescopeError, match=message) as error:
        load_spans(path)
    assert str(path) in str(error.value)


def test_missing_file(tmp_path):
    with pytest.raises(ScenescopeError, match="No such spans file"):
        load_spans(tmp_path / "nope.json")
