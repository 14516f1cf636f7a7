"""SQLite settings for a database that many replies write at once.

WAL lets readers (page loads, followers) proceed while a reply checkpoints, and a busy
timeout makes a writer wait for another instead of failing with "database is locked".
PostgreSQL needs neither.
"""

import sqlalchemy as sa


@sa.event.listens_for(sa.engine.Engine, "connect")
def _tune_sqlite(dbapi_connection, _record) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()
