"""A chat's title written by the model after its first reply, shown live in every tab."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import chat_url, last_reply, register, send, wait_for
from tests.fake_openai import Reply


@pytest.fixture
def title(model):
    """The scripted model titles chats "Trip to Lisbon" during this test only: the other
    tests find their chats by the first words of their first message."""
    model.title = "Trip to Lisbon"
    try:
        yield model.title
    finally:
        model.title = None


def asked_for_a_title(model, text: str) -> bool:
    return any(text in r.body["messages"][-1]["content"] for r in model.title_requests)


def test_the_models_title_shows_in_the_header_and_the_sidebar_without_a_reload(page, title):
    register(page)
    page.evaluate("window.notReloaded = true")

    send(page, "where should we eat in lisbon next week")

    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    expect(page.get_by_test_id("chat-title")).to_have_text(title)
    expect(page.get_by_test_id("chat-link")).to_have_text([title])
    assert page.evaluate("window.notReloaded") is True


def test_when_the_title_request_fails_the_first_words_stay(page, model):
    register(page)

    send(page, "a chat the model cannot title")

    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    wait_for(lambda: asked_for_a_title(model, "a chat the model cannot title"))
    expect(page.get_by_test_id("chat-title")).to_have_text("a chat the model cannot title")
    expect(page.get_by_test_id("chat-link")).to_have_text(["a chat the model cannot title"])


def test_another_tab_on_the_chat_sees_the_new_title_too(pages, model):
    first = pages.new()
    register(first)
    failing = model.on("plans for a weekend away", Reply(status=500))
    send(first, "plans for a weekend away")  # the first reply fails: no title yet
    expect(last_reply(first)).to_have_attribute("data-status", "error")
    second = first.context.new_page()
    second.goto(chat_url(first))
    expect(second.get_by_test_id("chat-title")).to_have_text("plans for a weekend away")
    model.title = "Weekend in Lisbon"
    try:
        # Its first complete reply, a retry of the failed one, titles it.
        failing.status, failing.chunks = 200, ["Lisbon, ", "perhaps."]
        last_reply(first).get_by_test_id("retry").click()

        for tab in (first, second):
            expect(tab.get_by_test_id("chat-title")).to_have_text("Weekend in Lisbon")
            expect(tab.get_by_test_id("chat-link")).to_have_text(["Weekend in Lisbon"])
    finally:
        model.title = None


def test_a_rename_in_one_tab_shows_in_another_tab_on_the_chat(pages, model):
    first = pages.new()
    register(first)
    send(first, "a chat to rename elsewhere")
    expect(last_reply(first)).to_have_attribute("data-status", "complete")
    second = first.context.new_page()
    second.goto(chat_url(first))
    expect(second.get_by_test_id("chat-title")).to_have_text("a chat to rename elsewhere")

    first.get_by_test_id("rename-chat").first.click()
    first.get_by_test_id("rename-input").fill("Renamed in the first tab")
    first.get_by_test_id("rename-save").click()

    expect(second.get_by_test_id("chat-title")).to_have_text("Renamed in the first tab")
    expect(second.get_by_test_id("chat-link")).to_have_text(["Renamed in the first tab"])
