"""Reflex configuration.

One machine (the default): a SQLite file and Reflex's in-memory state (not its default, files). Scale-out: set
DATABASE_URL (PostgreSQL) and REDIS_URL (Reflex's Redis state manager and the live
channels between workers). REFLEX_DB_URL and REFLEX_REDIS_URL override both, as in Reflex.
"""

import os

import reflex as rx
from dotenv import load_dotenv
from reflex.plugins.sitemap import SitemapPlugin

load_dotenv(".env")  # DATABASE_URL and REDIS_URL may be set there too; the environment wins

redis_url = os.environ.get("REDIS_URL") or None

config = rx.Config(
    app_name="chatstream",
    db_url=os.environ.get("DATABASE_URL") or "sqlite:///chatstream.db",
    redis_url=redis_url,
    # Without Redis, the tabs' states live in memory. Reflex's default keeps them in files
    # too, re-written after every event and scanned by a purge thread: 9% of the worker's time
    # at 50 streaming replies, for states that a reload rebuilds anyway (the page loads its
    # chat from the database).
    **(
        {}
        if redis_url or os.environ.get("REFLEX_REDIS_URL")
        else {"state_manager_mode": rx.constants.StateManagerMode.MEMORY}
    ),
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(accent_color="indigo", gray_color="slate", radius="large")
        )
    ],
    disable_plugins=[SitemapPlugin],
    show_built_with_reflex=False,
    telemetry_enabled=False,
    # React's StrictMode renders every component twice and runs its effects twice, in React's
    # development build only (`make dev`; the production build ignores it). On the dev server
    # that doubled the page's work: a new chat's first chunk reached the page in 23.9 ms with
    # it and in 14.5 and 16.6 without (medians of 9, back to back, the rest of the page the
    # same). Our own React code (components/*.jsx) is small, and the browser tests cover
    # what it does.
    react_strict_mode=False,
)
