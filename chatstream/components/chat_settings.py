"""Under the composer: the model picker and the system prompt of the chat shown."""

import reflex as rx

from ..settings import SYSTEM_PROMPT_CHARS
from ..state.chat_settings import SYSTEM_PROMPT_ID, ChatSettingsState, ModelOption


def _model_item(option: ModelOption) -> rx.Component:
    return rx.select.item(option.label, value=option.id)


def model_picker() -> rx.Component:
    return rx.select.root(
        rx.select.trigger(
            variant="ghost",
            color="gray",
            title="The model that writes this chat's next reply",
            aria_label="Model",
            class_name="model-picker",
            custom_attrs={"data-testid": "model-picker"},
        ),
        rx.select.content(
            rx.foreach(ChatSettingsState.models, _model_item),
            position="popper",
            custom_attrs={"data-testid": "model-options"},
        ),
        value=ChatSettingsState.model,
        on_change=ChatSettingsState.choose_model,
        on_open_change=lambda _: ChatSettingsState.load_models,
        size="1",
    )


def system_prompt_button() -> rx.Component:
    return rx.button(
        rx.icon("sliders-horizontal", size=12),
        rx.cond(ChatSettingsState.custom_prompt, "Own system prompt", "System prompt"),
        variant="ghost",
        color_scheme=rx.cond(ChatSettingsState.custom_prompt, "iris", "gray"),
        size="1",
        on_click=ChatSettingsState.set_editing(True),
        title="The instructions sent before this chat's messages",
        custom_attrs={"data-testid": "chat-settings"},
    )


def system_prompt_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("System prompt"),
            rx.dialog.description(
                "Sent to the model before this chat's messages, from its next reply on. "
                "Empty: none.",
                size="2",
                color_scheme="gray",
            ),
            rx.form(
                rx.el.textarea(
                    name="system_prompt",
                    id=SYSTEM_PROMPT_ID,
                    default_value=ChatSettingsState.system_prompt,
                    auto_focus=True,
                    rows=8,
                    max_length=SYSTEM_PROMPT_CHARS * 2,
                    class_name="edit-input system-prompt-input",
                    custom_attrs={"data-testid": "system-prompt"},
                ),
                rx.cond(
                    ChatSettingsState.error != "",
                    rx.callout(
                        ChatSettingsState.error,
                        icon="triangle-alert",
                        color_scheme="red",
                        size="1",
                        role="alert",
                        custom_attrs={"data-testid": "chat-settings-error"},
                    ),
                ),
                rx.hstack(
                    rx.button(
                        "Use the default",
                        type="button",
                        variant="ghost",
                        color_scheme="gray",
                        on_click=ChatSettingsState.use_default_prompt,
                        custom_attrs={"data-testid": "system-prompt-default"},
                    ),
                    rx.spacer(),
                    rx.dialog.close(
                        rx.button("Cancel", type="button", variant="soft", color_scheme="gray")
                    ),
                    rx.button(
                        "Save", type="submit", custom_attrs={"data-testid": "system-prompt-save"}
                    ),
                    align="center",
                ),
                on_submit=ChatSettingsState.save_prompt,
                class_name="system-prompt-form",
            ),
            max_width="560px",
        ),
        open=ChatSettingsState.editing,
        on_open_change=ChatSettingsState.set_editing,
    )


def chat_settings() -> rx.Component:
    """`Replies by <model ▾> · System prompt`, and the system prompt's editor."""
    return rx.el.div(
        rx.text("Replies by", size="1", color_scheme="gray"),
        model_picker(),
        rx.text("·", size="1", color_scheme="gray"),
        system_prompt_button(),
        system_prompt_dialog(),
        rx.cond(
            ~ChatSettingsState.editing & (ChatSettingsState.error != ""),
            rx.text(
                ChatSettingsState.error,
                size="1",
                color_scheme="red",
                role="alert",
                width="100%",
                text_align="center",
            ),
        ),
        class_name="chat-settings",
    )
