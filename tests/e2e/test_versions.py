"""Every version kept: regenerate and edit make versions, ‹ n/m › walks them, the choice is
saved on the server (reloads and other tabs), and a reply streams into its own branch."""

from playwright.sync_api import expect

from tests.e2e.conftest import chat_url, last_reply, register, send, user_texts
from tests.fake_openai import Reply, words


def replies(page):
    return page.locator('[data-testid="message"][data-role="assistant"]')


def label(message):
    return message.get_by_test_id("version-label")


def test_regenerate_three_times_then_walk_the_versions_and_keep_the_choice(pages, model):
    answers = ["First answer.", "Second answer.", "Third answer.", "Fourth answer."]
    script = model.on("four versions", Reply(chunks=[answers[0]]))
    page = pages.new()
    register(page)
    send(page, "four versions please")
    expect(last_reply(page).get_by_test_id("message-content")).to_have_text(answers[0])
    expect(last_reply(page).get_by_test_id("version-label")).to_have_count(0)  # one version

    for number, answer in enumerate(answers[1:], start=2):
        script.chunks = [answer]
        last_reply(page).get_by_test_id("regenerate").click()
        expect(last_reply(page).get_by_test_id("message-content")).to_have_text(answer)
        expect(label(last_reply(page))).to_have_text(f"{number}/{number}")
    expect(page.get_by_test_id("message")).to_have_count(2)

    for number in (3, 2, 1):
        last_reply(page).get_by_test_id("version-prev").click()
        expect(label(last_reply(page))).to_have_text(f"{number}/4")
        expect(last_reply(page).get_by_test_id("message-content")).to_have_text(answers[number - 1])
    expect(last_reply(page).get_by_test_id("version-prev")).to_be_disabled()
    last_reply(page).get_by_test_id("version-next").click()
    expect(label(last_reply(page))).to_have_text("2/4")

    # The choice is the server's: a reload and another tab show version 2.
    page.reload()
    expect(label(last_reply(page))).to_have_text("2/4")
    expect(last_reply(page).get_by_test_id("message-content")).to_have_text(answers[1])
    second = page.context.new_page()
    second.goto(chat_url(page))
    expect(label(last_reply(second))).to_have_text("2/4")
    expect(last_reply(second).get_by_test_id("message-content")).to_have_text(answers[1])
    # A switch in one tab reaches the other, which shows the chat.
    second.get_by_test_id("version-next").click()
    expect(label(last_reply(page))).to_have_text("3/4")
    expect(last_reply(page).get_by_test_id("message-content")).to_have_text(answers[2])
    # Each version was asked with the same history: the question, nothing of the others.
    asked = [r for r in model.requests if "four versions" in r.last_user_message]
    assert len(asked) == 4
    assert {
        tuple(m["content"] for m in r.body["messages"] if m["role"] != "system") for r in asked
    } == {("four versions please",)}


def test_editing_the_first_message_of_a_long_chat_starts_a_new_branch(page, model):
    register(page)
    for n in range(1, 5):
        model.on(f"long chat q{n}", Reply(chunks=[f"Answer {n}."]))
        send(page, f"long chat q{n}")
        expect(page.get_by_test_id("message")).to_have_count(2 * n)  # its reply is there…
        expect(last_reply(page)).to_have_attribute("data-status", "complete")  # …and ended
        expect(last_reply(page).get_by_test_id("message-content")).to_have_text(f"Answer {n}.")
    model.on("a new start", Reply(chunks=["A new answer."]))

    page.locator('[data-role="user"]').first.get_by_test_id("edit").click()
    page.get_by_test_id("edit-input").fill("a new start")
    page.get_by_test_id("edit-save").click()

    expect(last_reply(page).get_by_test_id("message-content")).to_have_text("A new answer.")
    expect(page.get_by_test_id("message")).to_have_count(2)
    first = page.locator('[data-testid="message"][data-role="user"]').first
    expect(label(first)).to_have_text("2/2")
    sent = model.request_for("a new start").body["messages"]
    assert [m["content"] for m in sent if m["role"] != "system"] == ["a new start"]
    # Nothing was deleted: version 1 shows the whole old chat again.
    first.get_by_test_id("version-prev").click()
    expect(user_texts(page)).to_have_text([f"long chat q{n}" for n in range(1, 5)])
    expect(replies(page).get_by_test_id("message-content")).to_have_text(
        [f"Answer {n}." for n in range(1, 5)]
    )
    expect(label(page.locator('[data-role="user"]').first)).to_have_text("1/2")
    # Search finds the text of the other branch, and its result opens that branch.
    page.get_by_test_id("search-input").fill("new answer")
    expect(page.get_by_test_id("search-result")).to_have_count(1)
    page.get_by_test_id("search-result").click()
    expect(user_texts(page)).to_have_text(["a new start"])
    expect(last_reply(page).get_by_test_id("message-content")).to_have_text("A new answer.")
    expect(label(page.locator('[data-role="user"]').first)).to_have_text("2/2")


def test_a_branch_switched_while_its_reply_streams_shows_it_live_again(pages, model):
    text = " ".join(f"v{i}" for i in range(150))
    script = model.on("switch while streaming", Reply(chunks=["Old answer."]))
    page = pages.new()
    register(page)
    send(page, "switch while streaming")
    expect(last_reply(page).get_by_test_id("message-content")).to_have_text("Old answer.")
    other = page.context.new_page()
    other.goto(chat_url(page))
    expect(last_reply(other).get_by_test_id("message-content")).to_have_text("Old answer.")
    script.chunks, script.delay, script.hold_after = words(text, 5), 0.01, 4

    last_reply(page).get_by_test_id("regenerate").click()
    expect(last_reply(page)).to_have_attribute("data-status", "streaming")
    expect(label(last_reply(page))).to_have_text("2/2")
    # The other tab shows the first version: its count grows, the new text does not come.
    expect(label(last_reply(other))).to_have_text("1/2")
    expect(last_reply(other).get_by_test_id("message-content")).to_have_text("Old answer.")
    expect(other.locator('[data-status="streaming"]')).to_have_count(0)

    last_reply(page).get_by_test_id("version-prev").click()  # away, while it streams
    expect(last_reply(page).get_by_test_id("message-content")).to_have_text("Old answer.")
    expect(page.locator('[data-status="streaming"]')).to_have_count(0)
    expect(label(last_reply(page))).to_have_text("1/2")

    last_reply(page).get_by_test_id("version-next").click()  # and back: live again
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "streaming")
    expect(reply.get_by_test_id("message-content")).to_have_text(text[:20].strip())  # held
    script.release.set()  # the rest of the reply streams into the branch shown again
    for tab in (page, other):  # the other tab followed the switch
        expect(last_reply(tab)).to_have_attribute("data-status", "complete", timeout=20_000)
        expect(last_reply(tab).get_by_test_id("message-content")).to_have_text(text)
        expect(label(last_reply(tab))).to_have_text("2/2")
