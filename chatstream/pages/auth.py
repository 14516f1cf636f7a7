"""/login and /register."""

import reflex as rx

from ..state.auth import SignInState, SignupState


def _field(name: str, label: str, testid: str, kind: str = "text") -> rx.Component:
    return rx.vstack(
        rx.text(label, as_="label", html_for=name, size="2", weight="medium"),
        rx.input(
            id=name,
            name=name,
            type=kind,
            width="100%",
            size="3",
            custom_attrs={"data-testid": testid},
        ),
        spacing="1",
        width="100%",
    )


def _card(title: str, form: rx.Component, error, footer: rx.Component) -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                rx.heading(title, size="6"),
                rx.cond(error != "", rx.callout(error, icon="triangle-alert", color_scheme="red")),
                form,
                footer,
                spacing="4",
                width="100%",
            ),
            size="4",
            width="min(400px, 92vw)",
        ),
        min_height="100vh",
        class_name="auth-page",
    )


def _submit(label: str) -> rx.Component:
    """Disabled until the page is live: the served HTML has the form before its script runs,
    and a submit then would be the browser's own, a GET with the password in the address.
    With the form's only submit button disabled, neither a click nor Enter submits it."""
    return rx.button(
        label,
        type="submit",
        size="3",
        width="100%",
        disabled=~rx.State.is_hydrated,
        custom_attrs={"data-testid": "submit"},
    )


@rx.page(route="/login", title="Sign in · chatstream")
def login() -> rx.Component:
    state = SignInState
    form = rx.form(
        rx.vstack(
            _field("username", "Username", "username"),
            _field("password", "Password", "password", "password"),
            _submit("Sign in"),
            spacing="3",
        ),
        on_submit=state.sign_in,
    )
    footer = rx.text("New here? ", rx.link("Create an account", href="/register"), size="2")
    return _card("Sign in to chatstream", form, state.error_message, footer)


@rx.page(route="/register", title="Register · chatstream")
def register() -> rx.Component:
    form = rx.form(
        rx.vstack(
            _field("username", "Username", "username"),
            _field("password", "Password (8 characters or more)", "password", "password"),
            _field("confirm_password", "Confirm password", "confirm-password", "password"),
            _submit("Create account"),
            spacing="3",
        ),
        on_submit=SignupState.register,
    )
    footer = rx.text("Have an account? ", rx.link("Sign in", href="/login"), size="2")
    return _card("Create your account", form, SignupState.error_message, footer)
