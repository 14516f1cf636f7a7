"""`make run` and `make dev` as a person starts them in a terminal, for tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.conftest import ROOT
from tests.services import free_ports

VITE_DEV = "/@id/"
"""In a page the dev server serves (Vite's module ids, for hot reload), never in a build."""
STARTED = re.compile(r"starting the local model \(.*\) on http://127\.0\.0\.1:(\d+)/v1")


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2)
        return True
    except OSError:
        return False


class MakeRun:
    """`make run` (or `make dev`) in a process group of its own, as a person starts it in a
    terminal, on free ports. `make run` serves the production build on one port; `make dev`
    the dev server, with its backend on a port of its own."""

    def __init__(self, log: Path, target: str = "run", env: dict[str, str] | None = None) -> None:
        self.target, self.log = target, log
        self.frontend_port, self.backend_port = free_ports(2)
        if target != "dev":
            self.backend_port = self.frontend_port
        ports = [f"FRONTEND_PORT={self.frontend_port}", f"BACKEND_PORT={self.backend_port}"]
        if env is None:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "MAKE"))}
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                ["make", target, *ports], cwd=ROOT, env=env, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    @property
    def url(self) -> str:
        return f"http://localhost:{self.frontend_port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_until_serving(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while not (answers(f"http://127.0.0.1:{self.backend_port}/ping") and answers(self.url)):
            assert self.process.poll() is None, (
                f"make {self.target} exited:\n{self.output()[-3000:]}"
            )
            assert time.monotonic() < deadline, f"not serving:\n{self.output()[-3000:]}"
            time.sleep(0.5)

    def index_html(self) -> str:
        with urllib.request.urlopen(self.url, timeout=10) as response:
            return response.read().decode(errors="replace")

    def serves_production_build(self) -> bool:
        """The production build: the page and the backend on one port, no Vite dev modules."""
        return self.backend_port == self.frontend_port and VITE_DEV not in self.index_html()

    def model_port(self) -> int:
        found = STARTED.search(self.output())
        assert found, f"make run did not start the local model:\n{self.output()[-3000:]}"
        return int(found.group(1))

    def interrupt(self) -> int:
        """Ctrl+C in the terminal: SIGINT to the whole foreground process group."""
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            raise
