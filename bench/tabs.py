"""What a socket-level tab (tests/reflex_client.py) shows of the streaming reply, per design,
recorded as (time.time(), characters shown) on every delta."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import socketio

from tests.reflex_client import ReflexTab


def compressed(tab: ReflexTab) -> ReflexTab:
    """Offer permessage-deflate, as Chromium does (aiohttp's client does not by default)."""
    tab.listen(socketio.AsyncClient(reconnection=False, websocket_extra_options={"compress": 15}))
    return tab


@dataclass
class Watch:
    """The reply's text as the tab shows it (its reasoning first, if it thinks), with the
    time of each change."""

    seen: list[tuple[float, int]] = field(default_factory=list)
    text: str = ""
    held: tuple[str | None, str] = (None, "")
    held_reasoning: tuple[str | None, str] = (None, "")
    followed: bool = False
    """The tab showed the live reply: a reply that ends before its first update reaches the
    tab goes straight into the list, with nothing shown live."""

    def note(self, text: str) -> None:
        if len(text) > len(self.text):
            self.seen.append((time.time(), len(text)))
        self.text = text


def _grown(held: tuple[str | None, str], base: str, chunk: str, offset: int):
    """One LiveMarkdown's text after an update: a new `base` starts again, a chunk lands at
    its offset (as components/markdown.jsx puts it together)."""
    held_base, text = held
    text = base if base != held_base else text
    if offset <= len(text):
        text = text[:offset] + chunk
    return base, text


def ours_on_delta(watch: Watch):
    """Notes the reasoning and the answer shown, one after the other."""
    from chatstream.state.chat import ChatState
    from chatstream.state.live import LiveReply

    def on_delta(client: ReflexTab, delta) -> None:
        if client.var(LiveReply, "message_id"):
            answer, reasoning = (
                [client.var(LiveReply, prefix + n) for n in ("base", "chunk", "offset")]
                for prefix in ("", "r")
            )
            watch.followed = True
            watch.held = _grown(watch.held, *answer)
            watch.held_reasoning = _grown(watch.held_reasoning, *reasoning)
            watch.note(watch.held_reasoning[1] + watch.held[1])
        elif watch.followed:  # the finished reply has joined the list
            messages = [
                *client.var(ChatState, "messages", []),
                *client.var(ChatState, "recent", []),
            ]
            if messages and messages[-1]["role"] == "assistant":
                watch.note(messages[-1]["reasoning"] + messages[-1]["content"])

    return on_delta


def naive_state():
    return sys.modules["naive_app.naive_app"].NaiveState


def naive_on_delta(watch: Watch, earlier: int):
    state = naive_state()

    def on_delta(client: ReflexTab, delta) -> None:
        messages = client.var(state, "messages", [])
        if len(messages) == earlier + 2:
            watch.note(messages[-1]["content"])

    return on_delta


def latencies(
    sent: list[tuple[float, str]], seen: list[tuple[float, int]], rendered: bool = False
) -> list[float]:
    """Seconds from each chunk's send to the first moment the tab showed it. `rendered`: the
    lengths seen are of rendered text, which drops the trailing space of a prefix."""
    result, shown, so_far = [], 0, ""
    for sent_at, text in sent:
        so_far += text
        total = len(so_far.rstrip()) if rendered else len(so_far)
        while shown < len(seen) and seen[shown][1] < total:
            shown += 1
        if shown == len(seen):
            break
        result.append(max(seen[shown][0] - sent_at, 0.0))
    return result
