"""One reply, followed by every tab, surviving reloads, closed tabs and stops; rewriting it."""

from playwright.sync_api import expect

from tests.e2e.conftest import (
    chat_url,
    last_reply,
    register,
    reload_mid_stream,
    send,
    user_texts,
    wait_for,
)
from tests.fake_openai import Reply, words


def numbered(prefix: str, count: int) -> str:
    return " ".join(f"{prefix}{i}" for i in range(count))


def test_five_reloads_in_a_row_each_pick_up_the_reply_and_the_final_text_is_exact(page, model):
    text = numbered("r", 200)
    model.on("five reloads", Reply(chunks=words(text, 5), delay=0.03))
    register(page)
    send(page, "five reloads please")
    content = last_reply(page).get_by_test_id("message-content")
    expect(content).to_contain_text("r3 ")

    reload_mid_stream(page, "message-content", text)

    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    expect(last_reply(page).get_by_test_id("message-content")).to_have_text(text)


def test_a_reply_whose_tab_was_closed_completes_and_is_saved(pages, model):
    text = numbered("c", 60)
    model.on("closed tab", Reply(chunks=words(text, 5), delay=0.03))
    page = pages.new()
    register(page)
    send(page, "closed tab please")
    expect(last_reply(page).get_by_test_id("message-content")).to_contain_text("c2")
    url = chat_url(page)
    state = page.context.storage_state()

    page.context.close()
    request = model.request_for("closed tab")
    wait_for(lambda: request.finished)

    later = pages.browser.new_context(base_url=pages.base_url, storage_state=state).new_page()
    later.goto(url)
    expect(last_reply(later)).to_have_attribute("data-status", "complete")
    expect(last_reply(later).get_by_test_id("message-content")).to_have_text(text)
    later.context.close()


def test_stop_from_another_tab_ends_the_reply_everywhere_and_closes_the_model_stream(pages, model):
    model.on("stop elsewhere", Reply(chunks=["one ", "two ", "three"], delay=0.02, hang_after=3))
    first = pages.new()
    register(first)
    send(first, "stop elsewhere please")
    url = chat_url(first)
    expect(last_reply(first).get_by_test_id("message-content")).to_have_text("one two three")
    second = first.context.new_page()
    second.goto(url)
    expect(last_reply(second)).to_have_attribute("data-status", "streaming")

    second.get_by_test_id("stop").click()

    for tab in (first, second):
        expect(last_reply(tab)).to_have_attribute("data-status", "stopped")
        expect(last_reply(tab).get_by_test_id("message-content")).to_have_text("one two three")
    request = model.request_for("stop elsewhere")
    wait_for(lambda: request.disconnected_at is not None)


def test_edit_and_resend_the_last_user_message_adds_a_version_of_it(page, model):
    model.on("original question", Reply(chunks=["Answer to the original."]))
    model.on("better question", Reply(chunks=["Answer to the better one."]))
    register(page)
    send(page, "first question")
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    send(page, "original question")
    expect(last_reply(page).get_by_test_id("message-content")).to_have_text(
        "Answer to the original."
    )

    page.locator('[data-role="user"]').last.get_by_test_id("edit").click()
    page.get_by_test_id("edit-input").fill("   ")
    page.get_by_test_id("edit-save").click()  # blank: nothing is sent, the editor stays
    expect(page.get_by_test_id("edit-input")).to_be_visible()
    page.get_by_test_id("edit-input").fill("better question")
    page.get_by_test_id("edit-save").click()

    expect(last_reply(page).get_by_test_id("message-content")).to_have_text(
        "Answer to the better one."
    )
    expect(user_texts(page)).to_have_text(["first question", "better question"])
    expect(page.get_by_test_id("message")).to_have_count(4)
    edited = page.locator('[data-testid="message"][data-role="user"]').last
    expect(edited.get_by_test_id("version-label")).to_have_text("2/2")
    history = model.request_for("better question").body["messages"]
    assert [m["content"] for m in history if m["role"] == "user"] == [
        "first question",
        "better question",
    ]


def test_a_tab_showing_the_chat_sees_a_reply_started_in_another_tab(pages, model):
    text = numbered("n", 120)
    model.on("from the other tab", Reply(chunks=words(text, 5), delay=0.03))
    first = pages.new()
    register(first)
    send(first, "a first message")
    expect(last_reply(first)).to_have_attribute("data-status", "complete")
    second = first.context.new_page()
    second.goto(chat_url(first))
    expect(last_reply(second)).to_have_attribute("data-status", "complete")

    send(second, "from the other tab please")

    expect(user_texts(first).last).to_have_text("from the other tab please")
    expect(last_reply(first)).to_have_attribute("data-status", "streaming")
    expect(last_reply(first).get_by_test_id("message-content")).to_contain_text("n3 ")
    for tab in (first, second):
        expect(last_reply(tab)).to_have_attribute("data-status", "complete")
        expect(last_reply(tab).get_by_test_id("message-content")).to_have_text(text)
    model.on("a first message", Reply(chunks=["Another ", "version."], delay=0.05))
    first.locator('[data-role="assistant"]').first.get_by_test_id("regenerate").click()
    # A new version of a reply the other tab shows: its count grows, its text stays.
    expect(first.get_by_test_id("message")).to_have_count(2)
    expect(last_reply(first).get_by_test_id("message-content")).to_have_text("Another version.")
    expect(second.get_by_test_id("version-label")).to_have_text("1/2")
    expect(second.get_by_test_id("message")).to_have_count(4)
    expect(last_reply(second)).to_have_attribute("data-status", "complete")
