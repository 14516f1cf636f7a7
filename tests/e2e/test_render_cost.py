"""While a reply streams, only the streaming message does work: the finished messages of the
chat neither render again nor change in the DOM (tests/e2e/render_probe.py counts both), nor
when the reply starts or ends; nor do the entries of the sidebar's chat list."""

import reflex as rx
from playwright.sync_api import expect
from reflex_local_auth import LocalUser
from sqlmodel import select

from chatstream.models import Message
from tests.e2e.conftest import last_reply, register, send
from tests.e2e.render_probe import PROBE, cost, per_update, start_and_end
from tests.factories import make_chat
from tests.fake_openai import Reply, words

EARLIER = 20
REPLY = "A reply that streams beside twenty finished messages, " * 12
UPDATES = 5
CHATS = 10
WATCH = """n => { window.__probe.watch([...document.querySelectorAll('[data-testid="message"]')]
                    .slice(0, n)); window.__probe.reset(); }"""


def seed_chat(username: str) -> str:
    """A chat of `EARLIER` finished messages, in markdown, for the user `username`."""
    with rx.session() as session:
        user = session.exec(select(LocalUser).where(LocalUser.username == username)).one()
    chat = make_chat(user, "Earlier")
    with rx.session() as session:
        parent_id = None  # one branch: each message follows the one before it
        for i in range(EARLIER):
            role = ("user", "assistant")[i % 2]
            text = f"Message {i}: **bold**, `code`, a [link](https://example.com/{i}).\n\n- a\n- b"
            message = Message(chat_id=chat.id, parent_id=parent_id, role=role, content=text)
            session.add(message)
            session.flush()
            parent_id = message.id
        session.commit()
    return chat.public_id


def test_finished_messages_do_no_work_while_a_reply_streams(page, model):
    model.on("beside twenty", Reply(chunks=words(REPLY, 3), delay=0.02))
    page.context.add_init_script(PROBE)
    chat = seed_chat(register(page))
    page.goto(f"/chat/{chat}")
    expect(page.get_by_test_id("message")).to_have_count(EARLIER)

    send(page, "stream beside twenty please")
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "streaming")
    expect(reply.get_by_test_id("message-content")).to_contain_text("A reply")
    page.evaluate(WATCH, EARLIER)
    page.wait_for_function(
        "n => window.__probe.log.filter((row) => row[3]).length >= n",
        arg=UPDATES + 1,  # per_update leaves out the first (the commit that showed the reply)
    )
    work = per_update(page.evaluate("window.__probe.log"))

    assert work["updates"] >= UPDATES
    assert work["components_per_update"] >= 1 and work["mutations_per_update"] >= 1  # it sees
    assert work["finished_renders"] == 0, work
    assert work["finished_mutations"] == 0, work
    expect(reply).to_have_attribute("data-status", "complete")


def test_a_reply_starting_and_ending_renders_no_finished_message(page, model):
    """Edit, Regenerate and Retry are not shown while a reply streams: hidden by CSS, so the
    commits that show the reply start, and that hand it over to the chat's list at its end,
    leave the finished messages alone (a prop on each rendered all of them, twice a reply)."""
    text = "A short reply that starts and ends beside twenty. " * 3
    model.on("starts and ends", Reply(chunks=words(text, 4)))
    page.context.add_init_script(PROBE)
    chat = seed_chat(register(page))
    page.goto(f"/chat/{chat}")
    expect(page.get_by_test_id("message")).to_have_count(EARLIER)
    page.evaluate(WATCH, EARLIER)

    send(page, "a reply that starts and ends, please")
    reply = page.get_by_test_id("message").nth(EARLIER + 1)  # streaming, then handed over
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.get_by_test_id("message-content")).to_have_text(text.strip())
    start, end = map(cost, start_and_end(page.evaluate("window.__probe.log")))

    assert start["components"] >= 2 and end["components"] >= 1, (start, end)  # it sees
    assert start["finished_renders"] == 0, start
    assert start["finished_mutations"] == 0, start
    assert end["finished_renders"] == 0, end
    assert end["finished_mutations"] == 0, end


def test_a_reply_starting_and_ending_renders_no_entry_of_the_chat_list(page, model):
    """The open chat's entry is marked by its link (React Router's NavLink), not by the chat
    state, which changes when a reply starts and ends (it rendered every entry then)."""
    model.on("beside the list", Reply(chunks=words("A reply beside a list of chats. " * 3, 4)))
    page.context.add_init_script(PROBE)
    username = register(page)
    with rx.session() as session:
        user = session.exec(select(LocalUser).where(LocalUser.username == username)).one()
    for n in range(CHATS - 1):
        make_chat(user, f"Older chat {n}")
    chat = seed_chat(username)
    page.goto(f"/chat/{chat}")
    links = page.get_by_test_id("chat-link")
    expect(links).to_have_count(CHATS)
    expect(links.first).to_have_attribute("aria-current", "page")  # the open chat
    page.evaluate(
        """() => { window.__probe.watch([...document.querySelectorAll('[data-testid="chat-link"]')]
                     .map((link) => link.parentElement)); window.__probe.reset(); }"""
    )

    send(page, "a reply beside the list, please")
    reply = page.get_by_test_id("message").nth(EARLIER + 1)
    expect(reply).to_have_attribute("data-status", "complete")
    start, end = map(cost, start_and_end(page.evaluate("window.__probe.log")))

    assert start["components"] >= 2 and end["components"] >= 1, (start, end)  # it sees
    assert start["finished_renders"] == 0, start  # (here: renders inside the chat list)
    assert end["finished_renders"] == 0, end
