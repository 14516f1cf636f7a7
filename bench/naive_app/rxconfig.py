"""The reference naive design: no database, no auth; only the streaming path differs."""

import reflex as rx

config = rx.Config(app_name="naive_app", telemetry_enabled=False, show_built_with_reflex=False)
