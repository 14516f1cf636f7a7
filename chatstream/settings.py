"""One typed settings object, read from the environment (and `.env`) at first use."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass

MAX_MESSAGE_CHARS = 32_000
"""The longest user message accepted; longer ones are refused and nothing is saved."""

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. Answer in Markdown."

SYSTEM_PROMPT_CHARS = 8_000
"""The longest system prompt a chat may have."""


@dataclass(frozen=True)
class Settings:
    """What the app needs to talk to a model and to pace a stream."""

    base_url: str | None
    api_key: str | None
    model: str | None
    system_prompt: str
    stall_timeout: float
    """Seconds without a chunk before a reply is failed as stalled."""
    connect_retries: int
    """Extra attempts for connection errors that happen before the first chunk."""
    flush_interval: float
    """Seconds between two live updates to a tab (the first chunk goes at once), when the
    worker is not busy; see `updates_per_second`."""
    checkpoint_interval: float
    """Seconds between two database checkpoints of a streaming reply."""
    stream_usage: bool
    """Ask the endpoint for token usage (`stream_options.include_usage`)."""
    max_tokens: int | None = None
    """The longest reply, in tokens; None leaves it to the endpoint."""
    stop: tuple[str, ...] = ()
    """Stop sequences sent with every request (at most four, as OpenAI allows)."""
    temperature: float | None = None
    """Sampling temperature; None leaves it to the endpoint."""
    model_label: str = ""
    """How the page names the model, when its bare name would mislead (a tiny local model)."""
    updates_per_second: float = 3000.0
    """The live updates a worker sends per second at most, all its tabs together: with more
    followers than `updates_per_second × flush_interval`, each one's interval grows
    (chatstream/pacing.py)."""
    reads_per_second: float = 7500.0
    """The reads of model streams a worker makes per second at most, all its replies
    together: with more replies streaming than `reads_per_second × 10 ms`, each one's job
    pauses between reads and takes several chunks a read (chatstream/pacing.py)."""
    models_ttl: float = 60.0
    """Seconds the endpoint's model list (`/v1/models`) is kept before it is asked again."""
    titles: bool = True
    """Ask the model for a short title after a chat's first complete exchange."""
    title_timeout: float = 15.0
    """Seconds the title request may take; after that the chat keeps its first words."""
    max_streams_per_user: int = 3
    """Replies one user may have streaming at once, over all tabs and workers; 0: no limit."""
    send_reasoning: bool = False
    """Send earlier replies' reasoning back to the model (as `reasoning_content`); off by
    default, since many endpoints refuse it or bill it as input."""
    sends_per_minute: int = 20
    """Replies one user may start in any 60 seconds (sends, edits, retries, regenerates);
    0: no limit."""

    @property
    def model_configured(self) -> bool:
        return bool(self.base_url or self.api_key)

    @property
    def model_name(self) -> str:
        return self.model or "gpt-4o-mini"

    @property
    def model_description(self) -> str:
        return self.model_label or self.model_name

    def for_chat(self, *, model: str | None, system_prompt: str | None) -> Settings:
        """These settings with a chat's own choices (None: keep the app's)."""
        if model is not None and model != self.model_name:
            # The label describes the configured model only.
            self = dataclasses.replace(self, model=model, model_label="")
        if system_prompt is not None:
            self = dataclasses.replace(self, system_prompt=system_prompt)
        return self


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _optional_float(name: str) -> float | None:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else None


def _stop(raw: str) -> tuple[str, ...]:
    """CHATSTREAM_STOP: a JSON list of strings, or one plain stop sequence."""
    if not raw:
        return ()
    try:
        value = json.loads(raw)
    except ValueError:
        return (raw,)
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value[:4])
    raise ValueError(f"CHATSTREAM_STOP must be a JSON list of strings, not {raw!r}")


def get_settings() -> Settings:
    """Read the settings now; cheap, so callers read them when they need them."""
    return Settings(
        base_url=os.environ.get("OPENAI_BASE_URL") or None,
        api_key=os.environ.get("OPENAI_API_KEY") or None,
        model=os.environ.get("CHATSTREAM_MODEL") or None,
        system_prompt=os.environ.get("CHATSTREAM_SYSTEM_PROMPT", DEFAULT_SYSTEM_PROMPT),
        stall_timeout=_float("CHATSTREAM_STALL_TIMEOUT", 60.0),
        connect_retries=int(_float("CHATSTREAM_CONNECT_RETRIES", 2)),
        flush_interval=_float("CHATSTREAM_FLUSH_INTERVAL", 0.05),
        updates_per_second=_float("CHATSTREAM_UPDATES_PER_SECOND", 3000.0),
        reads_per_second=_float("CHATSTREAM_READS_PER_SECOND", 7500.0),
        checkpoint_interval=_float("CHATSTREAM_CHECKPOINT_INTERVAL", 1.0),
        stream_usage=os.environ.get("CHATSTREAM_STREAM_USAGE", "1") not in ("0", "false", "no"),
        max_tokens=int(_optional_float("CHATSTREAM_MAX_TOKENS") or 0) or None,
        stop=_stop(os.environ.get("CHATSTREAM_STOP", "").strip()),
        temperature=_optional_float("CHATSTREAM_TEMPERATURE"),
        model_label=os.environ.get("CHATSTREAM_MODEL_LABEL", "").strip(),
        models_ttl=_float("CHATSTREAM_MODELS_TTL", 60.0),
        titles=os.environ.get("CHATSTREAM_TITLES", "1").strip().lower() not in ("0", "false", "no"),
        title_timeout=_float("CHATSTREAM_TITLE_TIMEOUT", 15.0),
        max_streams_per_user=_int("CHATSTREAM_MAX_STREAMS_PER_USER", 3),
        sends_per_minute=_int("CHATSTREAM_SENDS_PER_MINUTE", 20),
        send_reasoning=os.environ.get("CHATSTREAM_SEND_REASONING", "0").strip().lower()
        in ("1", "true", "yes"),
    )


@dataclass(frozen=True)
class SignInLimits:
    """How failed sign-ins are throttled (chatstream/throttle.py).

    A key (an account's username, or a client's IP address) that gathers `failures` failed
    sign-ins, each within `window` seconds of the one before, is refused for `lockout`
    seconds; every further failure after that doubles the wait, up to `max_lockout`.
    """

    account_failures: int = 5
    client_failures: int = 20
    window: float = 900.0
    lockout: float = 30.0
    max_lockout: float = 900.0
    bcrypt_threads: int = 1
    """Threads per worker that hash and check passwords (about 0.3 s of CPU each)."""
    bcrypt_queue: int = 8
    """Hashes and checks a worker takes at once; beyond, a sign-in is asked to wait a moment,
    so a flood of sign-ins cannot pile minutes of CPU up in front of the others."""


def get_signin_limits() -> SignInLimits:
    return SignInLimits(
        account_failures=int(_float("CHATSTREAM_SIGNIN_ACCOUNT_FAILURES", 5)),
        client_failures=int(_float("CHATSTREAM_SIGNIN_CLIENT_FAILURES", 20)),
        window=_float("CHATSTREAM_SIGNIN_WINDOW", 900.0),
        lockout=_float("CHATSTREAM_SIGNIN_LOCKOUT", 30.0),
        max_lockout=_float("CHATSTREAM_SIGNIN_MAX_LOCKOUT", 900.0),
        bcrypt_threads=max(1, int(_float("CHATSTREAM_BCRYPT_THREADS", 1))),
        bcrypt_queue=max(1, int(_float("CHATSTREAM_BCRYPT_QUEUE", 8))),
    )
