"""The same reply in Chromium against a production build or the dev server: model send →
text in the DOM (a MutationObserver), websocket payload (CDP), TCP bytes (a counting proxy
between the page and the backend, so Chromium negotiates permessage-deflate with uvicorn
itself), and what the page does per update: React commits, components rendered and DOM
mutations (tests/e2e/render_probe.py), and whether any finished message rendered again; and
what the reply's start (the commits from the send to the first chunk's) and its end (after
its last update: the hand-over) cost the page.

`python -m bench.browser ours|naive [prod|dev]` prints one JSON object on its last line. It
builds and serves a temporary copy of the repository, never the project's own `.web`.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import tests.conftest  # noqa: F401  (a throw-away SQLite database, migrated to head)
from bench.harness import ROOT, model_server, reply_text
from bench.proxy import ProxyProcess
from bench.streaming import THOUGHT
from bench.tabs import latencies
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.render_probe import PROBE, cost, per_update, start_and_end
from tests.fake_openai import Reply, words

REPLY = reply_text(4000)
PASSWORD = "correct horse battery"
EARLIER = {"ours": (0, 50, 500), "naive": (0, 50)}
"""Earlier messages before the reply (the naive design resends them all per chunk: not 500)."""
OBSERVE = """() => {
  // [time, messages in the conversation, characters of the last one]. The messages are the
  // children of one element (ours: the finished ones; the naive design's: all) and of its
  // parent (ours: the live reply), which has few; the element is looked up once, so the
  // observer's own cost stays the same in a long chat.
  window.__seen = [];
  let box = null, others = 0;  // the element, and its children that are not messages
  const messages = (el) => [...el.children].filter((c) => c.dataset.testid === "message");
  const read = () => {
    if (!box || !box.isConnected) {
      box = document.querySelector('[data-testid="message"]')?.parentElement ?? null;
      if (!box) return;
      others = box.childElementCount - messages(box).length;
    }
    const beside = messages(box.parentElement);
    let last = beside[beside.length - 1] ?? box.lastElementChild;
    while (last && last.dataset.testid !== "message") last = last.previousElementSibling;
    // the answer's characters, after the reasoning's when the reply thinks first
    const length = ["reasoning-content", "message-content"]
      .map((id) => last?.querySelector(`[data-testid="${id}"]`)?.textContent.length ?? 0)
      .reduce((a, b) => a + b, 0);
    const count = box.childElementCount - others + beside.length;
    const prev = window.__seen[window.__seen.length - 1];
    if (!prev || prev[1] !== count || prev[2] !== length)
      window.__seen.push([Date.now(), count, length]);
  };
  new MutationObserver(read).observe(document.body,
    {childList: true, subtree: true, characterData: true});
  read();
}"""
WATCH_FINISHED = """() => {
  const finished = document.querySelectorAll('[data-testid="message"]');
  window.__probe.watch(finished);
  window.__probe.reset();
  return finished.length;
}"""
_markers = itertools.count()
FIRST_RUNS = 5
FIRST_REPLY = reply_text(200)
"""The first chunk's time is one figure per reply, and one reply's is at the mercy of what
else the machine did in those milliseconds: each case's figure is the median of its reply's
and of `FIRST_RUNS - 1` short replies' more, each in a page of its own."""


def copy_of_repo(work: Path) -> Path:
    """The repository with its `.web` if it has one (its installed packages save a download),
    without .git or .venv. On a fresh clone each app's `.web` is made by its first build."""
    excludes = [f"--exclude={name}" for name in (".git", ".venv", ".tools", ".states", "*.db")]
    subprocess.run(["rsync", "-a", *excludes, f"{ROOT}/", f"{work}/"], check=True)
    (work / ".tools").symlink_to(ROOT / ".tools")
    if (ROOT / ".web").is_dir():
        shutil.copytree(ROOT / ".web", work / "bench" / "naive_app" / ".web", symlinks=True)
    return work


@contextmanager
def app(design: str, mode: str, work: Path, proxy_port: int):
    """The app's production build (`prod`) or its dev server (`dev`, as `make dev` serves
    it), its browser-visible backend URL the proxy's."""
    from reflex.testing import AppHarness, AppHarnessProd

    class Proxied(AppHarnessProd if mode == "prod" else AppHarness):
        def _start_frontend(self):
            poll = self._poll_for_servers
            address = SimpleNamespace(getsockname=lambda: ("127.0.0.1", proxy_port))
            self._poll_for_servers = lambda timeout=30: address
            try:
                super()._start_frontend()
            finally:
                self._poll_for_servers = poll

    root = work if design == "ours" else work / "bench" / "naive_app"
    with Proxied.create(root=root, app_name=root.name if design == "naive" else "chatstream") as h:
        yield h


def backend_url(harness) -> str:
    """Where the harness's backend listens (the proxy's upstream)."""
    host, port = harness._poll_for_servers().getsockname()[:2]
    return f"http://{host}:{port}"


def seed_ours(username: str, earlier: int) -> str:
    import reflex as rx
    from reflex_local_auth import LocalUser
    from sqlmodel import select

    from bench.streaming import _seed_ours

    with rx.session() as session:
        user = session.exec(select(LocalUser).where(LocalUser.username == username)).one()
    return _seed_ours(user.id, earlier)


def open_chat(design: str, page, earlier: int) -> None:
    """Sign in (ours) and show a chat with `earlier` messages, ready to send."""
    if design == "ours":
        username = f"bench{next(_markers)}_{os.getpid()}"
        page.goto("/register")
        page.get_by_test_id("username").fill(username)
        page.get_by_test_id("password").fill(PASSWORD)
        page.get_by_test_id("confirm-password").fill(PASSWORD)
        page.get_by_test_id("submit").click()
        page.get_by_test_id("composer").wait_for()
        if earlier:
            page.goto(f"/chat/{seed_ours(username, earlier)}")
    else:
        page.goto("/")
        if earlier:
            page.get_by_test_id("seed").click()
    page.get_by_test_id("composer").wait_for()
    page.wait_for_function(
        f"document.querySelectorAll('[data-testid=\"message\"]').length === {earlier}"
    )


def one_reply(
    design: str,
    browser,
    base_url: str,
    proxy: ProxyProcess,
    model,
    earlier: int,
    thinking=False,
    first_delay: float = 0.0,
    reply: str = REPLY,
) -> dict:
    """`thinking`: the reply thinks first (THOUGHT, in `reasoning_content`), and its figures
    are of both texts. `first_delay`: seconds the model takes to its first chunk."""
    marker = f"<browser {design} {earlier} {next(_markers)}>"
    thought = words(THOUGHT, 4) if thinking else []
    model.on(
        marker,
        Reply(chunks=words(reply, 4), thinking=thought, delay=0.01, first_delay=first_delay),
    )
    text = "".join(thought) + reply
    context = browser.new_context(base_url=base_url)
    context.set_default_timeout(180_000)  # the dev server compiles a page on its first visit
    context.add_init_script(PROBE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    payload = [0]
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.on(
        "Network.webSocketFrameReceived",
        lambda event: payload.__setitem__(
            0, payload[0] + len(event["response"]["payloadData"].encode())
        ),
    )
    open_chat(design, page, earlier)
    page.evaluate(OBSERVE)
    shown = page.evaluate(WATCH_FINISHED) + 2  # and the message sent, and its reply
    proxy.reset()
    payload[0] = 0
    composer = page.get_by_test_id("composer")
    composer.fill(f"hello {marker}")
    composer.press("Enter")
    done = len(text.rstrip())
    page.wait_for_function(
        f"() => {{ const s = window.__seen, l = s[s.length - 1];"
        f" return l && l[1] === {shown} && l[2] >= {done}; }}"
    )
    page.wait_for_timeout(500)
    seen = [(t / 1000, n) for t, count, n in page.evaluate("window.__seen") if count == shown]
    log = page.evaluate("window.__probe.log")
    work = per_update(log)
    # The page's share of the first chunk's time: the commit that showed it, from its message.
    shown_at = next((t for t, n in seen if n > 0), None)
    first_commit = [row for row in log if shown_at and row[0] <= shown_at * 1000]
    start = cost(first_commit[:-1])
    end = cost(start_and_end(log)[1]) if any(row[3] for row in log) else None
    probe_ms = page.evaluate("window.__probe.ms")
    totals, wire_payload = proxy.totals(), payload[0]
    context.close()
    request = model.request_for(marker)
    lat = latencies(request.sent, seen, rendered=True)
    return {
        "payload": wire_payload / len(text),
        "tcp": totals["tcp"] / len(text),
        "deflate": totals["compressed"],
        "p50_ms": 1000 * statistics.median(lat),
        "p95_ms": 1000 * statistics.quantiles(lat, n=20)[-1],
        "max_ms": 1000 * max(lat),
        "first_ms": 1000 * lat[0],
        "first_page_ms": first_commit[-1][6] if first_commit else None,
        "start_commits": start["commits"],
        "start_components": start["components"],
        "start_finished_renders": start["finished_renders"],
        "start_page_ms": start["page_ms"],
        "end_components": end and end["components"],
        "end_finished_renders": end and end["finished_renders"],
        "end_page_ms": end and end["page_ms"],
        "chunks_matched": len(lat),
        **work,
        "probe_ms_per_update": probe_ms / max(work["updates"], 1),
        "page_errors": errors,
    }


@contextmanager
def chromium_on(design: str, mode: str):
    """A temporary copy of the repository built and served (`app`), the scripted model, the
    counting proxy in a process of its own between the page and the backend, and Chromium:
    yields (browser, the app's URL, proxy, model)."""
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory(prefix="bench-browser-") as work,
        model_server() as model,
        ProxyProcess() as proxy,
    ):
        start = time.time()
        with app(design, mode, copy_of_repo(Path(work)), proxy.port) as harness:
            proxy.backend(backend_url(harness))
            print(design, mode, "built in", round(time.time() - start), "s", file=sys.stderr)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    yield browser, harness.frontend_url, proxy, model
                finally:
                    browser.close()


def main() -> None:
    design, mode = sys.argv[1], (sys.argv[2:] or ["prod"])[0]
    earliers = [int(n) for n in sys.argv[3:]] or EARLIER[design]
    result: dict = {"design": design, "mode": mode}
    with chromium_on(design, mode) as (browser, url, proxy, model):
        one_reply(design, browser, url, proxy, model, 0)  # warm-up
        for earlier in earliers:
            row = one_reply(design, browser, url, proxy, model, earlier)
            firsts = [row["first_ms"]] + [
                one_reply(design, browser, url, proxy, model, earlier, reply=FIRST_REPLY)[
                    "first_ms"
                ]
                for _ in range(FIRST_RUNS - 1)
            ]
            row |= {"first_ms": statistics.median(firsts), "first_ms_runs": firsts}
            print(design, mode, earlier, row, file=sys.stderr, flush=True)
            result[f"browser_{earlier}"] = row
        if design == "ours":
            row = one_reply(design, browser, url, proxy, model, 0, True)
            print(design, mode, "thinking", row, file=sys.stderr, flush=True)
            result["browser_thinking"] = row
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
