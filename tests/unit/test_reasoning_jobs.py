"""Replies of thinking models: each form the endpoints use, through the job to the database."""

import pytest

from chatstream import jobs
from chatstream.state.views import MessageView
from chatstream.streams import get_hub
from tests.fake_openai import FakeOpenAI, Reply, words
from tests.unit.test_jobs import exchange, load, run_reply, settings_for, wait_until


@pytest.fixture
def model():
    with FakeOpenAI() as server:
        yield server


THOUGHT = "The user asks about **France**. Its capital… Paris, of course.\n"
ANSWER = "The capital of France is Paris."


@pytest.mark.parametrize("form", ["reasoning_content", "reasoning", "inline"])
async def test_each_form_saves_the_reasoning_beside_the_answer(model, form):
    model.on(
        "capital",
        Reply(thinking=words(THOUGHT, 3), chunks=words(ANSWER, 3), delay=0, reasoning_tokens=17),
    ).form = form
    _, reply = exchange("capital of France?")

    saved = await run_reply(reply, settings_for(model))

    assert (saved.status, saved.content) == ("complete", ANSWER)
    assert saved.reasoning == THOUGHT
    assert saved.reasoning_tokens == 17
    assert 0 <= saved.reasoning_ms <= saved.duration_ms
    view = MessageView.of(saved)
    assert view.content == ANSWER and view.reasoning == THOUGHT
    assert view.thought.startswith("Thought for ")
    assert " · 17 thinking · thought " in view.facts


async def test_inline_tags_split_anywhere_are_parsed(model):
    chunks = ["  <thi", "nk>so", "me thought</th", "ink>\n\nAn", "swer <think> kept"]
    model.on("split", Reply(chunks=chunks, delay=0))
    _, reply = exchange("split tags")

    saved = await run_reply(reply, settings_for(model))

    assert (saved.reasoning, saved.content) == ("some thought", "Answer <think> kept")


async def test_a_closing_tag_without_an_opening_one_moves_what_came_before(model):
    model.on("no open", Reply(chunks=["thinking ", "hard</think>", "Done."], delay=0))
    _, reply = exchange("no open tag")

    saved = await run_reply(reply, settings_for(model, checkpoint_interval=0.0))

    assert (saved.reasoning, saved.content, saved.status) == ("thinking hard", "Done.", "complete")


async def test_a_reply_that_ends_while_thinking_keeps_the_reasoning_and_says_so(model):
    model.on("endless", Reply(chunks=["<think>", "still ", "going"], delay=0))
    _, reply = exchange("endless thought")

    saved = await run_reply(reply, settings_for(model))

    assert (saved.reasoning, saved.content) == ("still going", "")
    assert saved.status == "error" and saved.error == jobs.NO_ANSWER
    assert saved.reasoning_ms == saved.duration_ms


async def test_the_reasoning_is_checkpointed_and_streamed_while_thinking(model):
    model.on("slow", Reply(thinking=["one ", "two "], chunks=["x"], delay=0, hang_after=2))
    _, reply = exchange("slow thought")
    task = jobs.start(
        message_id=reply.id,
        public_id=reply.public_id,
        settings=settings_for(model, checkpoint_interval=0.0),
    )

    await wait_until(lambda: load(reply.id).reasoning == "one two ")
    channel = get_hub().channel(reply.public_id)
    assert (channel.reasoning, channel.text) == ("one two ", "")

    jobs.stop(reply.public_id)
    await task
    saved = load(reply.id)
    assert (saved.status, saved.reasoning, saved.content) == ("stopped", "one two ", "")


def test_earlier_reasoning_goes_back_to_the_model_only_when_asked():
    from chatstream.models import Message

    history = [
        Message(chat_id=1, role="user", content="hi"),
        Message(chat_id=1, role="assistant", content="hello", reasoning="greet back"),
    ]
    plain = jobs.model_messages(history, "")
    assert plain == [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    sent = jobs.model_messages(history, "", send_reasoning=True)
    assert sent[1] == {"role": "assistant", "content": "hello", "reasoning_content": "greet back"}
