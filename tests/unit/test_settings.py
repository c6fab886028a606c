"""Settings: defaults, the names users know, errors that name the setting, generated docs kept fresh."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigurationError
from core.settings import env_example, load_settings, settings_markdown

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.split("_", 1)[0] in {
            "TGI",
            "REDIS",
            "HISTORY",
            "CHAT",
            "LIMITS",
            "ALIGNMENT",
            "DISCORD",
            "SLACK",
            "METRICS",
            "LOG",
            "RUNTIME",
        }:
            monkeypatch.delenv(name)


def test_defaults_need_no_configuration() -> None:
    s = load_settings(None)
    assert s.tgi.url == "http://localhost:8080"
    assert s.redis.url == "redis://localhost:6379/0"
    assert s.history.ttl_s == 7 * 24 * 3600
    assert s.chat.max_message_chars == 8000
    assert s.discord.token is None


def test_known_names_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TGI_URL", "http://gpu:8080")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/1")
    monkeypatch.setenv("DISCORD_TOKEN", "discord-secret")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-secret")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-secret")
    s = load_settings(None)
    assert s.tgi.url == "http://gpu:8080"
    assert s.redis.url == "redis://cache:6379/1"
    assert s.discord.token is not None and s.discord.token.get_secret_value() == "discord-secret"
    assert s.slack.bot_token is not None and s.slack.bot_token.get_secret_value() == "xoxb-secret"
    assert s.slack.app_token is not None and s.slack.signing_secret is not None
    assert "discord-secret" not in repr(s) and "xoxb-secret" not in str(s)


def test_env_file_is_read_and_unknown_keys_rejected(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("TGI_URL=http://from-file:8080\nHISTORY_MAX_TURNS=7\n")
    s = load_settings(env)
    assert s.tgi.url == "http://from-file:8080" and s.history.max_turns == 7
    env.write_text("TGI_URLL=http://typo:8080\n")
    with pytest.raises(ConfigurationError) as err:
        load_settings(env)
    assert "TGI_URLL" in str(err.value) and "unknown setting" in str(err.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TGI_URL", "localhost:8080"),
        ("TGI_TOP_P", "1.0"),
        ("HISTORY_MAX_TURNS", "zero"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_invalid_values_name_the_setting(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as err:
        load_settings(None)
    assert name in str(err.value)
    assert err.value.setting == name


def test_empty_values_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "")
    assert load_settings(None).discord.token is None


def test_env_example_lists_every_setting_and_is_fresh() -> None:
    assert (ROOT / ".env.example").read_text() == env_example(), (
        "stale: run `python -m core.settings --env-example > .env.example`"
    )


def test_configuration_doc_is_fresh() -> None:
    assert (ROOT / "docs" / "configuration.md").read_text() == settings_markdown(), (
        "stale: run `python -m core.settings --markdown > docs/configuration.md`"
    )
