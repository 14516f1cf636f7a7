"""The sidebar: new chat, the user's chats (rename, delete), the theme, and sign out."""

import reflex as rx
from reflex_components_core.react_router.dom import ReactRouterLink

from ..state.search import SearchState
from ..state.sidebar import SidebarState
from ..state.views import ChatLink
from .search import search_box, search_results
from .theme import theme_menu
from .transfer import import_button


def _action(icon: str, label: str, testid: str, on_click) -> rx.Component:
    return rx.icon_button(
        rx.icon(icon, size=14),
        variant="ghost",
        size="1",
        color_scheme="gray",
        aria_label=label,
        title=label,
        on_click=on_click,
        custom_attrs={"data-testid": testid},
    )


def rename_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Rename chat"),
            rx.form(
                rx.input(
                    name="title",
                    default_value=SidebarState.target_title,
                    key=SidebarState.target_id,
                    auto_focus=True,
                    max_length=200,
                    custom_attrs={"data-testid": "rename-input"},
                ),
                rx.hstack(
                    rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                    rx.button("Save", type="submit", custom_attrs={"data-testid": "rename-save"}),
                    justify="end",
                    margin_top="1em",
                ),
                on_submit=SidebarState.rename,
            ),
            max_width="400px",
        ),
        open=SidebarState.renaming,
        on_open_change=SidebarState.set_renaming,
    )


def delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete this chat?"),
            rx.alert_dialog.description(
                "“", SidebarState.target_title, "” and all its messages will be deleted."
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.button(
                    "Delete",
                    color_scheme="red",
                    on_click=SidebarState.delete,
                    custom_attrs={"data-testid": "delete-confirm"},
                ),
                justify="end",
                margin_top="1em",
            ),
            max_width="400px",
        ),
        open=SidebarState.deleting,
        on_open_change=SidebarState.set_deleting,
    )


class NavLink(ReactRouterLink):
    """React Router's NavLink: a link that has the class `active` (and `aria-current="page"`)
    while the page it links to is shown."""

    tag = "NavLink"
    alias = "ReactRouterNavLink"

    case_sensitive: rx.Var[bool]


def _chat_entry(chat: ChatLink) -> rx.Component:
    # The open chat is the one whose link is active (CSS: `.chat-entry:has(> .active)`), not
    # `chat.id == ChatState.public_id`: read here, that rendered every entry again whenever
    # the chat changed, as when a reply starts and ends (100 chats: 1,800 components each).
    return rx.el.div(
        rx.link(
            NavLink.create(chat.title, to=f"/chat/{chat.id}", case_sensitive=True),
            href=f"/chat/{chat.id}",
            as_child=True,
            class_name="chat-link",
            custom_attrs={"data-testid": "chat-link", "data-chat-id": chat.id},
        ),
        rx.el.div(
            _action("pencil", "Rename chat", "rename-chat", SidebarState.ask_rename(chat.id)),
            _action(
                "trash-2",
                "Delete chat",
                "delete-chat",
                SidebarState.ask_delete(chat.id),
            ),
            class_name="chat-actions",
        ),
        class_name="chat-entry",
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
        search_box(),
        rx.cond(
            SearchState.active,
            search_results(),
            rx.el.div(rx.foreach(SidebarState.chats, _chat_entry), class_name="chat-list"),
        ),
        import_button(),
        rx.hstack(
            rx.icon("circle-user", size=18),
            rx.text(SidebarState.username, size="2", weight="medium", trim="both", flex="1"),
            theme_menu(),
            rx.icon_button(
                rx.icon("log-out", size=16),
                variant="ghost",
                color_scheme="gray",
                on_click=SidebarState.logout,
                aria_label="Sign out",
                title="Sign out",
                custom_attrs={"data-testid": "logout"},
            ),
            align="center",
            class_name="account",
        ),
        rename_dialog(),
        delete_dialog(),
        class_name=rx.cond(SidebarState.open_on_mobile, "sidebar open", "sidebar"),
    )
