"""Registration on top of reflex-local-auth: stricter fields, and signed in right away."""

from __future__ import annotations

import re

import reflex as rx
import reflex_local_auth

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
