"""The theme menu: System (the default, follows the OS), Light or Dark.

Reflex's own color mode does the work: the choice is kept in localStorage ("theme"), the
<html> element gets the class `light` or `dark`, and Radix Themes colours follow it. An
inline script Reflex puts first in <head> applies the saved choice before the first paint,
so a dark page never starts white (tests/e2e/test_theme.py checks it).
"""

import reflex as rx
from reflex_base.style import set_color_mode  # rx.color_mode.button's own setter

_MODES = (("system", "System", "monitor"), ("light", "Light", "sun"), ("dark", "Dark", "moon"))


def _item(mode: str, label: str, icon: str) -> rx.Component:
    return rx.menu.item(
        rx.icon(icon, size=14),
        label,
        rx.cond(rx.color_mode == mode, rx.icon("check", size=14, margin_left="auto")),
        on_click=set_color_mode(mode),
        custom_attrs={"data-testid": f"theme-{mode}"},
    )


def theme_menu() -> rx.Component:
    # The icon shows the choice (not the resolved theme): a monitor while following the OS.
    icon = rx.match(
        rx.color_mode,
        ("light", rx.icon("sun", size=16)),
        ("dark", rx.icon("moon", size=16)),
        rx.icon("monitor", size=16),
    )
    return rx.menu.root(
        rx.menu.trigger(
            rx.icon_button(
                icon,
                variant="ghost",
                color_scheme="gray",
                aria_label="Theme",
                title="Theme",
                custom_attrs={"data-testid": "theme-toggle"},
            )
        ),
        rx.menu.content(*(_item(*mode) for mode in _MODES), align="end", side="top"),
    )
