"""`make dev`: the Reflex dev server (hot reload), for working on the app, serves the app
as `make run` does, here against the scripted model (an endpoint configured, so the
bundled model is not started)."""

from __future__ import annotations

import os

from playwright.sync_api import expect, sync_playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, last_reply, register, send
from tests.fake_openai import FakeOpenAI, Reply, words
from tests.make_commands import VITE_DEV, MakeRun, answers

REPLY = "The dev server streams this reply, **in markdown**, a few characters at a time."


def test_make_dev_serves_the_app_with_hot_reload(tmp_path):
    with FakeOpenAI() as model:
        model.on("dev server", Reply(chunks=words(REPLY, 4), delay=0.02))
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
        run = MakeRun(tmp_path / "make-dev.log", "dev", {**env, **model.app_environment()})
        try:
            run.wait_until_serving()
            assert not run.serves_production_build()
            assert VITE_DEV in run.index_html()  # the dev server, with hot reload
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_context(base_url=run.url).new_page()
                page.set_default_timeout(60_000)
                register(page, timeout=180_000)
                send(page, "hello dev server")
                reply = last_reply(page)
                expect(reply).to_have_attribute("data-status", "complete")
                expect(reply.get_by_test_id("message-content")).to_contain_text(
                    "The dev server streams this reply, in markdown"
                )
                browser.close()
        finally:
            assert run.interrupt() is not None
        assert not answers(run.url)
