"""Which model writes the replies, as the page names it."""

from __future__ import annotations

import reflex as rx

from ..settings import get_settings


class ModelInfo(rx.State):
    @rx.var
    def label(self) -> str:
        """The configured model, described when its bare name would mislead (the bundled
        tiny local model is no match for a large hosted one)."""
        return get_settings().model_description
