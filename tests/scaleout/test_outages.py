"""PostgreSQL or Redis going away under load: reported, recovered from, no reply lost.

The servers reach both through proxies (see conftest): `cut()` drops every connection and
refuses new ones, as a restarting server does, until `restore()`.
"""

from __future__ import annotations

import time

import redis
from playwright.sync_api import expect

from tests.e2e.conftest import chat_url, last_reply, register, send, wait_for
from tests.fake_openai import Reply, words
from tests.scaleout.test_workers import login, numbered, open_on, reply_id
from tests.services import REDIS_URL

OUTAGE_SECONDS = 3


def test_a_postgresql_outage_mid_reply_is_reported_and_loses_nothing(pages_a, model, cluster):
    text = numbered("p", 250)
    model.on("database outage", Reply(chunks=words(text, 6), delay=0.03))
    writer = pages_a.new()
    register(writer)
    send(writer, "database outage please")
    expect(last_reply(writer).get_by_test_id("message-content")).to_contain_text("p20 ")

    cluster.postgres.cut()
    wait_for(lambda: cluster.a.health().get("db") is False, timeout=15)  # reported
    time.sleep(OUTAGE_SECONDS)
    cluster.postgres.restore()

    expect(last_reply(writer)).to_have_attribute("data-status", "complete", timeout=30_000)
    expect(last_reply(writer).get_by_test_id("message-content")).to_have_text(text)
    saved = cluster.message(reply_id(writer))
    assert (saved["status"], saved["streaming"], saved["content"]) == ("complete", False, text)
    wait_for(lambda: cluster.a.health().get("db") is True, timeout=15)
    model.on("after the database came back", Reply(chunks=["Back ", "again."]))
    send(writer, "after the database came back")
    expect(last_reply(writer).get_by_test_id("message-content")).to_have_text("Back again.")


def test_a_redis_outage_mid_reply_is_reported_and_every_tab_recovers(
    pages_a, pages_b, model, cluster
):
    text = numbered("r", 300)
    model.on("redis outage", Reply(chunks=words(text, 6), delay=0.03))
    writer, reader = pages_a.new(), pages_b.new()
    username = register(writer)
    login(reader, username)
    send(writer, "redis outage please")
    expect(last_reply(writer).get_by_test_id("message-content")).to_contain_text("r10 ")
    open_on(reader, chat_url(writer))
    expect(last_reply(reader).get_by_test_id("message-content")).to_contain_text("r30 ")

    cluster.redis.cut()
    wait_for(lambda: cluster.b.health().get("redis") is False, timeout=15)  # reported
    time.sleep(OUTAGE_SECONDS)
    cluster.redis.restore()

    for tab in (writer, reader):
        expect(last_reply(tab)).to_have_attribute("data-status", "complete", timeout=30_000)
        expect(last_reply(tab).get_by_test_id("message-content")).to_have_text(text)
    saved = cluster.message(reply_id(writer))
    assert (saved["status"], saved["content"]) == ("complete", text)
    model.on("after redis came back", Reply(chunks=["Redis ", "is ", "back."]))
    send(reader, "after redis came back")  # both workers serve again
    expect(last_reply(reader).get_by_test_id("message-content")).to_have_text("Redis is back.")
    writer.reload()
    expect(last_reply(writer).get_by_test_id("message-content")).to_have_text("Redis is back.")


def test_a_tab_whose_state_redis_lost_reloads_itself_and_follows_again(pages_a, model, cluster):
    text = numbered("l", 300)
    model.on("state lost", Reply(chunks=words(text, 6), delay=0.03))
    writer = pages_a.new()
    register(writer)
    send(writer, "state lost please")
    expect(last_reply(writer).get_by_test_id("message-content")).to_contain_text("l10 ")
    token = writer.evaluate("window.sessionStorage.getItem('token')")
    assert token

    forget_tab(token)  # as a Redis restart does (it keeps nothing on disk), for this tab

    expect(last_reply(writer)).to_have_attribute("data-status", "complete", timeout=30_000)
    expect(last_reply(writer).get_by_test_id("message-content")).to_have_text(text)


def forget_tab(token: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{token}*"))
    assert keys, "no state stored for this tab"
    client.delete(*keys)
    client.close()
