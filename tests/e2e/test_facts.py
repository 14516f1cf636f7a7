"""Reply facts under each finished reply: model, tokens as the endpoint reported them, time
to first token and rate as the server measured them; kept across reloads."""

import re

from playwright.sync_api import expect

from tests.e2e.conftest import last_reply, register, send
from tests.fake_openai import Reply

FACTS = re.compile(r"^test-model · 21 → 6 tokens · first token \d+\.\d\d s · [\d,]+ tokens/s$")


def test_a_finished_reply_shows_its_facts_and_keeps_them_after_a_reload(page, model):
    chunks = ["One ", "two ", "three ", "four ", "five ", "six."]
    model.on("facts please", Reply(chunks=chunks, first_delay=0.1, delay=0.05, usage=(21, 6)))
    register(page)
    send(page, "facts please")
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.get_by_test_id("reply-facts")).to_have_text(FACTS)

    page.reload()
    expect(last_reply(page).get_by_test_id("reply-facts")).to_have_text(FACTS)


def test_without_usage_the_facts_count_chunks_and_name_no_tokens(page, model):
    model.on("bare reply", Reply(chunks=["a", "b", "c", "d", "e"], delay=0.05, usage=None))
    register(page)
    send(page, "a bare reply")
    facts = last_reply(page).get_by_test_id("reply-facts")
    expect(facts).to_have_text(re.compile(r"^test-model · first token [\d.]+ s · [\d,]+ chunks/s$"))


def test_a_failed_reply_shows_no_facts(page, model):
    model.on("fails", Reply(status=500))
    register(page)
    send(page, "this fails")
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "error")
    expect(reply.get_by_test_id("reply-facts")).to_have_count(0)
