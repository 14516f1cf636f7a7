"""A real OpenAI-compatible HTTP server for tests: scripted streaming replies and faults.

It speaks `POST /v1/chat/completions` with `stream=true` as server-sent events (`data:` lines
and `data: [DONE]`), without it as one `chat.completion` JSON body, and `GET /v1/models`. A
test scripts what it answers with `Reply`s, picked by a trigger text in the last user message
(or from a queue, or a default), and reads back what the app asked and whether the app hung
up mid-stream.

Title requests (the app's system message starts with `TITLE_MARKER`) are kept apart, in
`title_requests`, and answered from `title`: by default (None) an HTTP 503, so chats keep
the first words of their first message unless a test asks for a title.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TITLE_MARKER = "Write a short title"
"""How the app's title request begins (`chatstream.titles.PROMPT`)."""


@dataclass
class Reply:
    """What the server does for one request."""

    chunks: list[str] = field(
        default_factory=lambda: ["Hello", " from", " the", " test", " model."]
    )
    delay: float = 0.01
    """Seconds before each chunk."""
    first_delay: float = 0.0
    """Seconds after the response's headers before its first event."""
    headers_delay: float = 0.0
    """Seconds before the response's status line and headers."""
    status: int = 200
    """An HTTP error status answered before any chunk (with an OpenAI-style error body)."""
    finish: bool = True
    """Send a finish reason and `[DONE]`; False ends the body early, cleanly (no finish reason)."""
    cut_after: int | None = None
    """Cut the connection abruptly after this many chunks (a broken chunked body)."""
    hang_after: int | None = None
    """Send this many chunks, then nothing until the client hangs up."""
    usage: tuple[int, int] | None = (12, 5)
    raw_after: tuple[int, str] | None = None
    """After this many chunks, send this raw `data:` payload (an error event, garbage…) and end."""
    hold_after: int | None = None
    """After this many chunks, wait until `release` is set (a test's checkpoint mid-stream)."""
    release: threading.Event = field(default_factory=threading.Event, repr=False)
    body: tuple[str, str] | None = None
    """(content type, body): answer a non-streaming request with this instead of a
    `chat.completion` (an event stream, an HTML page, JSON that does not parse)."""
    thinking: list[str] = field(default_factory=list)
    """Reasoning chunks streamed before `chunks`, in the form `form` says."""
    form: str = "reasoning_content"
    """How the thinking is sent: in the delta field `reasoning_content` (DeepSeek, llama.cpp)
    or `reasoning` (OpenRouter, vLLM), or `inline`: `<think>`, the chunks, `</think>` in
    `content` (Ollama, R1 distills served raw). The chunk counts above (`cut_after`…) count
    the thinking's chunks first (and, inline, the two tags' chunks)."""
    reasoning_tokens: int | None = None
    """Reported in the usage's `completion_tokens_details`."""

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    @property
    def reasoning_text(self) -> str:
        return "".join(self.thinking)

    def deltas(self) -> list[dict]:
        """Every delta the stream carries, in order: the thinking, then the answer."""
        if not self.thinking:
            thinking = []
        elif self.form == "inline":
            inside = [{"content": text} for text in self.thinking]
            thinking = [{"content": "<think>"}, *inside, {"content": "</think>\n\n"}]
        else:
            thinking = [{self.form: text} for text in self.thinking]
        return thinking + [{"content": text} for text in self.chunks]


def words(text: str, size: int = 4) -> list[str]:
    """`text` in chunks of `size` characters."""
    return [text[i : i + size] for i in range(0, len(text), size)]


@dataclass
class Request:
    body: dict
    sent: list[tuple[float, str]] = field(default_factory=list)
    """(time.time(), text) for each chunk written."""
    disconnected_at: float | None = None
    finished: bool = False
    authorization: str = ""
    """The request's Authorization header."""

    @property
    def last_user_message(self) -> str:
        users = [m["content"] for m in self.body.get("messages", []) if m["role"] == "user"]
        return users[-1] if users else ""

    @property
    def is_title(self) -> bool:
        return any(
            m["role"] == "system" and str(m.get("content", "")).startswith(TITLE_MARKER)
            for m in self.body.get("messages", [])
        )


class FakeOpenAI:
    def __init__(self, models: tuple[str, ...] = ("test-model",), port: int = 0) -> None:
        self.models: tuple[str, ...] | None = models
        """What `GET /v1/models` lists; None answers 404, as endpoints without a list do."""
        self.model_list_requests = 0
        self.requests: list[Request] = []
        self.title_requests: list[Request] = []
        self.title: str | Reply | None = None
        """The answer to title requests: a text, a `Reply` (slow, hanging, an HTTP error), or
        None for an HTTP 503."""
        self._triggers: dict[str, Reply] = {}
        self._queue: deque[Reply] = deque()
        self.default = Reply()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def app_environment(self, stall_timeout: float = 30) -> dict[str, str]:
        """The environment variables that point chatstream at this server."""
        return {
            "OPENAI_BASE_URL": self.url,
            "OPENAI_API_KEY": "test-key",
            "CHATSTREAM_MODEL": "test-model",
            "CHATSTREAM_STALL_TIMEOUT": f"{stall_timeout:g}",
        }

    def on(self, trigger: str, reply: Reply) -> Reply:
        """Answer `reply` to any request whose last user message contains `trigger`."""
        self._triggers[trigger] = reply
        return reply

    def enqueue(self, reply: Reply) -> Reply:
        self._queue.append(reply)
        return reply

    def request_for(self, trigger: str, timeout: float = 10.0) -> Request:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for request in list(self.requests):
                if trigger in request.last_user_message:
                    return request
            time.sleep(0.02)
        raise AssertionError(f"the model was never asked about {trigger!r}")

    def _pick(self, request: Request) -> Reply:
        with self._lock:
            for trigger, reply in self._triggers.items():
                if trigger in request.last_user_message:
                    return reply
            return self._queue.popleft() if self._queue else self.default

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/") != "/v1/models" or fake.models is None:
                    return self._json(404, {"error": {"message": "not found"}})
                fake.model_list_requests += 1
                data = [{"id": m, "object": "model", "owned_by": "test"} for m in fake.models]
                self._json(200, {"object": "list", "data": data})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                request = Request(body=body, authorization=self.headers.get("Authorization", ""))
                if request.is_title:
                    fake.title_requests.append(request)
                    title = fake.title
                    reply = Reply(chunks=[title]) if isinstance(title, str) else title
                    reply = reply or Reply(status=503)
                else:
                    fake.requests.append(request)
                    reply = fake._pick(request)
                if reply.status != 200:
                    return self._json(reply.status, self._error_body(reply.status))
                if body.get("stream"):
                    self._stream(request, reply, body.get("model", "test-model"))
                else:
                    self._complete(request, reply, body.get("model", "test-model"))

            def _error_body(self, status: int) -> dict:
                """An OpenAI-style error that, as real endpoints' do, repeats the key it was
                given and says where it was sent: what must never reach the chat's text."""
                message = {401: "Invalid API key", 429: "Rate limit reached"}.get(
                    status, "The server had an error"
                )
                key = self.headers.get("Authorization", "").removeprefix("Bearer ")
                where = f"http://{self.headers.get('Host', '')}{self.path}"
                detail = f"{message} (key provided: {key}; request to {where})"
                return {"error": {"message": detail, "type": "test"}}

            def _json(self, status: int, payload: dict) -> None:
                self._raw(status, "application/json", json.dumps(payload))

            def _raw(self, status: int, content_type: str, body: str) -> None:
                data = body.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a tab closed while its model list was asked)

            def _client_gone(self, wait: float) -> bool:
                """Sleep up to `wait` seconds; True as soon as the client closes its side."""
                readable, _, _ = select.select([self.connection], [], [], max(wait, 0))
                if not readable:
                    return False
                try:
                    return self.connection.recv(1, socket.MSG_PEEK) == b""
                except OSError:
                    return True

            def _hang(self, request: Request) -> None:
                while not self._client_gone(0.05):
                    pass
                request.disconnected_at = time.time()

            def _complete(self, request: Request, reply: Reply, model: str) -> None:
                """A non-streaming answer: the whole text in one `chat.completion` body, after
                `first_delay`; `hang_after` set: nothing until the client hangs up."""
                if self._client_gone(reply.first_delay):
                    request.disconnected_at = time.time()
                    return
                if reply.hang_after is not None:
                    return self._hang(request)
                if reply.body is not None:
                    self._raw(200, *reply.body)
                    request.finished = True
                    return
                prompt, completion = reply.usage or (0, 0)
                message = {"role": "assistant", "content": reply.text}
                try:
                    self._json(
                        200,
                        {
                            "id": "chatcmpl-test",
                            "object": "chat.completion",
                            "created": int(time.time()),
                            "model": model,
                            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                            "usage": {
                                "prompt_tokens": prompt,
                                "completion_tokens": completion,
                                "total_tokens": prompt + completion,
                            },
                        },
                    )
                    request.sent.append((time.time(), reply.text))
                    request.finished = True
                except (BrokenPipeError, ConnectionResetError):
                    request.disconnected_at = time.time()

            def _stream(self, request: Request, reply: Reply, model: str) -> None:
                chunked = (
                    reply.finish or reply.cut_after is not None or reply.hang_after is not None
                )
                if self._client_gone(reply.headers_delay):
                    request.disconnected_at = time.time()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Connection", "close")  # body delimited by the close
                self.end_headers()

                def event(payload) -> None:
                    line = (
                        f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n"
                    )
                    data = line.encode()
                    if chunked:
                        data = f"{len(data):x}\r\n".encode() + data + b"\r\n"
                    self.wfile.write(data)
                    self.wfile.flush()

                def chunk(delta: dict, finish: str | None = None, usage=None) -> dict:
                    choices = (
                        [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]
                    )
                    return {
                        "id": "chatcmpl-test",
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": model,
                        "choices": choices,
                        "usage": usage,
                    }

                try:
                    if self._client_gone(reply.first_delay):
                        request.disconnected_at = time.time()
                        return
                    event(chunk({"role": "assistant", "content": ""}))
                    for index, delta in enumerate(reply.deltas()):
                        if index == reply.cut_after:
                            self.connection.shutdown(socket.SHUT_RDWR)
                            return
                        if index == reply.hang_after:
                            return self._hang(request)
                        if index == reply.hold_after:
                            while not reply.release.wait(0.05):
                                if self._client_gone(0):
                                    request.disconnected_at = time.time()
                                    return
                        if reply.raw_after and index == reply.raw_after[0]:
                            event(reply.raw_after[1])
                            self.wfile.write(b"0\r\n\r\n")
                            return
                        if index and self._client_gone(reply.delay):
                            request.disconnected_at = time.time()
                            return
                        event(chunk(delta))
                        request.sent.append((time.time(), next(iter(delta.values()))))
                    if reply.hang_after is not None:
                        return self._hang(request)
                    if reply.cut_after is not None:
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    if not reply.finish:
                        self.close_connection = True
                        return
                    event(chunk({}, finish="stop"))
                    if reply.usage:
                        prompt, completion = reply.usage
                        usage = {
                            "prompt_tokens": prompt,
                            "completion_tokens": completion,
                            "total_tokens": prompt + completion,
                        }
                        if reply.reasoning_tokens is not None:
                            details = {"reasoning_tokens": reply.reasoning_tokens}
                            usage["completion_tokens_details"] = details
                        event(chunk({}, usage=usage))
                    event("[DONE]")
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                    request.finished = True
                except (BrokenPipeError, ConnectionResetError):
                    request.disconnected_at = time.time()

        return Handler


DEMO_REPLY = """Here is a **streaming** reply, written a few characters at a time.

1. Lists render while they grow
2. So do tables and code

| feature | state |
|---|---|
| markdown | live |
| stop | instant |

```python
def greet(name: str) -> str:
    return f"Hello, {name}!"
```

That's all. <script>alert('this is only text')</script>
"""


DEMO_THOUGHT = """The user wants to see a model that **thinks** first. I should:

1. consider what they asked,
2. weigh a couple of ways to answer,
3. then write a short, clear reply.

A table would show the three forms endpoints use; a sentence is enough here.
"""

DEMO_ANSWER = """Thinking models stream their reasoning beside the answer: DeepSeek and
llama.cpp in `reasoning_content`, OpenRouter and vLLM in `reasoning`, Ollama and raw R1
distills inline between `<think>` tags. chatstream shows it above the answer, folded once the
answer starts.
"""


def main() -> None:
    """Serve a slow demo reply on a fixed port, for trying the app by hand and screenshots."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=8111)
    parser.add_argument("--delay", type=float, default=0.04)
    args = parser.parse_args()
    server = FakeOpenAI(port=args.port)
    server.default = Reply(chunks=words(DEMO_REPLY, 3), delay=args.delay)
    # A message with "think" in it: a reply that thinks for a few seconds first.
    server.on(
        "think",
        Reply(thinking=words(DEMO_THOUGHT, 3), chunks=words(DEMO_ANSWER, 3), delay=args.delay),
    )
    print(f"scripted model at {server.url}", flush=True)
    server._server.serve_forever()


if __name__ == "__main__":
    main()
