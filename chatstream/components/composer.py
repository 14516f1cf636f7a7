"""The composer: a textarea that Enter submits, with Send or, while a reply streams, Stop."""

import reflex as rx

from ..settings import MAX_MESSAGE_CHARS
from ..state.chat import COMPOSER_ID, ChatState
from ..state.live import LiveReply
from .chat_settings import chat_settings


def composer() -> rx.Component:
    streaming = LiveReply.message_id != ""
    return rx.el.div(
        rx.cond(
            ChatState.notice != "",
            rx.callout(ChatState.notice, icon="info", color_scheme="amber", size="1"),
        ),
        rx.form(
            rx.el.textarea(
                id=COMPOSER_ID,
                name="text",
                placeholder="Message chatstream…",
                rows=1,
                auto_focus=True,
                class_name="composer-input",
                max_length=MAX_MESSAGE_CHARS * 2,
                custom_attrs={"data-testid": "composer"},
            ),
            rx.cond(
                streaming,
                rx.icon_button(
                    rx.icon("square", size=16),
                    type="button",
                    on_click=ChatState.stop,
                    color_scheme="gray",
                    radius="full",
                    aria_label="Stop",
                    custom_attrs={"data-testid": "stop"},
                ),
                rx.icon_button(
                    rx.icon("arrow-up", size=18),
                    type="submit",
                    radius="full",
                    aria_label="Send",
                    custom_attrs={"data-testid": "send"},
                ),
            ),
            on_submit=ChatState.send,
            class_name="composer",
        ),
        chat_settings(),
        class_name="composer-wrap",
    )
