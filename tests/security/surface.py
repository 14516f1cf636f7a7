"""The app's event surface: every handler a connected client may call, as Reflex registers it.

Reflex 0.10.1 makes every public callable of every State class an event handler (see
/work/shared/REFLEX-NOTES.md, "The event surface"), reflex-local-auth's states and Reflex's
own included. The registry is what the backend dispatches from, so this is the surface as
it stands, not as a page wires it.
"""

from __future__ import annotations

import inspect
from typing import Any

from reflex_base.registry import RegisteredEventHandler, RegistrationContext
from reflex_base.utils.types import get_type_hints


def registered() -> dict[str, RegisteredEventHandler]:
    """Every registered handler by its full event name, the app imported first."""
    import chatstream.chatstream  # noqa: F401  (defines the app's states)

    return dict(RegistrationContext.get().event_handlers)


def surface() -> dict[str, list[tuple[str, type]]]:
    """Each handler's full event name with its parameters (name, annotated type; `Any`
    when unannotated), in signature order, `self` left out."""
    result: dict[str, list[tuple[str, type]]] = {}
    for name, handler in sorted(registered().items()):
        fn = handler.handler.fn
        hints = get_type_hints(fn)
        params = list(inspect.signature(fn).parameters.values())[1:]
        result[name] = [(p.name, hints.get(p.name, Any)) for p in params]
    return result
