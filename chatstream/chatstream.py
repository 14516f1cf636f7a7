"""The app: pages register themselves on import; nothing else happens here."""

from pathlib import Path

import reflex as rx

from . import gate, jobs
from .pages import auth, chat  # noqa: F401  (registers the routes)
from .state.transfer import limit_uploads

# Inline, not src=: it must run before the first paint (see the file). rx.el.script is a
# plain <script> in the document; rx.script would be added by Helmet after React starts.
_ASSETS = Path(__file__).parent.parent / "assets"
_THEME_SCRIPT = (_ASSETS / "theme.js").read_text()
_TOKEN_SCRIPT = (_ASSETS / "token.js").read_text()  # a tab's token from the CSPRNG (see the file)

app = rx.App(
    stylesheets=["/chatstream.css"],
    head_components=[
        rx.el.script(_TOKEN_SCRIPT),
        rx.el.script(_THEME_SCRIPT),
        rx.script(src="/chatstream.js"),
    ],
    frontend_exception_handler=gate.page_error,
    api_transformer=limit_uploads,
)
app.register_lifespan_task(jobs.lifespan)
gate.install(app)  # only the events of gate.SURFACE, with arguments of their kinds
