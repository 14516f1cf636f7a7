"""Migrations are the only way tables are made, and they match the models."""

import sqlalchemy as sa
import sqlmodel
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

import chatstream.models  # noqa: F401
from chatstream.search import is_index_object, search_chats
from tests.conftest import ROOT
from tests.services import fresh_postgres_database


def _upgrade(url: str) -> None:
    from alembic import command

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "head")


def _assert_at_head_matching_the_models(url: str) -> None:
    _upgrade(url)
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": _include_name})
        assert context.get_current_revision() == _head()
        assert compare_metadata(context, sqlmodel.SQLModel.metadata) == []
    engine.dispose()


def _include_name(name, type_, parent_names) -> bool:
    return not is_index_object(name)  # as alembic/env.py: the search index is the migration's


def _head() -> str:
    return ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini"))).get_current_head()


def test_an_empty_sqlite_database_upgrades_to_head_and_matches_the_models(tmp_path):
    _assert_at_head_matching_the_models(f"sqlite:///{tmp_path / 'empty.db'}")


def test_an_empty_postgresql_database_upgrades_to_head_and_matches_the_models():
    with fresh_postgres_database("chatstream_migrations") as url:
        _assert_at_head_matching_the_models(url)


def test_the_history_adds_streaming_to_messages_as_the_original_design_does(tmp_path):
    from alembic import command

    url = f"sqlite:///{tmp_path / 'history.db'}"
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "0001_initial")
    engine = sa.create_engine(url)
    assert "streaming" not in {c["name"] for c in sa.inspect(engine).get_columns("message")}
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "insert into message (public_id, chat_id, role, content, status, created_at, updated_at)"
                " values ('old', 1, 'assistant', 'hi', 'complete', '2026-01-01', '2026-01-01')"
            )
        )
    command.upgrade(config, "head")
    column = next(c for c in sa.inspect(engine).get_columns("message") if c["name"] == "streaming")
    assert column["nullable"] is False
    with engine.connect() as connection:
        assert connection.execute(sa.text("select streaming from message")).scalar() in (0, False)


def test_importing_the_app_creates_no_tables(tmp_path, monkeypatch):
    script = ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini")))
    assert [r.revision for r in script.walk_revisions()][::-1] == [
        "0001_initial",
        "0002_message_streaming",
        "0003_search",
        "0004_reply_facts",
        "0005_chat_settings",
        "0006_message_tree",
        "0007_message_reasoning",
    ]
    source = "\n".join(p.read_text() for p in (ROOT / "chatstream").rglob("*.py"))
    assert "create_all" not in source


def test_the_search_migration_indexes_the_rows_already_there(tmp_path):
    from alembic import command

    url = f"sqlite:///{tmp_path / 'search.db'}"
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "0002_message_streaming")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "insert into localuser (id, username, password_hash, enabled) values (1, 'a', '', 1);"
            )
        )
        connection.execute(
            sa.text(
                "insert into chat (id, public_id, owner_id, title, created_at, updated_at)"
                " values (1, 'c1', 1, 'Old gazpacho chat', '2026-01-01', '2026-01-01')"
            )
        )
        connection.execute(
            sa.text(
                "insert into message (public_id, chat_id, role, content, status, created_at,"
                " updated_at) values ('m1', 1, 'assistant', 'an old marmalade reply', 'complete',"
                " '2026-01-01', '2026-01-01')"
            )
        )
    command.upgrade(config, "head")
    with sqlmodel.Session(engine) as session:
        assert [h.chat_id for h in search_chats(session=session, owner_id=1, query="gazpacho")] == [
            "c1"
        ]
        [hit] = search_chats(session=session, owner_id=1, query="marmalade")
        assert hit.message_id == "m1"
    command.downgrade(config, "0002_message_streaming")
    assert "message_fts" not in sa.inspect(engine).get_table_names()
    engine.dispose()


def _chat_before_the_tree(url: str) -> None:
    """Two chats as 0005 stores them: messages in a list, nothing says which follows which."""
    from alembic import command

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "0005_chat_settings")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "insert into localuser (id, username, password_hash, enabled)"
                " values (1, 'a', '', true)"
            )
        )
        for chat in (1, 2, 3):
            connection.execute(
                sa.text(
                    "insert into chat (id, public_id, owner_id, title, created_at, updated_at)"
                    f" values ({chat}, 'c{chat}', 1, 'chat', '2026-01-01', '2026-01-01')"
                )
            )
        for number, chat in enumerate((1, 2, 1, 2, 1), start=1):  # interleaved, as written
            connection.execute(
                sa.text(
                    "insert into message (id, public_id, chat_id, role, content, status,"
                    f" created_at, updated_at) values ({number}, 'm{number}', {chat},"
                    f" '{'user' if number <= 2 or number == 5 else 'assistant'}', 'text {number}',"
                    " 'complete', '2026-01-01', '2026-01-01')"
                )
            )
    command.upgrade(config, "head")
    with engine.connect() as connection:
        parents = connection.execute(sa.text("select id, parent_id from message order by id"))
        assert [tuple(row) for row in parents] == [(1, None), (2, None), (3, 1), (4, 2), (5, 3)]
        leaves = connection.execute(sa.text("select id, current_leaf_id from chat order by id"))
        assert [tuple(row) for row in leaves] == [(1, 5), (2, 4), (3, None)]
        texts = connection.execute(sa.text("select content from message order by id"))
        assert [row[0] for row in texts] == [f"text {n}" for n in range(1, 6)]
    engine.dispose()


def test_the_tree_migration_makes_each_chat_one_branch_on_sqlite(tmp_path):
    _chat_before_the_tree(f"sqlite:///{tmp_path / 'tree.db'}")


def test_the_tree_migration_makes_each_chat_one_branch_on_postgresql():
    with fresh_postgres_database("chatstream_tree") as url:
        _chat_before_the_tree(url)


def _reflex_finds_no_schema_change(url: str) -> None:
    """What Reflex checks at start-up and `reflex db makemigrations` writes: no change, so
    neither an error in the log nor a migration that drops the search index."""
    from reflex import model

    _upgrade(url)
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        assert (
            model.alembic_autogenerate(connection=connection, write_migration_scripts=False)
            is False
        )
    engine.dispose()


def test_reflex_autogenerate_leaves_the_search_index_alone_on_sqlite(tmp_path):
    _reflex_finds_no_schema_change(f"sqlite:///{tmp_path / 'reflex.db'}")


def test_reflex_autogenerate_leaves_the_search_index_alone_on_postgresql():
    with fresh_postgres_database("chatstream_autogenerate") as url:
        _reflex_finds_no_schema_change(url)
