"""A socket-level tab rebuilds a thinking reply from its pushes exactly as the page does
(components/markdown.jsx): a chunk at its offset, a new base starting again, a gap a resync."""

from __future__ import annotations

import secrets

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
    user, token = make_user(), secrets.token_urlsafe(16)
    sign_in(user, token)
    shown, thought = Held(""), Held("r")
    last = {"shown": None, "thought": None}

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
        await tab.wait_for(lambda: not tab.var(LiveReply, "message_id"), timeout=30)
        saved = [*tab.var(ChatState, "messages", []), *tab.var(ChatState, "recent", [])][-1]
    finally:
        await tab.close()
    assert (saved["reasoning"], saved["content"]) == (reasoning, answer)
    assert (shown.gaps, thought.gaps) == (0, 0)
    # what the tab showed last, live: the start of each text, the answer after its rewrite
    assert last["shown"] and answer.startswith(last["shown"]), last["shown"][-60:]
    assert last["thought"] and reasoning.startswith(last["thought"]), last["thought"][-60:]
