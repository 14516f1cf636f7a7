"""One async generator over an OpenAI-compatible streaming chat completion.

It yields the reply's parts, a list of them per read of the stream (a read brings whatever
arrived since the last one: one chunk, or several when the worker is busy, see
chatstream/pacing.py): answer text (`str`), reasoning text (`Thought`, from
`delta.reasoning_content`, `delta.reasoning` or `<think>` at the start of the content, see
chatstream/reasoning.py), `MOVED` when the answer so far turns out to have been reasoning,
then a `Usage` if the endpoint reported one, and raises
`ModelError` (a message fit for the user) on every failure, including a stream that ends
without a finish reason, which the `openai` client itself lets pass quietly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import httpx2 as httpx  # the HTTP library the `openai` client is built on
import openai
import orjson

from . import pacing, reasoning, sse
from .settings import Settings

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
STREAM_TIMEOUT = httpx.Timeout(None, connect=CONNECT_TIMEOUT)
"""A streamed reply has no read timeout of the client's: aiohttp would re-arm one at every
read (a timer per chunk); `_stall_watch` ends a silent stream instead, and `_open` waits at
most the stall timeout for the response to begin."""

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
    reasoning_tokens: int | None = None
    """Of the completion's tokens, those spent thinking (`completion_tokens_details`)."""


class Thought(str):
    """A piece of the model's reasoning (answer text is a plain `str`)."""

    __slots__ = ()


MOVED = object()
"""The reply began without `<think>` and then closed it: the answer so far was reasoning."""


_clients: dict[tuple[Settings, asyncio.AbstractEventLoop], openai.AsyncOpenAI] = {}


def _client(settings: Settings, loop: asyncio.AbstractEventLoop) -> openai.AsyncOpenAI:
    """One client (one connection pool, one TLS context) per settings and event loop:
    building one costs more than a whole short reply.

    Its HTTP goes over aiohttp, the `openai` client's own alternative transport: reading a
    streamed reply costs 39 µs of CPU a chunk there against 90 µs over httpx2 and httpcore
    (100 concurrent replies, bench/read_cost.py), because aiohttp parses HTTP in C and hands
    over whatever is buffered in one read."""
    key = (settings, loop)
    if (client := _clients.get(key)) is None:
        if len(_clients) >= 16:  # settings changed many times, or many test loops
            _clients.pop(next(iter(_clients)))  # (left to the garbage collector, unclosed)
        client = _clients[key] = openai.AsyncOpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key or "not-needed",
            max_retries=0,  # connection errors are retried below; HTTP errors are shown at once
            timeout=httpx.Timeout(settings.stall_timeout, connect=CONNECT_TIMEOUT),
            http_client=openai.DefaultAioHttpClient(),  # (each request carries the timeout)
        )
    return client


async def close_clients() -> None:
    """Close this event loop's clients and their connections (the app's shutdown)."""
    loop = asyncio.get_running_loop()
    for key in [key for key in _clients if key[1] is loop]:
        await _clients.pop(key).close()


# What the person reading the chat is told: one fixed sentence per kind of failure, with at
# most the HTTP status. Never the endpoint's URL, its key, its response body or a traceback:
# an exception's text can carry all of them. The details go to the log (see `describe`).
CUT = "The connection to the model was cut in the middle of the reply."
TIMEOUT = "The model did not answer in time."
UNREACHABLE = "Could not reach the model. Check that its server is running."
AUTH = "The model endpoint refused the API key (HTTP {status}). Check OPENAI_API_KEY."
RATE_LIMITED = "The model endpoint is rate limiting requests (HTTP 429). Try again in a moment."
NOT_FOUND = "The model '{model}' was not found at the endpoint (HTTP 404)."
SERVER_ERROR = "The model endpoint had a server error (HTTP {status}). Try again later."
REFUSED = "The model endpoint refused the request (HTTP {status})."
REPORTED = "The model reported an error and stopped."
BAD_RESPONSE = "The model sent a malformed answer."
UNEXPECTED = "Unexpected error while calling the model."


def _refused(exc: BaseException | None) -> bool:
    """Whether the connection could not be made at all (refused, no route, no such host).
    The aiohttp transport reports that as a connect *timeout*: its cause says otherwise."""
    while exc is not None:
        if isinstance(exc, aiohttp.ClientConnectorError):
            return True
        exc = exc.__cause__
    return False


def _explain(exc: Exception, settings: Settings, *, started: bool) -> str:
    if started and isinstance(exc, (openai.APIConnectionError, httpx.HTTPError)):
        return CUT
    if isinstance(exc, aiohttp.ClientError) and not _refused(exc):
        return CUT  # (read from aiohttp's buffer, see `_reader`: the response had begun)
    if _refused(exc):
        return UNREACHABLE
    if isinstance(exc, httpx.TimeoutException):
        return TIMEOUT
    if isinstance(exc, openai.APITimeoutError):
        return TIMEOUT
    if isinstance(exc, openai.APIConnectionError):
        return UNREACHABLE
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status in (401, 403):
            return AUTH.format(status=status)
        if status == 429:
            return RATE_LIMITED
        if status == 404:
            return NOT_FOUND.format(model=settings.model_name[:100])
        return (SERVER_ERROR if status >= 500 else REFUSED).format(status=status)
    if isinstance(exc, openai.APIResponseValidationError):
        return BAD_RESPONSE
    if isinstance(exc, openai.APIError):
        return REPORTED  # an error event inside a stream that had begun well
    if isinstance(exc, httpx.HTTPError):
        return CUT
    return UNEXPECTED


def describe(exc: BaseException | None) -> str:
    """One line for the log about what went wrong underneath a `ModelError`: the exception's
    type and text (which may name the endpoint; the log is the operator's, not the user's)."""
    if exc is None:
        return "no further detail"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def _sampling(settings: Settings) -> dict:
    """The request options every completion carries: temperature and stop sequences."""
    options: dict = {}
    if settings.temperature is not None:
        options["temperature"] = settings.temperature
    if settings.stop:
        options["stop"] = list(settings.stop)
    return options


def _request(client: openai.AsyncOpenAI, settings: Settings, messages: list[dict]):
    """The streaming request: the client sends it (base URL, key, headers; an HTTP error
    status becomes `APIStatusError`) and hands back the response, its body unread.

    Through `client.post`, the client's way to any endpoint, not `chat.completions.create`:
    that one first walks the whole conversation against the request's typed description
    (the SDK's `transform`), which changes nothing in plain text messages and cost 0.95 ms
    for two messages and 85 ms for 500, on the event loop of every reply streaming in the
    worker."""
    body: dict = {"model": settings.model_name, "messages": messages, "stream": True}
    if settings.stream_usage:
        body["stream_options"] = {"include_usage": True}
    if settings.max_tokens:
        body["max_tokens"] = settings.max_tokens
    body.update(_sampling(settings))
    return client.post(
        "/chat/completions",
        cast_to=httpx.Response,
        body=body,
        stream=True,
        options={"timeout": STREAM_TIMEOUT, "security": {"bearer_auth": True}},
    )


async def _open(
    client: openai.AsyncOpenAI,
    settings: Settings,
    messages: list[dict],
    stack: contextlib.AsyncExitStack,
) -> httpx.Response:
    """Start the request, retrying connection errors with backoff (0.5 s, 1 s, 2 s…)."""
    for attempt in range(settings.connect_retries + 1):
        try:
            async with asyncio.timeout(settings.stall_timeout):  # its status and headers
                response = await _request(client, settings, messages)
            stack.push_async_callback(response.aclose)
            return response
        except openai.APIConnectionError:
            if attempt == settings.connect_retries:
                raise
            log.warning("model connection failed (attempt %d), retrying", attempt + 1)
            await asyncio.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


def _parts(data: str) -> tuple[str | None, str | None, Usage | None, str | None]:
    """One event of the stream: its answer text, reasoning text, usage and finish reason
    (each maybe None).
    Raises ValueError for an event that is not a chat completion chunk, and `ModelError` for
    an error the endpoint reports inside the stream."""
    try:
        chunk = orjson.loads(data)  # 0.6 µs a chunk against json's 2.4
    except orjson.JSONDecodeError:  # what json still reads: NaN, a lone surrogate…
        chunk = json.loads(data)
    if not isinstance(chunk, dict):
        raise ValueError(f"an event that is not an object: {data[:80]!r}")
    if chunk.get("error"):
        raise ModelError(REPORTED) from openai.APIError(
            str(chunk["error"])[:300],
            request=None,
            body=chunk["error"],  # type: ignore[arg-type]
        )
    usage = chunk.get("usage")
    if usage is not None:
        if not isinstance(usage, dict):
            raise ValueError(f"usage that is not an object: {usage!r:.80}")
        details = usage.get("completion_tokens_details")
        usage = Usage(
            _count(usage.get("prompt_tokens")),
            _count(usage.get("completion_tokens")),
            _count(details.get("reasoning_tokens")) if isinstance(details, dict) else None,
        )
    choices = chunk.get("choices") or []
    if not isinstance(choices, list):
        raise ValueError(f"choices that are not a list: {choices!r:.80}")
    if not choices:
        return None, None, usage, None
    choice = choices[0]
    delta = choice.get("delta") or {}
    content = delta.get("content")
    if content is not None and not isinstance(content, str):
        raise ValueError(f"content that is not text: {content!r:.80}")
    # DeepSeek, llama.cpp's --reasoning-format deepseek: reasoning_content; OpenRouter, vLLM:
    # reasoning. Anything but text there (OpenRouter's reasoning_details objects) is ignored.
    thought = delta.get("reasoning_content") or delta.get("reasoning")
    finish = choice.get("finish_reason")
    return (
        content or None,
        thought if isinstance(thought, str) else None,
        usage,
        finish if isinstance(finish, str) else None,
    )


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class _Watchdog:
    """`reading`: since when the job waits for its next read of the stream (None: it does
    not, it is busy with what the last one brought, or pauses). Ends its `stall` timeout once
    one read has waited `seconds`: the model's silence, never the job's own work between
    reads (a checkpoint waiting on a busy database). A read only sets `reading`, and the
    timer wakes once per `seconds`, where rescheduling the timeout at every read cost a
    timer handle per chunk (16 µs of 194 at 100 replies)."""

    def __init__(self, stall: asyncio.Timeout, seconds: float, loop) -> None:
        self.reading: float | None = None
        self._stall, self._seconds, self._loop = stall, seconds, loop
        self._timer = loop.call_at(loop.time() + seconds, self._check)

    def _check(self) -> None:
        now, since = self._loop.time(), self.reading
        if since is not None and now - since >= self._seconds:
            self._stall.reschedule(now)  # the timeout fires now, in the read that waits
        else:
            self._timer = self._loop.call_at(
                (now if since is None else since) + self._seconds, self._check
            )

    def close(self) -> None:
        self._timer.cancel()


@contextlib.asynccontextmanager
async def _stall_watch(seconds: float, loop):
    """`async with _stall_watch(…) as watchdog:` raises TimeoutError when nothing was read
    for `seconds` (see `_Watchdog`)."""
    async with asyncio.timeout(None) as stall:
        watchdog = _Watchdog(stall, seconds, loop)
        try:
            yield watchdog
        finally:
            watchdog.close()


def _reader(response: httpx.Response) -> Callable[[], Awaitable[bytes]]:
    """`await read()`: the body's next bytes, whatever arrived since the last read; b"" at
    its end. Straight from aiohttp's buffer when the client's aiohttp transport (its vendored
    httpx_aiohttp) made the response: `aiter_raw` passes each read through four nested async
    generators of httpx and the transport, 15 µs a read at 300 replies. Its errors are then
    aiohttp's own (`_explain` knows them). Any other transport: through `aiter_raw`."""
    stream = getattr(response.stream, "_stream", None)
    aiohttp_response = getattr(stream, "_aiohttp_response", None)
    if isinstance(aiohttp_response, aiohttp.ClientResponse):
        return aiohttp_response.content.readany
    pieces = aiter(response.aiter_raw())
    return lambda: anext(pieces, b"")


class _Reply:
    """What the events of a reply's stream have said so far."""

    def __init__(self) -> None:
        self.splitter = reasoning.ThinkSplitter()
        self.finish_reason: str | None = None
        self.started = False
        """An event came: a failure now is a cut reply, not an unreachable model."""
        self.done = False
        """`data: [DONE]` came."""

    def read(self, events: list[str], parts: list) -> None:
        """Append the parts of these events to `parts`. Raises at an event that is not a
        chat completion chunk (the parts of the events before it stay in `parts`)."""
        for data in events:
            if data.startswith("[DONE]"):
                self.done = True
                return
            self.started = True
            text, thought, usage, finish = _parts(data)
            if usage is not None:
                parts.append(usage)
            if thought:
                parts.append(Thought(thought))
            if text and self.splitter.passthrough:
                parts.append(text)
            elif text:
                thought, text = self.splitter.feed(text)
                if self.splitter.moved:
                    parts.append(MOVED)
                if thought:
                    parts.append(Thought(thought))
                if text:
                    parts.append(text)
            self.finish_reason = finish or self.finish_reason

    def close(self) -> list:
        """The parts the end of the reply leaves: a `<think>` tag it cut."""
        thought, text = self.splitter.close()
        return [part for part in (Thought(thought) if thought else "", text) if part]


async def stream_reply(
    messages: list[dict], settings: Settings
) -> AsyncIterator[list[str | Thought | Usage | object]]:
    """Yield the parts of the model's reply to `messages`, one list per read (see the
    module's docstring).

    The body is read as raw server-sent events (`sse.EventDecoder`) and each event's JSON
    picked apart by hand (`_parts`): 3 µs a chunk instead of the client's 75 µs."""
    if not settings.model_configured:
        raise ModelError(NOT_CONFIGURED)
    client = _client(settings, asyncio.get_running_loop())
    loop, reply = asyncio.get_running_loop(), _Reply()
    try:
        async with contextlib.AsyncExitStack() as stack:
            response = await _open(client, settings, messages, stack)
            decoder, read = sse.EventDecoder(), _reader(response)
            async with _stall_watch(settings.stall_timeout, loop) as watchdog:
                while not reply.done:
                    watchdog.reading = loop.time()
                    piece = await read()
                    watchdog.reading = None
                    parts: list = []
                    try:
                        reply.read(decoder.feed(piece) if piece else decoder.close(), parts)
                    finally:
                        if parts:  # (before a fault in the same read too: they are kept)
                            yield parts
                    if not piece:
                        break
                    if pause := pacing.read_pause(settings.reads_per_second):
                        await pacing.pause(pause)  # the next chunks gather in the buffer
            if parts := reply.close():
                yield parts
            if reply.finish_reason is None:
                raise ModelError(
                    "The model's stream ended before the reply was finished "
                    "(no finish reason): the connection was probably cut."
                )
    except TimeoutError:
        raise ModelError(
            f"The model sent nothing for {settings.stall_timeout:g} seconds; "
            "the reply was abandoned."
        ) from None
    except (openai.OpenAIError, httpx.HTTPError, aiohttp.ClientError) as exc:
        raise ModelError(_explain(exc, settings, started=reply.started)) from exc
    except (ValueError, AttributeError, TypeError) as exc:
        # a `data:` line that is not JSON, or not a completion chunk
        raise ModelError("The model sent a malformed stream.") from exc


MODELS_RETRY_SECONDS = 10.0
"""How soon an endpoint that failed to list its models is asked again."""
_models: dict[tuple[str | None, str | None], tuple[float, tuple[str, ...]]] = {}
_listing: dict[tuple[str | None, str | None], asyncio.Future] = {}
"""The request for the list under way, by endpoint: the tabs that open meanwhile wait for
it instead of each sending its own (300 tabs reconnecting after a restart: one request)."""


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
        listing = _listing.get(key)
        if listing is None or listing.get_loop() is not asyncio.get_running_loop():
            listing = _listing[key] = asyncio.ensure_future(_list_models(settings))
            listing.add_done_callback(lambda done: _listing.get(key) is done and _listing.pop(key))
        listed = await asyncio.shield(listing)
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
    """One short non-streaming completion (a chat title): its text, or `ModelError`.

    Asked through `client.post` and its JSON read by hand, as `stream_reply` does:
    `chat.completions.create` walked the request against its types and built pydantic models
    of the answer, 3 ms of the worker's CPU a title, a tenth of a whole exchange's."""
    if not settings.model_configured:
        raise ModelError(NOT_CONFIGURED)
    client = _client(settings, asyncio.get_running_loop())
    body = {
        "model": settings.model_name,
        "messages": messages,
        "max_tokens": max_tokens,
        **_sampling(settings),
    }
    try:
        async with asyncio.timeout(timeout):  # the whole call; the client's, each read
            response = await client.post(
                "/chat/completions",
                cast_to=httpx.Response,
                body=body,
                options={"timeout": timeout, "security": {"bearer_auth": True}},
            )
    except TimeoutError as exc:
        raise ModelError(f"The model did not answer within {timeout:g} seconds.") from exc
    except (openai.OpenAIError, httpx.HTTPError, aiohttp.ClientError) as exc:
        raise ModelError(_explain(exc, settings, started=False)) from exc
    return reasoning.split(_completion_text(response.content))[1]


def _completion_text(answer: bytes) -> str:
    """The text of a non-streaming answer. An endpoint may answer with something else than a
    `chat.completion` (an event stream, an HTML page, other JSON): a `ModelError`."""
    try:
        completion = orjson.loads(answer)
    except orjson.JSONDecodeError as exc:
        raise ModelError(BAD_RESPONSE) from exc
    choices = completion.get("choices") if isinstance(completion, dict) else None
    if not isinstance(choices, list):
        raise ModelError(BAD_RESPONSE) from TypeError(
            f"the answer is not a chat completion: {answer[:120]!r}"
        )
    message = choices[0].get("message") if choices and isinstance(choices[0], dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    if content is not None and not isinstance(content, str):
        raise ModelError(BAD_RESPONSE) from TypeError(f"content is a {type(content).__name__}")
    return content or ""
