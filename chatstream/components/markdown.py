"""Message markdown, and the live reply that receives only appended text.

The React code is in markdown.jsx, beside this file. It is embedded in the page modules
Reflex generates (not served as a separate file), so that the dev server sees its imports
when it starts instead of discovering them on first use and reloading the page.
GFM lists and tables, highlighted code with a copy button; raw HTML is never rendered, and
an image is shown as a link to it, never loaded (see `img` in markdown.jsx).
"""

from pathlib import Path

import reflex as rx
from reflex_base.utils.imports import ImportVar

from ..state.live import Live


def jsx_source(name: str) -> str:
    """A .jsx file beside this one, its imports left out (they are declared below)."""
    lines = (Path(__file__).with_name(name)).read_text().splitlines()
    return "\n".join(line for line in lines if not line.startswith("import "))


_SOURCE = jsx_source("markdown.jsx")
_LIVE_WIRE = jsx_source("live_wire.jsx").replace("__LIVE_STATE__", Live.get_full_name())
_IMPORTS = {
    "react": [
        ImportVar(tag="memo"),
        ImportVar(tag="useEffect"),
        ImportVar(tag="useRef"),
        ImportVar(tag="useState"),
    ],
    "react-markdown@10.1.0": ImportVar(tag="ReactMarkdown", is_default=True),
    "remark-gfm@4.0.1": ImportVar(tag="remarkGfm", is_default=True),
    "react-syntax-highlighter@16.1.2": ImportVar(tag="PrismAsyncLight", alias="SyntaxHighlighter"),
}


class _Embedded(rx.Component):
    def add_imports(self):
        return _IMPORTS

    def add_custom_code(self) -> list[str]:
        return [_SOURCE]


class Markdown(_Embedded):
    tag = "Markdown"

    source: rx.Var[str]


class LiveMarkdown(_Embedded):
    """The streaming reply; it brings the decoder of the follower's pushes (live_wire.jsx)."""

    tag = "LiveMarkdown"

    base: rx.Var[str]
    chunk: rx.Var[str]
    offset: rx.Var[int]
    on_gap: rx.EventHandler[rx.event.no_args_event_spec]

    def add_imports(self):
        return {**_IMPORTS, "socket.io-client": ImportVar(tag="Socket")}

    def add_custom_code(self) -> list[str]:
        return [_SOURCE, _LIVE_WIRE]


markdown = Markdown.create
live_markdown = LiveMarkdown.create
