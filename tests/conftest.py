"""Every test run gets its own SQLite database, migrated to head; nothing touches the developer's."""

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_DB_DIR = Path(tempfile.mkdtemp(prefix="chatstream-test-"))
os.environ["REFLEX_DB_URL"] = f"sqlite:///{_DB_DIR / 'test.db'}"
for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "CHATSTREAM_MODEL", "REFLEX_REDIS_URL"):
    os.environ.pop(name, None)
os.chdir(ROOT)  # alembic.ini and rxconfig.py are read from the project root


def migrate_to_head() -> None:
    from alembic.config import Config

    from alembic import command

    command.upgrade(Config(str(ROOT / "alembic.ini")), "head")


migrate_to_head()
