"""The inline `<think>` splitter, on every way of cutting each text into two and three pieces."""

import itertools

import pytest

from chatstream.reasoning import ThinkSplitter, split

CASES = [
    # (what the model wrote, reasoning, answer)
    ("<think>Let me see.</think>Paris.", "Let me see.", "Paris."),
    ("  \n<think>\nhmm\n</think>\n\nThe answer.", "\nhmm\n", "The answer."),
    ("<think>still thinking when it ended", "still thinking when it ended", ""),
    ("<think>cut in the closing tag</thi", "cut in the closing tag</thi", ""),
    (
        "no opening tag, thought</think>Then the answer",
        "no opening tag, thought",
        "Then the answer",
    ),
    ("</think>answer", "", "answer"),
    ("Plain answer with <think>x</think> in it", "", "Plain answer with <think>x</think> in it"),
    ("<think>a</think>later <think>b</think> left", "a", "later <think>b</think> left"),
    ("A plain reply, no tags at all.", "", "A plain reply, no tags at all."),
    ("1 < 2 and a <b>tag</b>", "", "1 < 2 and a <b>tag</b>"),
    ("  leading space kept", "", "  leading space kept"),
    ("<thinking>not ours</thinking>", "", "<thinking>not ours</thinking>"),
    ("<think></think>", "", ""),
    ("<think>x</think>   ", "x", ""),
    ("<", "", "<"),
    ("ends on <", "", "ends on <"),
    ("ends on </thi", "", "ends on </thi"),
]


@pytest.mark.parametrize(("text", "reasoning", "answer"), CASES)
def test_every_split_gives_the_same_parts(text, reasoning, answer):
    assert split(text) == (reasoning, answer)
    for cut in range(len(text) + 1):
        assert split(text, [cut]) == (reasoning, answer), cut
    for a, b in itertools.combinations(range(1, len(text)), 2):
        assert split(text, [a, b]) == (reasoning, answer), (a, b)


def test_character_by_character():
    text = "<think>one\ntwo</think>\nthree <think> four"
    assert split(text, list(range(1, len(text)))) == ("one\ntwo", "three <think> four")


def test_a_plain_reply_passes_chunks_through_unchanged():
    splitter = ThinkSplitter()
    chunk = "Hello"
    assert splitter.feed(chunk) == ("", chunk)
    assert splitter.feed(" world")[1] is not None
    reasoning, answer = splitter.feed(" again")
    assert reasoning == "" and answer == " again"


def test_after_the_thinking_every_chunk_is_passed_through():
    splitter = ThinkSplitter()
    assert splitter.feed("<think>x</think>Hi") == ("x", "Hi")
    assert splitter.passthrough
    chunk = " <think> and </think>"
    assert splitter.feed(chunk)[1] is chunk


def test_the_move_is_reported_once():
    splitter = ThinkSplitter()
    assert splitter.feed("thought ") == ("", "thought ")
    assert not splitter.moved
    assert splitter.feed("more</think>answer") == ("more", "answer")
    assert splitter.moved
    assert splitter.feed(" on") == ("", " on")
    assert not splitter.moved
