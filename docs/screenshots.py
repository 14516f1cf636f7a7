"""Take the README's screenshots from the real app: `make screenshots` writes docs/*.png.

The app runs under AppHarness against the scripted model server, as in the browser tests.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import expect, sync_playwright  # noqa: E402
from reflex.testing import AppHarness  # noqa: E402

import tests.conftest  # noqa: E402,F401  (a throw-away database, migrated)
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, last_reply, new_chat, register, send  # noqa: E402
from tests.fake_openai import (  # noqa: E402
    DEMO_ANSWER,
    DEMO_REPLY,
    DEMO_THOUGHT,
    FakeOpenAI,
    Reply,
    words,
)

OUT = ROOT / "docs"


def main() -> None:
    with FakeOpenAI(models=("test-model", "llama-3.1-70b-instruct", "qwen2.5-coder-32b")) as model:
        os.environ.update(model.app_environment())
        model.on(
            "markdown",
            Reply(chunks=words(DEMO_REPLY, 3), delay=0.05, usage=(38, len(DEMO_REPLY) // 4)),
        )
        model.on(
            "haiku",
            Reply(
                chunks=words(
                    "Tokens drift like snow,\nsaved before the lights go out,\nnothing is lost here.",
                    3,
                )
            ),
        )
        model.on("broken", Reply(chunks=["I was saying"], delay=0, cut_after=1))
        model.on(
            "think",
            Reply(thinking=words(DEMO_THOUGHT, 3), chunks=words(DEMO_ANSWER, 3), delay=0.06),
        )
        with AppHarness.create(root=ROOT, app_name="chatstream") as app, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(
                base_url=app.frontend_url, viewport={"width": 1280, "height": 800}
            )
            page = context.new_page()
            register(page, "ada")
            send(page, "Write a haiku about streams")
            expect(last_reply(page)).to_have_attribute("data-status", "complete")
            new_chat(page)
            send(page, "This one will be broken")
            expect(last_reply(page)).to_have_attribute("data-status", "error")
            page.screenshot(path=OUT / "error.png")
            new_chat(page)
            send(page, "Show me some markdown")
            expect(last_reply(page).locator("table")).to_be_visible()
            page.screenshot(path=OUT / "streaming.png")
            expect(last_reply(page)).to_have_attribute("data-status", "complete")
            page.emulate_media(color_scheme="dark")  # the theme follows the system by default
            expect(page.locator("html")).to_have_class(re.compile(r"\bdark\b"))
            page.screenshot(path=OUT / "dark.png")
            page.emulate_media(color_scheme="light")
            expect(page.locator("html")).to_have_class(re.compile(r"\blight\b"))
            page.get_by_test_id("search-input").fill("lights")
            expect(page.get_by_test_id("search-result")).to_have_count(1)
            page.wait_for_timeout(300)
            page.screenshot(path=OUT / "search.png")
            page.keyboard.press("Escape")
            page.get_by_test_id("model-picker").click()
            expect(page.get_by_role("option")).to_have_count(3)
            page.wait_for_timeout(300)
            page.screenshot(path=OUT / "models.png")
            page.keyboard.press("Escape")
            thinking(page)
            new_chat(page)
            kite = model.on("kite", Reply(chunks=words("**Blue**, like a clear sky.", 4)))
            send(page, "Pick a colour for a kite")
            expect(last_reply(page)).to_have_attribute("data-status", "complete")
            kite.chunks = words("**Orange**: it stands out against a blue sky and green fields.", 4)
            last_reply(page).get_by_test_id("regenerate").click()
            expect(last_reply(page).get_by_test_id("version-label")).to_have_text("2/2")
            expect(last_reply(page)).to_have_attribute("data-status", "complete")
            page.wait_for_timeout(300)
            page.screenshot(path=OUT / "versions.png")

            phone = browser.new_context(
                base_url=app.frontend_url,
                viewport={"width": 390, "height": 760},
                storage_state=context.storage_state(),
            ).new_page()
            phone.goto(page.url)
            expect(last_reply(phone)).to_have_attribute("data-status", "complete")
            phone.screenshot(path=OUT / "phone.png")
            phone.get_by_label("Chats", exact=True).click()
            phone.wait_for_timeout(400)
            phone.screenshot(path=OUT / "phone-sidebar.png")
            browser.close()


def thinking(page) -> None:
    """A thinking model: its reasoning open and growing, then folded above the answer."""
    new_chat(page)
    send(page, "Please think before you answer")
    block = last_reply(page).get_by_test_id("reasoning")
    expect(block.get_by_test_id("reasoning-content")).to_contain_text("weigh a couple")
    page.wait_for_timeout(1200)  # the timer has counted a second or two
    page.screenshot(path=OUT / "thinking.png")
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    expect(last_reply(page).get_by_test_id("reasoning")).to_have_attribute("data-open", "false")
    page.screenshot(path=OUT / "thought.png")


if __name__ == "__main__":
    main()
