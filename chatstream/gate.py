"""The event gate: the one door every browser event comes through.

Reflex makes every public method of every State class an event handler that any connected
client may call with any JSON arguments (`BaseState._item_is_event_handler`), and converts a
dict argument into whatever type the handler annotates. So the app does not rely on which
handlers its pages happen to wire: `SURFACE` lists the events a browser may send, each with
the kind and size of every argument, and the gate (a Reflex middleware, run under the tab's
lock before any handler) refuses everything else with one warning line in the log. A refused
event changes nothing and sends nothing back.

Passing the gate only means an argument has the right shape. Every handler still derives the
user from the tab's sign-in token and checks in the database that the ids it was given are
theirs (state/session.py).

tests/security/test_surface.py holds the registered handlers against a reviewed list, so a new
public method fails the tests until someone adds it there and, if browsers may call it, here.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import re
from collections.abc import Mapping
from typing import Any

import reflex as rx
from reflex.middleware import Middleware
from reflex.state import (
    BaseState,
    FrontendEventExceptionState,
    OnLoadInternalState,
    State,
    StateUpdate,
    UpdateVarsInternalState,
)
from reflex_base.constants.state import FIELD_MARKER
from reflex_base.event import Event
from reflex_base.registry import RegistrationContext
from reflex_base.utils.form import FORM_DATA_ENTRIES_KEY
from reflex_local_auth import LoginState

from . import repository
from .settings import MAX_MESSAGE_CHARS, SYSTEM_PROMPT_CHARS
from .state.auth import SignInState, SignupState
from .state.chat import COMPOSER_ID, ChatState
from .state.chat_settings import SYSTEM_PROMPT_ID, ChatSettingsState
from .state.live import LiveReply
from .state.search import QUERY_CHARS, SearchState
from .state.sidebar import SidebarState
from .state.transfer import TransferState

log = logging.getLogger(__name__)


class Refused(ValueError):
    """An event the gate does not let through; the message says why, for the log."""


@dataclasses.dataclass(frozen=True)
class Text:
    """A string of at most `max_chars` characters; with `pattern`, matching it whole."""

    max_chars: int
    pattern: re.Pattern[str] | None = None

    def check(self, value: Any) -> None:
        if not isinstance(value, str):
            raise Refused(f"not a string but {type(value).__name__}")
        if len(value) > self.max_chars:
            raise Refused(f"{len(value):,} characters, more than {self.max_chars:,}")
        if self.pattern is not None and not self.pattern.fullmatch(value):
            raise Refused("not of the expected form")


ID = Text(32, re.compile(r"[A-Za-z0-9_-]+"))
"""A public id (models.new_public_id): never a database id, never a record."""


@dataclasses.dataclass(frozen=True)
class Flag:
    def check(self, value: Any) -> None:
        if not isinstance(value, bool):
            raise Refused(f"not a boolean but {type(value).__name__}")


@dataclasses.dataclass(frozen=True)
class Form:
    """Form data as a browser submits it: named string fields, none other."""

    fields: Mapping[str, int]
    """Field name: its longest value. Reflex's forms also send each field that has an `id`
    under that id, so an id is a field name too."""

    def check(self, value: Any) -> None:
        if not isinstance(value, dict):
            raise Refused(f"form data is not an object but {type(value).__name__}")
        if set(value) == {FORM_DATA_ENTRIES_KEY}:  # as the page sends it: [name, value] pairs
            entries = value[FORM_DATA_ENTRIES_KEY]
            if not isinstance(entries, list) or len(entries) > 4 * len(self.fields):
                raise Refused("form entries are not a short list")
            if not all(
                isinstance(e, list) and len(e) == 2 and isinstance(e[0], str) for e in entries
            ):
                raise Refused("form entries are not [name, value] pairs")
            value = dict(entries)
        if unknown := set(value) - set(self.fields):
            raise Refused(f"unknown form fields {sorted(map(str, unknown))[:5]}")
        for name, field in value.items():
            try:
                Text(self.fields[name]).check(field)
            except Refused as refused:
                raise Refused(f"form field {name!r}: {refused}") from None


@dataclasses.dataclass(frozen=True)
class Storage:
    """Browser storage values sent at (re)connect: the app's client-storage vars only. The
    one there is, the sign-in token, is empty or of the form repository.AUTH_TOKEN."""

    optional: bool = False

    def check(self, value: Any) -> None:
        if value is None and self.optional:
            return
        if not isinstance(value, dict):
            raise Refused(f"storage is not an object but {type(value).__name__}")

    def clean(self, value: dict | None) -> None:
        """Drop, in place, the values that are not the app's or not of their form: the page
        still loads (signed out, for a token that is no one's) rather than not at all."""
        allowed = client_storage_vars()
        for name, stored in list((value or {}).items()):
            if name not in allowed:
                problem = "not a storage var of the app"
            elif not isinstance(stored, str):
                problem = f"not a string but {type(stored).__name__}"
            elif stored and not repository.AUTH_TOKEN.fullmatch(stored):
                problem = "not a sign-in token"
            else:
                continue
            log.warning("dropped browser storage %s: %s", str(name)[:80], problem)
            del value[name]


@dataclasses.dataclass(frozen=True)
class Hashes:
    """The compiled initial-state hashes a page sends at its first hydrate."""

    def check(self, value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, list) or len(value) > 200:
            raise Refused("hashes are not a short list")
        for item in value:
            Text(128).check(item)


@dataclasses.dataclass(frozen=True)
class Files:
    """Uploaded files (Reflex's upload endpoint builds these; a socket event cannot)."""

    max_files: int = 1

    def check(self, value: Any) -> None:
        if not isinstance(value, list) or len(value) > self.max_files:
            raise Refused(f"not a list of at most {self.max_files} file(s)")
        if not all(isinstance(item, rx.UploadFile) for item in value):
            raise Refused("not uploaded files")


Kind = Text | Flag | Form | Storage | Hashes | Files

CREDENTIALS = {"username": 200, "password": 1024}
MESSAGE_FIELD_CHARS = 10 * MAX_MESSAGE_CHARS
"""Longer than a message may be, so the composer can say why it refuses one (ChatState)."""


def _event(state: type[BaseState], handler: str) -> str:
    return f"{state.get_full_name()}.{handler}"


UPDATE_VARS = _event(UpdateVarsInternalState, "update_vars_internal")
"""A page's browser storage, sent at every move from page to page (see drop_unchanged)."""

SURFACE: dict[str, dict[str, Kind]] = {
    # Reflex's own: connecting, page loads, browser storage, errors seen by the page.
    _event(State, "hydrate"): {},
    _event(State, "hydrate_and_load"): {"vars": Storage(optional=True), "hashes": Hashes()},
    _event(State, "set_is_hydrated"): {"value": Flag()},
    _event(OnLoadInternalState, "on_load_internal"): {},
    _event(OnLoadInternalState, "set_is_hydrated"): {"value": Flag()},
    UPDATE_VARS: {"vars": Storage()},
    _event(FrontendEventExceptionState, "handle_frontend_exception"): {
        "info": Text(20_000),
        "component_stack": Text(20_000),
    },
    # Accounts (reflex-local-auth's own submit and registration handlers are not here).
    _event(LoginState, "redir"): {},
    _event(SignInState, "sign_in"): {"form_data": Form(CREDENTIALS)},
    _event(SignupState, "register"): {
        "form_data": Form({**CREDENTIALS, "confirm_password": CREDENTIALS["password"]})
    },
    # The open chat.
    _event(ChatState, "open_chat"): {},
    _event(ChatState, "new_chat"): {},
    _event(ChatState, "watch"): {},
    _event(ChatState, "send"): {
        "form_data": Form({"text": MESSAGE_FIELD_CHARS, COMPOSER_ID: MESSAGE_FIELD_CHARS})
    },
    _event(ChatState, "stop"): {},
    _event(ChatState, "retry"): {"reply_id": ID},
    _event(ChatState, "show_version"): {"message_id": ID},
    _event(ChatState, "start_edit"): {"message_id": ID},
    _event(ChatState, "cancel_edit"): {},
    _event(ChatState, "save_edit"): {"form_data": Form({"text": MESSAGE_FIELD_CHARS})},
    _event(LiveReply, "follow"): {},
    _event(LiveReply, "resync"): {},
    # Its model and system prompt.
    _event(ChatSettingsState, "load_models"): {},
    _event(ChatSettingsState, "choose_model"): {"model": Text(200)},
    _event(ChatSettingsState, "set_editing"): {"value": Flag()},
    _event(ChatSettingsState, "use_default_prompt"): {},
    _event(ChatSettingsState, "save_prompt"): {
        "form_data": Form(
            {"system_prompt": 4 * SYSTEM_PROMPT_CHARS, SYSTEM_PROMPT_ID: 4 * SYSTEM_PROMPT_CHARS}
        )
    },
    # The sidebar: chats, search, rename, delete, sign out.
    _event(SidebarState, "refresh"): {},
    _event(SidebarState, "toggle"): {},
    _event(SidebarState, "ask_rename"): {"public_id": ID},
    _event(SidebarState, "ask_delete"): {"public_id": ID},
    _event(SidebarState, "set_renaming"): {"value": Flag()},
    _event(SidebarState, "set_deleting"): {"value": Flag()},
    _event(SidebarState, "rename"): {"form_data": Form({"title": 1_000})},
    _event(SidebarState, "delete"): {},
    _event(SidebarState, "logout"): {},
    _event(SearchState, "set_query"): {"value": Text(4 * QUERY_CHARS)},
    _event(SearchState, "clear"): {},
    # Export and import.
    _event(TransferState, "export_markdown"): {},
    _event(TransferState, "export_json"): {},
    _event(TransferState, "clear_import_error"): {},
    _event(TransferState, "import_chat"): {"files": Files()},
}
"""Every event a browser may send, with the kind of each argument."""


@functools.cache
def client_storage_vars() -> frozenset[str]:
    """Full names (`<state>.<var>_rx_state_`) of the vars a browser keeps in its storage."""
    from reflex.compiler.utils import compile_client_storage

    compiled = compile_client_storage(State)
    return frozenset(name for kind in compiled.values() for name in kind)


def check(name: str, payload: Any) -> None:
    """Raise Refused unless the event `name` with `payload` is on the surface. Browser storage
    values of the wrong form are dropped from `payload` (see Storage.clean)."""
    kinds = SURFACE.get(name)
    if kinds is None:
        raise Refused("not an event browsers may send")
    if not isinstance(payload, dict):
        raise Refused("arguments are not an object")
    if unknown := set(payload) - set(kinds):
        raise Refused(f"unknown arguments {sorted(map(str, unknown))[:5]}")
    if missing := [argument for argument in _required(name) if argument not in payload]:
        raise Refused(f"missing arguments {missing}")
    for argument, value in payload.items():
        try:
            kinds[argument].check(value)
        except Refused as refused:
            raise Refused(f"argument {argument!r}: {refused}") from None
        if isinstance(kinds[argument], Storage):
            kinds[argument].clean(value)


@functools.cache
def _required(name: str) -> tuple[str, ...]:
    """The arguments of the handler `name` that have no default."""
    registered = RegistrationContext.get().event_handlers.get(name)
    if registered is None:
        return ()
    parameters = list(inspect.signature(registered.handler.fn).parameters.values())[1:]
    return tuple(p.name for p in parameters if p.default is p.empty)


def envelope_problem(data: Any) -> str | None:
    """What is wrong with a socket event's envelope, which Reflex reads before any middleware
    (a malformed one would end in a traceback there); None when it is as a page sends it."""
    if not isinstance(data, dict):
        return f"not an object but {type(data).__name__}"
    name, payload, router = data.get("name"), data.get("payload", {}), data.get("router_data", {})
    if not isinstance(name, str) or not 0 < len(name) <= 500:
        return "no event name"
    if not isinstance(payload, dict):
        return f"{name[-120:]}: arguments are not an object"
    if not isinstance(router, dict):
        return f"{name[-120:]}: router data is not an object"
    for key in ("pathname", "asPath"):
        if not isinstance(router.get(key, ""), str) or len(router.get(key, "")) > 2_000:
            return f"{name[-120:]}: router {key} is not a short string"
    query = router.get("query", {})
    if not isinstance(query, dict) or len(query) > 50:
        return f"{name[-120:]}: router query is not a small object"
    for key, value in query.items():
        values = value if isinstance(value, list) else [value]
        if len(key) > 200 or not all(isinstance(v, str) and len(v) <= 2_000 for v in values):
            return f"{name[-120:]}: router query {key[:40]!r} is not short strings"
    return None


def _guard_socket(namespace: type) -> None:
    """Check the envelope of every socket event (a connect's first one too) before Reflex
    reads it."""
    original = namespace.on_event
    if getattr(original, "guarded", False):
        return

    async def on_event(self, sid: str, data: Any) -> None:
        if (problem := envelope_problem(data)) is not None:
            log.warning("refused socket event: %s", problem)
            return
        await original(self, sid, data)

    on_event.guarded = True
    namespace.on_event = on_event


async def drop_unchanged(state: BaseState, values: dict[str, Any]) -> None:
    """Drop, in place, the storage values that `state`'s tab holds already.

    A page sends its browser storage at every move from page to page, and Reflex sets each
    var it gets, changed or not. The sign-in token set again made reflex-local-auth's
    `authenticated_user` read the database through the ORM at every page move: 5.5 % of the
    worker's CPU per exchange (py-spy, 150 exchanges). A token that changed (a sign-in or
    sign-out in another tab) is still set; a page move of a tab whose session has ended
    since is signed out by SidebarState.refresh, which reads the token's user anyway.
    `values` passed `Storage.clean`: every name is one of the app's storage vars."""
    for name, value in list(values.items()):
        state_name, _, var_name = name.rpartition(".")
        owner = await state.get_state(State.get_class_substate(state_name))
        if getattr(owner, var_name.removesuffix(FIELD_MARKER)) == value:
            del values[name]


class EventGate(Middleware):
    async def preprocess(self, app, state: BaseState, event: Event) -> StateUpdate | None:
        try:
            check(event.name, event.payload)
        except Refused as refused:
            log.warning("refused event %s: %s", event.name[-120:], refused)
            return StateUpdate()
        if event.name == UPDATE_VARS:
            await drop_unchanged(state, event.payload["vars"])
        return None


class _UnknownEventsAsRefusals(logging.Filter):
    """Reflex logs an event with no handler at all as an exception with its traceback; it is
    a client sending nonsense, so it is logged like any other refusal: one warning line."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, KeyError) and "No registered handler" in str(error):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg, record.args, record.exc_info, record.exc_text = (
                "refused event: %s",
                (str(error.args[0])[:200],),
                None,
                None,
            )
        return True


def page_error(exception: Exception) -> None:
    """An error a page reports (rx.App's frontend_exception_handler). Any client can send
    one with any text, so it is one warning line, cut short and made safe for the log."""
    from reflex_base.utils.format import sanitize_client_log_value

    log.warning("a page reported an error: %s", sanitize_client_log_value(exception, 300))


def install(app: rx.App) -> None:
    """Put the gate in front of every handler of `app`."""
    from reflex.app import EventNamespace

    app.add_middleware(EventGate(), index=0)
    _guard_socket(EventNamespace)
    logging.getLogger("reflex_base.event.processor.event_processor").addFilter(
        _UnknownEventsAsRefusals()
    )
