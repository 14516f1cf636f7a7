"""A thinking model's reply in the browser: its reasoning above the answer, live and saved,
followed by the view and within a phone's width."""

from playwright.sync_api import expect

from tests.e2e.conftest import chat_url, last_reply, register, reload_mid_stream, send, wait_for
from tests.e2e.test_follow import SCROLL, distance_from_bottom
from tests.e2e.test_narrow import HEIGHT, OVERFLOW, WIDTH, fits
from tests.fake_openai import Reply, words

THOUGHT = " ".join(f"t{i}" for i in range(120)) + " <img src=x onerror=alert(1)> **bold**"
ANSWER = " ".join(f"a{i}" for i in range(60))


def test_the_reasoning_grows_open_survives_a_reload_then_folds_when_the_answer_starts(page, model):
    model.on(
        "zq reasoning grows then folds",
        Reply(thinking=words(THOUGHT, 4), chunks=words(ANSWER, 4), delay=0.04, form="inline"),
    )
    register(page)
    send(page, "zq reasoning grows then folds")
    reply = last_reply(page)
    block = reply.get_by_test_id("reasoning")
    expect(block).to_have_attribute("data-open", "true")
    expect(block.get_by_test_id("reasoning-content")).to_contain_text("t5 ")
    expect(block.get_by_test_id("reasoning-toggle")).to_contain_text("Thinking…")
    expect(reply.get_by_test_id("message-content")).to_have_text("")

    page.reload()  # mid-thought: the block comes back open, with the text so far, growing
    block = last_reply(page).get_by_test_id("reasoning")
    expect(block).to_have_attribute("data-open", "true")
    expect(block.get_by_test_id("reasoning-content")).to_contain_text("t60 ")

    expect(block).to_have_attribute("data-open", "false")  # the answer began
    expect(block.get_by_test_id("reasoning-toggle")).to_contain_text("Thought for ")
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    reply = last_reply(page)
    expect(reply.get_by_test_id("message-content")).to_have_text(ANSWER)
    content = reply.get_by_test_id("reasoning-content")
    expect(content).to_be_hidden()
    reply.get_by_test_id("reasoning-toggle").click()
    expect(reply.get_by_test_id("reasoning")).to_have_attribute("data-open", "true")
    expect(content).to_contain_text("t119 <img src=x onerror=alert(1)> bold")
    expect(content.locator("img")).to_have_count(0)  # text, as in an answer
    expect(content.locator("strong")).to_have_text("bold")

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    reply.get_by_test_id("copy-reply").click()  # the answer alone, never the reasoning
    wait_for(lambda: page.evaluate("navigator.clipboard.readText()") == ANSWER)

    page.reload()  # a finished reply's reasoning stays folded
    block = last_reply(page).get_by_test_id("reasoning")
    expect(block).to_have_attribute("data-open", "false")
    expect(block.get_by_test_id("reasoning-toggle")).to_contain_text("Thought for ")
    expect(last_reply(page).get_by_test_id("message-content")).to_have_text(ANSWER)


def test_stop_while_thinking_keeps_the_reasoning(page, model):
    model.on(
        "zq reasoning stopped",
        Reply(thinking=["first ", "thoughts"], chunks=["never"], delay=0.02, hang_after=2),
    )
    register(page)
    send(page, "zq reasoning stopped")
    block = last_reply(page).get_by_test_id("reasoning")
    expect(block.get_by_test_id("reasoning-content")).to_have_text("first thoughts")

    page.get_by_test_id("stop").click()

    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "stopped")
    expect(reply.get_by_test_id("reasoning-content")).to_have_text("first thoughts")
    expect(reply.get_by_test_id("message-content")).to_have_text("")
    request = model.request_for("zq reasoning stopped")
    wait_for(lambda: request.disconnected_at is not None)


def test_a_second_tab_follows_the_reasoning_and_the_answer(pages, model):
    thought, answer = " ".join(f"s{i}" for i in range(80)), "The answer."
    model.on(
        "zq reasoning seen by a second tab",
        Reply(thinking=words(thought, 4), chunks=words(answer, 3), delay=0.04, form="reasoning"),
    )
    first = pages.new()
    register(first)
    send(first, "zq reasoning seen by a second tab")
    url = chat_url(first)
    expect(last_reply(first).get_by_test_id("reasoning-content")).to_contain_text("s3 ")
    second = first.context.new_page()
    second.goto(url)
    block = last_reply(second).get_by_test_id("reasoning")
    expect(block).to_have_attribute("data-open", "true")

    for tab in (first, second):
        expect(last_reply(tab)).to_have_attribute("data-status", "complete")
        expect(last_reply(tab).get_by_test_id("message-content")).to_have_text(answer)
        expect(last_reply(tab).get_by_test_id("reasoning-content")).to_have_text(thought)


def test_five_reloads_mid_thought_each_pick_up_the_reasoning_and_both_texts_end_exact(page, model):
    thought = " ".join(f"f{i}" for i in range(400))  # about 13 s of thinking
    model.on(
        "zq thought reloaded often",
        Reply(thinking=words(thought, 5), chunks=words(ANSWER, 4), delay=0.03),
    )
    register(page)
    send(page, "zq thought reloaded often")
    content = last_reply(page).get_by_test_id("reasoning-content")
    expect(content).to_contain_text("f3 ")

    reload_mid_stream(page, "reasoning-content", thought)

    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete", timeout=20_000)
    expect(reply.get_by_test_id("message-content")).to_have_text(ANSWER)
    reply.get_by_test_id("reasoning-toggle").click()
    expect(reply.get_by_test_id("reasoning-content")).to_have_text(thought)


def test_a_reply_whose_tab_closed_while_thinking_is_saved_with_its_reasoning(pages, model):
    thought = " ".join(f"c{i}" for i in range(60))
    model.on(
        "zq thought without its tab",
        Reply(thinking=words(thought, 4), chunks=words(ANSWER, 4), delay=0.03),
    )
    page = pages.new()
    register(page)
    send(page, "zq thought without its tab")
    expect(last_reply(page).get_by_test_id("reasoning-content")).to_contain_text("c2")
    url, state = chat_url(page), page.context.storage_state()

    page.context.close()  # while the model thinks
    request = model.request_for("zq thought without its tab")
    wait_for(lambda: request.finished)

    later = pages.browser.new_context(base_url=pages.base_url, storage_state=state).new_page()
    later.goto(url)
    reply = last_reply(later)
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.get_by_test_id("message-content")).to_have_text(ANSWER)
    expect(reply.get_by_test_id("reasoning")).to_have_attribute("data-open", "false")
    reply.get_by_test_id("reasoning-toggle").click()
    expect(reply.get_by_test_id("reasoning-content")).to_have_text(thought)
    later.context.close()


PHONE_THOUGHT = (
    "".join(f"Thought line {i}, weighing the question.\n\n" for i in range(120))
    + f"```\n{'x' * 300}\n```\n\n"
    + "".join(f"Thought line {i}, almost there.\n\n" for i in range(120, 160))
)


def test_on_a_phone_the_view_follows_the_reasoning_and_nothing_is_wider_than_the_screen(
    pages, model
):
    model.on(
        "zq reasoning on a phone",
        Reply(thinking=words(PHONE_THOUGHT, 12), chunks=words(ANSWER, 4), delay=0.03),
    )
    page = pages.new(width=WIDTH, height=HEIGHT)
    register(page)
    send(page, "zq reasoning on a phone")
    block = last_reply(page).get_by_test_id("reasoning")
    content = block.get_by_test_id("reasoning-content")
    expect(content).to_contain_text(
        "Thought line 40,", timeout=20_000
    )  # well past the screen's height
    assert distance_from_bottom(page) < 80  # the view follows the thinking
    assert fits(block.get_by_test_id("reasoning-toggle"), height=False)

    page.mouse.move(200, 300)
    page.mouse.wheel(0, -1500)  # the reader scrolls up: the view stays where the reader is
    expect(page.locator("#jump-latest")).to_be_visible()
    top = page.evaluate(f"{SCROLL}.scrollTop")
    expect(content).to_contain_text("Thought line 80,", timeout=20_000)
    assert abs(page.evaluate(f"{SCROLL}.scrollTop") - top) < 5

    page.locator("#jump-latest").click()
    expect(content).to_contain_text("x" * 300, timeout=20_000)  # the wide line, inside the block
    assert page.evaluate(OVERFLOW) == {"page": False, "main": False, "scroller": False}
    assert fits(block, height=False)

    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete", timeout=20_000)
    expect(reply.get_by_test_id("reasoning")).to_have_attribute("data-open", "false")
    expect(reply.get_by_test_id("message-content")).to_have_text(ANSWER)
    page.wait_for_timeout(600)  # the smooth scroll settles
    assert distance_from_bottom(page) < 80  # the answer, under the folded block, is in view
    assert page.evaluate(OVERFLOW) == {"page": False, "main": False, "scroller": False}
