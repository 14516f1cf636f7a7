"""The naive design (Reflex's chat example): the reply is appended to the last message
inside `messages: list[dict]`, one `async with self` (one delta, the whole list) per chunk."""

import os

import reflex as rx
from openai import AsyncOpenAI


class NaiveState(rx.State):
    messages: list[dict[str, str]] = []

    @rx.event
    def seed(self, count: int):
        """`count` earlier messages of 500 characters, as a long chat would have."""
        size = 500
        roles = ("user", "assistant")
        self.messages = [
            {"role": roles[i % 2], "content": (f"message {i} " + "lorem ipsum " * size)[:size]}
            for i in range(count)
        ]

    @rx.event(background=True)
    async def send(self, form_data: dict):
        async with self:
            self.messages.append({"role": "user", "content": form_data["text"]})
            history = list(self.messages)
            self.messages.append({"role": "assistant", "content": ""})
        client = AsyncOpenAI()
        stream = await client.chat.completions.create(
            model=os.environ.get("CHATSTREAM_MODEL", "test-model"), messages=history, stream=True
        )
        async for chunk in stream:
            text = chunk.choices[0].delta.content if chunk.choices else None
            if text:
                async with self:
                    self.messages[-1]["content"] += text


def message(item: rx.Var) -> rx.Component:
    return rx.box(
        rx.markdown(item["content"], data_testid="message-content"),
        data_testid="message",
        data_role=item["role"],
    )


def index() -> rx.Component:
    return rx.vstack(
        rx.button("Seed 50", on_click=NaiveState.seed(50), data_testid="seed"),
        rx.foreach(NaiveState.messages, message),
        rx.form(rx.input(name="text", data_testid="composer"), on_submit=NaiveState.send),
    )


app = rx.App()
app.add_page(index)
