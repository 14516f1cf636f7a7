"""The server is killed (`kill -9`) mid-reply and started again: nothing stays streaming.

The app runs as `reflex run` in its own process group, so the kill takes it all down at
once, as a crash would. This runs in its own pytest invocation: it builds `.web` itself.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import reflex as rx
from playwright.sync_api import expect, sync_playwright

from chatstream.models import Message
from tests.conftest import ROOT
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, last_reply, register, send
from tests.fake_openai import FakeOpenAI, Reply, words
from tests.services import free_ports


class App:
    """`reflex run` (dev) in a process group of its own."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.frontend_port, self.backend_port = free_ports(2)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://localhost:{self.frontend_port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def start(self, timeout: float = 240) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "reflex", "run", "--loglevel", "warning",
                 "--frontend-port", str(self.frontend_port),
                 "--backend-port", str(self.backend_port)],
                cwd=ROOT,
                env=self.env,
                start_new_session=True,
                stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        for url in (f"http://127.0.0.1:{self.backend_port}/ping", self.url):
            while True:
                assert self.process.poll() is None, f"the app exited:\n{self.output()}"
                assert time.monotonic() < deadline, f"{url} did not answer:\n{self.output()}"
                try:
                    urllib.request.urlopen(url, timeout=2)
                    break
                except OSError:
                    time.sleep(0.5)

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@pytest.fixture
def model():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def app(model, tmp_path):
    app = App({**os.environ, **model.app_environment()}, tmp_path / "reflex-run.log")
    app.start()
    yield app
    if app.process.poll() is None:
        app.kill()


def streaming_row(marker: str, text: str = "content") -> Message | None:
    """The streaming reply whose `text` (its answer, or its reasoning) starts with `marker`."""
    with rx.session() as session:
        for message in session.query(Message).filter(Message.role == "assistant").all():
            if message.streaming and getattr(message, text).startswith(marker):
                return message
    return None


def reopen(page) -> None:
    """Load the page's address again once the app is back."""
    url = page.url
    for attempt in range(5):  # the dev server may still reload itself once after start
        try:
            page.goto(url)
            return
        except Exception:
            if attempt == 4:
                raise
            page.wait_for_timeout(1000)


def test_a_reply_cut_by_kill_9_shows_its_last_checkpoint_as_interrupted_with_retry(app, model):
    text = " ".join(f"k{i}" for i in range(400))
    model.on("kill me", Reply(chunks=words(text, 4), delay=0.03))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(base_url=app.url).new_page()
        page.set_default_timeout(30_000)
        register(page)
        send(page, "kill me now")
        expect(page).to_have_url(re.compile(r"/chat/"))
        expect(last_reply(page).get_by_test_id("message-content")).to_contain_text("k20")
        deadline = time.monotonic() + 20
        while (row := streaming_row("k0")) is None or len(row.content) < 40:
            assert time.monotonic() < deadline, "no checkpoint was saved"
            time.sleep(0.1)

        app.kill()
        saved = streaming_row("k0")
        assert saved is not None and text.startswith(saved.content)
        app.start()
        reopen(page)

        reply = last_reply(page)
        expect(reply).to_have_attribute("data-status", "interrupted")
        shown = reply.get_by_test_id("message-content").inner_text()
        assert text.startswith(shown) and len(shown) >= len(saved.content)
        with rx.session() as session:
            assert session.query(Message).filter(Message.streaming).count() == 0

        model.on("kill me", Reply(chunks=["Back ", "again."]))
        reply.get_by_test_id("retry").click()
        expect(last_reply(page)).to_have_attribute("data-status", "complete")
        expect(last_reply(page).get_by_test_id("message-content")).to_have_text("Back again.")
        browser.close()


def test_a_reply_killed_while_thinking_keeps_its_checkpointed_reasoning(app, model):
    thought = " ".join(f"z{i}" for i in range(400))
    model.on("kill thinking", Reply(thinking=words(thought, 4), chunks=["never"], delay=0.03))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(base_url=app.url).new_page()
        page.set_default_timeout(30_000)
        register(page)
        send(page, "kill thinking now")
        expect(page).to_have_url(re.compile(r"/chat/"))
        expect(last_reply(page).get_by_test_id("reasoning-content")).to_contain_text("z20")
        deadline = time.monotonic() + 20
        while (row := streaming_row("z0", "reasoning")) is None or len(row.reasoning) < 40:
            assert time.monotonic() < deadline, "no checkpoint of the reasoning was saved"
            time.sleep(0.1)

        app.kill()
        saved = streaming_row("z0", "reasoning")
        assert saved is not None and thought.startswith(saved.reasoning) and saved.content == ""
        app.start()
        reopen(page)

        reply = last_reply(page)
        expect(reply).to_have_attribute("data-status", "interrupted")
        shown = reply.get_by_test_id("reasoning-content").text_content()
        assert thought.startswith(shown) and len(shown) >= len(saved.reasoning)
        browser.close()
