"""chatstream scaled out, as `make serve` runs it: PostgreSQL, Redis, several workers.

Two servers share this run's fresh PostgreSQL database (tests/conftest.py, with
CHATSTREAM_TEST_DATABASE=postgresql) and one Redis key prefix: server A with two
workers and server B with one, each started by `make serve` from its own copy of the
project (a production build writes `.web`). A tab on A and a tab on B are therefore on
different workers. Both servers reach PostgreSQL and Redis through proxies that the tests
can cut, as a restarting service would. The scripted model server runs in this process.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from playwright.sync_api import sync_playwright

from tests.conftest import ROOT
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, Pages
from tests.fake_openai import FakeOpenAI
from tests.services import POSTGRES_URL, REDIS_URL, CuttableProxy, free_port

LEASE_SECONDS = 2
"""Short, so a killed worker's replies are declared interrupted within seconds."""
STATE_LOCK_MS = 1000
"""Reflex's Redis state lock (`redis_lock_expiration`, 10 s in `make serve`), short: a burst
of page loads and sends stalls a worker's event loop for a second or two here, as overload
stalls it for ten, and a tab must not lose its state when it does (redis_streams' keeper). With
locks that expire, 5 and 12 of test_concurrency's 25 replies at once never reached their tab."""
STREAMS_PER_USER = 6
"""The servers' `CHATSTREAM_MAX_STREAMS_PER_USER`: the concurrency scenario streams 3 tabs x
2 chats per user at once, and test_limits shows this limit holding across the workers."""
COPY_EXCLUDES = (
    ".git",
    ".web",
    ".venv",
    ".tools",
    ".states",
    "*.db",
    "bench/results",
    "assets/external",
)


@dataclass
class Server:
    """One `make serve` (a gunicorn master and its workers) from its own copy of the project."""

    name: str
    directory: Path
    workers: int
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    def start(self, env: dict[str, str]) -> None:
        log = (self.directory / "serve.log").open("ab")
        self.process = subprocess.Popen(
            ["make", "-s", "serve", f"PORT={self.port}", f"WORKERS={self.workers}"],
            cwd=self.directory,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the test can kill it whole
        )

    def wait_ready(self, timeout: float = 600) -> None:
        """Until the health check passes and the page is served (the first build is slow)."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.process and self.process.poll() is None, f"{self.name} exited: {self.log()}"
            try:
                with urllib.request.urlopen(f"{self.url}/_health", timeout=5) as response:
                    if response.status == 200:
                        urllib.request.urlopen(f"{self.url}/", timeout=5).close()
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, f"{self.name} did not start: {self.log()}"
            time.sleep(0.5)

    def health(self) -> dict:
        import json

        try:
            with urllib.request.urlopen(f"{self.url}/_health", timeout=10) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            return json.load(error)

    def worker_pids(self) -> list[int]:
        """The gunicorn workers: the children of the master (`--preload` forks them)."""
        out = subprocess.run(
            ["pgrep", "-f", f"gunicorn.*--bind 0.0.0.0:{self.port}"], capture_output=True, text=True
        ).stdout
        pids = [int(pid) for pid in out.split()]
        parents = {pid: _parent(pid) for pid in pids}
        return [pid for pid, parent in parents.items() if parent in pids]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def log(self) -> str:
        path = self.directory / "serve.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def _copy_project(target: Path, web_from: Path | None = None) -> None:
    """The project as a fresh clone has it, plus (when given) a built `.web` to save time."""
    shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns(*COPY_EXCLUDES), symlinks=True)
    for shared in (".venv", ".tools"):
        (target / shared).symlink_to(ROOT / shared)
    if web_from is not None and web_from.exists():
        shutil.copytree(web_from, target / ".web", symlinks=True)


@dataclass
class Cluster:
    a: Server
    b: Server
    database_url: str
    redis_prefix: str
    postgres: CuttableProxy
    redis: CuttableProxy
    engine: sa.Engine

    def lease_holder(self, public_id: str) -> str | None:
        """The worker id (`host:pid:…`) whose job holds this reply's lease."""
        client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
        try:
            return client.get(f"{self.redis_prefix}:lease:{public_id}")
        finally:
            client.close()

    def message(self, public_id: str) -> dict:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.text("select content, status, streaming from message where public_id = :p"),
                {"p": public_id},
            ).one()
        return dict(row._mapping)


@pytest.fixture(scope="session")
def model():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="session")
def cluster(model, tmp_path_factory):
    base = tmp_path_factory.mktemp("scaleout")
    prefix = f"cs-test-{uuid.uuid4().hex[:8]}"
    postgres = CuttableProxy(sa.make_url(POSTGRES_URL).port or 5432)
    redis_proxy = CuttableProxy(redis.connection.parse_url(REDIS_URL).get("port", 6379))
    database_url = os.environ["REFLEX_DB_URL"]  # tests/conftest.py made it, migrated
    assert database_url.startswith("postgresql"), "run with CHATSTREAM_TEST_DATABASE=postgresql"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("REFLEX_", "PYTEST_", "CHATSTREAM_")) and key != "MAKEFLAGS"
    }
    proxied = sa.make_url(database_url).set(host="127.0.0.1", port=postgres.port)
    env |= model.app_environment(stall_timeout=30) | {
        "DATABASE_URL": proxied.render_as_string(hide_password=False),
        "REDIS_URL": f"redis://127.0.0.1:{redis_proxy.port}/0",
        "CHATSTREAM_REDIS_PREFIX": prefix,
        "CHATSTREAM_LEASE_SECONDS": str(LEASE_SECONDS),
        "CHATSTREAM_MAX_STREAMS_PER_USER": str(STREAMS_PER_USER),
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_REDIS_LOCK_EXPIRATION": str(STATE_LOCK_MS),
        "REFLEX_REDIS_LOCK_WARNING_THRESHOLD": str(STATE_LOCK_MS // 2),
    }
    a = Server("A", base / "a", workers=2)
    _copy_project(a.directory, web_from=ROOT / ".web")
    a.start(env)
    a.wait_ready()
    b = Server("B", base / "b", workers=1)
    _copy_project(b.directory, web_from=a.directory / ".web")
    b.start(env)
    b.wait_ready()
    engine = sa.create_engine(database_url)
    try:
        yield Cluster(a, b, database_url, prefix, postgres, redis_proxy, engine)
    finally:
        engine.dispose()
        for server in (a, b):
            server.stop()
        postgres.close()
        redis_proxy.close()
        _delete_keys(prefix)


def _delete_keys(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def pages_a(browser, cluster):
    pages = Pages(browser, cluster.a.url)
    yield pages
    pages.close()


@pytest.fixture
def pages_b(browser, cluster):
    pages = Pages(browser, cluster.b.url)
    yield pages
    pages.close()
