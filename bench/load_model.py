"""The capacity steps' model server: hundreds of streaming replies from one asyncio loop in
its own process, so that the load generator is never what limits the backend.

tests/fake_openai.py gives each request a thread that sleeps between chunks: at 300 replies
of 50 chunks/s that is 15,000 thread wake-ups a second fighting over the GIL, more CPU than
the backend it measures. Here one timer heap sends every due chunk (a `transport.write` of a
prepared HTTP chunk), and the send time of each chunk is kept for the latency figures.

`python -m bench.load_model` prints its URL, then serves until stdin closes. Scripts are
posted to it (`POST /_script {trigger: [chunks…], delay}`) and each reply's chunk send times
read back (`GET /_sent`), by `LoadModel` below from the bench process.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import sys
import time
import urllib.request
from dataclasses import dataclass, field

TITLE_MARKER = "Write a short title"
TICK = 0.002
"""The server wakes up at most once per TICK and sends every chunk then due, instead of once
per chunk (15,000 times a second at 300 replies): 11.8–14.5 against 14.6–15.5 µs of its CPU
a chunk (alternated runs). A chunk goes out up to TICK late; its send time is when it is
written."""


def _event(payload: dict | str) -> bytes:
    data = f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n".encode()
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> dict:
    choices = [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {
        "id": "load",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "load-model",
        "choices": choices,
        "usage": usage,
    }


_BEFORE, _AFTER = json.dumps(_chunk({"content": "\0"})).split(json.dumps("\0"))


def _content(text: str) -> bytes:
    """`_event(_chunk({"content": text}))`, made from a template. Encoding each reply's
    chunks as the reply started took 64 % of the server's py-spy samples with 300 replies
    starting together, in the steps' question phase, when the backend is busiest."""
    return _event(f"{_BEFORE}{json.dumps(text)}{_AFTER}")


_END = (
    _event(_chunk({}, finish="stop"))
    + _event(_chunk({}, usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}))
    + _event("[DONE]")
    + b"0\r\n\r\n"
)
_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


@dataclass
class Stream:
    transport: asyncio.Transport
    chunks: list[bytes]
    texts: list[str]
    delay: float
    sent: list[tuple[float, str]] = field(default_factory=list)
    index: int = 0


class Server:
    def __init__(self) -> None:
        self.scripts: dict[str, tuple[list[bytes], list[str], float]] = {}
        """Each reply's chunks, encoded when it is scripted (before the step begins)."""
        self.sent: dict[str, list[tuple[float, str]]] = {}
        self._due: list[tuple[float, int, Stream]] = []
        self._order = itertools.count()
        self._wake = asyncio.Event()

    async def tick(self) -> None:
        """Send every chunk that is due, then sleep until the next one is."""
        loop = asyncio.get_running_loop()
        while True:
            if not self._due:
                self._wake.clear()
                await self._wake.wait()
            now = loop.time()
            while self._due and self._due[0][0] <= now:
                due, _, stream = heapq.heappop(self._due)
                if stream.transport.is_closing():
                    continue
                if stream.index == len(stream.chunks):
                    stream.transport.write(_END)
                    continue
                stream.transport.write(stream.chunks[stream.index])
                stream.sent.append((time.time(), stream.texts[stream.index]))
                stream.index += 1
                heapq.heappush(self._due, (due + stream.delay, next(self._order), stream))
            if self._due:  # (a wake-up per TICK at most, not one per chunk)
                await asyncio.sleep(max(self._due[0][0] - loop.time(), TICK))

    def start_stream(self, transport: asyncio.Transport, question: str) -> None:
        trigger = next((t for t in self.scripts if t in question), None)
        chunks, texts, delay = self.scripts.get(trigger, _UNSCRIPTED)
        stream = Stream(transport, chunks, texts, delay)
        if trigger is not None:
            self.sent[trigger] = stream.sent
        transport.write(_HEAD + _event(_chunk({"role": "assistant", "content": ""})))
        loop = asyncio.get_running_loop()
        heapq.heappush(self._due, (loop.time() + delay, next(self._order), stream))
        self._wake.set()


_UNSCRIPTED = ([_content("(no script)")], ["(no script)"], 0.02)


def _response(status: str, body: bytes, kind: str = "application/json") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


class Protocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive, just enough for the `openai` client and the bench."""

    def __init__(self, server: Server) -> None:
        self.server, self.buffer = server, b""

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, _, rest = self.buffer.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            length = int({k.lower(): v for k, v in headers.items()}.get("content-length", 0))
            if len(rest) < length:
                return
            self.buffer = rest[length:]
            method, path, _ = lines[0].split(" ", 2)
            self.request(method, path, rest[:length])

    def request(self, method: str, path: str, body: bytes) -> None:
        server = self.server
        if path == "/_script":
            for trigger, (texts, delay) in json.loads(body).items():
                server.scripts[trigger] = ([_content(text) for text in texts], texts, delay)
            self.transport.write(_response("200 OK", b"{}"))
        elif path == "/_sent":
            self.transport.write(_response("200 OK", json.dumps(server.sent).encode()))
        elif path.endswith("/models"):
            models = {"object": "list", "data": [{"id": "load-model", "object": "model"}]}
            self.transport.write(_response("200 OK", json.dumps(models).encode()))
        elif path.endswith("/chat/completions"):
            payload = json.loads(body)
            question = str(payload["messages"][-1].get("content", ""))
            if not payload.get("stream"):  # a title
                answer = {
                    "id": "t",
                    "object": "chat.completion",
                    "created": 0,
                    "model": "load-model",
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": "Load"},
                        }
                    ],
                }
                self.transport.write(_response("200 OK", json.dumps(answer).encode()))
            else:
                server.start_stream(self.transport, question)
        else:
            self.transport.write(_response("404 Not Found", b"{}"))


async def serve() -> None:
    loop = asyncio.get_running_loop()
    server = Server()
    listener = await loop.create_server(lambda: Protocol(server), "127.0.0.1", 0)
    print(f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}/v1", flush=True)
    ticker = asyncio.create_task(server.tick())
    await loop.run_in_executor(None, sys.stdin.read)
    ticker.cancel()


class LoadModel:
    """The bench's handle on a `bench.load_model` process."""

    def __init__(self, url: str, pid: int) -> None:
        self.url, self.pid = url, pid

    def _call(self, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        root = self.url.removesuffix("/v1")
        with urllib.request.urlopen(urllib.request.Request(root + path, data=data)) as answer:
            return json.loads(answer.read())

    def script(self, replies: dict[str, list[str]], delay: float) -> None:
        self._call("/_script", {trigger: [texts, delay] for trigger, texts in replies.items()})

    def sent(self) -> dict[str, list[tuple[float, str]]]:
        return {trigger: [tuple(s) for s in sent] for trigger, sent in self._call("/_sent").items()}


if __name__ == "__main__":
    asyncio.run(serve())
