"""Settings: defaults, the names users know, errors that name the setting, generated docs kept fresh."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigurationError
from core.settings import env_example, load_settings, settings_markdown, unknown_settings

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


def test_env_file_is_read_and_unknown_keys_are_ignored_and_named(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("TGI_URL=http://from-file:8080\nHISTORY_MAX_TURNS=7\n")
    s = load_settings(env)
    assert s.tgi.url == "http://from-file:8080" and s.history.max_turns == 7
    assert unknown_settings(env) == []
    env.write_text("TGI_URLL=http://typo:8080\nSOMETHING_ELSE=1\n")
    assert load_settings(env).tgi.url == "http://localhost:8080"  # ignored, never fatal
    typo, other = unknown_settings(env)
    assert (typo.name, typo.closest, typo.owner, typo.source) == ("TGI_URLL", "TGI_URL", None, str(env))
    assert "did you mean TGI_URL?" in typo.describe()
    assert (other.name, other.closest) == ("SOMETHING_ELSE", None)


def test_names_other_tools_set_never_stop_start_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Kubernetes injects service variables for services named redis and tgi; other tools set their own
    SLACK_ or LOG_ names; Docker Compose reads COMPOSE_ and DOCKER_ keys from the same .env."""
    injected = {
        "REDIS_PORT": "tcp://10.0.0.11:6379",
        "REDIS_PORT_6379_TCP_ADDR": "10.0.0.11",
        "REDIS_SERVICE_HOST": "10.0.0.11",
        "REDIS_SERVICE_PORT": "6379",
        "TGI_SERVICE_PORT": "80",
        "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/secret-part",
        "LOG_DIR": "/var/log/relay",
        "REDIS_URL": "redis://cache:6379/1",
    }
    for name, value in injected.items():
        monkeypatch.setenv(name, value)
    env = tmp_path / ".env"
    env.write_text(
        "COMPOSE_PROFILES=cpu,guard\nCOMPOSE_PROJECT_NAME=relay\nCOMPOSE_FILE=a.yml\nDOCKER_HOST=unix:///x\n"
    )
    s = load_settings(env)
    assert s.redis.url == "redis://cache:6379/1"
    found = {u.name: u for u in unknown_settings(env)}
    assert set(found) == set(injected) - {"REDIS_URL"} | {
        "COMPOSE_PROFILES",
        "COMPOSE_PROJECT_NAME",
        "COMPOSE_FILE",
        "DOCKER_HOST",
    }
    kubernetes = {n for n, u in found.items() if u.owner == "Kubernetes"}
    assert kubernetes == {
        "REDIS_PORT",
        "REDIS_PORT_6379_TCP_ADDR",
        "REDIS_SERVICE_HOST",
        "REDIS_SERVICE_PORT",
        "TGI_SERVICE_PORT",
    }
    assert {n for n, u in found.items() if u.owner == "Docker Compose"} == {
        "COMPOSE_PROFILES",
        "COMPOSE_PROJECT_NAME",
        "COMPOSE_FILE",
        "DOCKER_HOST",
    }
    assert found["SLACK_WEBHOOK_URL"].owner is None and found["LOG_DIR"].owner is None  # warned about
    assert all("secret-part" not in u.describe() for u in found.values())


def test_a_kubernetes_service_link_on_a_real_setting_is_not_taken_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("METRICS_PORT", "tcp://10.0.0.5:9100")  # a Service named "metrics" in the namespace
    assert load_settings(None).metrics.port == 9100
    (unknown,) = unknown_settings(None)
    assert (unknown.name, unknown.owner) == ("METRICS_PORT", "Kubernetes")
    monkeypatch.setenv("METRICS_PORT", "9200")
    assert load_settings(None).metrics.port == 9200 and unknown_settings(None) == []


def test_a_port_a_user_sets_is_not_taken_for_kubernetes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_PORT", "6380")  # someone thinking they can set the port: warn, closest setting
    (unknown,) = unknown_settings(None)
    assert unknown.owner is None and unknown.source == "environment"


@pytest.mark.parametrize(
    ("name", "value", "fix"),
    [
        ("REDIS_URL", "localhost:6379", "write redis://localhost:6379/0"),
        ("REDIS_URL", "cache.internal:6380/1", "write redis://cache.internal:6380/1"),
        ("REDIS_URL", "xoxb-not-a-url", "must start with redis:// or rediss:// or unix://"),
        ("REDIS_URL", "http://localhost:6379", "must start with redis:// or rediss:// or unix://"),
        ("ALIGNMENT_GUARD_URL", "guard:80", "write http://guard:80"),
        ("SLACK_API_URL", "slack.com/api/", "must start with http:// or https://"),
    ],
)
def test_a_url_without_its_scheme_names_the_setting_and_the_fix(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, fix: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as err:
        load_settings(None)
    assert str(err.value).startswith(f"invalid configuration: {name}: ") and fix in str(err.value)
    assert err.value.setting == name and "\n" not in str(err.value)


def test_a_url_error_never_echoes_a_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", ":hunter2@cache:6379")
    with pytest.raises(ConfigurationError) as err:
        load_settings(None)
    assert "REDIS_URL" in str(err.value) and "hunter2" not in str(err.value)


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
