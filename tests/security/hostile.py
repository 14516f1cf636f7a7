"""User A, the victim, and user B, the hostile client: A's data, what B sends, what B gets.

A's texts (messages, replies, titles, system prompt) each carry a random marker of their
own, so any of them reaching B shows in B's updates, whatever the handler that let it out.
B knows A's public ids, user id and username (they leak easily: a shared link, a
screenshot); B never knows A's texts, so the records B forges carry A's ids with B's own
text (`FORGED`): B's own text echoed back is no leak.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import reflex as rx
from reflex.state import State
from reflex_base.constants.state import FIELD_MARKER
from reflex_local_auth import LocalUser
from reflex_local_auth.auth_session import LocalAuthSession
from sqlmodel import col, select

from chatstream.models import Chat, Message
from chatstream.state.chat import ChatState
from chatstream.state.chat_settings import ChatSettingsState
from chatstream.state.live import LiveReply
from chatstream.state.search import SearchState
from tests.factories import make_user, sign_in
from tests.fake_openai import FakeOpenAI, Reply, words
from tests.reflex_client import ReflexTab, handler_name

FORGED = "forged by B"
COMMON = "hello"
"""A word in every text of A's, which B searches for."""
BIG = 900_000
"""The longest string sent: a frame over Reflex's socket limit (1,000,000 bytes,
`REFLEX_SOCKET_MAX_HTTP_BUFFER_SIZE`) closes the socket before any handler sees it."""
HELD_CHUNKS = 12
"""Chunks of A's streaming reply sent before it is held (its marker among them)."""


def marker() -> str:
    """A word found nowhere else: letters and digits, so titles and search keep it whole."""
    return "zq" + secrets.token_hex(6)


def chat_page(public_id: str) -> dict[str, Any]:
    """The router data of a chat's page, as the browser sends it with each event."""
    path = f"/chat/{public_id}"
    return {"pathname": path, "asPath": path, "query": {"chat_public_id": public_id}}


HOME = {"pathname": "/", "asPath": "/"}


async def until(condition: Callable[[], Any], timeout: float = 20, what: str = "") -> Any:
    """Poll `condition` (the database, the model server) until it is truthy."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.05)
    return result


def _chat(public_id: str) -> Chat | None:
    with rx.session() as session:
        return session.exec(select(Chat).where(Chat.public_id == public_id)).first()


def _messages(chat_id: int) -> list[Message]:
    with rx.session() as session:
        return list(
            session.exec(
                select(Message).where(Message.chat_id == chat_id).order_by(col(Message.id))
            ).all()
        )


@dataclass
class Victim:
    """User A: a chat with complete replies (the last in two versions, the second shown), a
    model title, its own model and system prompt; and a second chat whose reply is streaming, held open, followed live by A's tab."""

    user_id: int
    username: str
    token: str
    tab: ReflexTab
    done_chat: Chat
    live_chat: Chat
    messages: list[Message]
    """All of A's messages; the last is the streaming reply."""
    held: Reply
    trigger: str
    """What the streaming reply's request to the model is found by."""
    secrets: list[str]
    before: dict[str, Any] = field(default_factory=dict)
    """A's `snapshot` before B's attacks."""
    live_seen: list[tuple[str, str]] = field(default_factory=list)
    """Every live update A's tab received: (the reply it shows, its text so far)."""

    @property
    def streaming(self) -> Message:
        return self.messages[-1]

    @property
    def replies(self) -> list[Message]:
        return [m for m in self.messages if m.role == "assistant"]

    @property
    def questions(self) -> list[Message]:
        return [m for m in self.messages if m.role == "user"]


def snapshot(user_id: int) -> dict[str, Any]:
    """What of A's must not change: account, sessions, chats, messages, as stored."""
    with rx.session() as session:
        user = session.get(LocalUser, user_id)
        sessions = session.exec(
            select(LocalAuthSession).where(LocalAuthSession.user_id == user_id)
        ).all()
        chats = session.exec(
            select(Chat).where(Chat.owner_id == user_id).order_by(col(Chat.id))
        ).all()
        messages = session.exec(
            select(Message)
            .join(Chat, col(Chat.id) == col(Message.chat_id))
            .where(Chat.owner_id == user_id)
            .order_by(col(Message.id))
        ).all()
        return {
            "user": user.model_dump(),
            "sessions": sorted((s.session_id, str(s.expiration)) for s in sessions),
            "chats": [c.model_dump() for c in chats],
            "messages": [m.model_dump() for m in messages],
        }


async def send_and_wait(tab: ReflexTab, text: str) -> str:
    """Send a message from the tab's page; the chat's public id once the tab shows it."""
    before = tab.path
    await tab.send(handler_name(ChatState, "send"), form_data={"text": text})
    if before.startswith("/chat/"):
        return before.removeprefix("/chat/")
    return await tab.wait_for(
        lambda: tab.hydrated() and tab.path.startswith("/chat/") and tab.path[6:]
    )


def _reply_done(public_id: str, count: int) -> bool:
    chat = _chat(public_id)
    messages = _messages(chat.id) if chat else []
    return len(messages) == count and not any(m.streaming for m in messages)


async def make_victim(backend_url: str, model: FakeOpenAI) -> Victim:
    marks = {name: marker() for name in ("q1", "r1", "q2", "r2", "title", "prompt", "q3", "r3")}

    def text(name: str, kind: str) -> str:
        return f"{marks[name]} {COMMON} the {kind} of A, {marks[name]} again."

    for q, r in (("q1", "r1"), ("q2", "r2")):
        model.on(marks[q], Reply(chunks=words(text(r, "reply"), 5)))
    held = model.on(
        marks["q3"],
        Reply(chunks=words(text("r3", "streaming reply") * 4, 5), hold_after=HELD_CHUNKS),
    )
    account, token = make_user(), secrets.token_urlsafe(24)
    sign_in(account, token)
    victim_seen: list[tuple[str, str]] = []
    held_text = [None, ""]  # the live reply's base, and the text put together on it

    def on_delta(tab: ReflexTab, delta) -> None:
        """The live text, put together as components/markdown.jsx does."""
        if LiveReply.get_full_name() not in delta:
            return
        base, chunk, offset = (tab.var(LiveReply, n) for n in ("base", "chunk", "offset"))
        text = base if base != held_text[0] else held_text[1]
        text = text[:offset] + chunk
        held_text[:] = [base, text]
        victim_seen.append((tab.var(LiveReply, "message_id"), text))

    tab = ReflexTab(backend_url, local_storage={"_auth_token": token}, on_delta=on_delta)
    await tab.open("/")
    # The first chat: its own model and system prompt, chosen on the new-chat screen.
    await tab.send(handler_name(ChatSettingsState, "choose_model"), model="other-model")
    await tab.send(
        handler_name(ChatSettingsState, "save_prompt"),
        form_data={"system_prompt": text("prompt", "system prompt")},
    )
    await tab.wait_for(lambda: tab.var(ChatSettingsState, "custom_prompt") is True)
    model.title = f"{COMMON} private {marks['title']}"
    done_id = await send_and_wait(tab, text("q1", "question"))
    await until(lambda: _reply_done(done_id, 2), what="A's first reply")
    await until(lambda: _chat(done_id).title == model.title, what="A's chat title")
    model.title = None  # B's chats get no title from the model: B's own text, no marker
    await tab.wait_for(lambda: tab.var(LiveReply, "message_id") == "")
    await send_and_wait(tab, text("q2", "question"))
    await until(lambda: _reply_done(done_id, 4), what="A's second reply")
    await tab.wait_for(lambda: tab.var(LiveReply, "message_id") == "")
    # A second version of that reply, shown: the first is on a branch A does not show.
    second_reply = _messages(_chat(done_id).id)[3]
    await tab.send(handler_name(ChatState, "retry"), reply_id=second_reply.public_id)
    await until(lambda: _reply_done(done_id, 5), what="A's regenerated reply")
    await tab.wait_for(lambda: tab.var(LiveReply, "message_id") == "")
    # The second chat: its reply streams, held open after a few chunks.
    await tab.navigate("/")
    live_id = await send_and_wait(tab, text("q3", "question"))
    request = model.request_for(marks["q3"])
    await until(lambda: len(request.sent) == HELD_CHUNKS, what="A's reply to be held")
    so_far = "".join(chunk for _, chunk in request.sent)
    assert marks["r3"] in so_far
    await tab.wait_for(lambda: victim_seen and victim_seen[-1][1] == so_far)

    done_chat, live_chat = _chat(done_id), _chat(live_id)
    assert (done_chat.model, done_chat.system_prompt) == (
        "other-model",
        text("prompt", "system prompt"),
    )
    messages = _messages(done_chat.id) + _messages(live_chat.id)
    assert messages[-1].streaming and len(messages) == 7
    assert done_chat.current_leaf_id == messages[4].id != messages[3].id
    return Victim(
        user_id=account.id,
        username=account.username,
        token=token,
        tab=tab,
        done_chat=done_chat,
        live_chat=live_chat,
        messages=messages,
        held=held,
        trigger=marks["q3"],
        secrets=list(marks.values()),
        live_seen=victim_seen,
    )


# What B sends --------------------------------------------------------------------------

FORM_KEYS = (
    *("text", "title", "system_prompt", "public_id", "chat_id", "chat_public_id"),
    *("message_id", "reply_id", "id", "user_id", "owner_id", "username", "model"),
    *("query", "value", "var_name", "message", "chat", "view"),
)


def var_names(state: type[State]) -> list[str]:
    """A state's vars (its own, computed, inherited) and its own backend (`_`) vars."""
    own = getattr(state, "__annotations__", {})
    backend = [name for name in own if name.startswith("_") and not name.startswith("__")]
    return sorted({*state.vars, *backend})


def _every_var(value: Any) -> dict[str, Any]:
    """Every var of every state, by the full name `update_vars_internal` takes, set to `value`."""
    names: dict[str, Any] = {}
    pending: list[type[State]] = [State]
    while pending:
        state = pending.pop()
        pending.extend(state.get_substates())
        for var in var_names(state):
            names[f"{state.get_full_name()}.{var}{FIELD_MARKER}"] = value
    return names


def _nested(depth: int) -> Any:
    value: Any = FORGED
    for _ in range(depth):
        value = {"a": value, "b": [value]}
    return value


def _deep(depth: int) -> Any:
    value: Any = FORGED
    for _ in range(depth):
        value = {"a": value}
    return value


def records(victim: Victim) -> list[tuple[str, Any]]:
    """Dicts shaped like A's rows and views, carrying A's ids."""
    streaming, done = victim.streaming, victim.replies[0]

    def message(row: Message) -> dict[str, Any]:
        return {
            **{"id": row.id, "public_id": row.public_id, "chat_id": row.chat_id},
            **{"role": row.role, "content": FORGED, "status": row.status},
            **{"streaming": row.streaming, "model": "other-model"},
        }

    view = {
        **{"id": streaming.public_id, "role": "assistant", "content": FORGED},
        **{"status": "streaming", "error": "", "model": "", "facts": ""},
    }
    chat = victim.live_chat
    return [
        ("Message record (streaming)", message(streaming)),
        ("Message record (complete)", message(done)),
        (
            "Chat record",
            {
                **{"id": chat.id, "public_id": chat.public_id, "owner_id": victim.user_id},
                **{"title": FORGED, "model": "other-model", "system_prompt": FORGED},
            },
        ),
        ("MessageView record", view),
        ("MessageView list", [view, {**view, "id": done.public_id, "status": "complete"}]),
        ("ChatLink record", {"id": chat.public_id, "title": FORGED}),
    ]


def ids(victim: Victim) -> list[tuple[str, Any]]:
    return [
        ("A's chat id (complete)", victim.done_chat.public_id),
        ("A's chat id (streaming)", victim.live_chat.public_id),
        ("A's reply id (complete)", victim.replies[0].public_id),
        ("A's reply id (streaming)", victim.streaming.public_id),
        ("A's message id", victim.questions[-1].public_id),
        ("A's reply id (a version A does not show)", victim.replies[1].public_id),
        ("A's user id", victim.user_id),
        ("A's user id as str", str(victim.user_id)),
        ("A's username", victim.username),
    ]


def forms(victim: Victim) -> list[tuple[str, Any]]:
    """Form dicts with A's ids under every plausible key."""
    result = [
        (f"form of {label}", dict.fromkeys(FORM_KEYS, value))
        for label, value in ids(victim)
        if isinstance(value, str)
    ]
    sign_in_form = {
        **{"username": victim.username, "password": "forged password 1"},
        **{"confirm_password": "forged password 1"},
    }
    return [*result, ("sign-in form with A's username", sign_in_form)]


def garbage() -> list[tuple[str, Any]]:
    return [
        ("null", None),
        ("-1", -1),
        ("2**70", 2**70),
        ("true", True),
        ("3.5", 3.5),
        ("list", ["x", 1, None]),
        ("empty dict", {}),
        ("nested dict", _nested(6)),
        ("deep dict", _deep(200)),
        ("0.9 MB string", "x" * BIG),
    ]


def argument_values(victim: Victim) -> list[tuple[str, Any]]:
    return [
        *ids(victim),
        *records(victim),
        *forms(victim),
        ("every var of the app set to A's reply id", _every_var(victim.streaming.public_id)),
        *garbage(),
    ]


def setvar_values(victim: Victim) -> list[tuple[str, Any]]:
    keep = ("A's chat id (streaming)", "A's reply id (streaming)", "A's user id", "A's username")
    return [
        *((label, value) for label, value in ids(victim) if label in keep),
        *records(victim),
        ("form of A's chat id", dict.fromkeys(FORM_KEYS, victim.live_chat.public_id)),
        ("null", None),
        ("true", True),
        ("nested dict", _nested(4)),
    ]


def pages(victim: Victim) -> list[tuple[str, dict[str, Any]]]:
    """The pages B's events claim to come from: B's own screen, and A's chats' pages."""
    return [
        ("/", HOME),
        ("A's streaming chat page", chat_page(victim.live_chat.public_id)),
        ("A's complete chat page", chat_page(victim.done_chat.public_id)),
    ]


Call = tuple[str, Any, dict[str, Any]]
"""(what it is, payload, router data)."""


def calls_for(
    name: str,
    params: list[tuple[str, type]],
    state: type[State],
    victim: Victim,
    *,
    thorough: bool = True,
) -> list[Call]:
    """Everything B sends to one handler: each argument in turn given each of A's ids,
    records and forms (the others A's streaming chat id), from each page; no arguments,
    and extra ones; garbage from A's streaming chat's page. `thorough=False`: A's ids,
    records and forms from that page only (for calling every handler in turn)."""
    default = victim.live_chat.public_id
    plain = {p: default for p, _ in params}
    extra = {**plain, "user_id": victim.user_id, "owner_id": victim.user_id, "chat": default}
    everything, known = argument_values(victim), [*ids(victim), *records(victim), *forms(victim)]
    calls: list[Call] = []
    for index, (page, router) in enumerate(pages(victim)):
        if not thorough and index != 1:
            continue
        if thorough:
            calls.append((f"no arguments, from {page}", {}, router))
            calls.append((f"extra arguments, from {page}", extra, router))
        else:
            calls.append((f"A's chat id, from {page}", plain, router))
        for param, _ in params:
            for label, value in everything if index == 1 and thorough else known:
                calls.append((f"{param}={label}, from {page}", {**plain, param: value}, router))
    if name.endswith(".setvar"):
        router = chat_page(victim.live_chat.public_id)
        for var in [*var_names(state), "nonexistent", "router", "auth_token", "_auth_token"]:
            for label, value in setvar_values(victim):
                calls.append((f"setvar {var}={label}", {"var_name": var, "value": value}, router))
    return calls


# What B gets ---------------------------------------------------------------------------

_DATA_URI = re.compile(r"data:[^;,\"]*;base64,([A-Za-z0-9+/=]+)")


def readable(update: dict[str, Any]) -> str:
    """An update as JSON, with the base64 of any data URI (a download) decoded into it."""
    text = json.dumps(update, default=str)
    decoded = []
    for match in _DATA_URI.finditer(text):
        with contextlib.suppress(ValueError):  # not base64 after all
            decoded.append(base64.b64decode(match.group(1)).decode("utf-8", "replace"))
    return "\n".join([text, *decoded])


def leaks(received: list[str], victim: Victim) -> list[str]:
    """A's markers found in what B received, each with the start of the update it was in."""
    found = []
    for update in received:
        for secret in victim.secrets:
            if secret in update:
                at = update.index(secret)
                found.append(f"{secret} in …{update[max(0, at - 300) : at + 80]}…")
    return found


def troubles(records: list[logging.LogRecord]) -> list[str]:
    """The records a refusal must never write, errors and anything with a traceback, each
    said once with its count: the logger, and the exception's last line."""
    seen: dict[str, int] = {}
    for record in records:
        if record.levelno < logging.ERROR and not record.exc_info:
            continue
        message = record.getMessage()
        lines = [line.strip() for line in message.splitlines() if line.strip()]
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            said = f"{lines[0][:200] if lines else ''} {type(error).__name__}: {error}"
        elif "Traceback" in message:
            said = lines[-1]
        else:
            said = message
        key = f"{record.name} {record.levelname}: {said[:300]}"
        seen[key] = seen.get(key, 0) + 1
    return [f"{key} (x{count})" if count > 1 else key for key, count in seen.items()]


class Hostile:
    """User B's tab: signed in with a session of its own, redirects not followed, every
    update kept as readable text."""

    def __init__(self, backend_url: str) -> None:
        account, token = _hostile_account()
        sign_in(account, token)
        self.received: list[str] = []
        self.tab = ReflexTab(
            backend_url,
            local_storage={"_auth_token": token},
            on_update=lambda _, update: self.received.append(readable(update)),
            follow_redirects=False,
        )
        self._sentinels = 0

    async def settle(self, timeout: float = 60, quiet: float = 0.3) -> None:
        """Wait until the backend has handled everything sent so far: a marker query sent
        last comes back (events of a tab run in order), then nothing more for `quiet` s."""
        self._sentinels += 1
        sentinel = f"settled {self._sentinels} {secrets.token_hex(4)}"
        tab = self.tab
        await tab.emit(
            handler_name(SearchState, "set_query"), {"value": sentinel}, tab.router_data()
        )
        try:
            await tab.wait_for(
                lambda: tab.var(SearchState, "query") == sentinel or not tab.connected(), timeout
            )
        except TimeoutError:
            raise AssertionError(f"B's tab got no answer in {timeout} s") from None
        assert tab.connected(), "the backend closed B's socket"

        deadline = time.monotonic() + 5
        while time.monotonic() - tab.last_update < quiet and time.monotonic() < deadline:
            await asyncio.sleep(quiet / 3)


_hostile: list[LocalUser] = []


def _hostile_account() -> tuple[LocalUser, str]:
    """User B (one account for the run), with a new session token for each tab: a handler
    that signs B out only ends that tab's session."""
    if not _hostile:
        _hostile.append(make_user())
    return _hostile[0], secrets.token_urlsafe(24)
