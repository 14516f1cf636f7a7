"""The app: pages register themselves on import; nothing else happens here."""

from pathlib import Path

import reflex as rx

from . import jobs
from .pages import auth, chat  # noqa: F401  (registers the routes)
from .state.transfer import limit_uploads

# Inline, not src=: it must run before the first paint (see the file). rx.el.script is a
# plain <script> in the document; rx.script would be added by Helmet after React starts.
_THEME_SCRIPT = (Path(__file__).parent.parent / "assets" / "theme.js").read_text()

app = rx.App(
    stylesheets=["/chatstream.css"],
    head_components=[rx.el.script(_THEME_SCRIPT), rx.script(src="/chatstream.js")],
    api_transformer=limit_uploads,
)
app.register_lifespan_task(jobs.lifespan)
