"""Search the sidebar, export a chat as Markdown or JSON, and import a JSON file, in Chromium."""

import json
import re

import reflex as rx
from playwright.sync_api import expect
from reflex_local_auth import LocalUser
from sqlmodel import select

from chatstream import repository, transfer
from tests.e2e.conftest import (
    chat_url,
    last_reply,
    new_chat,
    register,
    send,
    user_texts,
    wait_for,
)
from tests.fake_openai import Reply, words

LONG = "\n\n".join(f"Paragraph {i} of a long answer that fills the screen." for i in range(30))


def start_chat(page, text: str) -> str:
    new_chat(page)
    send(page, text)
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    return chat_url(page)


def exchange(page, text: str) -> None:
    """One more message and its reply, sent once the previous reply has fully ended (Enter
    sends nothing while a Stop button shows)."""
    expect(page.get_by_test_id("stop")).to_have_count(0)
    expect(page.get_by_test_id("composer")).to_have_value("")
    count = page.get_by_test_id("message").count()
    send(page, text)
    expect(page.get_by_test_id("message")).to_have_count(count + 2)
    expect(last_reply(page)).to_have_attribute("data-status", "complete")


def search(page, query: str):
    page.get_by_test_id("search-input").fill(query)
    return page.get_by_test_id("search-result")


def owned_chats(username: str) -> list[tuple[str, list[tuple[str, str, str, str | None]]]]:
    """The user's chats as the database has them: (title, [(role, content, status, model)])."""
    with rx.session() as session:
        user_id = session.exec(select(LocalUser.id).where(LocalUser.username == username)).one()
        return [
            (
                chat.title,
                [
                    (m.role, m.content, m.status, m.model)
                    for m in repository.list_messages(session=session, chat_id=chat.id)
                ],
            )
            for chat in repository.list_chats(session=session, owner_id=user_id)
        ]


def download(page, testid: str):
    page.get_by_test_id("chat-menu").click()
    with page.expect_download() as info:
        page.get_by_test_id(testid).click()
    return info.value


def import_file(page, name: str, data: bytes) -> None:
    with page.expect_file_chooser() as chooser:
        page.get_by_test_id("import-chat").click()
    chooser.value.set_files({"name": name, "mimeType": "application/json", "buffer": data})


def test_search_finds_a_chat_by_its_title_with_the_words_marked(page, model):
    register(page)
    url = start_chat(page, "Planning a trip to Lisbon")
    start_chat(page, "something else entirely")

    results = search(page, "lisb")
    expect(results).to_have_count(1)
    expect(results.locator(".search-title mark")).to_have_text(["Lisbon"])
    results.first.click()
    expect(page).to_have_url(re.compile(re.escape(url)))
    expect(user_texts(page)).to_have_text(["Planning a trip to Lisbon"])


def test_search_finds_a_word_of_a_reply_and_opens_the_chat_at_that_message(page, model):
    middle = LONG.replace("Paragraph 15", "The xylophone rings.\n\nParagraph 15")
    model.on("tell me about instruments", Reply(chunks=words(middle, 200), delay=0))
    model.on("more please", Reply(chunks=words(LONG, 200), delay=0))
    register(page)
    url = start_chat(page, "tell me about instruments")
    match_id = last_reply(page).get_attribute("data-message-id")
    for _ in range(3):
        exchange(page, "more please")
    start_chat(page, "another chat")

    results = search(page, "xylophone")
    expect(results).to_have_count(1)
    expect(results.locator(".search-snippet mark")).to_have_text(["xylophone"])
    results.first.click()

    expect(page).to_have_url(re.compile(re.escape(f"{url}?m={match_id}&q=xylophone")))
    match = page.locator(f'[data-testid="message"][data-message-id="{match_id}"]')
    expect(match).to_have_attribute("data-search-match", "true")
    expect(match.get_by_text("The xylophone rings.")).to_be_in_viewport()
    expect(last_reply(page).get_by_text("Paragraph 29")).not_to_be_in_viewport()
    highlighted = "[...CSS.highlights.get('search-match')].map(r => r.toString())"
    assert page.evaluate(highlighted) == ["xylophone"]


def test_no_match_shows_a_message_and_escape_or_the_cross_clears_the_search(page, model):
    register(page)
    start_chat(page, "a chat about nothing")

    expect(search(page, 'zzqx "AND (')).to_have_count(0)
    expect(page.get_by_test_id("search-empty")).to_contain_text("No chats match")
    expect(page.get_by_test_id("chat-link")).to_have_count(0)

    page.get_by_test_id("search-input").press("Escape")
    expect(page.get_by_test_id("search-input")).to_have_value("")
    expect(page.get_by_test_id("chat-link")).to_have_count(1)

    expect(search(page, "nothing")).to_have_count(1)
    page.get_by_test_id("search-clear").click()
    expect(page.get_by_test_id("search-input")).to_have_value("")
    expect(page.get_by_test_id("chat-link")).to_have_count(1)


def test_markup_in_a_result_shows_as_text(page, model):
    register(page)
    start_chat(page, '<b>bold</b> zebra <img src=x onerror="window.pwned=1">')

    results = search(page, "zebra")
    expect(results.locator(".search-title")).to_have_text(
        ['<b>bold</b> zebra <img src=x onerror="window.pwned=1">']
    )
    expect(results.locator("b, img")).to_have_count(0)
    assert page.evaluate("window.pwned") is None


def test_results_follow_the_chats_while_a_search_is_shown(page, model):
    register(page)
    start_chat(page, "first words")
    expect(search(page, "wombat")).to_have_count(0)

    exchange(page, "now a wombat appears")
    expect(page.get_by_test_id("search-result")).to_have_count(1)
    expect(page.locator(".search-snippet mark")).to_have_text(["wombat"])


def test_another_users_chats_are_never_found(pages, model):
    alice, bob = pages.new(), pages.new()
    register(alice)
    start_chat(alice, "alice secret quokka")
    register(bob)
    start_chat(bob, "bob has a chat too")

    expect(search(alice, "quokka")).to_have_count(1)
    expect(search(bob, "quokka")).to_have_count(0)
    expect(bob.get_by_test_id("search-empty")).to_be_visible()


def test_export_json_then_import_gives_a_new_chat_with_the_same_messages(page, model):
    model.on("format this", Reply(chunks=words("**Bold** ünïcode ✓\n\n```py\nx = '<b>'\n```", 5)))
    username = register(page)
    start_chat(page, "format this")
    exchange(page, "second question")
    page.get_by_test_id("chat-settings").click()
    page.get_by_test_id("system-prompt").fill("Answer in haiku.")
    page.get_by_test_id("system-prompt-save").click()
    expect(page.get_by_test_id("chat-settings")).to_have_text("Own system prompt")
    exported = download(page, "export-json")
    assert exported.suggested_filename == "format-this.json"
    original = exported.path().read_bytes()

    import_file(page, "format-this.json", original)
    expect(page.get_by_test_id("chat-link")).to_have_count(2)
    imported_url = chat_url(page)
    expect(user_texts(page)).to_have_text(["format this", "second question"])
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    expect(page.get_by_test_id("chat-settings")).to_have_text("Own system prompt")

    again = json.loads(download(page, "export-json").path().read_bytes())
    first = json.loads(original)
    assert first["format"] == "chatstream.chat" and first["version"] == 2
    assert (first["model"], first["system_prompt"]) == (None, "Answer in haiku.")
    assert {**again, "exported_at": None} == {**first, "exported_at": None}
    [(title_b, copy), (title_a, source)] = owned_chats(username)
    assert title_a == title_b == "format this"
    assert copy == source and len(copy) == 4
    assert imported_url != page.get_by_test_id("chat-link").nth(1).get_attribute("href")


def test_a_streaming_reply_exports_the_text_saved_so_far(page, model):
    model.on("keep writing", Reply(chunks=["saved ", "so ", "far"], delay=0.6, hang_after=3))
    username = register(page)
    send(page, "keep writing")
    expect(last_reply(page)).to_contain_text("saved so far")
    wait_for(lambda: owned_chats(username)[0][1][-1][1] != "")  # a checkpoint was saved

    [message] = json.loads(download(page, "export-json").path().read_bytes())["messages"][1:]
    [(_, [_, saved])] = owned_chats(username)
    assert (message["status"], message["content"]) == ("streaming", saved[1])
    assert "saved so far".startswith(saved[1])
    page.get_by_test_id("stop").click()
    expect(last_reply(page)).to_have_attribute("data-status", "stopped")


def test_export_markdown_downloads_a_readable_transcript(page, model):
    model.on("hello markdown", Reply(chunks=["# Hi", "\n\nthere"]))
    register(page)
    start_chat(page, "hello markdown")
    exported = download(page, "export-markdown")
    assert exported.suggested_filename == "hello-markdown.md"
    assert exported.path().read_text() == (
        "# hello markdown\n\n**You**\n\nhello markdown\n\n**Assistant**\n\n# Hi\n\nthere\n"
    )


def test_a_malformed_file_shows_the_error_and_creates_no_chat(page, model):
    username = register(page)
    start_chat(page, "the only chat")

    import_file(page, "broken.json", b'{"format": "chatstream.chat", "version": 1, "title": ')
    expect(page.get_by_test_id("import-error")).to_contain_text("not JSON")
    wrong_role = {
        "format": "chatstream.chat",
        "version": 1,
        "title": "t",
        "messages": [{"role": "system", "content": "x", "created_at": "2026-01-01T00:00:00Z"}],
    }
    import_file(page, "role.json", json.dumps(wrong_role).encode())
    expect(page.get_by_test_id("import-error")).to_contain_text("unknown role 'system'")

    expect(page.get_by_test_id("chat-link")).to_have_count(1)
    assert [title for title, _ in owned_chats(username)] == ["the only chat"]


def test_a_file_over_the_limit_is_refused_unread_and_the_page_says_so(page, model):
    username = register(page)
    start_chat(page, "the only chat")
    too_big = b" " * (transfer.MAX_FILE_BYTES + transfer.UPLOAD_OVERHEAD_BYTES + 1)
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status) if "/_upload" in r.url else None)

    import_file(page, "huge.json", too_big)

    expect(page.get_by_test_id("import-error")).to_have_text(f"Not imported: {transfer.TOO_LARGE}")
    assert statuses in ([413], [])  # [] when the browser saw the connection close first
    expect(page.get_by_test_id("chat-link")).to_have_count(1)
    assert [title for title, _ in owned_chats(username)] == ["the only chat"]
