"""Safe markdown: no raw HTML (it shows as text), GFM tables and lists, highlighted code."""

import reflex as rx


def _code_block(text, **props) -> rx.Component:
    copy = rx.icon_button(
        rx.icon("copy", size=14),
        size="1",
        variant="soft",
        color_scheme="gray",
        type="button",
        aria_label="Copy code",
        title="Copy code",
        on_click=rx.set_clipboard(text),
        position="absolute",
        top="8px",
        right="8px",
        custom_attrs={"data-testid": "copy-code"},
    )
    return rx.code_block(
        text, can_copy=True, copy_button=copy, wrap_long_lines=True, margin_y="0.75em", **props
    )


@rx.memo
def markdown(source: rx.Var[str]) -> rx.Component:
    """Its own React component, so its hooks never mix with those of a list around it.

    use_raw=False keeps <script>, onerror= and friends as inert text; react-markdown drops
    javascript: URLs from links by itself.
    """
    return rx.markdown(
        source,
        use_raw=False,
        use_math=False,
        use_katex=False,
        component_map={"pre": _code_block},
    )
