"""Every test run gets its own database, migrated to head; nothing touches the developer's.

SQLite by default; a fresh PostgreSQL database with CHATSTREAM_TEST_DATABASE=postgresql.
"""

import atexit
import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if os.environ.get("CHATSTREAM_TEST_DATABASE") == "postgresql":  # `make test` runs both
    from tests.services import fresh_postgres_database

    _database = fresh_postgres_database()
    os.environ["REFLEX_DB_URL"] = _database.__enter__()
    atexit.register(_database.__exit__, None, None, None)
else:
    _DB_DIR = Path(tempfile.mkdtemp(prefix="chatstream-test-"))
    os.environ["REFLEX_DB_URL"] = f"sqlite:///{_DB_DIR / 'test.db'}"
for name in (
    *("OPENAI_BASE_URL", "OPENAI_API_KEY", "CHATSTREAM_MODEL"),
    *("REFLEX_REDIS_URL", "REDIS_URL", "DATABASE_URL"),
):
    os.environ.pop(name, None)
os.chdir(ROOT)  # alembic.ini and rxconfig.py are read from the project root


def migrate_to_head() -> None:
    from alembic.config import Config

    from alembic import command

    command.upgrade(Config(str(ROOT / "alembic.ini")), "head")


migrate_to_head()
