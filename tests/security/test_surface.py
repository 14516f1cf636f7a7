"""The event surface, reviewed: every handler a browser can call, held against a list.

Reflex registers every public method of every State class as an event handler, whether a page
wires it or not. A new public method (a helper someone forgot to name `_helper`) fails here
until it is added to REVIEWED on purpose; the gate (chatstream/gate.py) refuses it at run
time until it is also added to gate.SURFACE with the kinds of its arguments.
"""

from __future__ import annotations

import inspect

from reflex_base.registry import RegistrationContext
from reflex_base.utils import types

from chatstream import gate
from tests.security.surface import registered

REFUSED = "refused"
"""Registered, but not on the gate's surface: a browser's call is refused unread."""

REVIEWED: dict[str, str] = {
    # Reflex's own.
    "State.hydrate": "()",
    "State.hydrate_and_load": "(vars: dict[str, Any] | None, hashes: list[str] | None)",
    "State.set_is_hydrated": "(value: bool)",
    "State.setvar": REFUSED,
    "OnLoadInternalState.on_load_internal": "()",
    "OnLoadInternalState.set_is_hydrated": "(value: bool)",
    "OnLoadInternalState.setvar": REFUSED,
    "UpdateVarsInternalState.update_vars_internal": "(vars: dict[str, Any])",
    "UpdateVarsInternalState.setvar": REFUSED,
    "FrontendEventExceptionState.handle_frontend_exception": "(info: str, component_stack: str)",
    "FrontendEventExceptionState.setvar": REFUSED,
    "SharedStateBaseInternal.setvar": REFUSED,
    # reflex-local-auth's: its submit and registration skip our rules, so they are refused.
    "LocalAuthState.do_logout": REFUSED,
    "LocalAuthState.setvar": REFUSED,
    "LoginState.on_submit": REFUSED,
    "LoginState.redir": "()",
    "LoginState.setvar": REFUSED,
    "RegistrationState.handle_registration": REFUSED,
    "RegistrationState.set_success": REFUSED,
    "RegistrationState.successful_registration": REFUSED,
    "RegistrationState.redir": REFUSED,
    "RegistrationState.setvar": REFUSED,
    # Ours.
    "SignInState.sign_in": "(form_data: dict | None)",
    "SignInState.setvar": REFUSED,
    "SignupState.register": "(form_data: dict | None)",
    "SignupState.setvar": REFUSED,
    "ChatState.open_chat": "()",
    "ChatState.new_chat": "()",
    "ChatState.watch": "() background",
    "ChatState.send": "(form_data: dict)",
    "ChatState.stop": "()",
    "ChatState.retry": "(reply_id: str)",
    "ChatState.show_version": "(message_id: str)",
    "ChatState.start_edit": "(message_id: str)",
    "ChatState.cancel_edit": "()",
    "ChatState.save_edit": "(form_data: dict)",
    "ChatState.setvar": REFUSED,
    "Live.follow": "() background",
    "Live.resync": "()",
    "Live.setvar": REFUSED,
    "ChatSettingsState.load_models": "() background",
    "ChatSettingsState.choose_model": "(model: str)",
    "ChatSettingsState.set_editing": "(value: bool)",
    "ChatSettingsState.use_default_prompt": "()",
    "ChatSettingsState.save_prompt": "(form_data: dict)",
    "ChatSettingsState.setvar": REFUSED,
    "SidebarState.refresh": "()",
    "SidebarState.toggle": "()",
    "SidebarState.ask_rename": "(public_id: str)",
    "SidebarState.ask_delete": "(public_id: str)",
    "SidebarState.set_renaming": "(value: bool)",
    "SidebarState.set_deleting": "(value: bool)",
    "SidebarState.rename": "(form_data: dict)",
    "SidebarState.delete": "()",
    "SidebarState.logout": "()",
    "SidebarState.setvar": REFUSED,
    "SearchState.set_query": "(value: str)",
    "SearchState.clear": "()",
    "SearchState.setvar": REFUSED,
    "TransferState.export_markdown": "()",
    "TransferState.export_json": "()",
    "TransferState.clear_import_error": "()",
    "TransferState.import_chat": "(files: list[UploadFile])",
    "TransferState.setvar": REFUSED,
}
"""Every registered handler: its signature as a browser sees it, or REFUSED."""

PRIMITIVES = {"str", "bool", "dict", "dict[str, Any]", "list[str]", "list[UploadFile]"}
"""What an allowed handler may take from a browser: never a record (Reflex would build one
from the browser's dict)."""


def _short(name: str) -> str:
    state, _, handler = name.rpartition(".")
    return f"{RegistrationContext.get().base_states[state].__name__}.{handler}"


def _annotation(hint: object) -> str:
    text = inspect.formatannotation(hint)
    return text.replace("typing.", "").replace("reflex_components_core.core._upload.", "")


def _signature(registered) -> str:
    fn = registered.handler.fn
    hints = types.get_type_hints(fn)
    params = list(inspect.signature(fn).parameters)[1:]
    shown = ", ".join(f"{p}: {_annotation(hints.get(p, 'Any'))}" for p in params)
    return f"({shown})" + (" background" if registered.handler.is_background else "")


def registered_surface() -> dict[str, tuple[str, str]]:
    """Short name (`ChatState.send`) -> (full event name, signature), for every handler."""
    return {_short(name): (name, _signature(handler)) for name, handler in registered().items()}


def test_every_registered_handler_was_reviewed():
    registered = registered_surface()
    assert sorted(set(registered) - set(REVIEWED)) == [], "new handlers: review and list them"
    assert sorted(set(REVIEWED) - set(registered)) == [], "gone: take them off the list"


def test_allowed_handlers_have_the_reviewed_signatures():
    registered = registered_surface()
    changed = {
        short: signature
        for short, (_, signature) in registered.items()
        if REVIEWED.get(short, REFUSED) not in (REFUSED, signature)
    }
    assert changed == {}


def test_the_gate_lets_through_exactly_the_allowed_handlers():
    registered = registered_surface()
    allowed = {registered[s][0] for s, reviewed in REVIEWED.items() if reviewed != REFUSED}
    assert set(gate.SURFACE) == allowed


def test_the_gate_knows_the_kind_of_every_argument():
    for short, (name, _) in registered_surface().items():
        if name in gate.SURFACE:
            params = list(inspect.signature(_fn(name)).parameters)[1:]
            assert sorted(gate.SURFACE[name]) == sorted(params), short


def test_allowed_handlers_take_only_primitives():
    for name in gate.SURFACE:
        hints = types.get_type_hints(_fn(name))
        for param in list(inspect.signature(_fn(name)).parameters)[1:]:
            annotation = _annotation(types.value_inside_optional(hints[param]))
            assert annotation in PRIMITIVES, f"{_short(name)}({param}: {annotation})"


def _fn(name: str):
    return RegistrationContext.get().event_handlers[name].handler.fn
