"""The local-model launcher's decisions, without the model: when a model endpoint is
configured it only runs the command (nothing else starts); otherwise it is needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from chatstream.local_model import STOP, LocalModelServer, endpoint_configured, transcript
from chatstream.settings import get_settings


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


def test_the_app_settings_read_the_local_model_environment(monkeypatch):
    server = LocalModelServer(port=1234)
    monkeypatch.delenv("CHATSTREAM_MAX_TOKENS", raising=False)
    monkeypatch.delenv("CHATSTREAM_STOP", raising=False)
    monkeypatch.delenv("CHATSTREAM_TITLES", raising=False)
    for name, value in server.environment().items():
        monkeypatch.setenv(name, value)
    settings = get_settings()
    assert settings.base_url == "http://127.0.0.1:1234/v1"
    assert settings.model_name == "gemma-3-270m"
    assert settings.stop == STOP and settings.max_tokens == 320
    assert "Gemma 3 270M" in settings.model_description
    assert settings.titles is False  # too small to title a chat: the first words stay


def test_stop_sequences_are_a_json_list_or_one_plain_string(monkeypatch):
    monkeypatch.setenv("CHATSTREAM_STOP", json.dumps(["a", "b"]))
    assert get_settings().stop == ("a", "b")
    monkeypatch.setenv("CHATSTREAM_STOP", "###")
    assert get_settings().stop == ("###",)


def test_a_chat_becomes_a_primed_transcript_that_ends_where_the_model_writes():
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
