"""The Redis relay carries a reply's reasoning beside its answer, byte for byte."""

from __future__ import annotations

import asyncio

from chatstream.jobs import LiveMessage
from tests.unit import test_redis_hub

workers = test_redis_hub.workers  # two workers' hubs on a fresh key prefix
until = test_redis_hub.until


async def test_a_follower_on_another_worker_receives_reasoning_and_answer_exactly(workers):
    job_worker, tab_worker = workers
    message = LiveMessage(id=1, public_id="m1")
    job_worker.open(message)
    thoughts = [f"{i}: pensée 🤔 " for i in range(200)]
    answers = [f"{i}: réponse " for i in range(100)]

    async with tab_worker.follow("m1") as mirror:
        for part in thoughts:
            message.reasoning += part
            job_worker.broadcast(message)
            await asyncio.sleep(0)
        await until(lambda: len(mirror.reasoning) == len("".join(thoughts)))
        assert mirror.text == ""
        for part in answers:
            message.content += part
            job_worker.broadcast(message)
            await asyncio.sleep(0)
        message.streaming = False
        job_worker.end(message)
        await until(lambda: mirror.done)

    assert (mirror.reasoning, mirror.text) == ("".join(thoughts), "".join(answers))


async def test_a_late_follower_reads_the_reasoning_so_far(workers):
    job_worker, tab_worker = workers
    message = LiveMessage(id=1, public_id="m1", reasoning="already thought")
    job_worker.open(message)
    message.reasoning += ", and more"
    job_worker.broadcast(message)
    await until(lambda: test_redis_hub.relayed(job_worker))

    async with tab_worker.follow("m1") as mirror:
        await until(lambda: mirror.reasoning == "already thought, and more")


async def test_an_answer_that_became_reasoning_reaches_the_other_worker_whole(workers):
    job_worker, tab_worker = workers
    message = LiveMessage(id=1, public_id="m1")
    job_worker.open(message)
    async with tab_worker.follow("m1") as mirror:
        message.content = "no opening tag, thinking"
        job_worker.broadcast(message)
        await until(lambda: mirror.text == "no opening tag, thinking")
        message.reasoning, message.content = message.content + " done", "Answer"
        job_worker.broadcast(message)
        await until(lambda: mirror.text == "Answer")
        message.content += " goes on"
        job_worker.broadcast(message)
        await until(lambda: mirror.text == "Answer goes on")
        assert mirror.reasoning == "no opening tag, thinking done"
        assert mirror.rewrites == 1
