"""The capacity steps' tab socket: the part of python-socketio's client a `ReflexTab` uses,
over one aiohttp websocket, without the library's machinery.

At 300 replies the tabs receive 3,000 updates a second on two shared cores, and every
microsecond they spend is one the backend under test does not get. python-socketio's client
spent about 26 µs of CPU per model chunk there: a task per message (engine.io's
`start_background_task`), another per read (`asyncio.wait_for` around each receive), the
packet classes; 16 µs with this one, which reads each message in the socket's own loop and
hands it to the tab's handler directly.

It speaks Engine.IO 4 over a websocket (`0` open, `2`/`3` ping and pong, `4` message) and
Socket.IO 5 inside it (`0` connect, `1` disconnect, `2` event), one namespace, no acks, no
binary events: what Reflex's backend and the tab exchange. `ReflexTab(url, socket=
LeanSocket())` uses it instead of the library's client (tests/integration/test_bench_socket.py
checks that such a tab sees what one on the library's client sees).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

Handler = Callable[..., Awaitable[Any]]


class LeanSocket:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._namespace = "/"
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task | None = None
        self.connected = False

    def on(self, event: str, handler: Handler, namespace: str = "/") -> None:
        self._handlers[event] = handler

    async def connect(
        self,
        url: str,
        *,
        auth: Any = None,
        namespaces: list[str],
        socketio_path: str,
        headers: dict[str, str] | None = None,
        transports: list[str] | None = None,  # (python-socketio's; a websocket here, always)
        wait_timeout: float = 15,
    ) -> None:
        (self._namespace,) = namespaces
        base, _, query = url.partition("?")
        address = f"{base.rstrip('/')}{socketio_path}/?{query}&EIO=4&transport=websocket"
        protocol = (headers or {}).get("Sec-WebSocket-Protocol")
        self._session = aiohttp.ClientSession()
        try:
            async with asyncio.timeout(wait_timeout):
                self._ws = await self._session.ws_connect(
                    address.replace("http", "ws", 1),
                    protocols=(protocol,) if protocol else (),
                )  # (aiohttp answers the server's websocket pings itself)
                opened = await self._ws.receive_str()
                if not opened.startswith("0"):
                    raise ConnectionError(f"not an engine.io open packet: {opened[:40]!r}")
                await self._ws.send_str(f"40{self._namespace},{json.dumps(auth or {})}")
                while not (answer := await self._ws.receive_str()).startswith("40"):
                    if answer == "2":
                        await self._ws.send_str("3")
                    elif answer.startswith("44"):
                        raise ConnectionError(f"connection refused: {answer[:80]}")
        except (aiohttp.ClientError, TypeError) as exc:  # (TypeError: a non-text frame)
            await self._close()
            raise ConnectionError(str(exc)) from exc
        except BaseException:
            await self._close()
            raise
        self.connected = True
        self._reader = asyncio.create_task(self._read(), name="lean-socket")

    async def emit(self, event: str, data: Any, namespace: str = "/") -> None:
        if not self.connected or self._ws is None:
            raise ConnectionError("the socket is not connected")
        packet = json.dumps([event, data], separators=(",", ":"))
        try:
            await self._ws.send_str(f"42{self._namespace},{packet}")
        except (aiohttp.ClientError, RuntimeError) as exc:  # (RuntimeError: closing)
            raise ConnectionError(str(exc)) from exc

    async def disconnect(self) -> None:
        if self.connected and self._ws is not None and not self._ws.closed:
            with contextlib.suppress(aiohttp.ClientError, RuntimeError):
                await self._ws.send_str(f"41{self._namespace},")
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()
        await self._ended()

    async def _read(self) -> None:
        prefix = f"42{self._namespace},"
        try:
            async for message in self._ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    continue  # (closing ends the loop)
                text = message.data
                if text.startswith(prefix):
                    event, *args = json.loads(text[len(prefix) :])
                    if (handler := self._handlers.get(event)) is not None:
                        await handler(*args)
                elif text == "2":
                    await self._ws.send_str("3")
                elif text.startswith("41") or text.startswith("1"):  # (namespace, engine.io)
                    break
        except (aiohttp.ClientError, ConnectionError):
            pass  # (the server went away)
        await self._ended()

    async def _ended(self) -> None:
        was_connected, self.connected = self.connected, False
        await self._close()
        if was_connected and (handler := self._handlers.get("disconnect")) is not None:
            await handler()

    async def _close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._session is not None:
            await self._session.close()
