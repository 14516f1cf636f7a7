"""What every measurement runs on: the scripted model, one design's backend in this process
(backend only, `.web`/`.states` in a temp dir, as tests/integration/conftest.py does), and a
counting TCP proxy in front of it.

Each design runs in its own process: two Reflex apps cannot share one process's state tree.
"""

from __future__ import annotations

import asyncio
import os
import random
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.backend import backend_only
from tests.fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent
APPS = {"ours": (ROOT, "chatstream"), "naive": (ROOT / "bench" / "naive_app", "naive_app")}


def reply_text(size: int = 4000, seed: int = 1) -> str:
    """Prose-like text of `size` characters (compresses like prose, not like 'aaaa')."""
    rng = random.Random(seed)
    vocab = (
        "the a reply stream model token chunk browser server state delta update text "
        "message chat wire latency render markdown list table code python reflex socket"
    )
    vocab = vocab.split()  # noqa: SIM905
    words = [rng.choice(vocab) + ("." if rng.random() < 0.08 else "") for _ in range(size)]
    return " ".join(words)[:size]


@contextmanager
def model_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        os.environ.update(server.app_environment(stall_timeout=60))
        # A user here may ask many questions in a row; no per-user limits (the capacity
        # steps' backend has its own environment: a user per tab, the app's own limits).
        os.environ.update(CHATSTREAM_MAX_STREAMS_PER_USER="0", CHATSTREAM_SENDS_PER_MINUTE="0")
        yield server


@contextmanager
def backend(design: str) -> Iterator[str]:
    """The URL of `design`'s backend, running in a thread of this process."""
    with backend_only(*APPS[design]) as url:
        yield url


class Counter:
    """Bytes from the server to the client: on the TCP socket, and as websocket payload
    (decompressed when the frames are permessage-deflate compressed)."""

    def __init__(self) -> None:
        self.tcp = 0
        self.payload = 0
        self.frames = 0
        self.compressed = False
        self._buffer = b""
        self._inflate = zlib.decompressobj(-15)
        self._upgraded = False

    def reset(self) -> None:
        self.tcp = self.payload = self.frames = 0

    def feed(self, data: bytes) -> None:
        self.tcp += len(data)
        self._buffer += data
        if not self._upgraded:
            head, sep, rest = self._buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            if b" 101 " not in head.split(b"\r\n", 1)[0]:  # plain HTTP: count its bytes only
                self.feed = self._count
                return
            self._upgraded, self._buffer = True, rest
        while (frame := self._frame()) is not None:
            rsv1, opcode, body = frame
            if opcode in (1, 2):  # text and binary frames (no fragmentation here)
                if rsv1:
                    self.compressed = True
                    body = self._inflate.decompress(body + b"\x00\x00\xff\xff")
                self.payload += len(body)
                self.frames += 1

    def _count(self, data: bytes) -> None:
        self.tcp += len(data)

    def _frame(self) -> tuple[bool, int, bytes] | None:
        b = self._buffer
        if len(b) < 2:
            return None
        length, start = b[1] & 0x7F, 2
        if length == 126:
            if len(b) < 4:
                return None
            length, start = int.from_bytes(b[2:4]), 4
        elif length == 127:
            if len(b) < 10:
                return None
            length, start = int.from_bytes(b[2:10]), 10
        if len(b) < start + length:
            return None
        self._buffer = b[start + length :]
        return bool(b[0] & 0x40), b[0] & 0x0F, b[start : start + length]


class Proxy:
    """A loopback TCP proxy that counts what the backend sends to each connection."""

    def __init__(self, backend_url: str | Callable[[], str]) -> None:
        self.backend_url = backend_url  # or a function: the backend may start after the proxy
        self.counters: list[Counter] = []

    async def start(self, port: int = 0) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    def reset(self) -> None:
        for counter in self.counters:
            counter.reset()

    def total(self, name: str) -> int:
        return sum(getattr(counter, name) for counter in self.counters)

    async def _serve(self, reader, writer) -> None:
        url = self.backend_url if isinstance(self.backend_url, str) else self.backend_url()
        host, port = url.removeprefix("http://").split(":")
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        counter = Counter()
        self.counters.append(counter)

        async def pipe(source, sink, count) -> None:
            try:
                while data := await source.read(65536):
                    count(data)
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                sink.close()

        await asyncio.gather(
            pipe(reader, up_writer, lambda data: None),
            pipe(up_reader, writer, lambda data: counter.feed(data)),
        )
