"""The phone layout (390 x 844): nothing wider than the screen, the sidebar folds away."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import chat_url, last_reply, register, send, user_texts, wait_for
from tests.fake_openai import Reply, words

WIDTH, HEIGHT = 390, 844

WIDE_REPLY = (
    "A long line of code:\n\n"
    "```python\n"
    f"url = 'https://example.com/{'a' * 320}'  # one line of {320 + 40} characters\n"
    "print(url)\n"
    "```\n\n"
    + "| "
    + " | ".join(f"column number {i}" for i in range(12))
    + " |\n|"
    + "---|" * 12
    + "\n| "
    + " | ".join(f"value {i}" for i in range(12))
    + " |\n\n"
    f"A long link: https://example.com/{'b' * 200} and a long word: {'c' * 200}.\n"
)

# What would scroll sideways: the page itself, and the columns between it and the reply.
OVERFLOW = """() => {
  const wider = (el) => el.scrollWidth > el.clientWidth;
  return {
    page: document.documentElement.scrollWidth > window.innerWidth,
    main: wider(document.querySelector("main")),
    scroller: wider(document.getElementById("chat-scroll")),
  };
}"""


def fits(locator, *, height: bool = True) -> bool:
    """Whether the element is shown wholly inside the phone's screen (its height too)."""
    box = locator.bounding_box()
    if box is None:
        return False
    across = box["x"] >= 0 and box["x"] + box["width"] <= WIDTH
    down = box["y"] >= 0 and box["y"] + box["height"] <= HEIGHT
    return across and (down or not height)


def test_long_code_reply_does_not_overflow_the_phone_width(pages, model):
    model.on("a wide reply", Reply(chunks=words(WIDE_REPLY, 40)))
    page = pages.new(width=WIDTH, height=HEIGHT)
    register(page)
    send(page, "a wide reply please")
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.locator("table")).to_be_visible()

    assert page.evaluate(OVERFLOW) == {"page": False, "main": False, "scroller": False}
    # Polled: the code block is highlighted, and so re-rendered, after the reply ends.
    for part in (reply, reply.locator("pre"), reply.locator("table")):
        wait_for(lambda part=part: fits(part, height=False))
    for testid in ("composer", "send", "model-picker", "chat-settings"):
        wait_for(lambda testid=testid: fits(page.get_by_test_id(testid)))


def test_sidebar_folds_away_on_a_phone(pages, model):
    page = pages.new(width=WIDTH, height=HEIGHT)
    register(page)
    send(page, "first topic")
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    first = chat_url(page)
    page.goto("/")
    expect(page.get_by_test_id("message")).to_have_count(0)
    send(page, "second topic")
    expect(last_reply(page)).to_have_attribute("data-status", "complete")

    sidebar = page.get_by_role("navigation")
    expect(sidebar).not_to_be_in_viewport()
    page.get_by_label("Chats", exact=True).click()
    expect(sidebar).to_be_in_viewport(ratio=1)
    page.mouse.click(WIDTH - 20, HEIGHT // 2)  # on the dimmed chat beside the sidebar
    expect(sidebar).not_to_be_in_viewport()

    page.get_by_label("Chats", exact=True).click()
    expect(sidebar).to_be_in_viewport(ratio=1)
    sidebar.get_by_test_id("chat-link").filter(has_text="first topic").click()
    expect(page).to_have_url(first)
    expect(user_texts(page)).to_have_text(["first topic"])
    expect(sidebar).not_to_be_in_viewport()
