"""/ (a new chat) and /chat/<public id> (an existing one): the app's main screen."""

import reflex as rx
from reflex_local_auth import LoginState

from ..components.composer import composer
from ..components.messages import conversation
from ..components.sidebar import sidebar
from ..components.transfer import chat_menu
from ..state.chat import CHAT_ROUTE_PREFIX, ChatState
from ..state.chat_settings import ChatSettingsState
from ..state.sidebar import SidebarState


def not_found_panel() -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.heading("Chat not found", size="6"),
            rx.text("There is no chat at this address.", color_scheme="gray"),
            rx.link(rx.button("Start a new chat", variant="soft"), href="/"),
            align="center",
            custom_attrs={"data-testid": "not-found"},
        ),
        flex="1",
    )


def _header() -> rx.Component:
    return rx.el.header(
        rx.icon_button(
            rx.icon("menu", size=18),
            variant="ghost",
            color_scheme="gray",
            on_click=SidebarState.toggle,
            class_name="menu-button",
            aria_label="Chats",
        ),
        rx.text(
            rx.cond(
                ChatState.not_found, "", rx.cond(ChatState.title != "", ChatState.title, "New chat")
            ),
            weight="medium",
            class_name="chat-title",
            custom_attrs={"data-testid": "chat-title"},
        ),
        chat_menu(),
        class_name="chat-header",
    )


def _screen() -> rx.Component:
    return rx.el.div(
        sidebar(),
        rx.el.div(class_name="scrim", on_click=SidebarState.toggle),
        rx.el.main(
            _header(),
            rx.cond(
                ChatState.not_found, not_found_panel(), rx.fragment(conversation(), composer())
            ),
            class_name="main",
        ),
        class_name=rx.cond(SidebarState.open_on_mobile, "app sidebar-open", "app"),
    )


def _signed_in(page: rx.Component) -> rx.Component:
    """`page` for a signed-in tab; otherwise a placeholder that sends the tab to /login.

    As reflex_local_auth's `require_login`, but it does not also wait for each page's
    hydration: that one replaced the whole screen with the placeholder at every move from page
    to page (a new chat taking its own page while its reply starts, another chat opened) and
    then built it all again; this keeps the screen while the next page's state arrives.
    """
    return rx.cond(
        LoginState.is_authenticated,
        page,
        rx.center(rx.text("Loading...", on_mount=LoginState.redir)),
    )


class PrefetchPageLinks(rx.Component):
    """React Router's `<PrefetchPageLinks page=…/>`: `<link rel="modulepreload">` for the code
    of the page at `page`, so that moving there needs no download. A new chat's first send
    moves the tab from / to the chat's page just as the reply's first chunk arrives; without
    this the page's module was fetched then (seen in Chromium: the request went out right
    after the first chunk's push), over a real network a round trip or more added to the
    first chunk's time."""

    library = "react-router"
    tag = "PrefetchPageLinks"
    page: rx.Var[str]


@rx.page(
    route="/",
    title="chatstream",
    on_load=[ChatState.new_chat, SidebarState.refresh, ChatSettingsState.load_models],
)
def index() -> rx.Component:
    return rx.fragment(
        PrefetchPageLinks.create(page=f"{CHAT_ROUTE_PREFIX}new"), _signed_in(_screen())
    )


@rx.page(
    route="/chat/[chat_public_id]",
    title="chatstream",
    on_load=[ChatState.open_chat, SidebarState.refresh, ChatSettingsState.load_models],
)
def chat() -> rx.Component:
    return _signed_in(_screen())
