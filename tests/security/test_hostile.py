"""User B, signed in, calls every event handler of the app with user A's ids, forged records,
A's chat pages as the page, and garbage, while A's reply is streaming; B learns nothing of
A's, changes nothing of A's, and the backend logs refusals, not tracebacks.

The handlers come from Reflex's registry at test time (tests/security/surface.py): a new
handler is attacked without anyone adding it here. One test per handler, each with a new
tab of B's (a new session), so a failure names the handler that let something through.
"""

from __future__ import annotations

import pytest
import pytest_asyncio

from chatstream.state.chat import ChatState
from chatstream.state.live import LiveReply
from chatstream.state.search import SearchState
from tests.reflex_client import handler_name
from tests.security.hostile import (
    COMMON,
    Hostile,
    Victim,
    calls_for,
    chat_page,
    leaks,
    make_victim,
    snapshot,
    troubles,
    until,
)
from tests.security.surface import registered, surface

pytestmark = pytest.mark.asyncio(loop_scope="module")

SURFACE = surface()


def _short(name: str) -> str:
    """`chat_state.send` for `reflex___state____state.chatstream___state___chat____chat_state.send`."""
    state, _, handler = name.rpartition(".")
    return f"{state.rpartition('.')[2].rpartition('____')[2]}.{handler}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def victim(backend_url, model, backend_log):
    victim = await make_victim(backend_url, model)
    victim.before = snapshot(victim.user_id)
    try:
        yield victim
    finally:
        victim.held.release.set()
        await victim.tab.close()


def shown_messages(tab) -> list[dict]:
    return [*tab.var(ChatState, "messages", []), *tab.var(ChatState, "recent", [])]


def damage(victim: Victim, model) -> list[str]:
    """What changed of A's: stored rows, the held reply, A's tab."""
    problems = []
    after = snapshot(victim.user_id)
    for part, rows in victim.before.items():
        if after[part] != rows:
            problems.append(f"A's {part} changed: {rows!r:.600} -> {after[part]!r:.600}")
    request = model.request_for(victim.trigger)
    if request.disconnected_at is not None or request.finished:
        problems.append("A's streaming reply no longer streams from the model")
    shown = victim.tab.var(LiveReply, "message_id")
    if (
        shown != victim.streaming.public_id
        or victim.tab.path != f"/chat/{victim.live_chat.public_id}"
    ):
        problems.append(
            f"A's tab no longer follows its reply (shows {shown!r} on {victim.tab.path})"
        )
    return problems


def report(hostile: Hostile, victim: Victim, model, logged: list) -> None:
    """Fail with everything that went wrong, counted first: leaks, damage, log lines."""
    leaked = leaks(hostile.received, victim)
    damaged = damage(victim, model)
    lines = troubles(logged)
    problems = [
        *(f"B received {leak}" for leak in leaked[:5]),
        *damaged,
        *(f"logged: {line}" for line in lines[:20]),
    ]
    summary = f"{len(leaked)} leaks to B, {len(damaged)} changes to A, {len(lines)} log errors"
    assert not problems, summary + "\n" + "\n".join(problems)


async def attack(backend_url, victim: Victim, name: str) -> tuple[Hostile, int]:
    hostile = Hostile(backend_url)
    tab = hostile.tab
    await tab.open("/")
    # B has searched for a word of A's texts: a search recomputed for A shows.
    await tab.send(handler_name(SearchState, "set_query"), value=COMMON)
    calls = calls_for(name, SURFACE[name], registered()[name].states[0], victim)
    for _, payload, router in calls:
        await tab.emit(name, payload, router)
    await hostile.settle()
    return hostile, len(calls)


@pytest.mark.parametrize("name", sorted(SURFACE), ids=_short)
async def test_handler_gives_b_nothing_of_a(name, victim, backend_url, model, backend_log):
    logged = len(backend_log)
    hostile, _ = await attack(backend_url, victim, name)
    await hostile.tab.close()
    report(hostile, victim, model, backend_log[logged:])


async def test_every_handler_in_turn_in_one_tab(victim, backend_url, model, backend_log):
    """Handlers one after the other, twice, in one tab: what one handler leaves in B's
    state (an id, a record) is there for every other to use."""
    logged = len(backend_log)
    hostile = Hostile(backend_url)
    tab = hostile.tab
    await tab.open("/")
    await tab.send(handler_name(SearchState, "set_query"), value=COMMON)
    handlers = registered()
    for _ in range(2):
        for name, params in SURFACE.items():
            calls = calls_for(name, params, handlers[name].states[0], victim, thorough=False)
            for _, payload, router in calls:
                await tab.emit(name, payload, router)
        await hostile.settle()
    await tab.close()
    report(hostile, victim, model, backend_log[logged:])


async def test_malformed_events_are_refused_quietly(victim, backend_url, model, backend_log):
    """Events no page sends: unknown names, private methods, payloads that are no dict."""
    logged = len(backend_log)
    hostile = Hostile(backend_url)
    tab = hostile.tab
    await tab.open("/")
    chat = next(name for name in SURFACE if name.endswith("chat_state.send")).rpartition(".")[0]
    router = chat_page(victim.live_chat.public_id)
    names = [
        f"{chat}.nonexistent",
        f"{chat}._owned_chat",
        f"{chat}._load",
        f"{chat}.get_state",
        f"{chat}.__init__",
        f"{chat}.messages",
        "reflex___state____state.nonexistent_state.send",
        "",
    ]
    for name in names:
        await tab.emit(name, {"public_id": victim.live_chat.public_id}, router)
    send = f"{chat}.send"
    for payload in (None, "text", [victim.live_chat.public_id], 7):
        await tab.emit(send, payload, router)
    await hostile.settle()
    await tab.close()
    report(hostile, victim, model, backend_log[logged:])


async def test_a_frame_over_the_socket_limit_closes_only_b_socket(
    victim, backend_url, model, backend_log
):
    """Reflex refuses a frame over its limit (1,000,000 bytes) by closing that socket: B's
    tab is gone, nothing is logged as an error, A's reply streams on."""
    logged = len(backend_log)
    hostile = Hostile(backend_url)
    tab = hostile.tab
    await tab.open("/")
    send = next(name for name in SURFACE if name.endswith("chat_state.send"))
    await tab.emit(
        send, {"form_data": {"text": "x" * 2**20}}, chat_page(victim.live_chat.public_id)
    )
    await tab.wait_for(lambda: not tab.connected(), timeout=20)
    await tab.close()
    report(hostile, victim, model, backend_log[logged:])


async def test_a_reply_completes_exactly_and_a_tab_followed_it(victim, model):
    """Last: after all of B's attempts, A's held reply goes on, live in A's tab, and is saved
    exactly as the model sent it."""
    victim.held.release.set()
    tab, reply = victim.tab, victim.streaming.public_id
    await until(
        lambda: snapshot(victim.user_id)["messages"][-1]["streaming"] is False,
        what="A's reply to end",
    )
    final = snapshot(victim.user_id)["messages"][-1]
    assert (final["public_id"], final["status"]) == (reply, "complete")
    assert final["content"] == victim.held.text
    shown = await tab.wait_for(
        lambda: next((m for m in shown_messages(tab) if m["id"] == reply), None), timeout=20
    )
    assert shown["content"] == victim.held.text
    texts = [text for shown, text in victim.live_seen if shown == reply and text]
    assert all(victim.held.text.startswith(text) for text in texts)
    held = len("".join(victim.held.chunks[: victim.held.hold_after]))
    after = {text for text in texts if len(text) > held}
    assert len(after) >= 2, "A's tab was not sent the rest of its reply live"


async def test_backend_log_has_no_errors_for_the_whole_run(victim, backend_log):
    assert not troubles(backend_log), "\n".join(troubles(backend_log)[:40])
