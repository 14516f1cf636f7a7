"""Export formats and the checks an imported file goes through before anything is created."""

import json
from datetime import UTC, datetime

import pytest
import reflex as rx

from chatstream import repository, transfer
from chatstream.settings import MAX_MESSAGE_CHARS
from tests.factories import make_user

WHEN = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def _message(**fields) -> dict:
    return {
        "role": "user",
        "content": "hello",
        "status": "complete",
        "model": None,
        "created_at": WHEN.isoformat(),
        **fields,
    }


def _document(**fields) -> dict:
    return {
        "format": "chatstream.chat",
        "version": 1,
        "title": "A chat",
        "exported_at": WHEN.isoformat(),
        "messages": [_message(), _message(role="assistant", content="hi", model="m")],
        **fields,
    }


def _bytes(document) -> bytes:
    return json.dumps(document).encode()


def _refused(data: bytes) -> str:
    with pytest.raises(transfer.ImportRefused) as refused:
        transfer.parse_import(data)
    return str(refused.value)


def test_an_export_imports_back_to_the_same_messages():
    messages = [
        transfer.ExportedMessage("user", "Ünïcode ✓ and\n```code```", "complete", None, WHEN),
        transfer.ExportedMessage(
            "assistant", "**bold** <b>raw</b>", "stopped", "gpt", WHEN, parent=0
        ),
    ]
    text = transfer.to_json(
        title="Tést", messages=messages, exported_at=WHEN, model="m2", system_prompt=""
    )
    imported = transfer.parse_import(text.encode())
    assert imported.title == "Tést"
    assert imported.messages == messages
    assert (imported.model, imported.system_prompt) == ("m2", "")


def test_a_file_without_chat_settings_imports_with_the_apps():
    imported = transfer.parse_import(_bytes(_document()))
    assert (imported.model, imported.system_prompt) == (None, None)


def test_markdown_is_a_readable_transcript():
    messages = [
        transfer.ExportedMessage("user", "Question?", "complete", None, WHEN),
        transfer.ExportedMessage("assistant", "# Answer\n\n- a", "complete", "m", WHEN),
    ]
    assert transfer.to_markdown(title="T", messages=messages) == (
        "# T\n\n**You**\n\nQuestion?\n\n**Assistant**\n\n# Answer\n\n- a\n"
    )


def test_file_names_keep_safe_characters_only():
    assert transfer.filename("Trip to Paris / 2026?", "md") == "Trip-to-Paris-2026.md"
    assert transfer.filename("../../etc/passwd", "json") == "etc-passwd.json"
    assert transfer.filename("…", "json") == "chat.json"


def test_a_streaming_reply_is_imported_as_interrupted():
    document = _document(messages=[_message(role="assistant", status="streaming")])
    assert transfer.parse_import(_bytes(document)).messages[0].status == "interrupted"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"not json at all", "not JSON"),
        (b"\xff\xfe\x00bad", "not UTF-8"),
        (b"[1, 2]", "not a chatstream chat"),
        (_bytes(_document(format="other.app")), "not a chatstream chat"),
        (_bytes(_document(version=3)), "Unsupported version 3"),
        (_bytes(_document(version=True)), "Unsupported version"),
        (_bytes(_document(version="1")), "Unsupported version"),
        (_bytes(_document(title=5)), '"title"'),
        (_bytes(_document(title="  ")), '"title"'),
        (_bytes(_document(messages=[])), "non-empty list"),
        (_bytes(_document(messages={"role": "user"})), "non-empty list"),
        (_bytes(_document(messages=["text"])), "Message 1 is not an object"),
        (_bytes(_document(messages=[_message(role="system")])), "unknown role 'system'"),
        (_bytes(_document(messages=[_message(role=None)])), "unknown role"),
        (_bytes(_document(messages=[_message(content=None)])), '"content" must be a text'),
        (_bytes(_document(messages=[_message(content=["a"])])), '"content" must be a text'),
        (_bytes(_document(messages=[_message(), _message(status="weird")])), "Message 2"),
        (_bytes(_document(messages=[_message(model=3)])), '"model"'),
        (_bytes(_document(model=["gpt"])), '"model" must be a text or null'),
        (_bytes(_document(system_prompt=7)), '"system_prompt" must be a text or null'),
        (_bytes(_document(system_prompt="x" * 8_001)), "the limit is 8,000"),
        (_bytes(_document(messages=[_message(created_at="yesterday")])), '"created_at"'),
        (_bytes(_document(messages=[_message(created_at=12)])), '"created_at"'),
        (_bytes(_document(messages=[_message(created_at="2026-01-01T00:00")])), "time zone"),
        (
            _bytes(_document(messages=[_message(content="x" * (MAX_MESSAGE_CHARS + 1))])),
            f"the limit is {MAX_MESSAGE_CHARS:,}",
        ),
        (
            _bytes(_document(messages=[_message()] * (transfer.MAX_MESSAGES + 1))),
            "Too many messages",
        ),
    ],
)
def test_a_bad_file_is_refused_with_a_reason(data, error):
    assert error in _refused(data)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read():
    data = b"{" + b" " * transfer.MAX_FILE_BYTES + b"}"
    assert "larger than 2 MB" in _refused(data)


def test_a_reply_may_be_longer_than_a_user_message():
    long = "y" * (MAX_MESSAGE_CHARS + 1)
    document = _document(messages=[_message(role="assistant", content=long)])
    assert transfer.parse_import(_bytes(document)).messages[0].content == long


def test_import_chat_creates_the_chat_with_its_messages():
    alice = make_user()
    imported = transfer.parse_import(_bytes(_document()))
    with rx.session() as session:
        chat = repository.import_chat(
            session=session,
            owner_id=alice.id,
            title=imported.title,
            messages=[vars(m) for m in imported.messages],
        )
        rows = repository.list_messages(session=session, chat_id=chat.id)
        assert [(m.role, m.content, m.status, m.streaming) for m in rows] == [
            ("user", "hello", "complete", False),
            ("assistant", "hi", "complete", False),
        ]
        assert [c.title for c in repository.list_chats(session=session, owner_id=alice.id)] == [
            "A chat"
        ]


def test_import_chat_keeps_the_chats_own_model_and_system_prompt():
    imported = transfer.parse_import(_bytes(_document(model="big", system_prompt="Be terse.")))
    with rx.session() as session:
        chat = repository.import_chat(
            session=session,
            owner_id=make_user().id,
            title=imported.title,
            model=imported.model,
            system_prompt=imported.system_prompt,
            messages=[vars(m) for m in imported.messages],
        )
        assert (chat.model, chat.system_prompt) == ("big", "Be terse.")


def test_a_replys_reasoning_is_exported_and_imported_back_and_is_optional():
    thinking = transfer.ExportedMessage(
        "assistant", "Paris.", "complete", "m", WHEN, reasoning="hmm, France"
    )
    plain = transfer.ExportedMessage("user", "Capital?", "complete", None, WHEN)
    text = transfer.to_json(title="t", messages=[plain, thinking], exported_at=WHEN)
    assert "reasoning" not in json.loads(text)["messages"][0]  # none: not written at all

    assert transfer.parse_import(text.encode()).messages == [plain, thinking]
    assert "<summary>Thinking</summary>\n\nhmm, France" in transfer.to_markdown(
        title="t", messages=[thinking]
    )
    with pytest.raises(transfer.ImportRefused, match='"reasoning" must be a text'):
        transfer.parse_import(_bytes(_document(messages=[_message(reasoning=["x"])])))


def _tree_chat(owner_id: int):
    """q1 ─ a1 ─ q2 ─ a2, a1 regenerated (a1b, showing), q1 edited (q1b ─ a1c)."""
    from chatstream.models import Chat, Message, Status

    with rx.session() as session:
        chat = repository.create_chat(session=session, owner_id=owner_id, title="Tree ✓")
        rows = {}

        def done(name, reply, text):
            repository.finish(
                session=session, message_id=reply.id, content=text, status=Status.COMPLETE
            )
            rows[name] = session.get(Message, reply.id)

        for n in (1, 2):
            q, a = repository.start_exchange(
                session=session, chat=session.get(Chat, chat.id), user_text=f"q{n}", model="m"
            )
            rows[f"q{n}"] = q
            done(f"a{n}", a, f"a{n} **md**")
        q1b, a1c = repository.new_version(
            session=session, chat=session.get(Chat, chat.id), of=rows["q1"], model="m", text="q1b"
        )
        done("a1c", a1c, "a1c")
        _, a1b = repository.new_version(
            session=session, chat=session.get(Chat, chat.id), of=rows["a1"], model="m"
        )
        done("a1b", a1b, "a1b")
        return session.get(Chat, chat.id), rows


def _export(chat) -> str:
    from chatstream.state.transfer import exported_chat

    with rx.session() as session:
        chat = session.get(type(chat), chat.id)
        whole = exported_chat(session=session, chat=chat, whole_tree=True)
    return transfer.to_json(
        title=whole.title,
        messages=whole.messages,
        exported_at=WHEN,
        model=whole.model,
        system_prompt=whole.system_prompt,
        current=whole.current,
    )


def test_a_tree_exports_and_imports_back_byte_exact():
    alice = make_user()
    chat, _ = _tree_chat(alice.id)
    text = _export(chat)
    document = json.loads(text)
    assert document["version"] == 2
    assert [(m["id"], m["parent"], m["content"]) for m in document["messages"]] == [
        (1, None, "q1"),
        (2, 1, "a1 **md**"),
        (3, 2, "q2"),
        (4, 3, "a2 **md**"),
        (5, None, "q1b"),
        (6, 5, "a1c"),
        (7, 1, "a1b"),
    ]
    assert document["current"] == 7
    imported = transfer.parse_import(text.encode())
    with rx.session() as session:
        again = repository.import_chat(
            session=session,
            owner_id=alice.id,
            title=imported.title,
            messages=[vars(m) for m in imported.messages],
            current=imported.current,
        )
    assert _export(again) == text


def test_markdown_is_the_branch_the_chat_shows():
    from chatstream.state.transfer import exported_chat

    chat, _ = _tree_chat(make_user().id)
    with rx.session() as session:
        shown = exported_chat(
            session=session, chat=session.get(type(chat), chat.id), whole_tree=False
        )
    markdown = transfer.to_markdown(title=shown.title, messages=shown.messages)
    assert markdown == "# Tree ✓\n\n**You**\n\nq1\n\n**Assistant**\n\na1b\n"


def test_a_version_1_file_imports_as_one_branch():
    document = _document(messages=[_message(), _message(role="assistant"), _message(content="2")])
    imported = transfer.parse_import(_bytes(document))
    assert [m.parent for m in imported.messages] == [None, 0, 1]
    with rx.session() as session:
        chat = repository.import_chat(
            session=session,
            owner_id=make_user().id,
            title=imported.title,
            messages=[vars(m) for m in imported.messages],
            current=imported.current,
        )
        rows = repository.list_messages(session=session, chat_id=chat.id)
        assert [m.parent_id for m in rows] == [None, rows[0].id, rows[1].id]
        assert chat.current_leaf_id == rows[-1].id


@pytest.mark.parametrize(
    ("messages", "current", "why"),
    [
        ([{"id": 1, "parent": None}, {"id": 1, "parent": None}], None, '"id" must be a number'),
        ([{"id": "1", "parent": None}], None, '"id" must be a number'),
        ([{"id": True, "parent": None}], None, '"id" must be a number'),
        ([{"id": 1, "parent": 2}, {"id": 2, "parent": None}], None, '"parent" must be null'),
        ([{"id": 1, "parent": 1}], None, '"parent" must be null'),
        ([{"id": 1, "parent": None}], 9, '"current" must be null'),
    ],
)
def test_a_version_2_file_must_be_a_tree(messages, current, why):
    document = _document(
        version=2, current=current, messages=[_message(**fields) for fields in messages]
    )
    assert why in _refused(_bytes(document))
