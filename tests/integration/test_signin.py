"""Sign-in, registration and sign-out through the real backend, called as a hostile client
would: straight over the websocket, with any arguments.

Each tab is a `ReflexTab`; what the backend stores in the browser's localStorage (the auth
token) is kept in the tab's `local_storage`, as a browser does, so later page loads send it.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import bcrypt
import pytest
import reflex as rx
from reflex_local_auth import LocalAuthState, LocalUser, LoginState
from reflex_local_auth.auth_session import LocalAuthSession
from sqlmodel import select

from chatstream import accounts, repository, throttle
from chatstream.state.auth import SignInState, SignupState
from chatstream.state.chat import ChatState
from chatstream.state.sidebar import SidebarState
from tests.factories import make_user
from tests.fake_openai import FakeOpenAI, Reply, words
from tests.reflex_client import Delta, ReflexTab, handler_name

PASSWORD = "correct horse"  # tests/factories.py's
SIGN_IN = handler_name(SignInState, "sign_in")
REGISTER = handler_name(SignupState, "register")
STORAGE_KEY = "_auth_token"  # reflex-local-auth's localStorage name for `auth_token`


@pytest.fixture(autouse=True)
def fresh_throttle() -> Iterator[None]:
    """Every test starts with no failed sign-ins counted (all tabs come from 127.0.0.1)."""
    throttle._throttle = None
    yield
    throttle._throttle = None


def keeps_storage(tab: ReflexTab, delta: Delta) -> None:
    changes = delta.get(LocalAuthState.get_full_name(), {})
    if "auth_token_rx_state_" in changes:
        tab.local_storage[STORAGE_KEY] = changes["auth_token_rx_state_"]


async def tab_on(backend_url: str, path: str, local_storage=None) -> ReflexTab:
    tab = ReflexTab(backend_url, local_storage=local_storage, on_delta=keeps_storage)
    await tab.open(path)
    return tab


def error(tab: ReflexTab, state) -> str:
    """The form's error message (a var of reflex-local-auth's state, which ours extends)."""
    return tab.var(state.get_parent_state(), "error_message", "")


async def sign_in(tab: ReflexTab, username: str, password: str = PASSWORD) -> None:
    """Submit the sign-in form; wait for its answer (an error, or a token and the redirect)."""
    before = tab.local_storage.get(STORAGE_KEY)
    tab.state.get(LoginState.get_full_name(), {}).pop("error_message_rx_state_", None)
    await tab.send(SIGN_IN, form_data={"username": username, "password": password})
    await tab.wait_for(  # (a tab whose session ended is signed out, "", at its next page)
        lambda: error(tab, SignInState) or tab.local_storage.get(STORAGE_KEY) not in (before, "")
    )


def session_ids() -> set[str]:
    with rx.session() as session:
        return set(session.exec(select(LocalAuthSession.session_id)).all())


def user_of(token: str | None) -> int | None:
    with rx.session() as session:
        return repository.user_id_for_token(session=session, auth_token=token)


# Odd arguments -----------------------------------------------------------------------------

ODD_FORMS = [
    None,
    "username=alice&password=x",
    ["alice", "x"],
    42,
    {},
    {"username": 7, "password": "x"},
    {"username": {"$ne": ""}, "password": ["x"]},
    {"username": "a" * 200_000, "password": "b" * 200_000, "confirm_password": "c"},
    {"username": "alice", "password": None, "confirm_password": None},
]


@pytest.mark.parametrize("handler", [SIGN_IN, REGISTER])
@pytest.mark.parametrize("form", ODD_FORMS, ids=range(len(ODD_FORMS)))
async def test_odd_arguments_get_a_plain_refusal_never_a_traceback(backend_url, handler, form):
    tab = await tab_on(backend_url, "/login")
    seen: list[str] = []

    def record(client: ReflexTab, delta: Delta) -> None:
        keeps_storage(client, delta)
        seen.append(json.dumps(delta))
        seen.extend(json.dumps(event) for event in client.events)

    tab.on_delta = record
    try:
        await tab.send(handler, form_data=form)
        await tab.send(handler)  # no form at all
        # A barrier: the tab's events run in order, so once this one answered, those did too.
        await tab.send(
            REGISTER, form_data={"username": "x", "password": "", "confirm_password": ""}
        )
        await tab.wait_for(lambda: error(tab, SignupState).startswith("Use 3–40"))
        assert not any("backend_error" in text or "Traceback" in text for text in seen)
        assert tab.local_storage.get(STORAGE_KEY) in (None, "")
        assert user_of(tab.local_storage.get(STORAGE_KEY)) is None
    finally:
        await tab.close()


@pytest.mark.parametrize("token", ["t" * 100_000, "' OR 1=1 --", "a\x00b", "é"])
async def test_an_odd_stored_token_signs_no_one_in_and_breaks_nothing(backend_url, token):
    tab = await tab_on(backend_url, "/", local_storage={STORAGE_KEY: token})
    try:
        await tab.send(handler_name(SidebarState, "refresh"))
        await tab.send(handler_name(SidebarState, "logout"))
        await tab.wait_for(lambda: any(e.get("name") == "_redirect" for e in tab.events))
        assert not any("backend_error" in json.dumps(event) for event in tab.events)
    finally:
        await tab.close()


# Tokens ------------------------------------------------------------------------------------


async def test_registration_signs_in_with_a_server_made_token(backend_url):
    tab = await tab_on(backend_url, "/register")
    try:
        form = {
            "username": "newcomer1",
            "password": "long enough",
            "confirm_password": "long enough",
        }
        await tab.send(REGISTER, form_data=form)
        token = await tab.wait_for(lambda: tab.local_storage.get(STORAGE_KEY))
        assert token != tab.token and len(token) == 43
        assert tab.token not in session_ids()
        with rx.session() as session:
            user = session.exec(select(LocalUser).where(LocalUser.username == "newcomer1")).one()
        assert user_of(token) == user.id
        assert user.password_hash.startswith(b"$2b$")
    finally:
        await tab.close()


async def test_the_session_id_is_never_the_client_token(backend_url):
    user = make_user()
    tab = await tab_on(backend_url, "/login")
    try:
        await sign_in(tab, user.username)
        token = tab.local_storage[STORAGE_KEY]
        assert token != tab.token
        assert tab.token not in session_ids()
        assert user_of(token) == user.id
    finally:
        await tab.close()


async def test_each_sign_in_replaces_the_tabs_token(backend_url):
    alice, bob = make_user(), make_user()
    tab = await tab_on(backend_url, "/login")
    try:
        await sign_in(tab, alice.username)
        first = tab.local_storage[STORAGE_KEY]
        await tab.navigate("/login")
        await sign_in(tab, bob.username)
        second = tab.local_storage[STORAGE_KEY]
        assert second != first
        assert user_of(first) is None  # the previous session of the tab ended
        assert user_of(second) == bob.id
    finally:
        await tab.close()


async def test_sign_out_ends_the_session(backend_url):
    user = make_user()
    tab = await tab_on(backend_url, "/login")
    try:
        await sign_in(tab, user.username)
        token = tab.local_storage[STORAGE_KEY]
        await tab.send(handler_name(SidebarState, "logout"))
        await tab.wait_for(lambda: tab.local_storage.get(STORAGE_KEY) == "")
        assert user_of(token) is None
        assert token not in session_ids()
    finally:
        await tab.close()


async def test_a_page_move_does_not_read_the_signed_in_user_again_for_the_same_token(
    backend_url,
):
    """The page sends its storage at every move; a token it had already is not set again
    (which made reflex-local-auth read the user through the ORM at every move)."""
    user = make_user()
    seen: list[Delta] = []

    def record(tab: ReflexTab, delta: Delta) -> None:
        keeps_storage(tab, delta)
        seen.append(delta)

    tab = ReflexTab(backend_url, on_delta=record)
    await tab.open("/login")
    try:
        await sign_in(tab, user.username)
        await tab.navigate("/")
        seen.clear()
        await tab.navigate("/")
        auth = LocalAuthState.get_full_name()
        assert seen and not any(auth in delta for delta in seen)
        assert tab.var(LocalAuthState, "is_authenticated") is True
    finally:
        await tab.close()


async def test_a_tab_whose_session_ended_elsewhere_is_signed_out_at_its_next_page_move(
    backend_url,
):
    user = make_user()
    tab = await tab_on(backend_url, "/login")
    try:
        await sign_in(tab, user.username)
        await tab.navigate("/")
        assert tab.var(LocalAuthState, "is_authenticated") is True
        with rx.session() as session:  # as a sign-out in another browser, or an expiry
            repository.end_session(session=session, auth_token=tab.local_storage[STORAGE_KEY])

        await tab.navigate("/")

        await tab.wait_for(lambda: tab.local_storage.get(STORAGE_KEY) == "")
        await tab.wait_for(lambda: tab.var(LocalAuthState, "is_authenticated") is False)
    finally:
        await tab.close()


async def test_a_disabled_account_is_signed_out_and_cannot_sign_in(backend_url):
    user = make_user()
    tab = await tab_on(backend_url, "/login")
    try:
        await sign_in(tab, user.username)
        token = tab.local_storage[STORAGE_KEY]
        with rx.session() as session:
            repository.disable_user(session=session, user_id=user.id)
        assert user_of(token) is None
        await tab.navigate("/login")
        await sign_in(tab, user.username)
        assert error(tab, SignInState) == accounts.SIGN_IN_FAILED  # as for a wrong password
    finally:
        await tab.close()


# Failures ----------------------------------------------------------------------------------


async def test_unknown_user_and_wrong_password_get_the_same_answer(backend_url):
    user = make_user()
    tab = await tab_on(backend_url, "/login")
    try:
        await sign_in(tab, user.username, "wrong password")
        wrong = error(tab, SignInState)
        await sign_in(tab, "no-such-user", PASSWORD)
        assert error(tab, SignInState) == wrong == accounts.SIGN_IN_FAILED
    finally:
        await tab.close()


async def test_five_failures_lock_the_account_with_a_clear_message(backend_url):
    user = make_user()
    tab = await tab_on(backend_url, "/login")
    try:
        for _ in range(5):
            await sign_in(tab, user.username, "wrong password")
            assert error(tab, SignInState) == accounts.SIGN_IN_FAILED
        await sign_in(tab, user.username)  # the right password, too late
        assert error(tab, SignInState) == (
            "Too many failed sign-ins for this account. Try again in 30 s."
        )
        assert not tab.local_storage.get(STORAGE_KEY)
    finally:
        await tab.close()


async def test_registration_rules_hold_when_the_handler_is_called_directly(backend_url):
    tab = await tab_on(backend_url, "/register")
    try:
        long = "x" * 73
        form = {"username": "longpass1", "password": long, "confirm_password": long}
        await tab.send(REGISTER, form_data=form)
        await tab.wait_for(lambda: error(tab, SignupState))
        assert "at most 72 bytes" in error(tab, SignupState)
        with rx.session() as session:
            assert not repository.username_taken(session=session, username="longpass1")
    finally:
        await tab.close()


# bcrypt beside a streaming reply -----------------------------------------------------------


async def test_a_reply_streams_while_sign_ins_run_and_bcrypt_stays_off_the_loop(
    backend_url, model: FakeOpenAI, monkeypatch
):
    users, writer_user = [make_user() for _ in range(3)], make_user()  # hashed here, not watched
    threads: list[tuple[str, bool]] = []  # each bcrypt call: its thread, and if a loop runs there
    real_check, real_hash = bcrypt.checkpw, bcrypt.hashpw

    def on_loop() -> bool:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        return True

    def checkpw(*args, **kwargs):
        threads.append((threading.current_thread().name, on_loop()))
        return real_check(*args, **kwargs)

    def hashpw(*args, **kwargs):
        threads.append((threading.current_thread().name, on_loop()))
        return real_hash(*args, **kwargs)

    monkeypatch.setattr(bcrypt, "checkpw", checkpw)
    monkeypatch.setattr(bcrypt, "hashpw", hashpw)
    text = model.on("<beside sign-ins>", Reply(chunks=words("streamed " * 60, 9), delay=0.02)).text
    writer = await tab_on(backend_url, "/login")
    others = [await tab_on(backend_url, "/login") for _ in users]
    try:
        await sign_in(writer, writer_user.username)
        await writer.wait_for(lambda: writer.path == "/" and writer.hydrated())
        await writer.send(handler_name(ChatState, "send"), form_data={"text": "<beside sign-ins>"})
        await asyncio.gather(
            *(sign_in(tab, user.username) for tab, user in zip(others, users, strict=True))
        )
        form = {"username": "beside1", "password": "long enough", "confirm_password": "long enough"}
        await others[0].navigate("/register")
        await others[0].send(REGISTER, form_data=form)
        await writer.wait_for(
            lambda: any(
                m["content"] == text
                for m in writer.var(ChatState, "messages", []) + writer.var(ChatState, "recent", [])
            ),
            timeout=30,
        )
        await others[0].wait_for(lambda: user_of(others[0].local_storage.get(STORAGE_KEY)))
        assert len(threads) >= 5  # 4 checks and a hash
        assert not any(loop for _, loop in threads)
        assert threading.main_thread().name not in {name for name, _ in threads}
    finally:
        await asyncio.gather(*(tab.close() for tab in [writer, *others]))
