"""The event gate: what a browser may send, argument by argument."""

from __future__ import annotations

import logging

import pytest
from reflex.state import UpdateVarsInternalState

import chatstream.chatstream  # noqa: F401  (registers every state)
from chatstream import gate
from chatstream.state.chat import ChatState
from chatstream.state.live import LiveReply
from chatstream.state.sidebar import SidebarState
from tests.reflex_client import handler_name

SEND = handler_name(ChatState, "send")
RETRY = handler_name(ChatState, "retry")
AUTH_TOKEN = next(iter(gate.client_storage_vars()))


def refusal(name: str, payload: object) -> str:
    with pytest.raises(gate.Refused) as refused:
        gate.check(name, payload)
    return str(refused.value)


def test_an_allowed_event_with_its_arguments_passes():
    gate.check(SEND, {"form_data": {"text": "hello"}})
    gate.check(RETRY, {"reply_id": "Ab-_09xyz"})
    gate.check(handler_name(LiveReply, "follow"), {})


def test_a_public_method_not_on_the_surface_is_refused():
    assert "not an event" in refusal(handler_name(ChatState, "setvar"), {"var_name": "title"})
    assert "not an event" in refusal("reflex___state____state.nope.nothing", {})


def test_unknown_and_missing_arguments_are_refused():
    assert "unknown arguments" in refusal(RETRY, {"reply_id": "a", "user_id": 1})
    assert "missing arguments" in refusal(RETRY, {})
    assert "not an object" in refusal(RETRY, ["a"])


@pytest.mark.parametrize(
    "value",
    [7, None, True, ["id"], {"id": "x", "public_id": "x", "content": "x"}, "a" * 33, "a b", "../x"],
)
def test_an_id_is_a_short_token_never_a_record(value):
    assert "reply_id" in refusal(RETRY, {"reply_id": value})


def test_form_data_as_the_page_sends_it():
    gate.check(SEND, {"form_data": {"__reflex_form_data__": [["text", "hello"]]}})
    wrapped = {"__reflex_form_data__": [["text", "hi"], ["chat_id", "x"]]}
    assert "unknown form fields" in refusal(SEND, {"form_data": wrapped})
    assert "pairs" in refusal(SEND, {"form_data": {"__reflex_form_data__": [["text"]]}})
    assert "pairs" in refusal(SEND, {"form_data": {"__reflex_form_data__": [[1, "x"]]}})
    assert "short list" in refusal(SEND, {"form_data": {"__reflex_form_data__": "text"}})
    not_text = {"__reflex_form_data__": [["text", ["a"]]]}
    assert "not a string" in refusal(SEND, {"form_data": not_text})


def test_form_data_holds_only_its_string_fields():
    assert "unknown form fields" in refusal(SEND, {"form_data": {"text": "hi", "chat_id": "x"}})
    assert "not a string" in refusal(SEND, {"form_data": {"text": {"$gt": ""}}})
    assert "not an object" in refusal(SEND, {"form_data": "hi"})
    too_long = "x" * (gate.MESSAGE_FIELD_CHARS + 1)
    assert "characters" in refusal(SEND, {"form_data": {"text": too_long}})


def test_a_flag_is_a_boolean():
    gate.check(handler_name(SidebarState, "set_renaming"), {"value": False})
    assert "boolean" in refusal(handler_name(SidebarState, "set_renaming"), {"value": "yes"})


def test_browser_storage_sets_only_client_storage_vars_of_their_form():
    hydrate = "reflex___state____state.hydrate_and_load"
    gate.check(hydrate, {"vars": {AUTH_TOKEN: "token"}, "hashes": ["abc"]})
    gate.check(hydrate, {"vars": None})
    assert "not an object" in refusal(hydrate, {"vars": ["x"]})
    title = f"{ChatState.get_full_name()}.title_rx_state_"
    for odd in ({title: "mine now"}, {AUTH_TOKEN: {"id": 1}}, {AUTH_TOKEN: "tok\0en"}):
        payload = {"vars": {**odd}}
        gate.check(hydrate, payload)  # the page loads, without them
        assert payload == {"vars": {}}
    payload = {"vars": {AUTH_TOKEN: "t" * 256, title: "x"}}
    gate.check(handler_name(UpdateVarsInternalState, "update_vars_internal"), payload)
    assert payload == {"vars": {}}


async def test_the_middleware_refuses_with_one_warning_line(caplog):
    from reflex_base.event import Event

    caplog.set_level(logging.WARNING, logger="chatstream.gate")
    event = Event(name=RETRY, payload={"reply_id": {"id": 1}})
    update = await gate.EventGate().preprocess(app=None, state=None, event=event)
    assert update is not None and not update.delta and not update.events
    (record,) = caplog.records
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "refused event" in record.getMessage()
    assert (
        await gate.EventGate().preprocess(
            app=None, state=None, event=Event(name=RETRY, payload={"reply_id": "ok"})
        )
        is None
    )


@pytest.mark.parametrize(
    ("envelope", "problem"),
    [
        ("a string", "not an object"),
        ({"name": 5}, "no event name"),
        ({"name": SEND, "payload": "x"}, "arguments are not an object"),
        ({"name": SEND, "router_data": None}, "router data is not an object"),
        ({"name": SEND, "router_data": {"pathname": {"a": 1}}}, "router pathname"),
        ({"name": SEND, "router_data": {"query": "q"}}, "router query is not"),
        ({"name": SEND, "router_data": {"query": {"chat_public_id": {"x": 1}}}}, "short strings"),
    ],
)
def test_a_malformed_socket_envelope_is_refused(envelope, problem):
    assert problem in gate.envelope_problem(envelope)


def test_the_envelope_a_page_sends_passes():
    router = {"pathname": "/chat/abc", "asPath": "/chat/abc", "query": {"chat_public_id": "abc"}}
    assert gate.envelope_problem({"name": SEND, "payload": {}, "router_data": router}) is None
