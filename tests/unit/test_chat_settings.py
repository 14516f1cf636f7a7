"""A chat's own model and system prompt: offered from the endpoint's list, saved with the
chat, and used by its next reply."""

import asyncio
import dataclasses

import pytest
import reflex as rx

from chatstream import llm, repository
from chatstream.settings import get_settings
from tests.factories import make_chat, make_user
from tests.fake_openai import FakeOpenAI, Reply
from tests.unit.test_jobs import exchange, run_reply, settings_for


@pytest.fixture
def model():
    with FakeOpenAI(models=("test-model", "big-model", "small-model")) as server:
        yield server


async def test_the_picker_offers_the_configured_model_first_then_the_endpoints(model):
    offered = await llm.available_models(settings_for(model, model="small-model"))

    assert offered == ["small-model", "big-model", "test-model"]


async def test_a_configured_model_the_endpoint_does_not_list_is_still_offered(model):
    offered = await llm.available_models(settings_for(model, model="private-model"))

    assert offered == ["private-model", "big-model", "small-model", "test-model"]


async def test_an_endpoint_without_a_model_list_offers_the_configured_model(model):
    model.models = None  # GET /v1/models answers 404

    assert await llm.available_models(settings_for(model)) == ["test-model"]


async def test_an_unreachable_endpoint_offers_the_configured_model():
    settings = dataclasses.replace(
        get_settings(), base_url="http://127.0.0.1:9/v1", api_key="k", model="m"
    )
    assert await llm.available_models(settings) == ["m"]


async def test_the_model_list_is_read_once_per_ttl(model):
    settings = settings_for(model, models_ttl=60.0)
    await llm.available_models(settings)
    model.models = ("test-model", "new-model")

    assert "new-model" not in await llm.available_models(settings)
    assert model.model_list_requests == 1


async def test_tabs_that_open_together_share_one_request_for_the_list(model):
    settings = settings_for(model, models_ttl=0.0)
    lists = await asyncio.gather(*(llm.available_models(settings) for _ in range(20)))

    assert all(found == ["test-model", "big-model", "small-model"] for found in lists)
    assert model.model_list_requests == 1


async def test_a_zero_ttl_reads_the_model_list_every_time(model):
    settings = settings_for(model, models_ttl=0.0)
    await llm.available_models(settings)
    model.models = ("test-model", "new-model")

    assert "new-model" in await llm.available_models(settings)
    assert model.model_list_requests == 2


def test_a_chat_keeps_the_app_settings_it_does_not_override():
    settings = dataclasses.replace(
        get_settings(), model="app-model", system_prompt="App prompt.", model_label="Tiny"
    )

    same = settings.for_chat(model=None, system_prompt=None)
    own = settings.for_chat(model="other", system_prompt="")

    assert (same.model_name, same.system_prompt, same.model_description) == (
        "app-model",
        "App prompt.",
        "Tiny",
    )
    assert (own.model_name, own.system_prompt, own.model_description) == ("other", "", "other")


def test_saving_one_setting_leaves_the_other():
    chat = make_chat(make_user())
    with rx.session() as session:
        chat = repository.get_chat(
            session=session, owner_id=chat.owner_id, public_id=chat.public_id
        )
        repository.set_chat_settings(
            session=session, chat=chat, system_prompt="Talk like a pirate."
        )
        repository.set_chat_settings(session=session, chat=chat, model="big-model")
        repository.set_chat_settings(session=session, chat=chat, model=None)
        saved = session.get(type(chat), chat.id)

    assert (saved.model, saved.system_prompt) == (None, "Talk like a pirate.")


def _set(message, **choices) -> None:
    with rx.session() as session:
        chat = repository.chat_of(session=session, message=message)
        repository.set_chat_settings(session=session, chat=chat, **choices)


async def test_the_next_reply_uses_the_chats_model_and_system_prompt(model):
    model.on("own settings", Reply(chunks=["Arr."]))
    _, reply = exchange("own settings please")
    _set(reply, model="big-model", system_prompt="Talk like a pirate.")

    await run_reply(reply, settings_for(model))

    body = model.request_for("own settings").body
    assert body["model"] == "big-model"
    assert body["messages"][0] == {"role": "system", "content": "Talk like a pirate."}


async def test_an_empty_system_prompt_sends_none(model):
    model.on("no prompt", Reply(chunks=["ok"]))
    _, reply = exchange("no prompt please")
    _set(reply, system_prompt="")

    await run_reply(reply, settings_for(model))

    assert [m["role"] for m in model.request_for("no prompt").body["messages"]] == ["user"]


async def test_a_chat_without_its_own_settings_uses_the_apps(model):
    model.on("app settings", Reply(chunks=["ok"]))
    _, reply = exchange("app settings please")

    await run_reply(reply, settings_for(model))

    body = model.request_for("app settings").body
    assert body["model"] == "test-model"
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
