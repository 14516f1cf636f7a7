"""The conversation: saved messages, the live reply, and the jump-to-latest button."""

import reflex as rx

from ..state.chat import RETRYABLE, ChatState
from ..state.live import LiveReply
from ..state.views import MessageView
from . import versions
from .markdown import live_markdown, markdown
from .reasoning import live_reasoning, reasoning_block


def _attrs(testid: str, **data) -> dict:
    return {"data-testid": testid, **{f"data-{k.replace('_', '-')}": v for k, v in data.items()}}


def _content(body: rx.Component) -> rx.Component:
    return rx.el.div(body, class_name="message-content", custom_attrs=_attrs("message-content"))


def _new_version(button: rx.Component) -> rx.Component:
    """Edit, Regenerate or Retry, which start a new version: hidden while the conversation
    holds a streaming reply (`.conversation.replying .new-version`, assets/chatstream.css), as
    the server refuses them then (one reply per chat). CSS, not a prop: a prop would render
    every message again when a reply starts and when it ends, and the list that maps them on
    every update of the reply. The class is on a plain span around the button, whose style
    costs less to work out again than a Radix button's (500 of them: 12 against 15 ms)."""
    return rx.el.span(button, class_name="new-version")


def _retry(message: MessageView) -> rx.Component:
    return _new_version(
        rx.button(
            rx.icon("rotate-ccw", size=14),
            "Retry",
            size="1",
            variant="soft",
            on_click=ChatState.retry(message.id),
            custom_attrs=_attrs("retry"),
        )
    )


RETRYABLE_VAR = rx.Var.create(sorted(RETRYABLE))


def _problem(message: MessageView) -> rx.Component:
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
            _retry(message),  # any reply: a new version
            class_name=rx.cond(message.status == "error", "problem error", "problem"),
            align="center",
            wrap="wrap",
        ),
    )


def _small_button(icon: str, label: str, testid: str, **props) -> rx.Component:
    return rx.button(
        rx.icon(icon, size=14),
        label,
        size="1",
        variant="ghost",
        color_scheme="gray",
        custom_attrs=_attrs(testid),
        **props,
    )


def _user_actions(message: MessageView) -> rx.Component:
    edit = rx.el.div(  # any user message: a new version
        _new_version(
            _small_button("pencil", "Edit", "edit", on_click=ChatState.start_edit(message.id))
        ),
        class_name="message-actions",
    )
    return rx.el.div(versions.switcher(message), edit, class_name="user-footer")


def _facts(message: MessageView) -> rx.Component:
    return rx.cond(
        message.facts != "",
        rx.text(
            message.facts, size="1", class_name="reply-facts", custom_attrs=_attrs("reply-facts")
        ),
    )


def _assistant_actions(message: MessageView) -> rx.Component:
    regenerate = rx.cond(
        message.status == "complete",  # any reply: a new version
        _new_version(
            _small_button(
                "refresh-cw", "Regenerate", "regenerate", on_click=ChatState.retry(message.id)
            )
        ),
    )
    copy = rx.cond(  # the answer's markdown, never its reasoning; in the page, no handler
        message.content != "",
        _small_button("copy", "Copy", "copy-reply", on_click=rx.set_clipboard(message.content)),
    )
    return rx.el.div(
        versions.switcher(message),
        rx.el.div(copy, regenerate, class_name="message-actions"),
        _facts(message),
        class_name="reply-footer",
    )


def _edit_form(message: MessageView) -> rx.Component:
    return rx.form(
        rx.el.textarea(
            name="text",
            default_value=message.content,
            auto_focus=True,
            class_name="edit-input",
            custom_attrs=_attrs("edit-input"),
        ),
        rx.hstack(
            rx.button(
                "Cancel",
                type="button",
                size="1",
                variant="soft",
                color_scheme="gray",
                on_click=ChatState.cancel_edit,
                custom_attrs=_attrs("edit-cancel"),
            ),
            rx.button("Send", type="submit", size="1", custom_attrs=_attrs("edit-save")),
            justify="end",
        ),
        on_submit=ChatState.save_edit,
        class_name="edit-form",
    )


def _user_message(message: MessageView, editing) -> rx.Component:
    return rx.cond(
        editing,
        _edit_form(message),
        rx.fragment(
            _content(rx.el.div(message.content, class_name="user-text")),
            _user_actions(message),
        ),
    )


def _assistant_message(message: MessageView) -> rx.Component:
    return rx.fragment(
        reasoning_block(message),
        _content(markdown(source=message.content)),
        _problem(message),
        _assistant_actions(message),
    )


def _history_item(message: MessageView, index) -> rx.Component:
    return _item(message)


def _recent_item(message: MessageView, index) -> rx.Component:
    return _item(message)


def _item(message: MessageView) -> rx.Component:
    return message_item(message=message, editing=ChatState.editing_id == message.id)


@rx.memo
def message_item(message: rx.Var[MessageView], editing: rx.Var[bool]) -> rx.Component:
    """One message, a component of its own that reads no state: it renders again only when
    its own props change (its message object keeps its identity while its data is the same),
    not when the chat's list does (a message added, a reply handed over), nor when a reply
    starts or ends (its Edit, Regenerate or Retry are hidden by CSS then: _new_version)."""
    return rx.el.div(
        rx.cond(
            message.role == "user",
            _user_message(message, editing),
            _assistant_message(message),
        ),
        class_name=rx.cond(message.role == "user", "message user", "message assistant"),
        custom_attrs=_attrs(
            "message", role=message.role, status=message.status, message_id=message.id
        ),
    )


def live_reply() -> rx.Component:
    return rx.cond(
        LiveReply.message_id != "",
        rx.el.div(
            live_reasoning(),
            _content(
                live_markdown(
                    key=LiveReply.message_id,  # a new reply starts from its own text
                    base=LiveReply.base,
                    chunk=LiveReply.chunk,
                    offset=LiveReply.offset,
                    on_gap=LiveReply.resync,
                )
            ),
            rx.hstack(
                rx.el.span(class_name="pulse"),
                rx.text("Writing…", size="1", color_scheme="gray"),
                class_name="streaming-indicator",
                align="center",
            ),
            versions.live_switcher(),
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
                (ChatState.messages.length() == 0)
                & (ChatState.recent.length() == 0)
                & (LiveReply.message_id == ""),
                rx.el.div(
                    rx.heading("What can I help with?", size="6"),
                    rx.text("Enter sends, Shift+Enter adds a line.", color_scheme="gray"),
                    class_name="empty-chat",
                ),
            ),
            # The finished messages in a box of their own, each laid out on its own: as the
            # live reply grows, the browser lays out and paints it, not the whole conversation.
            rx.el.div(
                rx.foreach(ChatState.messages, _history_item),
                rx.foreach(ChatState.recent, _recent_item),
                class_name="history",
            ),
            live_reply(),
            # One element's class (its children are not rendered again when it changes); not
            # `.conversation:has(> .streaming)`, with which Chromium worked out the style of the
            # whole conversation again whenever the reply added an element (after 500
            # messages: 10 ms at the first chunk, twice the style work of each update).
            class_name=rx.cond(LiveReply.message_id != "", "conversation replying", "conversation"),
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
