"""The app: pages register themselves on import; nothing else happens here."""

import reflex as rx

from . import jobs
from .pages import auth, chat  # noqa: F401  (registers the routes)

app = rx.App(
    stylesheets=["/chatstream.css"],
    head_components=[rx.script(src="/chatstream.js")],
)
app.register_lifespan_task(jobs.lifespan)
