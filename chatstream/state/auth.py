"""Accounts on top of reflex-local-auth: stricter registration, signed in right away; sign in."""

from __future__ import annotations

import re

import reflex as rx
import reflex_local_auth
from reflex_local_auth.user import LocalUser
from sqlmodel import select

MIN_PASSWORD = 8
USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,40}$")


class SignupState(reflex_local_auth.RegistrationState):
    @rx.event
    def register(self, form_data: dict):
        username = (form_data.get("username") or "").strip()
        password = form_data.get("password") or ""
        if not USERNAME.match(username):
            self.error_message = "Use 3–40 letters, digits, dots, dashes or underscores."
            return rx.set_focus("username")
        if len(password) < MIN_PASSWORD:
            self.error_message = f"Use a password of at least {MIN_PASSWORD} characters."
            return rx.set_focus("password")
        if problem := self._validate_fields(username, password, form_data.get("confirm_password")):
            return problem
        self._register_user(username, password)
        self._login(self.new_user_id)
        self.error_message = ""
        return rx.redirect("/")


class SignInState(reflex_local_auth.LoginState):
    """Sign in, then go where the visitor was headed.

    reflex-local-auth compares the page path with "/login" to decide whether to leave the
    sign-in page; a production build serves it as "/login/", so it would never leave.
    """

    @rx.event
    def sign_in(self, form_data: dict):
        self.error_message = ""
        with rx.session() as session:
            user = session.exec(
                select(LocalUser).where(LocalUser.username == form_data.get("username", ""))
            ).one_or_none()
        password = form_data.get("password") or ""
        if user is None or not user.enabled or not password or not user.verify(password):
            self.error_message = "There was a problem logging in, please try again."
            return rx.set_value("password", "")
        self._login(user.id)
        return rx.redirect(self.redirect_to or "/")
