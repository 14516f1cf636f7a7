"""The conversation: saved messages, the live reply, and the jump-to-latest button."""

import reflex as rx

from ..state.chat import RETRYABLE, ChatState
from ..state.live import LiveReply
from ..state.views import MessageView
from .markdown import markdown


def _attrs(testid: str, **data) -> dict:
    return {"data-testid": testid, **{f"data-{k.replace('_', '-')}": v for k, v in data.items()}}


def _content(body: rx.Component) -> rx.Component:
    return rx.el.div(body, class_name="message-content", custom_attrs=_attrs("message-content"))


def _retry(message: MessageView) -> rx.Component:
    return rx.button(
        rx.icon("rotate-ccw", size=14),
        "Retry",
        size="1",
        variant="soft",
        on_click=ChatState.retry(message.id),
        custom_attrs=_attrs("retry"),
    )


def _problem(message: MessageView, is_last) -> rx.Component:
    label = rx.match(
        message.status,
        ("stopped", "Stopped."),
        ("interrupted", "Interrupted: the server stopped while writing this reply."),
        "",
    )
    return rx.cond(
        RETRYABLE_VAR.contains(message.status),
        rx.hstack(
            rx.icon(rx.cond(message.status == "error", "circle-alert", "circle-pause"), size=16),
            rx.text(rx.cond(message.error != "", message.error, label), size="2"),
            rx.cond(is_last, _retry(message)),
            class_name=rx.cond(message.status == "error", "problem error", "problem"),
            align="center",
            wrap="wrap",
        ),
    )


RETRYABLE_VAR = rx.Var.create(sorted(RETRYABLE))


def message_item(message: MessageView, index) -> rx.Component:
    is_last = index == ChatState.messages.length() - 1
    body = rx.cond(
        message.role == "user",
        rx.el.div(message.content, class_name="user-text"),
        markdown(source=message.content),
    )
    return rx.el.div(
        _content(body),
        _problem(message, is_last),
        class_name=rx.cond(message.role == "user", "message user", "message assistant"),
        custom_attrs=_attrs(
            "message", role=message.role, status=message.status, message_id=message.id
        ),
    )


def live_reply() -> rx.Component:
    return rx.cond(
        LiveReply.message_id != "",
        rx.el.div(
            _content(markdown(source=LiveReply.text)),
            rx.hstack(
                rx.el.span(class_name="pulse"),
                rx.text("Writing…", size="1", color_scheme="gray"),
                class_name="streaming-indicator",
                align="center",
            ),
            class_name="message assistant streaming",
            custom_attrs=_attrs(
                "message", role="assistant", status="streaming", message_id=LiveReply.message_id
            ),
        ),
    )


def conversation() -> rx.Component:
    return rx.el.div(
        rx.el.div(
            rx.cond(
                (ChatState.messages.length() == 0) & (LiveReply.message_id == ""),
                rx.el.div(
                    rx.heading("What can I help with?", size="6"),
                    rx.text("Enter sends, Shift+Enter adds a line.", color_scheme="gray"),
                    class_name="empty-chat",
                ),
            ),
            rx.foreach(ChatState.messages, message_item),
            live_reply(),
            class_name="conversation",
        ),
        rx.button(
            rx.icon("arrow-down", size=16),
            id="jump-latest",
            class_name="jump-latest",
            radius="full",
            variant="surface",
            aria_label="Jump to the latest message",
        ),
        id="chat-scroll",
        class_name="chat-scroll",
    )
