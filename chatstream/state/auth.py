"""Accounts on top of reflex-local-auth: its tables and pages' states, our own handlers.

reflex-local-auth's own `on_submit` and `handle_registration` are not called (and the event
gate refuses them): they hash on the event loop, tell a disabled account apart, skip our
registration rules and use the tab's client token as the session. Ours may be called by any
client with any arguments: a form that is not an object of strings gets a plain refusal.
"""

from __future__ import annotations

import reflex as rx
import reflex_local_auth
from sqlalchemy.exc import IntegrityError

from .. import accounts, repository
from ..accounts import Refusal
from ..throttle import get_throttle
from .session import begin_session


def _taken(username: str) -> str:
    return f"Username {username} is already registered. Try a different name"


class SignupState(reflex_local_auth.RegistrationState):
    @rx.event
    async def register(self, form_data: dict | None = None):
        """Create the account (rules of accounts.check_registration) and sign it in."""
        self.error_message = ""
        try:
            fields = accounts.fields(form_data, "username", "password", "confirm_password")
            username, password, confirm = fields[0].strip(), fields[1], fields[2]
            accounts.check_registration(username, password, confirm)
        except Refusal as refusal:
            self.error_message = str(refusal)
            return None
        with rx.session() as session:
            if repository.username_taken(session=session, username=username):
                self.error_message = _taken(username)
                return rx.set_value("username", "")
        try:
            password_hash = await accounts.hash_password(password)
        except accounts.Busy:
            self.error_message = accounts.BUSY
            return None
        try:
            with rx.session() as session:
                user = repository.create_user(
                    session=session, username=username, password_hash=password_hash
                )
                user_id = user.id
        except IntegrityError:  # registered meanwhile, from another tab
            self.error_message = _taken(username)
            return rx.set_value("username", "")
        await begin_session(self, user_id)
        return rx.redirect("/")


class SignInState(reflex_local_auth.LoginState):
    """Sign in, then go where the visitor was headed.

    reflex-local-auth compares the page path with "/login" to decide whether to leave the
    sign-in page; a production build serves it as "/login/", so it would never leave.
    """

    @rx.event
    async def sign_in(self, form_data: dict | None = None):
        """One answer for an unknown user, a disabled account and a wrong password; failures
        are throttled per account and per client address (chatstream/throttle.py)."""
        self.error_message = ""
        try:
            username, password = accounts.fields(form_data, "username", "password")
        except Refusal as refusal:
            return self._refuse(str(refusal))
        username, ip = username.strip(), self.router.session.client_ip
        throttle = get_throttle()
        if refusal := await throttle.refusal(username=username, ip=ip):
            return self._refuse(refusal)
        if accounts.busy():  # not counted as a failure
            return self._refuse(accounts.BUSY)
        await throttle.attempt(username=username, ip=ip)
        try:
            user_id = await accounts.authenticate(username, password)
        except accounts.Busy:
            return self._refuse(accounts.BUSY)
        if user_id is None:
            return self._refuse(accounts.SIGN_IN_FAILED)
        await throttle.succeeded(username=username, ip=ip)
        await begin_session(self, user_id)
        return rx.redirect(self.redirect_to or "/")

    def _refuse(self, message: str):
        self.error_message = message
        return rx.set_value("password", "")
