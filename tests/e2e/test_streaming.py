"""A reply streams into place, survives a reload, stops on demand, and shows its faults."""

import time

from playwright.sync_api import expect

from tests.e2e.conftest import chat_url, last_reply, register, send, user_texts, wait_for
from tests.fake_openai import Reply, words

PLAIN = (
    "Streaming replies grow in place while the model writes them and every "
    "character that the model sent ends up on the screen in the right order"
)


def grow_texts(page, reply, until_status: str = "complete", limit: float = 30.0) -> list[str]:
    """The distinct texts the reply showed, polled until it reaches `until_status`."""
    content = reply.get_by_test_id("message-content")
    seen: list[str] = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        text = content.inner_text()
        if not seen or text != seen[-1]:
            seen.append(text)
        if reply.get_attribute("data-status") == until_status:
            return seen
        page.wait_for_timeout(15)
    raise AssertionError(f"reply never reached {until_status}; texts: {seen[-3:]}")


def test_a_reply_streams_into_place_then_shows_its_exact_final_text(page, model):
    model.on("grow please", Reply(chunks=words(PLAIN, 3), delay=0.04))
    register(page)

    send(page, "grow please")

    expect(user_texts(page).last).to_have_text("grow please")
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "streaming")
    texts = grow_texts(page, reply)
    partial = [t for t in texts if t and t != PLAIN]
    assert len(partial) >= 3, texts
    assert all(PLAIN.startswith(t) for t in texts)
    expect(reply.get_by_test_id("message-content")).to_have_text(PLAIN)
    assert reply.get_attribute("data-message-id")
    chat_url(page)


def test_markdown_renders_with_highlighted_code_and_a_copy_button(page, model):
    model.on(
        "markdown please",
        Reply(
            chunks=words(
                "- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nprint('hi')\n```\n",
                4,
            )
        ),
    )
    register(page)

    send(page, "markdown please")

    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.locator("li")).to_have_count(2)
    expect(reply.locator("table td").first).to_have_text("1")
    expect(reply.locator("pre")).to_contain_text("print('hi')")
    expect(reply.get_by_test_id("copy-code")).to_be_visible()


def test_shift_enter_adds_a_line_and_enter_sends(page, model):
    register(page)
    composer = page.get_by_test_id("composer")

    composer.type("first line")
    composer.press("Shift+Enter")
    composer.type("second line")

    expect(composer).to_have_value("first line\nsecond line")
    expect(page.get_by_test_id("message")).to_have_count(0)
    composer.press("Enter")
    expect(user_texts(page)).to_have_text("first line\nsecond line")
    expect(composer).to_have_value("")


def test_reload_mid_stream_shows_the_text_so_far_and_keeps_following(page, model):
    text = " ".join(f"word{i}" for i in range(120))
    model.on("reload please", Reply(chunks=words(text, 6), delay=0.05))
    register(page)
    send(page, "reload please")
    content = last_reply(page).get_by_test_id("message-content")
    expect(content).to_contain_text("word10")

    page.reload()

    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "streaming")
    expect(reply.get_by_test_id("message-content")).to_contain_text("word1")
    texts = grow_texts(page, reply)
    assert len(set(texts)) >= 2 and all(text.startswith(t) for t in texts)
    expect(reply.get_by_test_id("message-content")).to_have_text(text)


def test_stop_ends_the_reply_keeps_its_text_and_closes_the_model_stream(page, model):
    model.on("stop please", Reply(chunks=["kept ", "partial ", "text"], delay=0.02, hang_after=3))
    register(page)
    send(page, "stop please")
    reply = last_reply(page)
    expect(reply.get_by_test_id("message-content")).to_have_text("kept partial text")

    page.get_by_test_id("stop").click()

    expect(reply).to_have_attribute("data-status", "stopped")
    expect(reply.get_by_test_id("message-content")).to_have_text("kept partial text")
    expect(page.get_by_test_id("send")).to_be_visible()
    request = model.request_for("stop please")
    wait_for(lambda: request.disconnected_at is not None)


def test_a_model_error_shows_on_the_message_and_retry_writes_it_again(page, model):
    failing = model.on("flaky please", Reply(status=500))
    register(page)

    send(page, "flaky please")

    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "error")
    expect(reply).to_contain_text("HTTP 500")
    failing.status = 200
    failing.chunks = ["Second ", "time ", "lucky."]
    reply.get_by_test_id("retry").click()
    retried = last_reply(page)
    expect(retried).to_have_attribute("data-status", "complete")
    expect(retried.get_by_test_id("message-content")).to_have_text("Second time lucky.")
    expect(page.get_by_test_id("message")).to_have_count(2)


def test_blank_and_oversized_messages_are_not_sent(page, model):
    register(page)
    composer = page.get_by_test_id("composer")

    composer.fill("   \n  ")
    composer.press("Enter")
    page.get_by_test_id("send").click()
    composer.fill("x" * 32_001)
    page.get_by_test_id("send").click()

    expect(page.get_by_text("the limit is 32,000")).to_be_visible()
    expect(page.get_by_test_id("message")).to_have_count(0)
    expect(composer).to_have_value("x" * 32_001)
