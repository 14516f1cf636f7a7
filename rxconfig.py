"""Reflex configuration.

One machine (the default): a SQLite file and Reflex's in-memory state. Scale-out: set
DATABASE_URL (PostgreSQL) and REDIS_URL (Reflex's Redis state manager and the live
channels between workers). REFLEX_DB_URL and REFLEX_REDIS_URL override both, as in Reflex.
"""

import os

import reflex as rx
from dotenv import load_dotenv
from reflex.plugins.sitemap import SitemapPlugin

load_dotenv(".env")  # DATABASE_URL and REDIS_URL may be set there too; the environment wins

config = rx.Config(
    app_name="chatstream",
    db_url=os.environ.get("DATABASE_URL") or "sqlite:///chatstream.db",
    redis_url=os.environ.get("REDIS_URL") or None,
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(accent_color="indigo", gray_color="slate", radius="large")
        )
    ],
    disable_plugins=[SitemapPlugin],
    show_built_with_reflex=False,
    telemetry_enabled=False,
)
