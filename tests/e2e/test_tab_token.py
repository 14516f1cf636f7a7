"""A tab's token, which names its state on the server, comes from the browser's CSPRNG."""

import re

from playwright.sync_api import expect

from tests.e2e.conftest import register

FIXED_RANDOM = """
crypto.getRandomValues = (array) => { array.fill(0xab); return array; };
"""
"""Stands in for the CSPRNG: Reflex's own token would not depend on it (Math.random)."""


def test_a_new_tab_takes_its_token_from_crypto_get_random_values(page, model):
    page.add_init_script(FIXED_RANDOM)
    sockets = []
    page.on("websocket", lambda socket: sockets.append(socket.url))

    register(page)

    token = page.evaluate("window.sessionStorage.getItem('token')")
    assert token == "abababab-abab-4bab-abab-abababababab"
    expect(page.get_by_test_id("composer")).to_be_visible()
    assert any(re.search(rf"[?&]token={token}(&|$)", url) for url in sockets), sockets


def test_a_reload_keeps_the_tab_token(page, model):
    register(page)
    token = page.evaluate("window.sessionStorage.getItem('token')")
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", token
    )

    page.reload()

    expect(page.get_by_test_id("composer")).to_be_visible()
    assert page.evaluate("window.sessionStorage.getItem('token')") == token
