"""A Reflex app's backend alone (reflex.testing.AppHarness, no frontend), for socket clients.

It leaves the project's `.web`, `.states` and `reflex.lock/` alone: a browser test run may be
using them. AppHarness would empty and re-create `.web`, compile the pages into it and
install packages (rewriting `reflex.lock/`); socket clients need none of that, nor bun.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import reflex.utils.prerequisites
from reflex.testing import AppHarness
from reflex_base.environment import environment


@contextmanager
def backend_only(root: Path, app_name: str) -> Iterator[str]:
    """The URL of the app's backend, running in a thread of this process."""
    with tempfile.TemporaryDirectory(prefix=f"{app_name}-backend-") as work:
        workdirs = {
            environment.REFLEX_SKIP_COMPILE.name: "true",  # evaluate pages, write none
            environment.REFLEX_WEB_WORKDIR.name: f"{work}/web",
            environment.REFLEX_STATES_WORKDIR.name: f"{work}/states",
        }
        with mock.patch.dict(os.environ, workdirs):
            harness = AppHarness.create(root=root, app_name=app_name)
            with mock.patch.object(reflex.utils.prerequisites, "initialize_frontend_dependencies"):
                harness._initialize_app()
            harness._start_backend()
            try:
                host, port = harness._poll_for_servers().getsockname()[:2]
                yield f"http://{host}:{port}"
            finally:
                harness.stop()
