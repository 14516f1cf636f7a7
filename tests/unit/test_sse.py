"""The event-stream decoder the model stream is read with (chatstream/sse.py)."""

from __future__ import annotations

import json

import pytest

from chatstream.sse import EventDecoder

BODY = (
    ": a comment\n"
    + 'data: {"a": "café"}\n\n'
    + "event: ping\ndata: one\ndata: two\n\n"
    + "id: 7\nretry: 10\ndata:no-space\n\n"
    + "data: [DONE]\n\n"
)
EVENTS = ['{"a": "café"}', "one\ntwo", "no-space", "[DONE]"]


def decode(pieces: list[bytes]) -> list[str]:
    decoder, events = EventDecoder(), []
    for piece in pieces:
        events += decoder.feed(piece)
    return events + decoder.close()


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_every_split_of_the_body_gives_the_same_events(ending):
    body = BODY.replace("\n", ending).encode()
    assert decode([body]) == EVENTS
    for cut in range(1, len(body)):
        assert decode([body[:cut], body[cut:]]) == EVENTS, cut
    assert decode([body[i : i + 1] for i in range(len(body))]) == EVENTS


def test_a_body_that_ends_without_a_blank_line_still_gives_its_last_event():
    assert decode([b"data: 1\n\ndata: 2"]) == ["1", "2"]
    assert decode([b"data: 1\n\ndata: 2\n"]) == ["1", "2"]
    assert decode([b""]) == []


def test_a_multibyte_character_split_between_pieces_is_kept():
    body = ("data: " + json.dumps({"t": "日本"}, ensure_ascii=False) + "\n\n").encode()
    cut = body.index("本".encode()) + 1
    assert [json.loads(e) for e in decode([body[:cut], body[cut:]])] == [{"t": "日本"}]
