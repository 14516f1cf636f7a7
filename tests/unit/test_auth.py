"""Sign-in and accounts: the throttle, one answer for every failure, server-made session tokens,
disabled accounts, the registration rules."""

from __future__ import annotations

import threading
import uuid

import bcrypt
import pytest
import reflex as rx
from reflex_local_auth import LocalUser

from chatstream import accounts, repository
from chatstream.accounts import Refusal
from chatstream.throttle import RedisCounts, Throttle
from tests.factories import make_user, sign_in
from tests.services import REDIS_URL

PASSWORD = "correct horse"  # tests/factories.py's


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def fail(throttle: Throttle, times: int, username: str = "alice", ip: str = "10.0.0.1"):
    for _ in range(times):
        await throttle.attempt(username=username, ip=ip)


# The throttle ------------------------------------------------------------------------------


async def test_five_failures_lock_the_account_for_30_seconds():
    clock = Clock()
    throttle = Throttle(clock=clock)
    await fail(throttle, 4)
    assert await throttle.refusal(username="alice", ip="10.0.0.9") is None
    await fail(throttle, 1)
    assert await throttle.refusal(username="alice", ip="10.0.0.9") == (
        "Too many failed sign-ins for this account. Try again in 30 s."
    )
    assert await throttle.refusal(username="bob", ip="10.0.0.9") is None
    clock.now += 30.5
    assert await throttle.refusal(username="alice", ip="10.0.0.9") is None


async def test_each_failure_past_the_limit_doubles_the_wait():
    throttle = Throttle(clock=Clock())
    await fail(throttle, 6)
    assert "Try again in 60 s" in await throttle.refusal(username="alice", ip="x")
    await fail(throttle, 10)
    assert "Try again in 900 s" in await throttle.refusal(username="alice", ip="x")  # the cap


async def test_the_username_is_counted_whatever_its_case_and_spaces():
    throttle = Throttle(clock=Clock())
    await fail(throttle, 5, username=" Alice ")
    assert await throttle.refusal(username="alice", ip="x") is not None


async def test_a_client_failing_on_many_accounts_is_locked_out():
    throttle = Throttle(clock=Clock())
    for n in range(20):
        await fail(throttle, 1, username=f"user{n}", ip="10.0.0.7")
    assert await throttle.refusal(username="someone", ip="10.0.0.7") == (
        "Too many failed sign-ins from your address. Try again in 30 s."
    )
    assert await throttle.refusal(username="someone", ip="10.0.0.8") is None


async def test_a_success_resets_the_accounts_count():
    throttle = Throttle(clock=Clock())
    await fail(throttle, 4)
    await throttle.attempt(username="alice", ip="10.0.0.1")
    await throttle.succeeded(username="alice", ip="10.0.0.1")
    await fail(throttle, 4)
    assert await throttle.refusal(username="alice", ip="10.0.0.1") is None


async def test_counts_are_forgotten_after_the_window(monkeypatch):
    monkeypatch.setenv("CHATSTREAM_SIGNIN_WINDOW", "60")
    monkeypatch.setenv("CHATSTREAM_SIGNIN_MAX_LOCKOUT", "60")
    throttle = Throttle(clock=Clock())
    await fail(throttle, 4)
    throttle.clock.now += 121
    await fail(throttle, 4)
    assert await throttle.refusal(username="alice", ip="10.0.0.1") is None


async def test_the_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("CHATSTREAM_SIGNIN_ACCOUNT_FAILURES", "2")
    monkeypatch.setenv("CHATSTREAM_SIGNIN_LOCKOUT", "5")
    throttle = Throttle(clock=Clock())
    await fail(throttle, 2)
    assert "Try again in 5 s" in await throttle.refusal(username="alice", ip="x")


async def test_workers_share_the_counts_through_redis():
    prefix = f"chatstream-test-{uuid.uuid4().hex[:8]}"
    one, two = (Throttle(RedisCounts(REDIS_URL, prefix), clock=Clock()) for _ in range(2))
    await fail(one, 3)
    await fail(two, 2)
    assert "for this account" in await one.refusal(username="alice", ip="y")
    assert "for this account" in await two.refusal(username="alice", ip="y")
    await two.succeeded(username="alice", ip="10.0.0.1")
    assert await one.refusal(username="alice", ip="y") is None
    await one.shared.client.aclose()
    await two.shared.client.aclose()


async def test_without_redis_a_worker_counts_in_memory():
    throttle = Throttle(RedisCounts("redis://127.0.0.1:1/0", "nowhere"), clock=Clock())
    await fail(throttle, 5)
    assert "for this account" in await throttle.refusal(username="alice", ip="y")
    assert not throttle.connected


# One answer for every failure --------------------------------------------------------------


@pytest.fixture
def checks(monkeypatch) -> list[tuple[bytes, str]]:
    """Every bcrypt check: the hash's cost prefix and the thread it ran in."""
    seen: list[tuple[bytes, str]] = []
    real = bcrypt.checkpw

    def checkpw(password: bytes, hashed: bytes) -> bool:
        seen.append((hashed[:7], threading.current_thread().name))
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", checkpw)
    return seen


async def test_a_good_password_signs_in():
    user = make_user()
    assert await accounts.authenticate(user.username, PASSWORD) == user.id


async def test_unknown_user_disabled_account_and_wrong_password_cost_one_check_alike(checks):
    user, disabled = make_user(), make_user()
    with rx.session() as session:
        repository.disable_user(session=session, user_id=disabled.id)
    assert await accounts.authenticate(user.username, "wrong password") is None
    assert await accounts.authenticate("nobody-at-all", PASSWORD) is None
    assert await accounts.authenticate(disabled.username, PASSWORD) is None
    assert await accounts.authenticate("x" * 10_000, PASSWORD) is None
    assert await accounts.authenticate("a\x00b", PASSWORD) is None
    assert [cost for cost, _ in checks] == [user.password_hash[:7]] * 5  # e.g. b"$2b$12$"


async def test_bcrypt_runs_off_the_event_loop(checks):
    user = make_user()
    await accounts.authenticate(user.username, PASSWORD)
    await accounts.hash_password("a new password")
    assert checks and all(thread != threading.main_thread().name for _, thread in checks)


async def test_a_password_longer_than_bcrypt_reads_never_signs_in(checks):
    user = make_user()
    assert await accounts.authenticate(user.username, PASSWORD + "x" * 100) is None
    assert len(checks) == 1


# Session tokens ----------------------------------------------------------------------------


def test_session_tokens_are_made_by_the_server_new_each_time():
    user = make_user()
    with rx.session() as session:
        tokens = {repository.start_session(session=session, user_id=user.id) for _ in range(3)}
        assert len(tokens) == 3
        assert all(len(token) == 43 for token in tokens)  # 32 random bytes, URL-safe
        assert {repository.user_id_for_token(session=session, auth_token=t) for t in tokens} == {
            user.id
        }


def test_sign_out_ends_the_session():
    user = make_user()
    with rx.session() as session:
        token = repository.start_session(session=session, user_id=user.id)
        repository.end_session(session=session, auth_token=token)
        assert repository.user_id_for_token(session=session, auth_token=token) is None


@pytest.mark.parametrize(
    "token", [None, 42, ["a"], {"session_id": "x"}, "x" * 100_000, "", "a\x00b", "' OR 1=1"]
)
def test_a_token_that_is_not_a_short_string_is_no_ones(token):
    with rx.session() as session:
        assert repository.user_id_for_token(session=session, auth_token=token) is None
        repository.end_session(session=session, auth_token=token)  # and nothing breaks


def test_disabling_an_account_ends_its_sessions():
    user, other = make_user(), make_user()
    with rx.session() as session:
        token = repository.start_session(session=session, user_id=user.id)
        kept = repository.start_session(session=session, user_id=other.id)
        repository.disable_user(session=session, user_id=user.id)
        assert repository.user_id_for_token(session=session, auth_token=token) is None
        assert repository.user_id_for_token(session=session, auth_token=kept) == other.id
        assert session.get(LocalUser, user.id).enabled is False


def test_a_disabled_accounts_token_is_refused_even_if_its_session_is_left():
    user = make_user()
    with rx.session() as session:
        repository.disable_user(session=session, user_id=user.id)
    sign_in(user, "left-over-session")
    with rx.session() as session:
        assert repository.user_id_for_token(session=session, auth_token="left-over-session") is None


# Registration rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "password", "confirm", "message"),
    [
        ("ab", "long enough", "long enough", "Use 3–40 letters"),
        ("bad name!", "long enough", "long enough", "Use 3–40 letters"),
        ("a" * 41, "long enough", "long enough", "Use 3–40 letters"),
        ("alice", "short", "short", "at least 8 characters"),
        ("alice", "x" * 73, "x" * 73, "at most 72 bytes"),
        ("alice", "é" * 37, "é" * 37, "at most 72 bytes"),  # 37 characters, 74 bytes
        ("alice", "long enough", "not the same", "Passwords do not match"),
    ],
)
def test_registration_rules(username, password, confirm, message):
    with pytest.raises(Refusal, match=message):
        accounts.check_registration(username, password, confirm)


def test_a_password_of_72_bytes_is_accepted():
    accounts.check_registration("alice", "x" * 72, "x" * 72)


@pytest.mark.parametrize(
    "form", [None, "username=a", ["a", "b"], {"username": 1}, {"username": "a", "password": []}]
)
def test_a_form_that_is_not_an_object_of_strings_is_refused(form):
    with pytest.raises(Refusal, match="Please fill in the form."):
        accounts.fields(form, "username", "password")


def test_missing_fields_are_empty():
    assert accounts.fields({"username": "a"}, "username", "password") == ["a", ""]
