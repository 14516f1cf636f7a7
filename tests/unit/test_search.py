"""Search on the database's own full-text index, on SQLite and on PostgreSQL alike."""

import reflex as rx
import sqlalchemy as sa
from sqlmodel import col

from chatstream import repository, search
from chatstream.models import Message, Status
from tests.factories import make_chat, make_user


def _exchange(chat, question: str, answer: str) -> Message:
    with rx.session() as session:
        _, reply = repository.start_exchange(
            session=session, chat=chat, user_text=question, model="m"
        )
        repository.finish(
            session=session, message_id=reply.id, content=answer, status=Status.COMPLETE
        )
        session.refresh(chat)  # the caller reads it after this session closes
        session.refresh(reply)
        return reply


def _find(user, query: str) -> list[search.SearchHit]:
    with rx.session() as session:
        return search.search_chats(session=session, owner_id=user.id, query=query)


def test_finds_a_chat_by_a_word_of_a_reply_with_the_word_marked():
    alice = make_user()
    chat = make_chat(alice, "Cooking")
    reply = _exchange(chat, "what should I cook", "Try a saffron risotto with peas.")
    [hit] = _find(alice, "saffron")
    assert (hit.chat_id, hit.title, hit.message_id) == (chat.public_id, "Cooking", reply.public_id)
    assert (f"{search.START}saffron{search.STOP}") in hit.snippet
    assert ("saffron", True) in search.segments(hit.snippet)


def test_finds_a_chat_by_its_title_and_by_the_prefix_being_typed():
    alice = make_user()
    chat = make_chat(alice, "Holiday in Portugal")
    _exchange(chat, "hello", "hi")
    assert [h.chat_id for h in _find(alice, "portu")] == [chat.public_id]
    [hit] = _find(alice, "holiday portugal")
    assert (hit.message_id, hit.snippet) == ("", "")
    assert ("Portugal", True) in search.segments(hit.title)


def test_a_replys_reasoning_is_not_searched_its_answer_is():
    alice = make_user()
    chat = make_chat(alice, "t")
    with rx.session() as session:
        _, reply = repository.start_exchange(session=session, chat=chat, user_text="q", model="m")
        repository.finish(
            session=session,
            message_id=reply.id,
            content="the answer names a capybara",
            reasoning="the model weighed a narwhal first",
            status=Status.COMPLETE,
        )
    assert _find(alice, "narwhal") == []
    assert len(_find(alice, "capybara")) == 1


def test_every_word_must_match():
    alice = make_user()
    _exchange(make_chat(alice, "t"), "q", "quantum tunnelling explained")
    assert len(_find(alice, "quantum tunnelling")) == 1
    assert _find(alice, "quantum gravity") == []


def test_another_users_chats_are_never_found():
    alice, bob = make_user(), make_user()
    _exchange(make_chat(alice, "Secret zanzibar plans"), "zanzibar", "zanzibar it is")
    assert _find(bob, "zanzibar") == []
    assert len(_find(alice, "zanzibar")) == 1


def test_query_syntax_is_never_interpreted():
    alice = make_user()
    _exchange(make_chat(alice, "t"), "q", 'He said "walrus" AND left (NEAR the sea) *')
    for query in [
        '"walrus',
        "walrus AND",
        "NEAR(walrus",
        "walrus*",
        "'; drop table chat; --",
        "-walrus",
        "walrus:*",
        "^walrus",
        "walrus)",
        "!!!",
        '"',
        "''",
    ]:
        found = _find(alice, query)
        assert len(found) == (1 if "walrus" in query else 0), query
    with rx.session() as session:
        assert session.exec(sa.select(sa.func.count()).select_from(Message)).one()[0] > 0


def test_the_index_follows_checkpoints_edits_and_deletes():
    alice = make_user()
    chat = make_chat(alice, "t")
    with rx.session() as session:
        user, reply = repository.start_exchange(
            session=session, chat=chat, user_text="tell me", model="m"
        )
        repository.checkpoint(session=session, message_id=reply.id, content="an aardvark")
        for row in (chat, user, reply):
            session.refresh(row)
    assert [h.message_id for h in _find(alice, "aardvark")] == [reply.public_id]
    with rx.session() as session:
        repository.finish(
            session=session, message_id=reply.id, content="a pangolin", status=Status.COMPLETE
        )
    assert _find(alice, "aardvark") == []
    assert len(_find(alice, "pangolin")) == 1
    with rx.session() as session:
        chat_row = repository.get_chat(session=session, owner_id=alice.id, public_id=chat.public_id)
        first = session.get(Message, user.id)
        repository.new_version(
            session=session, chat=chat_row, of=first, model="m", text="tell me about okapis"
        )
    assert len(_find(alice, "pangolin")) == 1  # on the first branch, which stays
    assert len(_find(alice, "okapis")) == 1
    with rx.session() as session:
        chat_row = repository.get_chat(session=session, owner_id=alice.id, public_id=chat.public_id)
        repository.rename_chat(session=session, chat=chat_row, title="Mammals")
    assert len(_find(alice, "mammals")) == 1
    with rx.session() as session:
        chat_row = repository.get_chat(session=session, owner_id=alice.id, public_id=chat.public_id)
        repository.delete_chat(session=session, chat=chat_row)
        assert (
            session.exec(
                sa.select(sa.func.count())
                .select_from(Message)
                .where(col(Message.chat_id) == chat.id)
            ).one()[0]
            == 0
        )
    assert _find(alice, "okapis") == []
    assert _find(alice, "mammals") == []


def test_case_does_not_matter():
    alice = make_user()
    _exchange(make_chat(alice, "t"), "q", "Un CAFÉ crème")
    assert len(_find(alice, "café")) == len(_find(alice, "CAFÉ")) == len(_find(alice, "Crè")) == 1


def test_blank_and_punctuation_only_queries_find_nothing():
    alice = make_user()
    _exchange(make_chat(alice, "t"), "q", "anything")
    assert _find(alice, "") == _find(alice, "  ") == _find(alice, "*:&|") == []


def test_a_result_links_to_the_matched_message_with_the_words():
    from chatstream.state.search import SearchResult

    hit = search.SearchHit("c1", "Hello \x02world\x03", "m1", "say \x02world\x03 again")
    result = SearchResult.of(hit, ["world", "x&y"])
    assert result.href == "/chat/c1?m=m1&q=world+x%26y"
    assert [(s.text, s.hit) for s in result.snippet] == [
        ("say ", False),
        ("world", True),
        (" again", False),
    ]
    title_only = SearchResult.of(search.SearchHit("c1", "\x02Hello\x03", "", ""), ["hello"])
    assert (title_only.href, title_only.snippet) == ("/chat/c1", [])
    same = SearchResult.of(
        search.SearchHit("c1", "Hi \x02you\x03", "m1", "Hi \x02you\x03"), ["you"]
    )
    assert same.snippet == []  # the first message the title was made from is said once


def test_one_result_per_chat_newest_chat_first_at_its_best_message():
    alice = make_user()
    older, newer = make_chat(alice, "older"), make_chat(alice, "newer")
    _exchange(older, "q", "penguin")
    _exchange(newer, "penguin facts", "a penguin, a penguin and a penguin")
    _exchange(newer, "more", "something else")
    hits = _find(alice, "penguin")
    assert [h.chat_id for h in hits] == [newer.public_id, older.public_id]
    assert hits[0].snippet.count(search.START) >= 1
