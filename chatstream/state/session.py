"""Who is signed in, read fresh from the database for every decision that needs it."""

from __future__ import annotations

import reflex as rx
from reflex_local_auth import LocalAuthState

from .. import repository


async def current_user_id(state: rx.State) -> int | None:
    """The user signed in on `state`'s tab, from its auth token, never from browser-sent ids."""
    auth = await state.get_state(LocalAuthState)
    with rx.session() as session:
        return repository.user_id_for_token(session=session, auth_token=auth.auth_token)
