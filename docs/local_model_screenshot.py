"""Take docs/local-model.png: the bundled model (no endpoint configured) answering in the page,
through the README's own `make run`, as a newcomer sees it. Part of `make screenshots`."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

import tests.conftest  # noqa: E402,F401  (a throw-away database, migrated)
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, register  # noqa: E402
from tests.local_model.test_make_run import MakeRun, ask  # noqa: E402

OUT = ROOT / "docs" / "local-model.png"


def main() -> None:
    run = MakeRun(Path(tempfile.mkdtemp(prefix="local-model-shot-")) / "make-run.log")
    try:
        run.wait_until_serving()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(base_url=run.url, viewport={"width": 1280, "height": 800})
            register(page, timeout=120_000)
            ask(page, "What is the capital of France?")
            ask(page, "Give me three tips for sleeping better, as a numbered list.")
            page.mouse.move(0, 0)
            page.screenshot(path=str(OUT))
            browser.close()
        print("wrote", OUT)
    finally:
        os.killpg(run.process.pid, signal.SIGINT)
        run.process.wait(60)


if __name__ == "__main__":
    main()
