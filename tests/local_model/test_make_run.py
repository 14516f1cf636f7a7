"""`make run` on a machine with no model configured: the bundled local model (llama.cpp's
server with SmolLM2-135M-Instruct) starts, its replies stream into the page and complete,
and the model server stops when `make run` does.

This is the real model, not the scripted one: the test asks what an instruction model must
do, measured reliable at the launcher's sampling settings (README, "The default model"):
name Paris as the capital of France, and answer a request for a numbered list with a
markdown list, which the page renders as one.
"""

from __future__ import annotations

import os
import signal
import urllib.request

import pytest
import reflex as rx
from playwright.sync_api import expect, sync_playwright

from chatstream.local_model import DEFAULT_MODEL, MODELS, endpoint_configured
from chatstream.models import Message
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, last_reply, new_chat, register, send
from tests.make_commands import MakeRun, answers

WATCH_STREAM = """() => {
  window.__streamed = [];
  window.__streamedItems = 0;
  if (window.__watching) return;
  window.__watching = true;
  new MutationObserver(() => {
    const live = document.querySelector('[data-testid="message"][data-status="streaming"]');
    const content = live?.querySelector('[data-testid="message-content"]');
    const text = content?.innerText.trim();
    if (text && window.__streamed.at(-1) !== text) window.__streamed.push(text);
    const items = content ? content.querySelectorAll('li').length : 0;
    window.__streamedItems = Math.max(window.__streamedItems, items);
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""
"""Every distinct text the streaming reply showed while it streamed, and the most list items
it showed rendered meanwhile (installed before the send: a tiny model may finish a short
reply in a fraction of a second)."""


@pytest.fixture
def make_run(tmp_path):
    assert not endpoint_configured(), (
        "a model endpoint is configured (environment or .env): this test checks the default"
    )
    run = MakeRun(tmp_path / "make-run.log")
    yield run
    if run.process.poll() is None:
        os.killpg(run.process.pid, signal.SIGKILL)
        run.process.wait()


def ask(page, text: str) -> tuple[object, str, dict]:
    """Send `text` from a new chat and wait for the reply to complete: the reply, its final
    text, and what the page showed while it streamed."""
    new_chat(page)
    page.evaluate(WATCH_STREAM)
    send(page, text)
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete", timeout=180_000)
    final = reply.get_by_test_id("message-content").inner_text().strip()
    return (
        reply,
        final,
        page.evaluate("({texts: window.__streamed, items: window.__streamedItems})"),
    )


def test_make_run_with_no_endpoint_streams_answers_from_the_bundled_model(make_run):
    make_run.wait_until_serving()
    assert make_run.serves_production_build()
    model_port = make_run.model_port()
    with urllib.request.urlopen(f"http://127.0.0.1:{model_port}/v1/models") as response:
        assert MODELS[DEFAULT_MODEL].alias in response.read().decode()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(base_url=make_run.url).new_page()
        page.set_default_timeout(60_000)
        register(page, timeout=120_000)
        expect(page.get_by_test_id("model-picker")).to_contain_text("SmolLM2 135M")
        expect(page.get_by_test_id("model-picker")).to_contain_text("local")

        _, capital, seen = ask(page, "What is the capital of France?")
        assert capital and seen["texts"], "no text was seen while the reply streamed"
        assert all(capital.startswith(text) for text in seen["texts"]), (seen, capital)
        assert "Paris" in capital, capital

        # Markdown renders while it grows ("1" becomes a list item): no prefix check here.
        reply, tips, seen = ask(page, "Give me three tips for sleeping better, as a numbered list.")
        items = reply.get_by_test_id("message-content").locator("ol > li, ul > li")
        assert items.count() >= 2, f"no markdown list rendered: {tips!r}"
        assert seen["items"] >= 1 and len(seen["texts"]) >= 2, ("not seen streaming", seen)
        browser.close()

    with rx.session() as session:
        saved = session.query(Message).filter(Message.role == "assistant").all()[-2:]
        assert [(m.status, m.streaming, m.model) for m in saved] == [
            ("complete", False, MODELS[DEFAULT_MODEL].alias)
        ] * 2
        assert "Paris" in saved[0].content

    assert make_run.interrupt() is not None
    assert not answers(f"http://127.0.0.1:{model_port}/v1/models"), "the model server still runs"
