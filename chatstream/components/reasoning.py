"""The reasoning block of a reply: the model's thinking above its answer (reasoning.jsx).

UI contract: inside a `message`, `data-testid="reasoning"` with `data-open="true"|"false"`,
the text in `reasoning-content`, the fold button `reasoning-toggle`; `message-content` keeps
the answer alone. The reasoning renders as the answer does (markdown.jsx: no raw HTML, no
image loaded). Open or folded is the tab's own business, never the server's: no handler.
"""

import reflex as rx
from reflex_base.utils.imports import ImportVar

from ..state.live import LiveReply
from ..state.views import MessageView
from .markdown import jsx_source, live_markdown, markdown

_SOURCE = jsx_source("reasoning.jsx")


class Reasoning(rx.Component):
    tag = "Reasoning"

    thinking: rx.Var[bool]
    """Open and counting: the model is thinking and its answer has not begun."""
    ms: rx.Var[int]
    """While thinking, how long it has been; after, how long it took (0: unknown)."""
    label: rx.Var[str]
    """The folded label a finished message has ("Thought for 12 s")."""

    def add_imports(self):
        return {
            "react": [
                ImportVar(tag="useEffect"),
                ImportVar(tag="useRef"),
                ImportVar(tag="useState"),
            ]
        }

    def add_custom_code(self) -> list[str]:
        return [_SOURCE]


def reasoning_block(message: MessageView) -> rx.Component:
    """A finished reply's reasoning, folded; nothing when it has none."""
    return rx.cond(
        message.reasoning != "",
        Reasoning.create(
            markdown(source=message.reasoning), thinking=False, ms=0, label=message.thought
        ),
    )


def live_reasoning() -> rx.Component:
    """The streaming reply's reasoning: open while the model thinks, folded once it answers."""
    answer_begun = (LiveReply.base != "") | (LiveReply.chunk != "")
    return rx.cond(
        (LiveReply.rbase != "") | (LiveReply.rchunk != ""),
        Reasoning.create(
            live_markdown(
                key=LiveReply.message_id,
                base=LiveReply.rbase,
                chunk=LiveReply.rchunk,
                offset=LiveReply.roffset,
                on_gap=LiveReply.resync,
            ),
            key=LiveReply.message_id,
            thinking=~answer_begun,
            ms=LiveReply.think_ms,
            label="",
        ),
    )
