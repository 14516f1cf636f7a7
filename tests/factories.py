"""Rows for tests, made through the app's own repository where it has a function for it."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import reflex as rx
from reflex_local_auth import LocalUser
from reflex_local_auth.auth_session import LocalAuthSession

from chatstream import repository
from chatstream.models import Chat

_names = itertools.count(1)


def make_user(name: str | None = None) -> LocalUser:
    with rx.session() as session:
        user = LocalUser(
            username=name or f"user{next(_names)}",
            password_hash=LocalUser.hash_password("correct horse"),
            enabled=True,
        )
        session.add(user)
        session.commit()
        session.refresh(user)
        return user


def sign_in(user: LocalUser, token: str) -> None:
    with rx.session() as session:
        session.add(
            LocalAuthSession(
                user_id=user.id,
                session_id=token,
                expiration=datetime.now(UTC) + timedelta(days=1),
            )
        )
        session.commit()


def make_chat(user: LocalUser, title: str = "A chat") -> Chat:
    with rx.session() as session:
        return repository.create_chat(session=session, owner_id=user.id, title=title)
