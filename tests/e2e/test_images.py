"""Nothing in a message makes the browser fetch anything: a markdown image is a link to it.

A reply steered by a prompt injection could otherwise send the chat's text to any server in
an image's address. The "image server" here is a local HTTP server that records every
request; the test asserts it received none, while the reply streams, once it is finished,
and after a reload.
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import last_reply, register, send, user_texts
from tests.fake_openai import Reply, words


@pytest.fixture
def image_server():
    """A server that answers any request with a 1-pixel GIF and remembers its path."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
            self.send_response(200)
            self.send_header("Content-Type", "image/gif")
            self.send_header("Content-Length", str(len(gif)))
            self.end_headers()
            self.wfile.write(gif)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.seen = seen
    server.base = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


def leaky_reply(base: str) -> str:
    """Every way a message could ask for an image: markdown (inline and by reference), raw
    HTML `<img>` with `src` and `srcset`, and an image inside a link."""
    return (
        f"Here you go ![the secret chart]({base}/leak.png?q=my+secret+text)\n\n"
        f'<img src="{base}/raw.png"> <img srcset="{base}/set.png 2x">\n\n'
        f"[![linked]({base}/linked.png)](https://example.invalid/)\n\n"
        f"![by reference][pic]\n\n[pic]: {base}/ref.png\n\n"
        "The end."
    )


def test_a_streaming_reply_shows_its_images_as_links_and_fetches_none(page, model, image_server):
    text = leaky_reply(image_server.base)
    chunks = words(text, 8)
    reply_script = model.on("draw it", Reply(chunks=chunks, delay=0, hold_after=len(chunks) - 1))
    register(page)
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url) if image_server.base in r.url else None)

    send(page, "draw it")

    reply = last_reply(page)
    link = reply.get_by_test_id("md-image").first
    expect(link).to_have_text("the secret chart")
    expect(reply).to_have_attribute("data-status", "streaming")
    expect(link).to_have_attribute("href", f"{image_server.base}/leak.png?q=my+secret+text")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    reply_script.release.set()
    expect(reply).to_have_attribute("data-status", "complete")

    expect(reply.get_by_test_id("md-image")).to_have_text(
        ["the secret chart", "linked", "by reference"]
    )
    expect(reply.get_by_test_id("message-content")).to_contain_text('<img src="')
    assert reply.locator("img").count() == 0
    page.wait_for_timeout(500)  # time for a fetch to arrive, if one had been started
    assert image_server.seen == [] and requested == []


def test_a_finished_reply_shows_images_as_links_after_reload_and_a_user_message_as_text(
    page, model, image_server
):
    model.on("picture", Reply(chunks=[leaky_reply(image_server.base)]))
    register(page)
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url) if image_server.base in r.url else None)

    send(page, f"a picture ![mine]({image_server.base}/user.png)")
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    page.reload()

    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.get_by_test_id("md-image")).to_have_count(3)
    # User messages are plain text: the markdown shows as typed.
    expect(user_texts(page).last).to_have_text(f"a picture ![mine]({image_server.base}/user.png)")
    assert page.locator('[data-testid="message"] img').count() == 0
    page.wait_for_timeout(500)
    assert image_server.seen == [] and requested == []
