"""Safe markdown: no raw HTML (it shows as text), GFM tables and lists, highlighted code."""

import reflex as rx


def _code_block(text, **props) -> rx.Component:
    return rx.code_block(text, can_copy=True, wrap_long_lines=True, margin_y="0.75em", **props)


def markdown(source) -> rx.Component:
    # use_raw=False keeps <script>, onerror= and friends as inert text; react-markdown
    # drops javascript: URLs from links by itself.
    return rx.markdown(
        source,
        use_raw=False,
        use_math=False,
        use_katex=False,
        component_map={"pre": _code_block},
    )
