"""Chat titles written by the model after a chat's first complete reply, against the scripted
model server and the real database."""

import asyncio
import logging
import uuid

import pytest
import reflex as rx

from chatstream import jobs, repository, titles
from chatstream.models import Chat, Message
from chatstream.redis_streams import RedisHub
from chatstream.settings import get_settings
from chatstream.streams import TITLE_CHANGED, get_hub
from tests.factories import make_chat, make_user
from tests.fake_openai import TITLE_MARKER, FakeOpenAI, Reply
from tests.services import REDIS_URL
from tests.unit.test_jobs import settings_for as jobs_settings_for


@pytest.fixture
def model():
    with FakeOpenAI() as server:
        yield server


def settings_for(server, **changes):
    return jobs_settings_for(server, **{"titles": True, "title_timeout": 5.0, **changes})


def new_chat(text: str) -> tuple[Chat, Message]:
    """A chat as the app starts one: titled by its first message's words, a reply streaming."""
    user = make_user()
    with rx.session() as session:
        chat = repository.create_chat(session=session, owner_id=user.id, title=text)
        _, reply = repository.start_exchange(
            session=session, chat=chat, user_text=text, model="test-model"
        )
        session.refresh(chat)
        return chat, reply


def title_of(chat: Chat) -> str:
    with rx.session() as session:
        return session.get(Chat, chat.id).title


async def reply_and_title(reply: Message, settings) -> None:
    """Run the reply's job to its end, then the title task it started, if any."""
    await jobs.start(message_id=reply.id, public_id=reply.public_id, settings=settings)
    await asyncio.gather(*titles.running())


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        ("Trip to Lisbon", "Trip to Lisbon"),
        ('"Trip to Lisbon."', "Trip to Lisbon"),
        ("**Title:** Trip to Lisbon!", "Trip to Lisbon"),
        ("# Trip to Lisbon", "Trip to Lisbon"),
        ("Title: “Trip to Lisbon”", "Trip to Lisbon"),
        ("\n  Trip   to\tLisbon  \nA second line", "Trip to Lisbon"),
        ("One two three four five six seven eight", "One two three four five six"),
        ("Supercalifragilisticexpialidocious " * 3, "Supercalifragilisticexpialidocious"),
        ("What's in Lisbon's food?", "What's in Lisbon's food"),
        ("", None),
        ("  \n ", None),
        ('"..."', None),
        ("**", None),
    ],
)
def test_clean_makes_a_short_plain_title_of_the_models_answer(raw, title):
    assert titles.clean(raw) == title


async def test_a_first_complete_reply_gets_the_chat_a_title_from_the_model(model):
    model.title = "Trip to Lisbon"
    chat, reply = new_chat("where should I eat in lisbon next week")

    await reply_and_title(reply, settings_for(model))

    assert title_of(chat) == "Trip to Lisbon"
    (request,) = model.title_requests
    assert request.body["messages"][0]["content"].startswith(TITLE_MARKER)
    assert "where should I eat in lisbon" in request.body["messages"][1]["content"]
    assert request.body["max_tokens"] <= 32 and not request.body.get("stream")
    assert len(model.requests) == 1  # the reply's; the title request is kept apart


async def test_the_tabs_watching_the_chat_hear_of_the_new_title(model):
    model.title = "Trip to Lisbon"
    chat, reply = new_chat("lisbon news")

    async with get_hub().watch_chat(chat.public_id) as news:
        await reply_and_title(reply, settings_for(model))
        assert await asyncio.wait_for(news.get(), 5) == TITLE_CHANGED


async def test_a_chat_renamed_while_the_model_thinks_keeps_its_new_name(model):
    model.title = Reply(chunks=["Trip to Lisbon"], first_delay=1.0)
    chat, reply = new_chat("rename me meanwhile")
    settings = settings_for(model)
    await jobs.start(message_id=reply.id, public_id=reply.public_id, settings=settings)
    for _ in range(250):
        if model.title_requests:
            break
        await asyncio.sleep(0.02)

    with rx.session() as session:
        repository.rename_chat(session=session, chat=session.get(Chat, chat.id), title="Mine")
    await asyncio.gather(*titles.running())

    assert model.title_requests and title_of(chat) == "Mine"


async def test_a_failed_title_request_keeps_the_first_words(model, caplog, monkeypatch):
    chat, reply = new_chat("the model refuses titles")  # model.title None: HTTP 503
    # Alembic's logging config (test_migrations) disables the loggers that exist by then.
    monkeypatch.setattr(logging.getLogger("chatstream.titles"), "disabled", False)

    with caplog.at_level(logging.WARNING, logger="chatstream.titles"):
        await reply_and_title(reply, settings_for(model))

    assert len(model.title_requests) == 1
    assert title_of(chat) == "the model refuses titles"
    assert "503" in caplog.text


NOT_A_COMPLETION = {
    "an event stream": ("text/event-stream", 'data: {"choices": []}\n\ndata: [DONE]\n\n'),
    "an html page": ("text/html", "<html><body>502 Bad Gateway</body></html>"),
    "invalid json": ("application/json", '{"choices": [{"message": '),
    "json of something else": ("application/json", '{"status": "ok"}'),
}


@pytest.mark.parametrize("answer", list(NOT_A_COMPLETION))
async def test_a_title_answer_that_is_not_a_completion_is_one_warning(
    model, caplog, monkeypatch, answer
):
    model.title = Reply(body=NOT_A_COMPLETION[answer])
    chat, reply = new_chat("the model answers titles oddly")
    monkeypatch.setattr(logging.getLogger("chatstream.titles"), "disabled", False)

    with caplog.at_level(logging.WARNING, logger="chatstream.titles"):
        await reply_and_title(reply, settings_for(model))

    assert len(model.title_requests) == 1
    assert title_of(chat) == "the model answers titles oddly"
    warnings = [r for r in caplog.records if r.name == "chatstream.titles"]
    assert [(r.levelno, r.exc_info) for r in warnings] == [(logging.WARNING, None)]
    assert "malformed answer" in warnings[0].getMessage()
    assert "\n" not in warnings[0].getMessage()


async def test_a_title_request_that_times_out_keeps_the_first_words(model):
    model.title = Reply(chunks=["Too late"], hang_after=0)
    chat, reply = new_chat("the title never comes")

    await reply_and_title(reply, settings_for(model, title_timeout=0.3))

    assert title_of(chat) == "the title never comes"
    request = model.title_requests[0]
    for _ in range(250):  # the app hung up: the hanging request sees the disconnect
        if request.disconnected_at is not None:
            break
        await asyncio.sleep(0.02)
    assert request.disconnected_at is not None


async def test_an_unusable_title_keeps_the_first_words(model):
    model.title = '"..."'
    chat, reply = new_chat("punctuation only please")

    await reply_and_title(reply, settings_for(model))

    assert title_of(chat) == "punctuation only please"


async def test_a_second_reply_does_not_retitle_the_chat(model):
    chat, first = new_chat("first message")
    await reply_and_title(first, settings_for(model, titles=False))
    model.title = "Trip to Lisbon"
    with rx.session() as session:
        _, second = repository.start_exchange(
            session=session, chat=session.get(Chat, chat.id), user_text="more", model="m"
        )

    await reply_and_title(second, settings_for(model))

    assert model.title_requests == []
    assert title_of(chat) == "first message"


async def test_retrying_a_failed_first_reply_titles_the_chat(model):
    model.on("try that again", Reply(status=500))
    chat, first = new_chat("try that again")
    await reply_and_title(first, settings_for(model))  # the reply fails: no title asked
    model.on("try that again", Reply(chunks=["Sure."]))
    model.title = "Second Try"
    with rx.session() as session:
        again = repository.new_version(
            session=session,
            chat=session.get(Chat, chat.id),
            of=session.get(Message, first.id),
            model="m",
        )[1]

    await reply_and_title(again, settings_for(model))

    assert title_of(chat) == "Second Try"


async def test_regenerating_a_complete_first_reply_keeps_the_first_branch_title(model):
    chat, first = new_chat("keep the first words")
    await reply_and_title(first, settings_for(model))  # the title request fails
    asked, model.title = len(model.title_requests), "Second Try"
    with rx.session() as session:
        again = repository.new_version(
            session=session,
            chat=session.get(Chat, chat.id),
            of=session.get(Message, first.id),
            model="m",
        )[1]

    await reply_and_title(again, settings_for(model))

    assert len(model.title_requests) == asked
    assert title_of(chat) == "keep the first words"


async def test_a_stopped_first_reply_does_not_retitle_the_chat(model):
    model.title = "Trip to Lisbon"
    model.on("stop me", Reply(chunks=["partial"], delay=0, hang_after=1))
    chat, reply = new_chat("stop me")
    task = jobs.start(message_id=reply.id, public_id=reply.public_id, settings=settings_for(model))
    for _ in range(250):
        if get_hub().channel(reply.public_id) and get_hub().channel(reply.public_id).text:
            break
        await asyncio.sleep(0.02)

    jobs.stop(reply.public_id)
    await task
    await asyncio.gather(*titles.running())

    assert model.title_requests == []
    assert title_of(chat) == "stop me"


async def test_a_failed_first_reply_does_not_retitle_the_chat(model):
    model.title = "Trip to Lisbon"
    model.on("fail me", Reply(status=500))
    chat, reply = new_chat("fail me")

    await reply_and_title(reply, settings_for(model))

    assert model.title_requests == []
    assert title_of(chat) == "fail me"


async def test_a_chat_whose_title_is_not_its_first_words_is_left_alone(model):
    model.title = "Trip to Lisbon"
    chat = make_chat(make_user(), title="Imported trip")
    with rx.session() as session:
        _, reply = repository.start_exchange(
            session=session, chat=chat, user_text="a different first message", model="m"
        )
        session.refresh(chat)

    await reply_and_title(reply, settings_for(model))

    assert model.title_requests == []
    assert title_of(chat) == "Imported trip"


async def test_titles_can_be_turned_off(model, monkeypatch):
    monkeypatch.setenv("CHATSTREAM_TITLES", "0")
    assert get_settings().titles is False
    model.title = "Trip to Lisbon"
    chat, reply = new_chat("no titles here")

    await reply_and_title(reply, settings_for(model, titles=get_settings().titles))

    assert model.title_requests == []
    assert title_of(chat) == "no titles here"


async def test_the_set_is_a_compare_and_set():
    chat = make_chat(make_user(), title="first words")
    with rx.session() as session:
        assert not repository.set_auto_title(
            session=session, chat_id=chat.id, expected="other", title="New"
        )
        assert repository.set_auto_title(
            session=session, chat_id=chat.id, expected="first words", title="New"
        )
    assert title_of(chat) == "New"


async def test_news_of_a_new_title_reaches_the_tabs_on_another_worker():
    prefix = f"cs-test-{uuid.uuid4().hex[:8]}"
    title_worker, tab_worker = hubs = [RedisHub(REDIS_URL, prefix=prefix) for _ in range(2)]
    for hub in hubs:
        await hub.start()
    try:
        for _ in range(500):
            if all(hub._pubsub is not None for hub in hubs):
                break
            await asyncio.sleep(0.01)
        async with tab_worker.watch_chat("c1") as news:
            await title_worker.announce("c1", TITLE_CHANGED)
            assert await asyncio.wait_for(news.get(), 5) == TITLE_CHANGED
    finally:
        for hub in hubs:
            await hub.close()


async def test_the_title_is_asked_of_the_chats_own_model(model):
    model.models = ("test-model", "big-model")
    model.title = "Written by the big one"
    chat, reply = new_chat("which model titles me")
    with rx.session() as session:
        repository.set_chat_settings(
            session=session, chat=session.get(Chat, chat.id), model="big-model"
        )

    await reply_and_title(reply, settings_for(model))

    assert model.title_requests[-1].body["model"] == "big-model"
    assert title_of(chat) == "Written by the big one"
