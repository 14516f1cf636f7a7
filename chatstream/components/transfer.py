"""Export the open chat (the header's ⋯ menu) and import a chat file (the sidebar)."""

import reflex as rx

from ..state.chat import ChatState
from ..state.transfer import IMPORT_UPLOAD_ID, TransferState


def _item(icon: str, label: str, testid: str, on_click) -> rx.Component:
    return rx.menu.item(
        rx.icon(icon, size=14), label, on_click=on_click, custom_attrs={"data-testid": testid}
    )


def chat_menu() -> rx.Component:
    """The ⋯ menu of an open chat; nothing on the new-chat screen."""
    return rx.cond(
        (ChatState.public_id != "") & ~ChatState.not_found,
        rx.menu.root(
            rx.menu.trigger(
                rx.icon_button(
                    rx.icon("ellipsis", size=18),
                    variant="ghost",
                    color_scheme="gray",
                    aria_label="Chat actions",
                    title="Chat actions",
                    custom_attrs={"data-testid": "chat-menu"},
                )
            ),
            rx.menu.content(
                _item(
                    "file-text",
                    "Export as Markdown",
                    "export-markdown",
                    TransferState.export_markdown,
                ),
                _item("file-json", "Export as JSON", "export-json", TransferState.export_json),
                align="end",
            ),
        ),
    )


def import_button() -> rx.Component:
    return rx.el.div(
        rx.upload.root(
            rx.button(
                rx.icon("upload", size=14),
                "Import chat",
                variant="ghost",
                color_scheme="gray",
                size="2",
                width="100%",
                title="Import a chat exported as JSON",
                custom_attrs={"data-testid": "import-chat"},
            ),
            id=IMPORT_UPLOAD_ID,
            multiple=False,
            max_files=1,
            no_drag=True,
            on_drop=TransferState.import_chat(rx.upload_files(upload_id=IMPORT_UPLOAD_ID)),
            class_name="import-drop",
        ),
        rx.cond(
            TransferState.import_error != "",
            rx.callout(
                TransferState.import_error,
                icon="triangle-alert",
                color_scheme="red",
                size="1",
                role="alert",
                on_click=TransferState.clear_import_error,
                custom_attrs={"data-testid": "import-error"},
            ),
        ),
        class_name="import",
    )
