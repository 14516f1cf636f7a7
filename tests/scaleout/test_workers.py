"""One live chat across workers: follow, stop, kill a worker, lose Redis or PostgreSQL.

A tab on server A and a tab on server B are on different workers (see conftest). The same
person signs in on both.
"""

from __future__ import annotations

import os
import re
import signal
import time

from playwright.sync_api import Page, expect

from tests.e2e.conftest import (
    PASSWORD,
    chat_url,
    last_reply,
    register,
    send,
    user_texts,
    wait_for,
)
from tests.fake_openai import Reply, words


def numbered(prefix: str, count: int) -> str:
    return " ".join(f"{prefix}{i}" for i in range(count))


def login(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_test_id("username").fill(username)
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("composer")).to_be_visible()


def open_on(page: Page, url: str) -> None:
    """Open the chat at `url` (another server's address) on this page's own server."""
    page.goto(re.sub(r"^https?://[^/]+", "", url))


def reply_id(page: Page) -> str:
    return last_reply(page).get_attribute("data-message-id")


def test_a_reply_written_on_one_worker_streams_live_in_a_tab_on_another(pages_a, pages_b, model):
    text = numbered("w", 150)
    model.on("across workers", Reply(chunks=words(text, 6), delay=0.03))
    writer, reader = pages_a.new(), pages_b.new()
    username = register(writer)
    login(reader, username)
    send(writer, "across workers please")
    url = chat_url(writer)

    open_on(reader, url)
    shown = last_reply(reader).get_by_test_id("message-content")
    expect(last_reply(reader)).to_have_attribute("data-status", "streaming")
    expect(shown).to_contain_text("w40 ")  # grows while the reply streams, live
    assert last_reply(reader).get_attribute("data-status") == "streaming"

    for tab in (writer, reader):
        expect(last_reply(tab)).to_have_attribute("data-status", "complete")
        expect(last_reply(tab).get_by_test_id("message-content")).to_have_text(text)


def test_a_reply_sent_on_one_worker_appears_live_in_a_tab_on_another_showing_the_chat(
    pages_a, pages_b, model
):
    text = numbered("s", 120)
    model.on("sent on B", Reply(chunks=words(text, 6), delay=0.03))
    watcher, sender = pages_a.new(), pages_b.new()
    username = register(watcher)
    login(sender, username)
    send(watcher, "a first message")
    expect(last_reply(watcher)).to_have_attribute("data-status", "complete")
    open_on(sender, chat_url(watcher))
    expect(last_reply(sender)).to_have_attribute("data-status", "complete")

    send(sender, "sent on B please")

    expect(last_reply(watcher).get_by_test_id("message-content")).to_contain_text("s3 ")
    expect(user_texts(watcher).last).to_have_text("sent on B please")
    for tab in (watcher, sender):
        expect(last_reply(tab)).to_have_attribute("data-status", "complete")
        expect(last_reply(tab).get_by_test_id("message-content")).to_have_text(text)


def test_stop_sent_through_another_worker_closes_the_model_stream(pages_a, pages_b, model, cluster):
    # The model hangs after three chunks: no checkpoint happens, only the stop message can
    # reach the job, and the stall timeout (30 s) is far away.
    model.on("stop across", Reply(chunks=["one ", "two ", "three"], delay=0.02, hang_after=3))
    writer, stopper = pages_a.new(), pages_b.new()
    username = register(writer)
    login(stopper, username)
    send(writer, "stop across please")
    expect(last_reply(writer).get_by_test_id("message-content")).to_have_text("one two three")
    open_on(stopper, chat_url(writer))
    expect(last_reply(stopper)).to_have_attribute("data-status", "streaming")
    request = model.request_for("stop across")

    stopper.get_by_test_id("stop").click()
    clicked = time.time()

    wait_for(lambda: request.disconnected_at is not None, timeout=10)
    for tab in (writer, stopper):
        expect(last_reply(tab)).to_have_attribute("data-status", "stopped")
        expect(last_reply(tab).get_by_test_id("message-content")).to_have_text("one two three")
    saved = cluster.message(reply_id(writer))
    assert (saved["status"], saved["streaming"], saved["content"]) == (
        "stopped",
        False,
        "one two three",
    )
    print(f"stop → model stream closed: {request.disconnected_at - clicked:.3f} s")


def test_a_killed_workers_reply_becomes_interrupted_while_the_others_serve(
    pages_a, pages_b, model, cluster
):
    model.on("kill the worker", Reply(chunks=words(numbered("k", 400), 6), delay=0.05))
    writer, watcher = pages_a.new(), pages_b.new()
    username = register(writer)
    login(watcher, username)
    send(writer, "kill the worker please")
    expect(last_reply(writer).get_by_test_id("message-content")).to_contain_text("k10 ")
    open_on(watcher, chat_url(writer))
    expect(last_reply(watcher)).to_have_attribute("data-status", "streaming")
    public_id = reply_id(writer)
    holder = cluster.lease_holder(public_id)
    assert holder is not None
    pid = int(holder.split(":")[1])
    assert pid in cluster.a.worker_pids()

    os.kill(pid, signal.SIGKILL)  # one worker of A dies mid-reply; A's other worker and B live

    expect(last_reply(watcher)).to_have_attribute("data-status", "interrupted", timeout=30_000)
    kept = last_reply(watcher).get_by_test_id("message-content").inner_text()
    assert kept.startswith("k0 k1 k2") and numbered("k", 400).startswith(kept)
    assert cluster.message(public_id)["status"] == "interrupted"
    model.on("still serving", Reply(chunks=["Still ", "here."]))
    for tab in (watcher, pages_a.new()):
        if tab is not watcher:
            login(tab, username)
        send(tab, "still serving?")
        expect(last_reply(tab)).to_have_attribute("data-status", "complete")
        expect(last_reply(tab).get_by_test_id("message-content")).to_have_text("Still here.")
