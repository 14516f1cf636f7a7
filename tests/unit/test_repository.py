"""Access checks, the one-streaming-reply rule and orphan recovery, on the real database."""

from datetime import timedelta

import pytest
import reflex as rx
import sqlalchemy as sa
from reflex.model import get_engine

from chatstream import repository
from chatstream.models import Message, Status, utcnow
from chatstream.state.live import _owned_message
from tests.factories import make_chat, make_user, sign_in


def test_a_chat_is_found_only_by_its_owner():
    alice, bob = make_user(), make_user()
    chat = make_chat(alice)
    with rx.session() as session:
        assert repository.get_chat(session=session, owner_id=alice.id, public_id=chat.public_id)
        assert (
            repository.get_chat(session=session, owner_id=bob.id, public_id=chat.public_id) is None
        )
        assert repository.get_chat(session=session, owner_id=alice.id, public_id="nope") is None


def test_public_ids_are_random_and_not_database_ids():
    chats = [make_chat(make_user()) for _ in range(3)]
    ids = {c.public_id for c in chats}
    assert len(ids) == 3
    assert all(len(i) >= 16 and not i.isdigit() for i in ids)


def test_a_streaming_message_is_followed_only_by_the_chat_owner():
    alice, bob = make_user(), make_user()
    chat = make_chat(alice)
    with rx.session() as session:
        _, reply = repository.start_exchange(session=session, chat=chat, user_text="hi", model="m")
    assert _owned_message(reply.public_id, alice.id) is not None
    assert _owned_message(reply.public_id, bob.id) is None
    assert _owned_message(reply.public_id, None) is None


def test_the_signed_in_user_comes_from_the_auth_token():
    alice = make_user()
    sign_in(alice, "token-of-alice")
    with rx.session() as session:
        assert (
            repository.user_id_for_token(session=session, auth_token="token-of-alice") == alice.id
        )
        assert repository.user_id_for_token(session=session, auth_token="forged") is None
        assert repository.user_id_for_token(session=session, auth_token="") is None
    with get_engine().connect() as connection:  # every event's check: a connection, no session
        assert (
            repository.user_id_for_token(session=connection, auth_token="token-of-alice")
            == alice.id
        )
        assert repository.user_id_for_token(session=connection, auth_token="forged") is None


def test_a_second_send_while_a_reply_streams_is_refused():
    chat = make_chat(make_user())
    with rx.session() as session:
        repository.start_exchange(session=session, chat=chat, user_text="one", model="m")
        with pytest.raises(repository.ReplyInProgress):
            repository.start_exchange(session=session, chat=chat, user_text="two", model="m")
        assert [m.content for m in repository.list_messages(session=session, chat_id=chat.id)] == [
            "one",
            "",
        ]


def test_the_database_itself_allows_one_streaming_reply_per_chat():
    chat = make_chat(make_user())
    with rx.session() as session:
        for _ in range(2):
            session.add(
                Message(chat_id=chat.id, role="assistant", streaming=True, status="streaming")
            )
        with pytest.raises(sa.exc.IntegrityError):
            session.commit()


def test_finish_ends_streaming_once():
    chat = make_chat(make_user())
    with rx.session() as session:
        _, reply = repository.start_exchange(session=session, chat=chat, user_text="q", model="m")
        assert repository.finish(
            session=session, message_id=reply.id, content="a", status=Status.COMPLETE
        )
        assert not repository.finish(
            session=session, message_id=reply.id, content="b", status=Status.ERROR
        )
        assert not repository.checkpoint(session=session, message_id=reply.id, content="c")
        session.refresh(reply)
        assert (reply.content, reply.status, reply.streaming) == ("a", "complete", False)


def test_orphaned_streaming_replies_become_interrupted_with_their_checkpoint():
    chat = make_chat(make_user())
    with rx.session() as session:
        _, reply = repository.start_exchange(session=session, chat=chat, user_text="q", model="m")
        repository.checkpoint(session=session, message_id=reply.id, content="half")
        assert repository.interrupt_orphans(session=session, idle_for=timedelta(minutes=5)) == []
        session.exec(
            sa.update(Message)
            .where(Message.id == reply.id)
            .values(updated_at=utcnow() - timedelta(minutes=10))
        )
        session.commit()
        assert repository.interrupt_orphans(session=session, idle_for=timedelta(minutes=5)) == [
            reply.public_id
        ]
        session.refresh(reply)
        assert (reply.streaming, reply.status, reply.content) == (False, "interrupted", "half")


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("  Hello   there ", "Hello there"),
        ("", "New chat"),
        ("word " * 30, ("word " * 12).strip() + "…"),
    ],
)
def test_titles_come_from_the_first_message(text, title):
    assert repository.title_from(text) == title


def test_an_orphan_keeps_the_longer_text_its_dead_worker_relayed_after_the_checkpoint():
    chat = make_chat(make_user())
    with rx.session() as session:
        _, reply = repository.start_exchange(session=session, chat=chat, user_text="q", model="m")
        repository.checkpoint(session=session, message_id=reply.id, content="half")

        ended = repository.interrupt_orphans(
            session=session, idle_for=timedelta(0), last_texts={reply.public_id: "half and more"}
        )

        session.refresh(reply)
        assert reply.public_id in ended
        assert (reply.status, reply.content) == ("interrupted", "half and more")


def test_a_nul_in_a_users_text_is_stored_as_a_replacement_character():
    chat = make_chat(make_user(), title="nul\x00title")
    with rx.session() as session:
        chat = session.get(type(chat), chat.id)
        question, _ = repository.start_exchange(
            session=session, chat=chat, user_text="a\x00b", model="m\x00"
        )
        repository.rename_chat(session=session, chat=chat, title="re\x00named")
        repository.set_chat_settings(
            session=session, chat=chat, model="x\x00", system_prompt="\x00"
        )
        saved = session.get(Message, question.id)
        assert saved.content == "a\ufffdb"
        assert (chat.title, chat.model, chat.system_prompt) == (
            "re\ufffdnamed",
            "x\ufffd",
            "\ufffd",
        )


def test_a_nul_in_a_reply_its_error_or_its_title_is_stored_as_a_replacement_character():
    chat = make_chat(make_user(), title="first words")
    with rx.session() as session:
        _, reply = repository.start_exchange(session=session, chat=chat, user_text="hi", model="m")
        assert repository.checkpoint(session=session, message_id=reply.id, content="so\x00far")
        assert session.get(Message, reply.id).content == "so\ufffdfar"
        assert repository.finish(
            session=session,
            message_id=reply.id,
            content="do\x00ne",
            status=Status.ERROR,
            error="bad\x00",
        )
        assert repository.set_auto_title(
            session=session, chat_id=chat.id, expected="first words", title="new\x00title"
        )
        session.expire_all()
        saved = session.get(Message, reply.id)
        assert (saved.content, saved.error) == ("do\ufffdne", "bad\ufffd")
        assert repository.chat_of(session=session, message=saved).title == "new\ufffdtitle"


def test_a_nul_in_an_imported_chat_is_stored_as_a_replacement_character():
    user = make_user()
    with rx.session() as session:
        chat = repository.import_chat(
            session=session,
            owner_id=user.id,
            title="im\x00port",
            messages=[{"role": "user", "content": "x\x00y", "status": "complete", "model": None}],
            system_prompt="s\x00",
        )
        (message,) = repository.list_messages(session=session, chat_id=chat.id)
        assert (chat.title, chat.system_prompt, message.content) == (
            "im\ufffdport",
            "s\ufffd",
            "x\ufffdy",
        )


def test_a_nul_in_an_orphans_last_text_is_stored_as_a_replacement_character():
    chat = make_chat(make_user())
    with rx.session() as session:
        _, reply = repository.start_exchange(session=session, chat=chat, user_text="hi", model="m")
        ended = repository.interrupt_orphans(
            session=session, idle_for=timedelta(0), last_texts={reply.public_id: "la\x00st"}
        )
        assert reply.public_id in ended
        session.expire_all()
        assert session.get(Message, reply.id).content == "la\ufffdst"
