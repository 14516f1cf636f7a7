"""Each chat's own model (picked from the endpoint's /v1/models) and system prompt: saved
with the chat, kept across reloads, and used by its next reply."""

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import chat_url, last_reply, register, send
from tests.fake_openai import Reply


@pytest.fixture
def models(model):
    """The scripted endpoint lists these models for one test."""
    model.models = ("test-model", "alpha-model", "beta-model")
    yield model
    model.models = ("test-model",)


def options(page: Page):
    page.get_by_test_id("model-picker").click()
    return page.get_by_role("option")


def choose(page: Page, name: str) -> None:
    options(page).filter(has_text=name).click()
    expect(page.get_by_test_id("model-picker")).to_have_text(name)


def finish(page: Page, text: str) -> None:
    send(page, text)
    expect(last_reply(page)).to_have_attribute("data-status", "complete")


def test_the_picker_lists_the_endpoints_models_and_the_choice_writes_the_next_reply(page, models):
    register(page)
    finish(page, "first question")
    expect(options(page)).to_have_text(["test-model", "alpha-model", "beta-model"])
    page.keyboard.press("Escape")

    choose(page, "beta-model")
    models.on("picked model", Reply(chunks=["From beta."]))
    finish(page, "the picked model please")

    assert models.request_for("picked model").body["model"] == "beta-model"
    expect(last_reply(page).get_by_test_id("reply-facts")).to_contain_text("beta-model")
    page.reload()
    expect(page.get_by_test_id("model-picker")).to_have_text("beta-model")


def test_the_new_chat_screens_choice_goes_with_the_chat_it_creates(page, models):
    register(page)
    choose(page, "alpha-model")
    models.on("new chat model", Reply(chunks=["From alpha."]))
    finish(page, "new chat model please")
    chat_url(page)

    assert models.request_for("new chat model").body["model"] == "alpha-model"
    page.reload()
    expect(page.get_by_test_id("model-picker")).to_have_text("alpha-model")
    page.get_by_test_id("new-chat").click()
    expect(page.get_by_test_id("model-picker")).to_have_text("test-model")


def test_without_a_model_list_the_picker_offers_the_configured_model(page, model):
    model.models = None  # GET /v1/models answers 404
    try:
        register(page)
        expect(options(page)).to_have_text(["test-model"])
    finally:
        model.models = ("test-model",)


def edit_system_prompt(page: Page, text: str) -> None:
    page.get_by_test_id("chat-settings").click()
    page.get_by_test_id("system-prompt").fill(text)
    page.get_by_test_id("system-prompt-save").click()


def test_the_system_prompt_reaches_the_model_and_is_kept_with_the_chat(page, model):
    register(page)
    finish(page, "before the prompt")
    edit_system_prompt(page, "Answer like a pirate.")
    expect(page.get_by_test_id("system-prompt")).to_have_count(0)
    expect(page.get_by_test_id("chat-settings")).to_have_text("Own system prompt")

    model.on("pirate question", Reply(chunks=["Arr."]))
    finish(page, "a pirate question")

    messages = model.request_for("pirate question").body["messages"]
    assert messages[0] == {"role": "system", "content": "Answer like a pirate."}
    page.reload()
    page.get_by_test_id("chat-settings").click()
    expect(page.get_by_test_id("system-prompt")).to_have_value("Answer like a pirate.")


def test_the_default_system_prompt_can_be_restored(page, model):
    register(page)
    edit_system_prompt(page, "Only French.")
    expect(page.get_by_test_id("chat-settings")).to_have_text("Own system prompt")

    page.get_by_test_id("chat-settings").click()
    page.get_by_test_id("system-prompt-default").click()
    expect(page.get_by_test_id("system-prompt")).to_have_value(
        "You are a helpful assistant. Answer in Markdown."
    )
    page.get_by_test_id("system-prompt-save").click()
    expect(page.get_by_test_id("chat-settings")).to_have_text("System prompt")


def test_an_oversized_system_prompt_is_refused_and_nothing_is_saved(page, model):
    register(page)
    finish(page, "keep my prompt")
    edit_system_prompt(page, "x" * 8_001)

    expect(page.get_by_test_id("chat-settings-error")).to_contain_text("limit is 8,000")
    page.keyboard.press("Escape")
    page.reload()
    expect(page.get_by_test_id("chat-settings")).to_have_text("System prompt")
