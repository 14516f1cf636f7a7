"""The counting proxy (bench/harness.py `Proxy`) in a process of its own, for the Chromium
measurements: `ProxyProcess`.

Run in the bench's process, the proxy shared the interpreter lock with the backend under test
(AppHarness runs it in a thread there), the scripted model and Playwright: each update waited
for the lock twice on its way to the page, once into the proxy and once out, while the
backend worked on the next. A user's browser talks to the backend with nothing between.

`python -m bench.proxy` prints its URL, then answers one line of JSON per command on stdin:
`backend <url>` (where connections go; the page connects only after it is set), `reset`,
`totals` (the counters' sums, and whether any connection was deflate-compressed).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading

from bench.harness import Proxy


class ProxyProcess:
    """A `Proxy` in a child process: its `url` and `port`; `backend` (where it connects),
    `reset` and `totals` (what the counters of all its connections add up to)."""

    def __init__(self) -> None:
        self._child = subprocess.Popen(
            [sys.executable, "-m", "bench.proxy"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = self._child.stdout.readline().strip()
        self.port = int(self.url.rsplit(":", 1)[1])

    def _ask(self, command: str) -> dict:
        self._child.stdin.write(command + "\n")
        self._child.stdin.flush()
        return json.loads(self._child.stdout.readline())

    def backend(self, url: str) -> None:
        self._ask(f"backend {url}")

    def reset(self) -> None:
        self._ask("reset")

    def totals(self) -> dict:
        return self._ask("totals")

    def close(self) -> None:
        self._child.stdin.close()
        self._child.wait(10)

    def __enter__(self) -> ProxyProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def main() -> None:
    loop = asyncio.new_event_loop()
    backend: asyncio.Future[str] = loop.create_future()
    proxy = Proxy(backend.result)  # (read once a connection has waited for it)

    async def serve(reader, writer) -> None:  # a connection waits for the backend's URL
        await asyncio.shield(backend)
        await proxy._serve(reader, writer)

    async def start() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        print(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)

    async def answer(command: str) -> dict:  # on the loop: the counters are the loop's
        if command.startswith("backend "):
            if not backend.done():
                backend.set_result(command.removeprefix("backend ").strip())
            return {}
        if command == "reset":
            proxy.reset()
            return {}
        totals = {name: proxy.total(name) for name in ("tcp", "payload", "frames")}
        return totals | {"compressed": any(c.compressed for c in proxy.counters)}

    loop.run_until_complete(start())
    threading.Thread(target=loop.run_forever, daemon=True).start()
    for line in sys.stdin:
        reply = asyncio.run_coroutine_threadsafe(answer(line.strip()), loop).result()
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
