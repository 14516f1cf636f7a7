"""The unit tests' own fixtures (tests/conftest.py prepares the database)."""

import pytest


@pytest.fixture(autouse=True)
async def _close_model_clients():
    """Each test's event loop closes the model clients it opened (aiohttp sessions say so
    loudly when they are dropped open)."""
    yield
    from chatstream import llm

    await llm.close_clients()
