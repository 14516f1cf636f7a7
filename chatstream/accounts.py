"""Accounts: the registration rules, and password checks that take the same time for anyone.

bcrypt costs about a quarter of a second of CPU per hash or check: it runs in a worker thread
(one per worker, `BCRYPT_THREADS`), never on the event loop, where it would stall every reply streaming on
the worker. An unknown or disabled account is checked against a dummy hash of the same cost,
so its answer takes as long as a wrong password's and says the same thing.
"""

from __future__ import annotations

import asyncio
import functools
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import bcrypt
import reflex as rx
from reflex_local_auth.user import LocalUser
from sqlmodel import select

from .settings import get_signin_limits

MIN_PASSWORD = 8
MAX_PASSWORD_BYTES = 72
"""bcrypt reads no further (bcrypt 5 refuses longer passwords, older ones cut them)."""
USERNAME = re.compile(r"[A-Za-z0-9_.-]{3,40}")
USERNAME_CHARS = 255
"""The longest username looked up (the column's size)."""

SIGN_IN_FAILED = "There was a problem logging in, please try again."
BUSY = "Too many sign-ins at once. Try again in a moment."

_waiting = 0


class Busy(RuntimeError):
    """The worker has as many bcrypt jobs as it takes (`SignInLimits.bcrypt_queue`)."""


@functools.cache
def _pool() -> ThreadPoolExecutor:
    """bcrypt's own threads (`SignInLimits.bcrypt_threads`, default one per worker: the
    other cores stay free for the event loop and the streams)."""
    threads = get_signin_limits().bcrypt_threads
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bcrypt")


def busy() -> bool:
    return _waiting >= get_signin_limits().bcrypt_queue


async def _in_thread(function, *args):
    """Run a bcrypt job in the bcrypt thread, or refuse it when too many are waiting."""
    global _waiting
    if busy():
        raise Busy(BUSY)
    _waiting += 1
    try:
        return await asyncio.get_running_loop().run_in_executor(_pool(), function, *args)
    finally:
        _waiting -= 1


class Refusal(ValueError):
    """A form the app refuses; the message is shown to the visitor as it is."""


def fields(form_data: Any, *names: str) -> list[str]:
    """The named string fields of a submitted form ("" when missing); a form that is not an
    object of strings is refused, whatever a client sends in its place."""
    if not isinstance(form_data, dict):
        raise Refusal("Please fill in the form.")
    values = [form_data.get(name, "") for name in names]
    if not all(isinstance(value, str) for value in values):
        raise Refusal("Please fill in the form.")
    return values


def check_registration(username: str, password: str, confirm: str) -> None:
    if not USERNAME.fullmatch(username):
        raise Refusal("Use 3–40 letters, digits, dots, dashes or underscores.")
    if len(password) < MIN_PASSWORD:
        raise Refusal(f"Use a password of at least {MIN_PASSWORD} characters.")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise Refusal(f"Use a password of at most {MAX_PASSWORD_BYTES} bytes (ASCII characters).")
    if password != confirm:
        raise Refusal("Passwords do not match")


def _hash(password: str) -> bytes:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt())


def _check(password: str, password_hash: bytes) -> bool:
    encoded = password.encode()
    if len(encoded) > MAX_PASSWORD_BYTES:  # no account has one; bcrypt 5 would raise
        encoded = encoded[:MAX_PASSWORD_BYTES]
        password_hash = _dummy_hash()
    try:
        return bcrypt.checkpw(encoded, password_hash)
    except ValueError:  # a stored hash that is not bcrypt's: no way in
        return False


@functools.cache
def _dummy_hash() -> bytes:
    """A hash of bcrypt's default cost, the one every account's hash has."""
    return _hash("not anyone's password")


async def hash_password(password: str) -> bytes:
    return await _in_thread(_hash, password)


async def authenticate(username: str, password: str) -> int | None:
    """The id of the enabled account with this username and password, or None; as slow for
    an unknown or disabled account as for a wrong password."""
    user = None
    if len(username) <= USERNAME_CHARS and "\x00" not in username:  # no one's; PostgreSQL
        with rx.session() as session:
            user = session.exec(
                select(LocalUser).where(LocalUser.username == username)
            ).one_or_none()
    usable = user is not None and user.enabled and user.id is not None
    password_hash = user.password_hash if usable else await _in_thread(_dummy_hash)
    matches = await _in_thread(_check, password, password_hash)
    return user.id if usable and matches else None
