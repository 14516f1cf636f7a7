"""Who is signed in, read fresh from the database for every decision that needs it; sign-in
and sign-out of a tab."""

from __future__ import annotations

import reflex as rx
from reflex.model import get_engine
from reflex_local_auth import LocalAuthState

from .. import repository


async def current_user_id(state: rx.State) -> int | None:
    """The user signed in on `state`'s tab, from its auth token, never from browser-sent ids."""
    auth = await state.get_state(LocalAuthState)
    with get_engine().connect() as connection:
        return repository.user_id_for_token(session=connection, auth_token=auth.auth_token)


async def begin_session(state: rx.State, user_id: int) -> None:
    """Sign the tab in as `user_id` with a new server-made token (kept in the browser's
    localStorage, `_auth_token`); the tab's previous session ends.

    Never the tab's client token, as reflex-local-auth's `_login` uses: that one is made by
    `Math.random` in the browser and travels in the websocket URL.
    """
    auth = await state.get_state(LocalAuthState)
    with rx.session() as session:
        repository.end_session(session=session, auth_token=auth.auth_token)
        auth.auth_token = repository.start_session(session=session, user_id=user_id)


async def end_session(state: rx.State) -> None:
    """Sign the tab out: its session ends in the database and the browser forgets the token."""
    auth = await state.get_state(LocalAuthState)
    with rx.session() as session:
        repository.end_session(session=session, auth_token=auth.auth_token)
    auth.auth_token = ""
