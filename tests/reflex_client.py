"""A browser tab without a browser: Reflex 0.10.1's websocket protocol, for tests.

The frontend (`.web/utils/state.js`, `connect` and `applyEvent`) speaks Socket.IO to the
backend, websocket transport, on the path and namespace `/_event`:

- A page load connects with `?token=<uuid>` (the tab's client token, from sessionStorage)
  and puts `hydrate_and_load` in the CONNECT packet's auth (`{"event": ...}`). Its payload
  `vars` holds the browser storage values of the state's `rx.LocalStorage`/`rx.Cookie` vars
  by full var name (reflex-local-auth's `_auth_token`). Without the compiled defaults'
  `hashes` (as on a reconnect) the backend answers with the whole state, then runs the
  page's on_load handlers.
- An event is `emit("event", {"name": "<full state name>.<handler>", "payload": {kwargs},
  "router_data": {"pathname", "asPath", "query"}})`: the page URL travels with each event.
- The backend emits `"event"`: `{"delta": {full state name: {var + "_rx_state_": whole
  value}}, "events": [...]}`; `events` are frontend-only (`_redirect`, `_set_value`...).
- chatstream's followers push the live reply's new text as a `"live"` event, which the page
  turns into the delta it stands for (`delta_of_push` in chatstream/state/live.py); so does
  this tab.
- Following `_redirect` is a client-side navigation: `update_vars_internal` with the storage
  vars, then `on_load_internal`, which runs the new page's on_load handlers.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import socketio
from reflex.compiler.utils import compile_client_storage
from reflex.state import BaseState, OnLoadInternalState, State, UpdateVarsInternalState
from reflex_base import constants
from reflex_base.constants.state import FIELD_MARKER

from chatstream.state.live import LIVE_EVENT, delta_of_push

Delta = dict[str, dict[str, Any]]
"""Changed vars by full state name, var names with their `_rx_state_` suffix."""

NAMESPACE = f"/{constants.Endpoint.EVENT.value}"
HYDRATED = (State.get_full_name(), constants.CompileVars.IS_HYDRATED + FIELD_MARKER)
_full_names: dict[type[BaseState], str] = {}


def handler_name(state: type[BaseState], handler: str) -> str:
    """The name an event is sent by, e.g. `reflex___state____state.my_state.send`."""
    return f"{state.get_full_name()}.{handler}"


def storage_vars(local_storage: Mapping[str, str]) -> dict[str, str]:
    """The `vars` a browser with this localStorage sends, as its compiled `clientStorage` says."""
    compiled = compile_client_storage(State)[constants.LOCAL_STORAGE]
    names = {key: options.get("name") or key for key, options in compiled.items()}
    return {key: local_storage[name] for key, name in names.items() if name in local_storage}


class ReflexTab:
    """One tab: its own client token and socket; `state` is the state it holds, merged."""

    def __init__(
        self,
        backend_url: str,
        *,
        local_storage: Mapping[str, str] | None = None,
        on_delta: Callable[[ReflexTab, Delta], None] | None = None,
        on_update: Callable[[ReflexTab, dict[str, Any]], None] | None = None,
        follow_redirects: bool = True,
        socket: Any = None,
    ) -> None:
        """`socket`: a Socket.IO client not connected yet (python-socketio's by default;
        the bench's capacity tabs bring a cheaper one, bench/lean_socket.py)."""
        self.backend_url = backend_url.rstrip("/")
        self.token = str(uuid.uuid4())
        self.local_storage = dict(local_storage or {})
        self.on_delta = on_delta
        self.on_update = on_update
        """Called with each whole update received (delta and frontend events), as sent."""
        self.follow_redirects = follow_redirects
        """Navigate on `_redirect`, as a browser does; a hostile client need not."""
        self.last_update = time.monotonic()
        self.path = "/"
        self.params: dict[str, str] = {}
        self.state: Delta = {}
        self.events: list[dict[str, Any]] = []
        """Frontend events received (`_redirect`, `_set_value`...), in order."""
        self._changed = asyncio.Condition()
        self._tasks: set[asyncio.Task[None]] = set()
        self.listen(socket or socketio.AsyncClient(reconnection=False))

    def listen(self, sio: socketio.AsyncClient) -> None:
        """Receive this tab's updates on `sio` (a socket not connected yet)."""
        self._sio = sio
        sio.on("event", self._on_update, namespace=NAMESPACE)
        sio.on(LIVE_EVENT, self._on_live, namespace=NAMESPACE)
        sio.on("disconnect", self._on_disconnect, namespace=NAMESPACE)

    def router_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"pathname": self.path, "asPath": self.path}
        if self.params:
            data["query"] = dict(self.params)
        return data

    def _event(self, name: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"name": name, "payload": payload or {}, "router_data": self.router_data()}

    async def emit(self, name: str, payload: Any, router_data: dict[str, Any]) -> None:
        """Send an event exactly as given: any payload (a hostile client's), any page."""
        event = {"name": name, "payload": payload, "router_data": router_data}
        await self._sio.emit("event", event, namespace=NAMESPACE)

    def var(self, state: type[BaseState], name: str, default: Any = None) -> Any:
        if (full_name := _full_names.get(state)) is None:  # (Reflex works it out each time)
            full_name = _full_names[state] = state.get_full_name()
        return self.state.get(full_name, {}).get(name + FIELD_MARKER, default)

    async def open(self, path: str = "/", params: Mapping[str, str] | None = None) -> None:
        """Load `path` in this tab (connect and hydrate), and wait until its on_load ran.

        `params` are the page's dynamic route arguments, which the browser sends in `query`.
        """
        self.path, self.params = path, dict(params or {})
        vars = storage_vars(self.local_storage)
        boot = self._event(
            handler_name(State, constants.CompileVars.HYDRATE_AND_LOAD), {"vars": vars}
        )
        await self._sio.connect(
            f"{self.backend_url}?token={self.token}",
            auth={constants.CompileVars.CONNECT_AUTH_EVENT: boot},
            transports=["websocket"],
            namespaces=[NAMESPACE],
            socketio_path=NAMESPACE,
            headers={"Sec-WebSocket-Protocol": constants.Reflex.VERSION},
        )
        await self.wait_for(self.hydrated)

    async def navigate(self, path: str, params: Mapping[str, str] | None = None) -> None:
        """Go to `path` in the app, as a link or `rx.redirect` does, and wait for its on_load."""
        self.path, self.params = path, dict(params or {})
        self.state.setdefault(HYDRATED[0], {})[HYDRATED[1]] = False
        if vars := storage_vars(self.local_storage):
            await self.send(
                handler_name(UpdateVarsInternalState, "update_vars_internal"), vars=vars
            )
        await self.send(handler_name(OnLoadInternalState, "on_load_internal"))
        await self.wait_for(self.hydrated)

    async def send(self, name: str, **payload: Any) -> None:
        """Send the event `name` (a full handler name) with these keyword arguments."""
        await self._sio.emit("event", self._event(name, payload), namespace=NAMESPACE)

    def connected(self) -> bool:
        return self._sio.connected

    def hydrated(self) -> bool:
        return self.state.get(HYDRATED[0], {}).get(HYDRATED[1]) is True

    async def wait_for(self, condition: Callable[[], Any], timeout: float = 15) -> Any:
        """Wait until `condition()` (read on `state`) is truthy, and return it."""
        async with asyncio.timeout(timeout), self._changed:
            return await self._changed.wait_for(condition)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self._sio.disconnect()

    async def _on_disconnect(self, *_: Any) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _on_live(self, *args: Any) -> None:
        await self._on_update({"delta": delta_of_push(*args)})

    async def _on_update(self, update: dict[str, Any]) -> None:
        self.last_update = time.monotonic()
        if self.on_update is not None:
            self.on_update(self, update)
        delta: Delta = update.get("delta") or {}
        for state_name, changes in delta.items():
            self.state.setdefault(state_name, {}).update(changes)
        if delta and self.on_delta is not None:
            self.on_delta(self, delta)
        for event in update.get("events") or []:
            self.events.append(event)
            # The browser navigates, then loads the page.
            if event.get("name") == "_redirect" and self.follow_redirects:
                task = asyncio.create_task(self.navigate(event["payload"]["path"]))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        async with self._changed:
            self._changed.notify_all()
