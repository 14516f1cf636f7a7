"""Drafts kept per chat across reloads, the keyboard shortcuts, and a new chat's page ready
before it is needed."""

import re

from playwright.sync_api import expect

from tests.e2e.conftest import chat_url, last_reply, new_chat, register, send, wait_for
from tests.fake_openai import Reply


def start_chat(page, text: str) -> str:
    send(page, text)
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    return chat_url(page)


def test_a_draft_survives_a_reload_and_stays_with_its_own_chat(page, model):
    register(page)
    first = start_chat(page, "first chat")
    composer = page.get_by_test_id("composer")
    composer.fill("half-written thought")
    page.reload()
    expect(page.get_by_test_id("composer")).to_have_value("half-written thought")

    new_chat(page)
    expect(composer).to_have_value("")
    composer.fill("a new chat's draft")
    page.goto(first)
    expect(composer).to_have_value("half-written thought")
    new_chat(page)
    expect(composer).to_have_value("a new chat's draft")


def test_a_sent_message_leaves_no_draft_and_a_refused_one_keeps_it(page, model):
    register(page)
    url = start_chat(page, "the sent one")
    page.reload()
    expect(page.get_by_test_id("composer")).to_have_value("")
    new_chat(page)
    expect(page.get_by_test_id("composer")).to_have_value("")

    page.goto(url)
    composer = page.get_by_test_id("composer")
    composer.fill("y" * 32_001)
    page.get_by_test_id("send").click()
    expect(page.get_by_text("the limit is 32,000")).to_be_visible()
    page.reload()
    expect(page.get_by_test_id("composer")).to_have_value("y" * 32_001)


def test_a_refused_message_stays_the_draft_of_its_chat_when_the_page_changes_chat(page, model):
    register(page)
    url = start_chat(page, "refused draft chat")
    composer = page.get_by_test_id("composer")
    composer.fill("z" * 32_001)
    page.get_by_test_id("send").click()
    expect(page.get_by_text("the limit is 32,000")).to_be_visible()
    new_chat(page)
    expect(composer).to_have_value("")
    page.goto(url)
    expect(composer).to_have_value("z" * 32_001)


def test_shortcuts_focus_the_composer_open_a_new_chat_and_show_help(page, model):
    register(page)
    start_chat(page, "shortcut chat")
    page.reload()  # the chat's page mounted once: its autofocus is over before the click
    expect(page.get_by_test_id("composer")).to_be_focused()
    page.locator("body").click(position={"x": 5, "y": 400})
    expect(page.get_by_test_id("composer")).not_to_be_focused()
    page.keyboard.press("Shift+Escape")
    expect(page.get_by_test_id("composer")).to_be_focused()

    page.locator("body").click(position={"x": 5, "y": 400})
    page.keyboard.press("/")
    expect(page.get_by_test_id("composer")).to_be_focused()
    expect(page.get_by_test_id("composer")).to_have_value("")  # "/" was not typed

    page.keyboard.press("Control+Shift+O")
    expect(page).to_have_url(re.compile(r"^https?://[^/]+/$"))

    page.keyboard.press("Control+/")
    help = page.get_by_test_id("shortcuts-help")
    expect(help).to_be_visible()
    expect(help).to_contain_text("New chat")
    page.keyboard.press("Escape")
    expect(help).to_be_hidden()


def test_escape_stops_the_reply_being_written(page, model):
    model.on("escape me", Reply(chunks=["still ", "writing"], delay=0.02, hang_after=2))
    register(page)
    send(page, "escape me")
    reply = last_reply(page)
    expect(reply.get_by_test_id("message-content")).to_have_text("still writing")
    expect(page.get_by_test_id("stop")).to_be_visible()  # Esc stops what Stop would

    page.get_by_test_id("composer").press("Escape")

    expect(reply).to_have_attribute("data-status", "stopped")
    request = model.request_for("escape me")
    wait_for(lambda: request.disconnected_at is not None)


def test_the_new_chat_screen_loads_the_chat_page_code_before_the_first_send(page, model):
    """The first send moves the tab to the new chat's page as the reply starts: that page's
    code is fetched while the user types, not then."""
    model.on("first of many", Reply(chunks=["Hello", " there"]))
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    register(page)
    wait_for(lambda: any("chat_public_id" in url for url in fetched))
    before = len(fetched)
    send(page, "first of many")
    expect(last_reply(page)).to_have_text(re.compile("Hello there"))
    assert [url for url in fetched[before:] if "chat_public_id" in url] == []
