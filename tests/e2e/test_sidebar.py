"""The sidebar lists the user's chats newest first, titled from the first message."""

import re

from playwright.sync_api import expect

from tests.e2e.conftest import chat_url, last_reply, new_chat, register, send, user_texts


def start_chat(page, text: str) -> str:
    new_chat(page)
    send(page, text)
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    return chat_url(page)


def test_chats_are_listed_newest_first_and_open_from_the_sidebar(page, model):
    register(page)
    first = start_chat(page, "first topic")
    start_chat(page, "second topic")

    links = page.get_by_test_id("chat-link")
    expect(links).to_have_text(["second topic", "first topic"])
    links.nth(1).click()

    expect(page).to_have_url(first)
    expect(user_texts(page)).to_have_text("first topic")
    expect(links.nth(1)).to_have_attribute("aria-current", "page")  # the open chat's entry
    expect(links.nth(0)).not_to_have_attribute("aria-current", "page")


def test_rename_and_delete_a_chat(page, model):
    register(page)
    start_chat(page, "to be renamed")

    page.get_by_test_id("rename-chat").first.click()
    page.get_by_test_id("rename-input").fill("Renamed chat")
    page.get_by_test_id("rename-save").click()
    expect(page.get_by_test_id("chat-link")).to_have_text(["Renamed chat"])

    page.get_by_test_id("delete-chat").first.click()
    page.get_by_test_id("delete-confirm").click()
    expect(page.get_by_test_id("chat-link")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"^http://[^/]+/$"))
