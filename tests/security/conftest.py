"""The real app's backend (reflex.testing.AppHarness, no frontend) for hostile socket clients.

As tests/integration/conftest.py: the scripted model server and the backend run in this
process, so a test reads the same throw-away database, the live replies' hub, and every log
record the backend writes (`backend_log`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.backend import backend_only
from tests.conftest import ROOT
from tests.fake_openai import FakeOpenAI

MODELS = ("test-model", "other-model")
"""What the scripted endpoint offers: the victim's chat is set to the second one."""


@pytest.fixture(scope="session")
def model() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(models=MODELS) as server, pytest.MonkeyPatch.context() as env:
        # A reply is held open for the whole suite: no stall timeout may end it meanwhile.
        for name, value in server.app_environment(stall_timeout=3600).items():
            env.setenv(name, value)
        yield server


@pytest.fixture(scope="session")
def backend_url(model: FakeOpenAI) -> Iterator[str]:
    """The URL of the app's backend, running in a thread of this process."""
    with backend_only(ROOT, "chatstream") as url:
        yield url


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="session")
def backend_log(backend_url: str) -> Iterator[list[logging.LogRecord]]:
    """Every log record written from now on, anywhere in the process (the backend's thread
    included): on the root logger, and on each logger that does not pass its records up
    (uvicorn's, Reflex's own when its CLI configured it)."""
    keep = _Keep()
    loggers = [logging.getLogger()]
    loggers += [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]
    for logger in loggers:
        logger.addHandler(keep)
    try:
        yield keep.records
    finally:
        for logger in loggers:
            logger.removeHandler(keep)
