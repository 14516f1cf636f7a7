"""One async generator over an OpenAI-compatible streaming chat completion.

It yields the reply's text deltas, then a `Usage` if the endpoint reported one, and raises
`ModelError` (a message fit for the user) on every failure, including a stream that ends
without a finish reason, which the `openai` client itself lets pass quietly.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import openai

from .settings import Settings

log = logging.getLogger(__name__)

NOT_CONFIGURED = (
    "No model is configured. `make run` starts a small local model by itself; to use another "
    "model, set OPENAI_BASE_URL (any OpenAI-compatible endpoint: OpenAI, "
    "Ollama, vLLM, llama.cpp, LM Studio), OPENAI_API_KEY and CHATSTREAM_MODEL in the "
    "environment or in a .env file, restart, then press Retry."
)


class ModelError(Exception):
    """A failure of the model call, worded for the person reading the chat."""


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int | None
    completion_tokens: int | None


@functools.lru_cache(maxsize=16)
def _client(settings: Settings, loop: asyncio.AbstractEventLoop) -> openai.AsyncOpenAI:
    """One client (one connection pool, one TLS context) per settings and event loop:
    building one costs more than a whole short reply."""
    return openai.AsyncOpenAI(
        base_url=settings.base_url,
        api_key=settings.api_key or "not-needed",
        max_retries=0,  # connection errors are retried below; HTTP errors are shown at once
        timeout=httpx.Timeout(settings.stall_timeout, connect=10.0),
    )


def _explain(exc: Exception, settings: Settings, *, started: bool) -> str:
    where = settings.base_url or "the OpenAI API"
    if started and isinstance(exc, (openai.APIConnectionError, httpx.HTTPError)):
        return "The connection to the model was cut in the middle of the reply."
    if isinstance(exc, openai.APITimeoutError):
        return f"The model at {where} did not answer in time."
    if isinstance(exc, openai.APIConnectionError):
        return f"Could not reach the model at {where}."
    if isinstance(exc, openai.AuthenticationError):
        return "The model endpoint refused the API key (HTTP 401). Check OPENAI_API_KEY."
    if isinstance(exc, openai.RateLimitError):
        return "The model endpoint is rate limiting requests (HTTP 429). Try again in a moment."
    if isinstance(exc, openai.NotFoundError):
        return f"The model '{settings.model_name}' was not found at {where} (HTTP 404)."
    if isinstance(exc, openai.APIStatusError):
        return f"The model endpoint answered HTTP {exc.status_code}: {exc.message}"
    if isinstance(exc, openai.APIError):
        return f"The model reported an error: {exc.message}"
    if isinstance(exc, httpx.HTTPError):
        return "The connection to the model was cut in the middle of the reply."
    return f"Unexpected error while calling the model: {exc!r}"


def _sampling(settings: Settings) -> dict:
    """The request options every completion carries: temperature and stop sequences."""
    options: dict = {}
    if settings.temperature is not None:
        options["temperature"] = settings.temperature
    if settings.stop:
        options["stop"] = list(settings.stop)
    return options


async def _open(client: openai.AsyncOpenAI, settings: Settings, messages: list[dict]):
    """Start the request, retrying connection errors with backoff (0.5 s, 1 s, 2 s…)."""
    extra: dict = {"stream_options": {"include_usage": True}} if settings.stream_usage else {}
    if settings.max_tokens:
        extra["max_tokens"] = settings.max_tokens
    extra.update(_sampling(settings))
    for attempt in range(settings.connect_retries + 1):
        try:
            return await client.chat.completions.create(
                model=settings.model_name, messages=messages, stream=True, **extra
            )
        except openai.APIConnectionError:
            if attempt == settings.connect_retries:
                raise
            log.warning("model connection failed (attempt %d), retrying", attempt + 1)
            await asyncio.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


async def stream_reply(messages: list[dict], settings: Settings) -> AsyncIterator[str | Usage]:
    """Yield the text deltas of the model's reply to `messages`, then its `Usage` if known."""
    if not settings.model_configured:
        raise ModelError(NOT_CONFIGURED)
    client = _client(settings, asyncio.get_running_loop())
    started = False
    try:
        stream = await _open(client, settings, messages)
        async with stream:
            finish_reason = None
            chunks = aiter(stream)
            while True:
                try:
                    chunk = await asyncio.wait_for(anext(chunks), settings.stall_timeout)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    raise ModelError(
                        f"The model sent nothing for {settings.stall_timeout:g} seconds; "
                        "the reply was abandoned."
                    ) from None
                started = True
                if chunk.usage is not None:
                    yield Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                for choice in chunk.choices[:1]:
                    if choice.delta and choice.delta.content:
                        yield choice.delta.content
                    finish_reason = choice.finish_reason or finish_reason
            if finish_reason is None:
                raise ModelError(
                    "The model's stream ended before the reply was finished "
                    "(no finish reason): the connection was probably cut."
                )
    except (openai.OpenAIError, httpx.HTTPError) as exc:
        raise ModelError(_explain(exc, settings, started=started)) from exc
    except ValueError as exc:  # a `data:` line that is not JSON, or not a completion chunk
        raise ModelError("The model sent a malformed stream.") from exc


MODELS_RETRY_SECONDS = 10.0
"""How soon an endpoint that failed to list its models is asked again."""
_models: dict[tuple[str | None, str | None], tuple[float, tuple[str, ...]]] = {}


async def available_models(settings: Settings) -> list[str]:
    """The models a chat may choose: the configured one first, then the others the endpoint
    lists at `/v1/models`, read at most once per `settings.models_ttl`. An endpoint with no
    list (or unreachable) offers the configured model alone."""
    configured = settings.model_name
    if not settings.model_configured:
        return [configured]
    key = (settings.base_url, settings.api_key)
    cached = _models.get(key)
    if cached is None or time.monotonic() >= cached[0]:
        listed = await _list_models(settings)
        ttl = settings.models_ttl if listed else min(settings.models_ttl, MODELS_RETRY_SECONDS)
        cached = _models[key] = (time.monotonic() + ttl, listed)
    return [configured, *sorted(set(cached[1]) - {configured})]


async def _list_models(settings: Settings) -> tuple[str, ...]:
    client = _client(settings, asyncio.get_running_loop())
    try:
        page = await asyncio.wait_for(client.models.list(), 10.0)
        return tuple(m.id for m in page.data if isinstance(getattr(m, "id", None), str))
    except (openai.OpenAIError, httpx.HTTPError, TimeoutError, ValueError) as exc:
        log.info("the model list of %s is unavailable (%s)", settings.base_url, exc)
        return ()


async def complete(
    messages: list[dict], settings: Settings, *, max_tokens: int, timeout: float
) -> str:
    """One short non-streaming completion (a chat title): its text, or `ModelError`."""
    if not settings.model_configured:
        raise ModelError(NOT_CONFIGURED)
    client = _client(settings, asyncio.get_running_loop())
    try:
        # Both limits: the client's covers each read, `wait_for` the whole call.
        response = await asyncio.wait_for(
            client.chat.completions.create(
                model=settings.model_name,
                messages=messages,
                max_tokens=max_tokens,
                timeout=timeout,
                **_sampling(settings),
            ),
            timeout,
        )
    except TimeoutError:
        raise ModelError(f"The model did not answer within {timeout:g} seconds.") from None
    except (openai.OpenAIError, httpx.HTTPError) as exc:
        raise ModelError(_explain(exc, settings, started=False)) from exc
    except ValueError as exc:
        raise ModelError("The model sent a malformed answer.") from exc
    choice = response.choices[0] if response.choices else None
    return (choice.message.content or "") if choice and choice.message else ""
