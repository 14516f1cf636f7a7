"""A socket-level tab rebuilds a thinking reply from its pushes exactly as the page does
(components/markdown.jsx): a chunk at its offset, a new base starting again, a gap a resync."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

import pytest

from chatstream.state.chat import ChatState
from chatstream.state.live import LiveReply
from tests.factories import make_user, sign_in
from tests.fake_openai import Reply, words
from tests.reflex_client import ReflexTab, handler_name

LIVE = LiveReply.get_full_name()


class Held:
    """One LiveMarkdown: `base`, then each chunk appended at its offset."""

    def __init__(self, prefix: str) -> None:
        self.base_var, self.chunk_var, self.offset_var = (
            f"{prefix}base_rx_state_",
            f"{prefix}chunk_rx_state_",
            f"{prefix}offset_rx_state_",
        )
        self.text, self.gaps = "", 0

    def apply(self, changes: dict) -> None:
        if self.base_var in changes:
            self.text = changes[self.base_var]
        chunk, offset = changes.get(self.chunk_var), changes.get(self.offset_var)
        if chunk is None or offset is None:
            return
        if offset > len(self.text):
            self.gaps += 1
        elif offset + len(chunk) > len(self.text):
            self.text = self.text[:offset] + chunk


@pytest.mark.parametrize(
    ("chunks", "thinking", "form", "reasoning", "answer"),
    [
        ([f"a{i} " for i in range(30)], [f"t{i} " for i in range(60)], "reasoning_content",
         "".join(f"t{i} " for i in range(60)), "".join(f"a{i} " for i in range(30))),
        (["no tag, ", *words("thinking " * 30, 5), "</think>", *words("then " * 20, 4)], [],
         "inline", "no tag, " + "thinking " * 30, "then " * 20),
    ],
    ids=["field", "closing-tag-only"],
)  # fmt: skip
async def test_the_pushes_rebuild_reasoning_and_answer_exactly(
    backend_url, model, chunks, thinking, form, reasoning, answer
):
    marker = f"<think-follow-{secrets.token_hex(4)}>"
    model.on(marker, Reply(chunks=chunks, thinking=thinking, form=form, delay=0.01))
    followed = await follow(backend_url, marker)
    followed.check(reasoning, answer)


async def test_twelve_thinking_replies_at_once_each_reach_their_own_tab_exactly(backend_url, model):
    """Four users, three tabs each, every reply thinking then answering at the same time:
    each tab rebuilds its own reply byte-exact, and nothing of another's reaches it."""
    markers = [
        f"<ask-{user}.{tab}-{secrets.token_hex(3)}>" for user in range(4) for tab in range(3)
    ]
    replies = {}
    for marker in markers:
        thinking = words(f"thinking for {marker} " * 20, 5)
        chunks = words(f"answer for {marker} " * 15, 4)
        form = ("reasoning_content", "reasoning", "inline")[len(replies) % 3]
        model.on(marker, Reply(chunks=chunks, thinking=thinking, form=form, delay=0.01))
        replies[marker] = ("".join(thinking), "".join(chunks))
    tokens = [signed_in() for _ in range(4)]
    followed = await asyncio.gather(
        *(follow(backend_url, marker, tokens[i // 3]) for i, marker in enumerate(markers))
    )
    for marker, one in zip(markers, followed, strict=True):
        one.check(*replies[marker])
        others = [m for m in markers if m != marker]
        assert not any(m in one.last_thought or m in one.last_shown for m in others)


@dataclass
class Followed:
    saved: dict
    shown: Held
    thought: Held
    last_shown: str
    last_thought: str

    def check(self, reasoning: str, answer: str) -> None:
        assert (self.saved["reasoning"], self.saved["content"]) == (reasoning, answer)
        assert (self.shown.gaps, self.thought.gaps) == (0, 0)
        # what the tab showed last, live: the start of each text, the answer after a rewrite
        assert self.last_shown and answer.startswith(self.last_shown), self.last_shown[-60:]
        assert self.last_thought and reasoning.startswith(self.last_thought), self.last_thought[
            -60:
        ]


def signed_in() -> str:
    """The sign-in token of a new user."""
    user, token = make_user(), secrets.token_urlsafe(16)
    sign_in(user, token)
    return token


async def follow(backend_url: str, marker: str, token: str | None = None) -> Followed:
    """Send `marker` from a new chat in a tab of its own (signed in with `token`, or as a new
    user) and rebuild its reply from the pushes, as the page does."""
    token = token or signed_in()
    shown, thought = Held(""), Held("r")
    last = {"shown": "", "thought": ""}

    def on_delta(tab: ReflexTab, delta: dict) -> None:
        changes = delta.get(LIVE)
        if not changes:
            return
        shown.apply(changes)
        thought.apply(changes)
        if tab.var(LiveReply, "message_id"):  # (not the hand-over's delta)
            last["shown"], last["thought"] = shown.text, thought.text

    tab = ReflexTab(backend_url, local_storage={"_auth_token": token}, on_delta=on_delta)
    try:
        await tab.open("/")
        await tab.send(handler_name(ChatState, "send"), form_data={"text": marker})
        await tab.wait_for(
            lambda: tab.path.startswith("/chat/") and tab.var(LiveReply, "message_id")
        )
        await tab.wait_for(lambda: not tab.var(LiveReply, "message_id"), timeout=60)
        saved = [*tab.var(ChatState, "messages", []), *tab.var(ChatState, "recent", [])][-1]
    finally:
        await tab.close()
    return Followed(saved, shown, thought, last["shown"], last["thought"])
