"""‹ n/m ›: the version switcher of a message that has other versions (a regenerated reply,
an edited message). Choosing one shows the branch below it, saved on the server."""

import reflex as rx

from ..state.chat import ChatState
from ..state.views import MessageView


def _arrow(icon: str, label: str, testid: str, target) -> rx.Component:
    return rx.icon_button(
        rx.icon(icon, size=14),
        size="1",
        variant="ghost",
        color_scheme="gray",
        disabled=target == "",
        on_click=ChatState.show_version(target),
        aria_label=label,
        custom_attrs={"data-testid": testid},
    )


def _switcher(version, versions, previous_id, next_id) -> rx.Component:
    return rx.cond(
        versions > 1,
        rx.el.div(
            _arrow("chevron-left", "Previous version", "version-prev", previous_id),
            rx.el.span(
                f"{version}/{versions}",
                class_name="version-label",
                custom_attrs={"data-testid": "version-label"},
            ),
            _arrow("chevron-right", "Next version", "version-next", next_id),
            class_name="versions",
        ),
    )


def switcher(message: MessageView) -> rx.Component:
    """The switcher of a saved message (nothing when it has no other version)."""
    return _switcher(message.version, message.versions, message.previous_id, message.next_id)


def live_switcher() -> rx.Component:
    """The switcher of the reply being written, which may be a new version of a reply."""
    return _switcher(
        ChatState.live_version,
        ChatState.live_versions,
        ChatState.live_previous_id,
        ChatState.live_next_id,
    )
