"""Only the owner sees a chat; user and model text can never run script."""

import re

from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, chat_url, last_reply, register, send, user_texts
from tests.fake_openai import Reply

XSS = (
    "<script>window.__xss = 'script'</script>\n\n"
    '<img src="x" onerror="window.__xss = \'onerror\'">\n\n'
    "[click me](javascript:window.__xss='link')"
)


def test_another_user_gets_not_found_on_a_chat_url_and_learns_nothing(pages, model):
    model.on("secret plans", Reply(chunks=["The ", "secret ", "answer"]))
    alice = pages.new()
    register(alice)
    send(alice, "secret plans for alice")
    expect(last_reply(alice)).to_have_attribute("data-status", "complete")
    url = chat_url(alice)

    bob = pages.new()
    register(bob)
    bob.goto(url)

    expect(bob.get_by_test_id("not-found")).to_be_visible()
    body = bob.locator("body").inner_text()
    assert "secret" not in body and "alice" not in body
    expect(bob.get_by_test_id("message")).to_have_count(0)
    expect(bob.get_by_test_id("chat-link")).to_have_count(0)


def test_an_unknown_chat_id_is_not_found(page, model):
    register(page)

    page.goto("/chat/does-not-exist")

    expect(page.get_by_test_id("not-found")).to_be_visible()


def test_signed_out_visitors_are_sent_to_sign_in(page, model):
    register(page)

    page.get_by_test_id("logout").click()

    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/")
    expect(page.get_by_test_id("submit")).to_be_visible()
    expect(page.get_by_test_id("composer")).to_have_count(0)


def test_sign_in_with_the_registered_password(pages, model):
    page = pages.new()
    name = register(page)
    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("submit")).to_be_visible()

    page.get_by_test_id("username").fill(name)
    page.get_by_test_id("password").fill("wrong password")
    page.get_by_test_id("submit").click()
    expect(page.get_by_text("There was a problem logging in")).to_be_visible()
    page.get_by_test_id("username").fill(name)
    page.get_by_test_id("password").fill("correct horse battery")
    page.get_by_test_id("submit").click()

    expect(page.get_by_test_id("composer")).to_be_visible()


def test_a_password_typed_before_the_page_is_live_never_goes_into_the_address(browser, app):
    """The served HTML has the sign-in forms before the page's script runs. A submit then
    would be the browser's own: a GET with the password in the address, and in its history."""
    context = browser.new_context(base_url=app.frontend_url, java_script_enabled=False)
    page = context.new_page()
    for path in ("/login", "/register"):
        page.goto(path)
        page.get_by_test_id("username").fill("early")
        page.get_by_test_id("password").fill(PASSWORD)
        page.get_by_test_id("password").press("Enter")
        page.wait_for_load_state()
        assert "password" not in page.url and "early" not in page.url
        expect(page.get_by_test_id("submit")).to_be_disabled()
    context.close()


def test_markup_from_users_and_the_model_never_runs(page, model):
    model.on("xss please", Reply(chunks=[XSS]))
    register(page)

    send(page, "xss please " + XSS)

    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply).to_contain_text("<script>")
    expect(user_texts(page)).to_contain_text("onerror")
    reply.get_by_text("click me").click()
    page.wait_for_timeout(300)
    assert page.evaluate("window.__xss") is None
    assert page.locator(".message img").count() == 0
    assert page.locator('a[href^="javascript"]').count() == 0
