"""Reply jobs against a real OpenAI-compatible HTTP server and the real (SQLite) database."""

import asyncio
import contextlib
import dataclasses
import socket
from types import SimpleNamespace

import aiohttp
import pytest
import reflex as rx

from chatstream import jobs, llm, pacing, repository
from chatstream.models import Chat, Message, Status
from chatstream.settings import get_settings
from chatstream.state.views import MessageView, reply_facts
from chatstream.streams import get_hub
from tests.factories import make_chat, make_user
from tests.fake_openai import FakeOpenAI, Reply, words


@pytest.fixture
def model():
    with FakeOpenAI() as server:
        yield server


def settings_for(server, **changes):
    base = dataclasses.replace(
        get_settings(),
        base_url=server.url,
        api_key="test-key",
        model="test-model",
        system_prompt="Be brief.",
        stall_timeout=5.0,
        connect_retries=0,
        checkpoint_interval=1.0,
    )
    return dataclasses.replace(base, **changes)


def exchange(text: str) -> tuple[Message, Message]:
    chat = make_chat(make_user())
    with rx.session() as session:
        return repository.start_exchange(
            session=session, chat=chat, user_text=text, model="test-model"
        )


def load(message_id: int) -> Message:
    with rx.session() as session:
        return repository.get_message(session=session, message_id=message_id)


async def run_reply(reply: Message, settings) -> Message:
    await jobs.start(message_id=reply.id, public_id=reply.public_id, settings=settings)
    return load(reply.id)


async def wait_until(condition, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


async def test_final_content_is_exactly_the_concatenation_of_the_chunks(model):
    text = "Ünïcode ✓, `code`, and\nnew lines — " * 40
    model.on("concat", Reply(chunks=words(text, 3), delay=0))
    _, reply = exchange("concat please")

    saved = await run_reply(reply, settings_for(model))

    assert saved.content == text
    assert (saved.streaming, saved.status, saved.error) == (False, "complete", None)
    assert (saved.prompt_tokens, saved.completion_tokens) == (12, 5)


async def test_the_model_gets_the_system_prompt_and_the_history(model):
    model.on("history", Reply(chunks=["ok"]))
    _, reply = exchange("history please")

    await run_reply(reply, settings_for(model))

    request = model.request_for("history")
    assert request.authorization == "Bearer test-key"
    body = request.body
    assert body["stream"] is True and body["model"] == "test-model"
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "history please"},
    ]
    assert "max_tokens" not in body and "stop" not in body


async def test_a_reply_length_limit_and_stop_sequences_reach_the_model(model):
    model.on("limits", Reply(chunks=["ok"]))
    _, reply = exchange("limits please")

    await run_reply(reply, settings_for(model, max_tokens=320, stop=("<end_of_turn>",)))

    body = model.request_for("limits").body
    assert body["max_tokens"] == 320 and body["stop"] == ["<end_of_turn>"]


async def test_streaming_reply_is_checkpointed_so_a_reload_reads_the_text_so_far(model):
    model.on("checkpoint", Reply(chunks=["one ", "two ", "three "], delay=0, hang_after=3))
    _, reply = exchange("checkpoint please")
    task = jobs.start(
        message_id=reply.id,
        public_id=reply.public_id,
        settings=settings_for(model, checkpoint_interval=0.0),
    )

    await wait_until(lambda: load(reply.id).content == "one two three ")
    assert load(reply.id).streaming

    jobs.stop(reply.public_id)
    await task
    assert load(reply.id).streaming is False


async def test_stop_closes_the_upstream_connection_and_keeps_the_partial_text(model):
    model.on("stop me", Reply(chunks=["partial ", "text"], delay=0, hang_after=2))
    _, reply = exchange("stop me")
    task = jobs.start(message_id=reply.id, public_id=reply.public_id, settings=settings_for(model))
    await wait_until(
        lambda: (
            get_hub().channel(reply.public_id)
            and get_hub().channel(reply.public_id).text == "partial text"
        )
    )

    assert jobs.stop(reply.public_id)
    await task

    request = model.request_for("stop me")
    await wait_until(lambda: request.disconnected_at is not None)
    saved = load(reply.id)
    assert (saved.content, saved.status, saved.streaming) == ("partial text", "stopped", False)


FAULTS = {
    "http 401": (Reply(status=401), "401"),
    "http 429": (Reply(status=429), "429"),
    "http 500": (Reply(status=500), "500"),
    "cut mid-stream": (Reply(chunks=["kept ", "lost"], delay=0, cut_after=1), "cut"),
    "no finish reason": (
        Reply(chunks=["kept ", "also kept"], delay=0, finish=False),
        "finish reason",
    ),
    "stall": (Reply(chunks=["kept "], delay=0, hang_after=1), "sent nothing"),
    "error event mid-stream": (
        Reply(
            chunks=["kept ", "x"], delay=0, raw_after=(1, '{"error": {"message": "overloaded"}}')
        ),
        "reported an error",
    ),
    "malformed stream": (
        Reply(chunks=["kept ", "x"], delay=0, raw_after=(1, "{not json")),
        "malformed",
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_every_model_fault_ends_the_reply_as_an_error_and_keeps_the_partial_text(
    model, fault
):
    script, words_in_error = FAULTS[fault]
    model.on(fault, script)
    _, reply = exchange(f"{fault} please")

    saved = await run_reply(reply, settings_for(model, stall_timeout=0.5))

    sent = "".join(text for _, text in model.request_for(fault).sent)
    assert (saved.streaming, saved.status) == (False, "error")
    assert saved.content == sent
    assert words_in_error in saved.error


async def test_a_slow_stream_never_silent_for_the_stall_timeout_completes(model):
    """Chunks 0.3 s apart for 2.4 s, a stall timeout of 0.5 s: each read re-arms the watch,
    however many times it has woken meanwhile."""
    model.on("slow but steady", Reply(chunks=[f"s{i} " for i in range(8)], delay=0.3))
    _, reply = exchange("slow but steady please")

    saved = await run_reply(reply, settings_for(model, stall_timeout=0.5))

    assert (saved.status, saved.content) == ("complete", "".join(f"s{i} " for i in range(8)))


async def test_a_checkpoint_slower_than_the_stall_timeout_is_no_stall(model, monkeypatch):
    """The stall timeout counts the time spent waiting for the model, not the job's own work
    between two reads: a checkpoint that waits on a busy database is no silent model (the
    stall once fired in that wait, and the reply ended `interrupted`)."""
    save_texts = jobs._save_texts

    def slow_save(*args):
        import time

        time.sleep(0.8)  # (in the checkpoints' thread, as a database lock would hold it)
        return save_texts(*args)

    monkeypatch.setattr(jobs, "_save_texts", slow_save)
    model.on("busy database", Reply(chunks=[f"b{i} " for i in range(12)], delay=0.1))
    _, reply = exchange("busy database please")

    settings = settings_for(model, stall_timeout=0.5, checkpoint_interval=0.2)
    saved = await run_reply(reply, settings)

    assert (saved.status, saved.content) == ("complete", "".join(f"b{i} " for i in range(12)))


ERROR_KINDS = {
    "auth": (Reply(status=401), "refused the API key (HTTP 401)"),
    "forbidden": (Reply(status=403), "refused the API key (HTTP 403)"),
    "rate limit": (Reply(status=429), "rate limiting requests (HTTP 429)"),
    "server error": (Reply(status=502), "server error (HTTP 502)"),
    "refused": (Reply(status=400), "refused the request (HTTP 400)"),
    "not found": (Reply(status=404), "'test-model' was not found at the endpoint (HTTP 404)"),
    "timeout": (Reply(first_delay=2.0), "sent nothing for 0.5 seconds"),
    "no headers": (Reply(headers_delay=2.0), "sent nothing for 0.5 seconds"),
    "bad response": (Reply(chunks=["x"], raw_after=(0, "<html>oops</html>")), "malformed"),
    "error event": (
        Reply(chunks=["x"], raw_after=(0, '{"error": {"message": "key test-key at 127.0.0.1"}}')),
        "reported an error",
    ),
}


@pytest.mark.parametrize("kind", list(ERROR_KINDS))
async def test_a_model_error_is_a_fixed_sentence_without_url_key_or_traceback(model, kind):
    script, sentence = ERROR_KINDS[kind]
    model.on(kind, script)
    _, reply = exchange(f"{kind} please")

    saved = await run_reply(reply, settings_for(model, stall_timeout=0.5))

    assert saved.status == "error"
    assert sentence in saved.error
    for secret in ("test-key", "127.0.0.1", model.url, "Traceback", "{"):
        assert secret not in saved.error


async def test_an_unreachable_model_is_reported_without_its_address(model):
    _, reply = exchange("anyone home?")
    settings = settings_for(model, base_url="http://127.0.0.1:9/v1", api_key="sk-secret")

    saved = await run_reply(reply, settings)

    assert saved.error == llm.UNREACHABLE
    assert "127.0.0.1" not in saved.error and "sk-secret" not in saved.error


async def test_an_unreachable_model_is_retried_then_reported(model):
    _, reply = exchange("anyone there?")
    settings = settings_for(model, base_url="http://127.0.0.1:9/v1", connect_retries=1)

    saved = await run_reply(reply, settings)

    assert (saved.streaming, saved.status) == (False, "error")
    assert "Could not reach the model" in saved.error


async def test_a_connection_error_before_the_first_chunk_is_retried_with_backoff(caplog):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _, reply = exchange("are you up yet?")
    url = f"http://127.0.0.1:{port}/v1"
    settings = settings_for(SimpleNamespace(url=url), connect_retries=3)
    task = jobs.start(message_id=reply.id, public_id=reply.public_id, settings=settings)
    await asyncio.sleep(0.3)  # the first attempt has failed by now; backoff is 0.5 s, 1 s, 2 s

    with FakeOpenAI(port=port) as model:
        model.default = Reply(chunks=["Up ", "now."])
        await task

    saved = load(reply.id)
    assert (saved.status, saved.content) == ("complete", "Up now.")
    assert "retrying" in caplog.text


async def test_without_a_configured_model_the_reply_explains_how_to_configure_one(model):
    _, reply = exchange("hello")
    settings = settings_for(model, base_url=None, api_key=None)

    saved = await run_reply(reply, settings)

    assert (saved.streaming, saved.status) == (False, "error")
    assert "OPENAI_BASE_URL" in saved.error


async def test_shutdown_interrupts_running_replies(model):
    model.on("long", Reply(chunks=["so far"], delay=0, hang_after=1))
    async with jobs.lifespan(sweep_interval=60):
        _, reply = exchange("long story")
        jobs.start(message_id=reply.id, public_id=reply.public_id, settings=settings_for(model))
        await wait_until(lambda: get_hub().channel(reply.public_id).text == "so far")

    saved = load(reply.id)
    assert (saved.streaming, saved.status, saved.content) == (False, "interrupted", "so far")


async def test_a_reply_stopped_before_its_job_begins_still_ends(model):
    _, reply = exchange("never mind")

    task = jobs.start(message_id=reply.id, public_id=reply.public_id, settings=settings_for(model))
    assert jobs.stop(reply.public_id)  # before the task's first step: `_run` never runs
    with pytest.raises(asyncio.CancelledError):
        await task

    # the end is saved, then the channel closed: wait for both
    await wait_until(lambda: get_hub().channel(reply.public_id) is None)
    saved = load(reply.id)
    assert (saved.streaming, saved.status, saved.error) == (False, "stopped", None)
    assert not model.requests


async def test_a_reply_cancelled_by_shutdown_before_its_job_begins_is_interrupted(model):
    async with jobs.lifespan(sweep_interval=60):
        _, reply = exchange("just started")
        jobs.start(message_id=reply.id, public_id=reply.public_id, settings=settings_for(model))

    saved = load(reply.id)
    assert (saved.streaming, saved.status) == (False, "interrupted")


async def test_startup_interrupts_replies_left_streaming_by_a_killed_server(model):
    _, orphan = exchange("the server died here")
    with rx.session() as session:
        repository.checkpoint(session=session, message_id=orphan.id, content="last checkpoint")

    async with jobs.lifespan(sweep_interval=60):
        saved = load(orphan.id)

    assert (saved.streaming, saved.status, saved.content) == (
        False,
        "interrupted",
        "last checkpoint",
    )


async def test_a_reply_ended_by_another_process_stops_its_job_at_the_next_checkpoint(model):
    model.on("ended elsewhere", Reply(chunks=[f"w{i} " for i in range(400)], delay=0.02))
    _, reply = exchange("ended elsewhere please")
    task = jobs.start(
        message_id=reply.id,
        public_id=reply.public_id,
        settings=settings_for(model, checkpoint_interval=0.1),
    )
    await wait_until(lambda: "w5 " in load(reply.id).content)

    with rx.session() as session:  # what Stop does where this job does not run
        partial = load(reply.id).content
        repository.finish(
            session=session, message_id=reply.id, content=partial, status=Status.STOPPED
        )
    await asyncio.wait_for(task, 10)

    request = model.request_for("ended elsewhere")
    await wait_until(lambda: request.disconnected_at is not None)
    saved = load(reply.id)
    assert (saved.status, saved.streaming, saved.content) == ("stopped", False, partial)


async def test_the_job_measures_and_saves_the_reply_facts(model):
    model.on(
        "facts", Reply(chunks=["a", "b", "c", "d"], first_delay=0.2, delay=0.05, usage=(30, 4))
    )
    _, reply = exchange("facts please")

    saved = await run_reply(reply, settings_for(model))

    assert (saved.prompt_tokens, saved.completion_tokens, saved.chunk_count) == (30, 4, 4)
    assert 200 <= saved.first_token_ms <= saved.duration_ms  # the scripted wait is before it
    facts = MessageView.of(saved).facts
    assert facts.startswith("test-model · 30 → 4 tokens · first token ")
    assert facts.endswith(" tokens/s")  # 4 tokens over the 0.15 s or more after the first


async def test_without_reported_usage_the_rate_counts_chunks_and_says_so(model):
    model.on("no usage", Reply(chunks=words("x" * 80, 4), delay=0.01, usage=None))
    _, reply = exchange("no usage please")

    saved = await run_reply(reply, settings_for(model))

    assert (saved.prompt_tokens, saved.completion_tokens, saved.chunk_count) == (None, None, 20)
    facts = MessageView.of(saved).facts
    assert "tokens" not in facts.replace("chunks/s", "") and facts.endswith(" chunks/s")


def test_reply_facts_show_only_what_is_known():
    def message(**fields) -> Message:
        base = {"role": "assistant", "status": "complete", "model": "m", "content": "x"}
        return Message(chat_id=1, **(base | fields))

    assert reply_facts(message()) == "m"
    assert reply_facts(message(status="error", first_token_ms=5)) == ""
    assert reply_facts(message(role="user")) == ""
    full = message(prompt_tokens=1200, completion_tokens=100, first_token_ms=250, duration_ms=2250)
    assert reply_facts(full) == "m · 1,200 → 100 tokens · first token 0.25 s · 50 tokens/s"
    chunks = message(first_token_ms=100, duration_ms=1100, chunk_count=30)
    assert reply_facts(chunks) == "m · first token 0.10 s · 30 chunks/s"


async def test_a_nul_in_a_reply_is_saved_and_shown_as_a_replacement_character(model):
    model.on("nul", Reply(chunks=["be\x00", "fore\x00after"], delay=0))
    _, reply = exchange("nul please")

    saved = await run_reply(reply, settings_for(model, checkpoint_interval=0.0))

    assert (saved.status, saved.content) == ("complete", "be\ufffdfore\ufffdafter")


async def test_a_reply_whose_chat_is_deleted_before_its_job_begins_asks_no_model(model, caplog):
    model.on("deleted first", Reply(chunks=["never"]))
    _, reply = exchange("deleted first please")
    with rx.session() as session:
        chat = session.get(Chat, reply.chat_id)
        repository.delete_chat(session=session, chat=chat)

    await jobs.start(message_id=reply.id, public_id=reply.public_id, settings=settings_for(model))

    assert not [r for r in model.requests if "deleted first" in r.last_user_message]
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "WARNING")]
    assert get_hub().channel(reply.public_id) is None


async def test_a_reply_is_read_straight_from_aiohttp_s_buffer(model):
    """What keeps a read cheap (`llm._reader`): should the `openai` client's transport change,
    this says so, where a fallback would only cost CPU."""
    model.on("reader", Reply(chunks=["a"]))
    settings = settings_for(model)
    client = llm._client(settings, asyncio.get_running_loop())
    question = [{"role": "user", "content": "reader please"}]
    async with contextlib.AsyncExitStack() as stack:
        read = llm._reader(await llm._open(client, settings, question, stack))
        assert isinstance(getattr(read, "__self__", None), aiohttp.StreamReader)
        assert b"data:" in await read()


async def test_a_busy_worker_reads_a_stream_several_chunks_at_a_time_and_keeps_them_all(model):
    """With many replies streaming, a job pauses between reads (chatstream/pacing.py) and the
    next read brings every chunk that came meanwhile: none lost, none held back."""
    text = "".join(f"w{i} " for i in range(120))
    chunks = words(text, 4)
    model.on("busy worker", Reply(chunks=chunks, delay=0.005))
    question = [{"role": "user", "content": "busy worker please"}]
    reads = []
    with contextlib.ExitStack() as busy:
        for _ in range(300):  # as if 299 other replies streamed: a pause of 40 ms a read
            busy.enter_context(pacing.streaming())
        async for parts in llm.stream_reply(question, settings_for(model)):
            reads.append([part for part in parts if type(part) is str])
    assert "".join(text for parts in reads for text in parts) == text
    assert len(reads) <= len(chunks) / 2  # 5 ms apart, 40 ms between reads: about 8 a read
