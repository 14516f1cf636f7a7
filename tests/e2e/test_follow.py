"""The view follows a growing reply unless the reader scrolls up; other tabs follow it live."""

from playwright.sync_api import expect

from tests.e2e.conftest import chat_url, last_reply, register, send
from tests.fake_openai import Reply

LINES = [f"Line {i} of a long reply.\n\n" for i in range(150)]
SCROLL = "document.getElementById('chat-scroll')"


def distance_from_bottom(page) -> float:
    return page.evaluate(f"(el => el.scrollHeight - el.scrollTop - el.clientHeight)({SCROLL})")


def test_the_view_follows_the_reply_until_the_reader_scrolls_up(page, model):
    model.on("long reply", Reply(chunks=LINES, delay=0.04))
    register(page)
    send(page, "long reply please")
    content = last_reply(page).get_by_test_id("message-content")
    expect(content).to_contain_text("Line 40 of")
    assert distance_from_bottom(page) < 80

    page.mouse.move(640, 300)
    page.mouse.wheel(0, -1500)
    expect(page.locator("#jump-latest")).to_be_visible()
    top = page.evaluate(f"{SCROLL}.scrollTop")
    expect(content).to_contain_text("Line 80 of")
    assert abs(page.evaluate(f"{SCROLL}.scrollTop") - top) < 5  # left where the reader is

    page.locator("#jump-latest").click()
    expect(content).to_contain_text("Line 120 of")
    page.wait_for_timeout(600)  # the smooth scroll settles
    assert distance_from_bottom(page) < 80
    expect(page.locator("#jump-latest")).to_be_hidden()


def test_a_second_tab_of_the_same_user_follows_the_reply_live(pages, model):
    text = " ".join(f"tok{i}" for i in range(80))
    reply = model.on(
        "two tabs", Reply(chunks=[t + " " for t in text.split()], delay=0.02, hold_after=40)
    )
    first = pages.new()
    register(first)
    send(first, "two tabs please")
    url = chat_url(first)
    expect(last_reply(first).get_by_test_id("message-content")).to_contain_text("tok5")

    second = first.context.new_page()
    second.goto(url)

    shown = last_reply(second)
    expect(shown).to_have_attribute("data-status", "streaming")
    expect(shown.get_by_test_id("message-content")).to_contain_text("tok39")
    reply.release.set()  # the rest streams while the second tab watches
    expect(shown.get_by_test_id("message-content")).to_contain_text("tok60")
    expect(shown).to_have_attribute("data-status", "complete")
    expect(shown.get_by_test_id("message-content")).to_have_text(text)
