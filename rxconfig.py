"""Reflex configuration. The database defaults to a SQLite file; REFLEX_DB_URL overrides it."""

from pathlib import Path

import reflex as rx
from reflex.plugins.sitemap import SitemapPlugin

config = rx.Config(
    app_name="chatstream",
    db_url="sqlite:///chatstream.db",
    env_file=".env" if Path(".env").exists() else None,
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(accent_color="indigo", gray_color="slate", radius="large")
        )
    ],
    disable_plugins=[SitemapPlugin],
    show_built_with_reflex=False,
    telemetry_enabled=False,
)
