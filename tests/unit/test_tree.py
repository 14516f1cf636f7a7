"""Messages as a tree: versions beside each other, nothing deleted, one branch shown and sent
to the model, on the real database (SQLite, or PostgreSQL with CHATSTREAM_TEST_DATABASE)."""

import dataclasses

import pytest
import reflex as rx
import sqlalchemy as sa
from sqlmodel import col

from chatstream import jobs, repository, tree
from chatstream.models import Chat, Message, Status
from tests.factories import make_chat, make_user


@dataclasses.dataclass
class Row:
    id: int
    parent_id: int | None


# Pure tree operations -------------------------------------------------------------------

#   1 ─ 2 ─ 3 ─ 4
#   │   └── 5 ─ 6
#   │       └── 8
#   └ 7
ROWS = [
    Row(1, None),
    Row(2, 1),
    Row(3, 2),
    Row(4, 3),
    Row(5, 2),
    Row(6, 5),
    Row(7, None),
    Row(8, 5),
]


def test_a_path_runs_from_the_first_message_to_the_leaf():
    assert [r.id for r in tree.path(ROWS, 6)] == [1, 2, 5, 6]
    assert [r.id for r in tree.path(ROWS, 7)] == [7]
    assert tree.path(ROWS, 99) == []
    assert tree.path(ROWS, None) == []


def test_the_newest_leaf_under_a_message_is_its_newest_descendant():
    assert tree.newest_leaf(ROWS, 2) == 8
    assert tree.newest_leaf(ROWS, 3) == 4
    assert tree.newest_leaf(ROWS, 7) == 7
    assert tree.newest_leaf(ROWS, None) == 8
    assert tree.newest_leaf(ROWS, 99) is None


def test_the_current_branch_falls_back_to_the_newest_message():
    assert [r.id for r in tree.current_branch(ROWS, 4)] == [1, 2, 3, 4]
    assert [r.id for r in tree.current_branch(ROWS, None)] == [1, 2, 5, 8]
    assert [r.id for r in tree.current_branch(ROWS, 99)] == [1, 2, 5, 8]
    assert tree.current_branch([], None) == []


def test_versions_are_the_messages_with_the_same_parent_in_order():
    places = tree.versions(ROWS)
    assert places[3] == tree.Versions(number=1, count=2, previous=None, next=5)
    assert places[5] == tree.Versions(number=2, count=2, previous=3, next=None)
    assert places[6] == tree.Versions(number=1, count=2, previous=None, next=8)
    assert (places[1].number, places[7].number, places[7].count) == (1, 2, 2)
    assert 2 not in places and 4 not in places  # no other version: no place


# On the database ----------------------------------------------------------------------


def _finish(session, reply: Message, text: str, status: Status = Status.COMPLETE) -> None:
    repository.finish(session=session, message_id=reply.id, content=text, status=status)


def _chat(session, chat: Chat) -> Chat:
    return session.get(Chat, chat.id)


def _shown(session, chat: Chat) -> list[str]:
    return [m.content for m in repository.branch(session=session, chat=_chat(session, chat))]


def _long_chat(session, chat: Chat, turns: int) -> list[Message]:
    """`turns` exchanges q1/a1, q2/a2…, complete; all its messages, in order."""
    rows = []
    for n in range(1, turns + 1):
        question, reply = repository.start_exchange(
            session=session, chat=_chat(session, chat), user_text=f"q{n}", model="m"
        )
        _finish(session, reply, f"a{n}")
        rows += [question, reply]
    return [session.get(Message, m.id) for m in rows]


def test_an_exchange_follows_the_current_leaf_and_becomes_it():
    chat = make_chat(make_user())
    with rx.session() as session:
        rows = _long_chat(session, chat, 2)
        assert [m.parent_id for m in rows] == [None, rows[0].id, rows[1].id, rows[2].id]
        assert _chat(session, chat).current_leaf_id == rows[-1].id
        assert _shown(session, chat) == ["q1", "a1", "q2", "a2"]


def test_regenerating_any_reply_adds_a_version_and_deletes_nothing():
    chat = make_chat(make_user())
    with rx.session() as session:
        rows = _long_chat(session, chat, 3)
        first_reply = rows[1]
        _, again = repository.new_version(
            session=session, chat=_chat(session, chat), of=first_reply, model="m"
        )
        assert again.parent_id == rows[0].id and again.streaming
        _finish(session, again, "a1 again")
        assert _shown(session, chat) == ["q1", "a1 again"]
        assert len(repository.list_messages(session=session, chat_id=chat.id)) == 7
        places = tree.versions(repository.list_messages(session=session, chat_id=chat.id))
        assert (places[first_reply.id].number, places[again.id].number) == (1, 2)


def test_editing_the_first_message_starts_a_branch_from_the_top():
    chat = make_chat(make_user())
    with rx.session() as session:
        rows = _long_chat(session, chat, 5)
        question, reply = repository.new_version(
            session=session, chat=_chat(session, chat), of=rows[0], model="m", text="q1 edited"
        )
        assert question.parent_id is None and reply.parent_id == question.id
        _finish(session, reply, "a1 for the edit")
        assert _shown(session, chat) == ["q1 edited", "a1 for the edit"]
        # The old branch is all there: switching to the first version shows it whole.
        repository.switch_branch(session=session, chat=_chat(session, chat), to=rows[0])
        assert _shown(session, chat) == [m.content for m in rows]


def test_switching_shows_the_newest_branch_under_the_version_chosen():
    chat = make_chat(make_user())
    with rx.session() as session:
        rows = _long_chat(session, chat, 2)
        _, second = repository.new_version(
            session=session, chat=_chat(session, chat), of=rows[1], model="m"
        )
        _finish(session, second, "a1 v2")
        question, reply = repository.start_exchange(
            session=session, chat=_chat(session, chat), user_text="q2 on v2", model="m"
        )
        _finish(session, reply, "a2 on v2")
        leaf = repository.switch_branch(session=session, chat=_chat(session, chat), to=rows[1])
        assert leaf.id == rows[3].id
        assert _shown(session, chat) == ["q1", "a1", "q2", "a2"]
        leaf = repository.switch_branch(session=session, chat=_chat(session, chat), to=second)
        assert leaf.id == reply.id
        assert _shown(session, chat) == ["q1", "a1 v2", "q2 on v2", "a2 on v2"]


def test_a_message_sent_after_a_given_message_follows_it():
    chat = make_chat(make_user())
    with rx.session() as session:
        rows = _long_chat(session, chat, 2)
        question, _ = repository.start_exchange(
            session=session,
            chat=_chat(session, chat),
            user_text="after a1",
            model="m",
            after=rows[1],
        )
        assert question.parent_id == rows[1].id
        assert (
            tree.versions(repository.list_messages(session=session, chat_id=chat.id))[
                question.id
            ].count
            == 2
        )  # beside q2


def test_no_version_is_added_while_a_reply_streams_and_nothing_changes():
    chat = make_chat(make_user())
    with rx.session() as session:
        rows = _long_chat(session, chat, 1)
        repository.start_exchange(
            session=session, chat=_chat(session, chat), user_text="q2", model="m"
        )
        before = [
            (m.id, m.content) for m in repository.list_messages(session=session, chat_id=chat.id)
        ]
        leaf = _chat(session, chat).current_leaf_id
        with pytest.raises(repository.ReplyInProgress):
            repository.new_version(
                session=session, chat=_chat(session, chat), of=rows[0], model="m", text="x"
            )
        with pytest.raises(repository.ReplyInProgress):
            repository.new_version(
                session=session, chat=_chat(session, chat), of=rows[1], model="m"
            )
        after = [
            (m.id, m.content) for m in repository.list_messages(session=session, chat_id=chat.id)
        ]
        assert after == before
        assert _chat(session, chat).current_leaf_id == leaf


def test_retry_keeps_the_failed_reply_as_a_version():
    chat = make_chat(make_user())
    with rx.session() as session:
        question, failed = repository.start_exchange(
            session=session, chat=_chat(session, chat), user_text="q", model="m"
        )
        _finish(session, failed, "half", Status.ERROR)
        _, new = repository.new_version(
            session=session,
            chat=_chat(session, chat),
            of=session.get(Message, failed.id),
            model="m",
        )
        rows = repository.list_messages(session=session, chat_id=chat.id)
        assert [(m.role, m.status, m.parent_id) for m in rows] == [
            ("user", "complete", None),
            ("assistant", "error", question.id),
            ("assistant", "streaming", question.id),
        ]
        assert _chat(session, chat).current_leaf_id == new.id


def test_the_model_is_sent_exactly_the_branch_above_the_reply():
    chat = make_chat(make_user())
    with rx.session() as session:
        rows = _long_chat(session, chat, 3)
        # Other versions all around: of q2, of a1, and under the old q2.
        _, a1b = repository.new_version(
            session=session, chat=_chat(session, chat), of=rows[1], model="m"
        )
        _finish(session, a1b, "a1 other")
        repository.switch_branch(session=session, chat=_chat(session, chat), to=rows[1])
        q2b, a2b = repository.new_version(
            session=session, chat=_chat(session, chat), of=rows[2], model="m", text="q2 other"
        )
        _finish(session, a2b, "a2 other")
        repository.switch_branch(session=session, chat=_chat(session, chat), to=rows[5])
        _, reply = repository.new_version(
            session=session, chat=_chat(session, chat), of=rows[5], model="m"
        )
        history = repository.history_before(session=session, message=reply)
        assert [m.content for m in history] == ["q1", "a1", "q2", "a2", "q3"]
        sent = jobs.model_messages(history, "be brief")
        assert sent == [
            {"role": "system", "content": "be brief"},
            *({"role": m.role, "content": m.content} for m in rows[:5]),
        ]
        q2b_history = repository.history_before(session=session, message=a2b)
        assert [m.content for m in q2b_history] == ["q1", "a1", "q2 other"]


def test_deleting_a_chat_deletes_its_whole_tree():
    chat = make_chat(make_user())
    with rx.session() as session:
        rows = _long_chat(session, chat, 2)
        for of in (rows[0], rows[1]):
            _, reply = repository.new_version(
                session=session,
                chat=_chat(session, chat),
                of=of,
                model="m",
                text="v2" if of.role == "user" else None,
            )
            _finish(session, reply, "r")
        repository.delete_chat(session=session, chat=_chat(session, chat))
        count = session.exec(
            sa.select(sa.func.count()).select_from(Message).where(col(Message.chat_id) == chat.id)
        ).one()[0]
        assert count == 0
        assert session.get(Chat, chat.id) is None
