"""The open chat's own model and system prompt; on the new-chat screen, those of the chat
its first message creates."""

from __future__ import annotations

import dataclasses

import reflex as rx

from .. import llm, repository
from ..models import Chat
from ..settings import SYSTEM_PROMPT_CHARS, Settings, get_settings
from .chat import ChatState

SYSTEM_PROMPT_ID = "system-prompt"


@dataclasses.dataclass
class ModelOption:
    id: str
    label: str


def _option(model: str, settings: Settings) -> ModelOption:
    label = settings.model_description if model == settings.model_name else model
    return ModelOption(id=model, label=label)


def _offering(options: list[ModelOption], model: str, settings: Settings) -> list[ModelOption]:
    """`options`, with `model` too: a chat's model stays shown when the endpoint no longer
    lists it (or the list is not read yet)."""
    if any(option.id == model for option in options):
        return options
    return [*options, _option(model, settings)]


class ChatSettingsState(rx.State):
    models: list[ModelOption] = []
    """What the picker offers: the configured model, then the endpoint's others."""
    model: str = ""
    """The model of the chat's next reply."""
    system_prompt: str = ""
    """The system prompt of the chat's next reply, as the editor shows it."""
    custom_prompt: bool = False
    editing: bool = False
    error: str = ""
    _shown: str = ""
    """The public id of the chat shown ("" the new-chat screen)."""
    _chosen_model: str | None = None
    _chosen_prompt: str | None = None
    """The new-chat screen's choices (None: the app's), given to the chat it creates."""

    def _show(self, chat: Chat | None) -> None:
        """Show the settings of `chat`, or the app's defaults on the new-chat screen."""
        settings = get_settings()
        self._chosen_model, self._chosen_prompt = (
            (chat.model, chat.system_prompt) if chat else (None, None)
        )
        effective = settings.for_chat(model=self._chosen_model, system_prompt=self._chosen_prompt)
        self.model, self.system_prompt = effective.model_name, effective.system_prompt
        self.custom_prompt = self._chosen_prompt is not None
        shown = chat.public_id if chat else ""
        if shown != self._shown:  # another chat: an editor left open does not follow it
            self._shown, self.editing, self.error = shown, False, ""
        if (offered := _offering(self.models, self.model, settings)) is not self.models:
            self.models = offered  # (assigned only when it changes: each assignment is sent)

    def _choices(self) -> tuple[str | None, str | None]:
        """(model, system prompt) for a new chat; None means the app's."""
        return self._chosen_model, self._chosen_prompt

    @rx.event(background=True)
    async def load_models(self):
        """Fill the picker from the endpoint's model list (cached by `llm`), off the lock."""
        settings = get_settings()
        offered = [_option(model, settings) for model in await llm.available_models(settings)]
        async with self:
            self.models = _offering(offered, self.model, settings)

    async def _save(self, **choices: str | None) -> bool:
        """Keep a choice (`model` or `system_prompt`): on the chat shown, or for the chat the
        new-chat screen creates. False if this page's chat is not the user's."""
        chat_state = await self.get_state(ChatState)
        public_id = chat_state._page_chat_id()
        if public_id:
            with rx.session() as session:
                chat = await chat_state._owned_chat(session, public_id)
                if chat is None:
                    return False
                repository.set_chat_settings(session=session, chat=chat, **choices)
        self._chosen_model = choices.get("model", self._chosen_model)
        self._chosen_prompt = choices.get("system_prompt", self._chosen_prompt)
        return True

    @rx.event
    async def choose_model(self, model: str):
        settings = get_settings()
        if model not in await llm.available_models(settings):
            self.error = f"The model '{model}' is not offered by the endpoint."
            return
        chosen = None if model == settings.model_name else model
        if await self._save(model=chosen):
            self.model, self.error = model, ""

    @rx.event
    def set_editing(self, value: bool):
        self.editing, self.error = value, ""

    @rx.event
    def use_default_prompt(self):
        return rx.set_value(SYSTEM_PROMPT_ID, get_settings().system_prompt)

    @rx.event
    async def save_prompt(self, form_data: dict):
        """Keep the edited system prompt; the app's default text is kept as "the default"
        (so it follows the app's setting), an empty one means none."""
        text = (form_data.get("system_prompt") or "").strip()
        if len(text) > SYSTEM_PROMPT_CHARS:
            self.error = (
                f"This system prompt has {len(text):,} characters; the limit is "
                f"{SYSTEM_PROMPT_CHARS:,}. Nothing was saved."
            )
            return
        chosen = None if text == get_settings().system_prompt else text
        if await self._save(system_prompt=chosen):
            self.system_prompt, self.custom_prompt = text, chosen is not None
            self.editing, self.error = False, ""
