"""The real app (reflex.testing.AppHarnessProd: the project's production build) in a real
Chromium.

The scripted model server runs in this process, as does the app's backend, so a test can
script a reply and then read what the model server saw.
"""

from __future__ import annotations

import itertools
import os
import re
import time

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from reflex.testing import AppHarnessProd

from tests.conftest import ROOT
from tests.fake_openai import FakeOpenAI

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse battery"
expect.set_options(timeout=10_000)  # a shared 2-core machine: generous, never a timing test
_users = itertools.count(1)


@pytest.fixture(scope="session")
def model():
    with FakeOpenAI() as server:
        os.environ.update(server.app_environment())
        os.environ["CHATSTREAM_MODELS_TTL"] = "0"  # a test's model list is seen at once

        yield server


@pytest.fixture(scope="session")
def app(model, browser):
    # The production build, as `make serve` runs it: measured 1.8x faster than the dev
    # server (54 tests in 3 min 44 s against 6 min 41 s), and what users get.
    with AppHarnessProd.create(root=ROOT, app_name="chatstream") as harness:
        warm_up(browser, harness.frontend_url)
        yield harness


def warm_up(browser, url: str, attempts: int = 5) -> None:
    """Use every page once before the tests: the first tab of a fresh backend pays for the
    first database connections and the first compiled queries, not a test's timeouts."""
    context = browser.new_context(base_url=url)
    page = context.new_page()
    for attempt in range(attempts):
        try:
            page.goto("/login")
            register(page, timeout=20_000)
            send(page, "warm up")
            expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=20_000)
            page.reload()
            expect(last_reply(page)).to_have_attribute("data-status", "complete")
            break
        except AssertionError:
            if attempt == attempts - 1:
                raise
    context.close()


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Pages:
    """New browser contexts (a fresh person each) whose pages fail the test on any page error."""

    def __init__(self, browser, base_url: str) -> None:
        self.browser, self.base_url = browser, base_url.rstrip("/")
        self.errors: list[str] = []
        self._contexts = []

    def new(self, width: int = 1280, height: int = 800) -> Page:
        context = self.browser.new_context(
            base_url=self.base_url, viewport={"width": width, "height": height}
        )
        context.set_default_timeout(20_000)
        self._contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        return page

    def close(self) -> None:
        for context in self._contexts:
            context.close()


@pytest.fixture
def pages(browser, app):
    pages = Pages(browser, app.frontend_url)
    yield pages
    pages.close()
    assert pages.errors == [], f"page errors: {pages.errors}"


@pytest.fixture
def page(pages) -> Page:
    return pages.new()


def register(page: Page, username: str | None = None, timeout: float | None = None) -> str:
    """Register a new user through the UI; they land signed in on a new chat."""
    username = username or f"user{next(_users)}_{os.getpid()}"
    page.goto("/register")
    page.get_by_test_id("username").fill(username)
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("confirm-password").fill(PASSWORD)
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("composer")).to_be_visible(timeout=timeout)
    return username


def send(page: Page, text: str) -> None:
    """Send `text` as a person would; from the new-chat screen, wait until the chat it
    creates has its own page (as a person waits to see it before typing on)."""
    from_new_chat = re.match(r"^https?://[^/]+/$", page.url) is not None
    composer = page.get_by_test_id("composer")
    composer.fill(text)
    composer.press("Enter")
    if from_new_chat and text.strip():
        chat_url(page)


def last_reply(page: Page):
    return page.locator('[data-testid="message"][data-role="assistant"]').last


def reload_mid_stream(page: Page, testid: str, text: str, times: int = 5) -> None:
    """Reload `times` times while the last reply's `testid` grows towards `text`: each time
    it comes back with a start of `text`, at least about as long as before."""
    for _ in range(times):
        before = len(last_reply(page).get_by_test_id(testid).inner_text())
        page.reload()
        shown = last_reply(page).get_by_test_id(testid)
        expect(shown).not_to_have_text("")
        now = shown.inner_text()
        assert text.startswith(now) and len(now) >= before * 0.5
        page.wait_for_timeout(150)


def chat_url(page: Page) -> str:
    expect(page).to_have_url(re.compile(r"/chat/[\w-]+$"))
    return page.url


def new_chat(page: Page) -> None:
    """Open the new-chat screen and wait until it shows (a person cannot type sooner)."""
    page.get_by_test_id("new-chat").click()
    expect(page).to_have_url(re.compile(r"^https?://[^/]+/$"))
    expect(page.get_by_test_id("message")).to_have_count(0)


def wait_for(condition, timeout: float = 20.0) -> None:
    """Poll `condition` (state outside the page, e.g. what the model server saw)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def user_texts(page: Page):
    """The rendered text of each user message (without its buttons)."""
    return page.locator('[data-testid="message"][data-role="user"] [data-testid="message-content"]')
