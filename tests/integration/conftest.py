"""The real app's backend (reflex.testing.AppHarness, no frontend) for websocket clients.

The scripted model server and the backend run in this process, so a test can script replies,
read back what the model server sent, and read the same throw-away database.

Only the backend runs, and it leaves the project's `.web`, `.states` and `reflex.lock/` alone:
a browser test run may be using them. AppHarness would empty and re-create `.web`, compile
the pages into it and install packages (rewriting `reflex.lock/`); socket clients need none
of that, nor bun.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from unittest import mock

import pytest
import reflex.utils.prerequisites
from reflex.testing import AppHarness
from reflex_base.environment import environment

from tests.conftest import ROOT
from tests.fake_openai import FakeOpenAI


@pytest.fixture(scope="session")
def model() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server, pytest.MonkeyPatch.context() as env:
        env.setenv("OPENAI_BASE_URL", server.url)
        env.setenv("OPENAI_API_KEY", "test-key")
        env.setenv("CHATSTREAM_MODEL", "test-model")
        env.setenv("CHATSTREAM_STALL_TIMEOUT", "30")
        yield server


@pytest.fixture(scope="session")
def backend_url(model: FakeOpenAI) -> Iterator[str]:
    """The URL of the app's backend, running in a thread of this process."""
    with (
        tempfile.TemporaryDirectory(prefix="chatstream-backend-") as work,
        pytest.MonkeyPatch.context() as env,
    ):
        env.setenv(environment.REFLEX_SKIP_COMPILE.name, "true")  # evaluate pages, write none
        env.setenv(environment.REFLEX_WEB_WORKDIR.name, f"{work}/web")
        env.setenv(environment.REFLEX_STATES_WORKDIR.name, f"{work}/states")
        harness = AppHarness.create(root=ROOT, app_name="chatstream")
        with mock.patch.object(reflex.utils.prerequisites, "initialize_frontend_dependencies"):
            harness._initialize_app()
        harness._start_backend()
        try:
            host, port = harness._poll_for_servers().getsockname()[:2]
            yield f"http://{host}:{port}"
        finally:
            harness.stop()
