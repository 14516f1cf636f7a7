"""The real app's backend (reflex.testing.AppHarness, no frontend) for websocket clients.

The scripted model server and the backend run in this process, so a test can script replies,
read back what the model server sent, and read the same throw-away database.
Only the backend runs (tests/backend.py), so the project's `.web` is left alone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.backend import backend_only
from tests.conftest import ROOT
from tests.fake_openai import FakeOpenAI


@pytest.fixture(scope="session")
def model() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server, pytest.MonkeyPatch.context() as env:
        for name, value in server.app_environment().items():
            env.setenv(name, value)
        # The concurrency scenario streams 3 tabs x 2 chats per user at once; test_limits
        # sets its own limit.
        env.setenv("CHATSTREAM_MAX_STREAMS_PER_USER", "6")
        yield server


@pytest.fixture(scope="session")
def backend_url(model: FakeOpenAI) -> Iterator[str]:
    """The URL of the app's backend, running in a thread of this process."""
    with backend_only(ROOT, "chatstream") as url:
        yield url
