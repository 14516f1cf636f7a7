"""The sidebar: new chat, the user's chats (rename, delete), and sign out."""

import reflex as rx

from ..state.chat import ChatState
from ..state.sidebar import SidebarState
from ..state.views import ChatLink


def _action(icon: str, label: str, testid: str) -> rx.Component:
    return rx.icon_button(
        rx.icon(icon, size=14),
        variant="ghost",
        size="1",
        color_scheme="gray",
        aria_label=label,
        title=label,
        custom_attrs={"data-testid": testid},
    )


def _rename(chat: ChatLink) -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(_action("pencil", "Rename chat", "rename-chat")),
        rx.dialog.content(
            rx.dialog.title("Rename chat"),
            rx.form(
                rx.input(
                    name="title",
                    default_value=chat.title,
                    auto_focus=True,
                    custom_attrs={"data-testid": "rename-input"},
                ),
                rx.hstack(
                    rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                    rx.dialog.close(
                        rx.button("Save", type="submit", custom_attrs={"data-testid": "rename-save"})
                    ),
                    justify="end",
                    margin_top="1em",
                ),
                on_submit=lambda form: SidebarState.rename(chat.id, form),
            ),
            max_width="400px",
        ),
    )


def _delete(chat: ChatLink) -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(_action("trash-2", "Delete chat", "delete-chat")),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete this chat?"),
            rx.alert_dialog.description(f"“{chat.title}” and all its messages will be gone."),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(
                    rx.button(
                        "Delete",
                        color_scheme="red",
                        on_click=SidebarState.delete(chat.id),
                        custom_attrs={"data-testid": "delete-confirm"},
                    )
                ),
                justify="end",
                margin_top="1em",
            ),
            max_width="400px",
        ),
    )


def _chat_entry(chat: ChatLink) -> rx.Component:
    return rx.el.div(
        rx.link(
            chat.title,
            href=f"/chat/{chat.id}",
            class_name="chat-link",
            custom_attrs={"data-testid": "chat-link", "data-chat-id": chat.id},
        ),
        rx.el.div(_rename(chat), _delete(chat), class_name="chat-actions"),
        class_name=rx.cond(chat.id == ChatState.public_id, "chat-entry active", "chat-entry"),
    )


def sidebar() -> rx.Component:
    return rx.el.nav(
        rx.link(
            rx.button(
                rx.icon("square-pen", size=16),
                "New chat",
                width="100%",
                variant="soft",
                custom_attrs={"data-testid": "new-chat"},
            ),
            href="/",
            width="100%",
        ),
        rx.el.div(rx.foreach(SidebarState.chats, _chat_entry), class_name="chat-list"),
        rx.hstack(
            rx.icon("circle-user", size=18),
            rx.text(SidebarState.username, size="2", weight="medium", trim="both", flex="1"),
            rx.icon_button(
                rx.icon("log-out", size=16),
                variant="ghost",
                color_scheme="gray",
                on_click=SidebarState.logout,
                aria_label="Sign out",
                custom_attrs={"data-testid": "logout"},
            ),
            align="center",
            class_name="account",
        ),
        class_name=rx.cond(SidebarState.open_on_mobile, "sidebar open", "sidebar"),
    )
