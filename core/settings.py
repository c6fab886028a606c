"""All configuration, read from the environment and an optional `.env` file.

Each component gets its own sub-model. Environment names are the group and the field joined by one
underscore: `TGI_URL` → `tgi.url`, `SLACK_BOT_TOKEN` → `slack.bot_token`, `HISTORY_TTL_S` → `history.ttl_s`.
Unknown keys in a `.env` file are rejected; secrets are `SecretStr` and never printed.
`docs/configuration.md` is generated from this module (`python -m core.settings --markdown`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from core.errors import ConfigurationError

DEFAULT_SYSTEM_PROMPT = "You are Dolphin, a helpful AI assistant."


def _split_ids(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, int):
        return (value,)
    return value


# Comma-separated ids in the environment ("123,456"), a tuple in code.
IdList = Annotated[tuple[int, ...], BeforeValidator(_split_ids), NoDecode]
StrList = Annotated[tuple[str, ...], BeforeValidator(_split_ids), NoDecode]


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TGISettings(_Group):
    url: str = Field(
        "http://localhost:8080",
        description="Base URL of the model server; several URLs may be given separated by commas.",
    )
    backend: Literal["tgi", "openai"] = Field(
        "tgi", description="Server API: `tgi` (TGI /generate_stream) or `openai` (/v1/completions)."
    )
    connect_timeout_s: float = Field(
        5.0, gt=0, description="Seconds to open a connection to the model server."
    )
    first_token_timeout_s: float = Field(
        60.0, gt=0, description="Seconds to wait for the first token (queueing and prompt processing)."
    )
    token_timeout_s: float = Field(30.0, gt=0, description="Seconds to wait between two tokens of a stream.")
    retries: int = Field(
        3, ge=0, description="Retries of overload and connection errors before the first token."
    )
    health_check_interval_s: float = Field(
        5.0,
        ge=0,
        description="With several URLs: seconds between health checks of each; a failing server gets no"
        " new requests until it passes again (0: off).",
    )
    retry_backoff_s: float = Field(
        0.5,
        ge=0,
        description="First retry delay in seconds (up to; half of it at least); doubles each retry.",
    )
    max_new_tokens: int = Field(
        1024, ge=16, description="Upper bound on the length of one answer, in tokens."
    )
    temperature: float = Field(0.7, gt=0, description="Sampling temperature (TGI requires > 0).")
    top_p: float = Field(0.95, gt=0, lt=1, description="Nucleus sampling; TGI requires 0 < top_p < 1.")
    repetition_penalty: float = Field(1.1, gt=0, description="Repetition penalty sent to TGI.")
    max_concurrent_requests: int | None = Field(
        None, ge=1, description="Concurrency gate; default: the server's max_concurrent_requests from /info."
    )
    api_key: SecretStr | None = Field(None, description="Bearer token for the model server, if it needs one.")
    model: str | None = Field(
        None, description="Model name sent to an OpenAI-compatible server (default: the first of /v1/models)."
    )
    max_input_tokens: int = Field(
        7168, ge=64, description="Prompt token limit when the server does not report one (OpenAI-compatible)."
    )
    max_total_tokens: int = Field(
        8192, ge=128, description="Prompt + answer token limit when the server does not report one."
    )

    @field_validator("url")
    @classmethod
    def _urls(cls, value: str) -> str:
        urls = [u.strip() for u in value.split(",") if u.strip()]
        if not urls:
            raise ValueError("give at least one URL, e.g. http://localhost:8080")
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} must start with http:// or https://")
        return value


class RedisSettings(_Group):
    url: str = Field("redis://localhost:6379/0", description="Redis URL (redis:// or rediss://).")
    cluster: bool = Field(False, description="Use the Redis Cluster client (REDIS_URL names one node).")
    key_prefix: str = Field("relay", description="Namespace of every key the service writes.")
    socket_timeout_s: float = Field(5.0, gt=0, description="Seconds before a Redis command times out.")
    max_connections: int = Field(
        100, ge=4, description="Connections to Redis per process; more concurrent commands wait for one."
    )


class HistorySettings(_Group):
    max_turns: int = Field(50, ge=1, description="Exchanges (question + answer) kept per conversation.")
    ttl_s: int = Field(
        7 * 24 * 3600, ge=60, description="Seconds a conversation is kept after its last message."
    )
    lock_timeout_s: float = Field(
        600.0, gt=0, description="Lease of the per-conversation lock (longer than any answer takes)."
    )
    lock_wait_s: float = Field(
        120.0, gt=0, description="Seconds a message waits for its conversation's lock."
    )


class ChatSettings(_Group):
    system_prompt: str = Field(
        DEFAULT_SYSTEM_PROMPT, description="Default system prompt (a persona overrides it)."
    )
    bot_name: str = Field("Dolphin", description="The assistant's name, as users address it.")
    max_message_chars: int = Field(
        8000, ge=1, description="Longer messages get a notice instead of an answer."
    )
    dedupe_ttl_s: int = Field(24 * 3600, ge=60, description="Seconds a handled message id is remembered.")
    tokenizer: Literal["auto", "tgi", "sentencepiece", "estimate"] = Field(
        "auto",
        description="Token counting: TGI /tokenize, the bundled Mistral SentencePiece model, or an estimate.",
    )
    min_answer_tokens: int = Field(64, ge=1, description="Room always left for the answer, in tokens.")


class LimitSettings(_Group):
    user_per_minute: int = Field(6, ge=0, description="Messages one user may send per minute (0: no limit).")
    channel_per_minute: int = Field(
        30, ge=0, description="Messages one channel may send per minute (0: no limit)."
    )


class AlignmentSettings(_Group):
    enabled: bool = Field(True, description="Check what users ask and what the model answers.")
    policy_file: Path | None = Field(
        None,
        description="Moderation policy YAML (categories and notices, per-community overrides, `languages`: "
        "which the local checks cover and what happens to the others without a guard); default: the bundled "
        "policy.",
    )
    guard_mode: Literal["auto", "off", "llama-guard", "self-check"] = Field(
        "auto",
        description="The guard-model layer: `llama-guard` (Llama Guard 3 on its own TGI at"
        " ALIGNMENT_GUARD_URL), `self-check` (the model at TGI_URL judges: no second model, a weaker judge),"
        " `off`; `auto`: llama-guard when ALIGNMENT_GUARD_URL is set, else off.",
    )
    guard_url: str | None = Field(
        None, description="A TGI serving Llama Guard 3 (ALIGNMENT_GUARD_MODE llama-guard or auto)."
    )


class DiscordSettings(_Group):
    token: SecretStr | None = Field(None, description="Bot token from the Discord Developer Portal.")
    respond_to_mentions: bool = Field(True, description="Answer messages that @mention the bot.")
    respond_to_dms: bool = Field(True, description="Answer direct messages.")
    respond_to_replies: bool = Field(True, description="Answer replies to the bot's own messages.")
    free_channels: IdList = Field(
        (), description="Channel ids where every message is answered, no mention needed."
    )
    auto_thread: bool = Field(False, description="Answer a mention in a text channel in a new thread.")
    allowed_guilds: IdList = Field((), description="Only these guild ids (empty: all).")
    blocked_guilds: IdList = Field((), description="Never these guild ids.")
    allowed_channels: IdList = Field(
        (), description="Only these channel or category ids; threads inherit (empty: all)."
    )
    blocked_channels: IdList = Field((), description="Never these channel or category ids; threads inherit.")
    allowed_roles: IdList = Field((), description="Only members with one of these role ids (empty: all).")
    blocked_roles: IdList = Field((), description="Never members with one of these role ids.")
    allowed_users: IdList = Field((), description="Only these user ids (empty: all).")
    blocked_users: IdList = Field((), description="Never these user ids.")
    moderator_roles: IdList = Field((), description="Role ids that may use moderator commands.")
    moderator_users: IdList = Field((), description="User ids that may use moderator commands.")
    shard_count: int | None = Field(None, ge=1, description="Total shards (set to shard a large bot).")
    shard_ids: IdList = Field((), description="Shard ids this process runs (with DISCORD_SHARD_COUNT).")
    dev_guild_id: int | None = Field(
        None, description="Sync slash commands to this guild only (development)."
    )
    edit_interval_s: float = Field(1.2, ge=0.2, description="Seconds between edits of a streaming message.")
    mod_log_channel: int | None = Field(None, description="Channel id that receives moderation events.")


class SlackSettings(_Group):
    bot_token: SecretStr | None = Field(None, description="Bot token (xoxb-…) of the Slack app.")
    app_token: SecretStr | None = Field(None, description="App-level token (xapp-…); set it for Socket Mode.")
    signing_secret: SecretStr | None = Field(None, description="Signing secret; required in HTTP mode.")
    api_url: str = Field(
        "https://slack.com/api/", description="Slack Web API base URL (a proxy or a test double)."
    )
    admin_users: StrList = Field(
        (), description="User ids allowed to change channel settings (besides workspace admins and owners)."
    )
    allowed_channels: StrList = Field(
        (), description="Only these channel ids; direct messages are not channels here (empty: all)."
    )
    allowed_users: StrList = Field((), description="Only these user ids (empty: all).")
    respond_to_dms: bool = Field(
        True, description="Answer direct messages and the assistant container (SLACK_ALLOWED_USERS applies)."
    )
    mod_log_channel: str | None = Field(None, description="Channel id that receives moderation events.")
    update_interval_s: float = Field(
        1.0, ge=0.5, description="Seconds between updates of a streaming answer."
    )
    suggested_prompts: StrList = Field(
        ("Summarize a topic for me", "Help me write a message", "Explain some code"),
        description="Suggested prompts shown when a user opens an assistant thread (comma-separated).",
    )


class MetricsSettings(_Group):
    port: int = Field(9100, ge=0, le=65535, description="Port of /healthz, /readyz and /metrics (0: off).")
    host: str = Field("0.0.0.0", description="Address the health and metrics server binds.")


class LogSettings(_Group):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    format: Literal["auto", "json", "console"] = Field(
        "auto", description="`json` when not on a terminal (auto), or force one."
    )


class DeploySettings(_Group):
    """Read by docker compose from the same .env (the bot itself does not use them)."""

    model_revision: str = Field(
        "eb28147fe3c52f0055ac9da7b0c8cfcc199dcfc9",
        description="Dolphin commit TGI serves: a pinned sha with the fixed added tokens (docs/operations.md).",
    )
    tgi_memory_fraction: float = Field(
        1.0, gt=0, le=1, description="Share of GPU memory Dolphin's TGI may take (0.8 with --profile guard)."
    )
    hf_token: SecretStr | None = Field(
        None, description="Hugging Face token for the model downloads (needed for the gated Llama Guard 3)."
    )
    tgi_url: str = Field(
        "http://tgi:80",
        description="The model server the compose bots use (http://tgi-cpu:80 with --profile cpu).",
    )
    grafana_password: SecretStr | None = Field(
        None, description="Grafana admin password (--profile monitoring)."
    )


class RuntimeSettings(_Group):
    shutdown_grace_s: float = Field(
        30.0, ge=0, description="Seconds in-flight answers get to finish on shutdown."
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        env_ignore_empty=True,
        extra="forbid",
        frozen=True,
    )

    tgi: TGISettings = TGISettings()
    redis: RedisSettings = RedisSettings()
    history: HistorySettings = HistorySettings()
    chat: ChatSettings = ChatSettings()
    limits: LimitSettings = LimitSettings()
    alignment: AlignmentSettings = AlignmentSettings()
    discord: DiscordSettings = DiscordSettings()
    slack: SlackSettings = SlackSettings()
    metrics: MetricsSettings = MetricsSettings()
    log: LogSettings = LogSettings()
    runtime: RuntimeSettings = RuntimeSettings()
    deploy: DeploySettings = DeploySettings()


def tgi_urls(tgi: TGISettings) -> list[str]:
    return [u.strip().rstrip("/") for u in tgi.url.split(",") if u.strip()]


def env_name(loc: tuple[int | str, ...]) -> str:
    return "_".join(str(p) for p in loc if not isinstance(p, int)).upper()


def load_settings(env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
    """Build `Settings`, turning validation errors into one `ConfigurationError` that names each setting."""
    try:
        return Settings(_env_file=env_file, **overrides)
    except SettingsError as exc:
        raise ConfigurationError(f"invalid configuration: {exc} (lists are comma-separated)") from None
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = env_name(err["loc"])
            if err["type"] == "extra_forbidden":
                lines.append(f"{name}: unknown setting (check the spelling against .env.example)")
            else:
                lines.append(f"{name}: {err['msg']}")
        first = env_name(exc.errors()[0]["loc"]) if exc.errors() else None
        raise ConfigurationError("invalid configuration: " + "; ".join(lines), setting=first) from None


def settings_markdown() -> str:
    """The configuration table for docs/configuration.md (kept fresh by a test)."""
    out = [
        "# Configuration",
        "",
        "Generated from `core/settings.py` by `python -m core.settings --markdown > docs/configuration.md`.",
        "Set these in the environment or in `.env` (see `.env.example`). Names are case-insensitive.",
        "Lists are comma-separated. Secrets are never logged.",
        "",
        "| setting | default | description |",
        "|---|---|---|",
    ]
    for name, value, desc in _settings_rows():
        shown = f"`{value}`" if value else "—"
        out.append(f"| `{name}` | {shown} | {desc.replace('|', chr(92) + '|')} |")
    return "\n".join(out) + "\n"


def _settings_rows() -> list[tuple[str, str, str]]:
    rows = []
    for group, field in Settings.model_fields.items():
        model = field.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        for name, sub in model.model_fields.items():
            default = sub.default
            if isinstance(default, SecretStr) or default is None:
                value = ""
            elif isinstance(default, bool):
                value = str(default).lower()
            elif isinstance(default, tuple | list | frozenset | set):
                value = ",".join(str(v) for v in default)
            else:
                value = str(default)
            rows.append((f"{group.upper()}_{name.upper()}", value, sub.description or ""))
    return rows


def env_example() -> str:
    """The text of .env.example: every setting with a one-line comment (kept fresh by a test)."""
    out = [
        "# dolphin-relay settings. Copy to .env and fill in the tokens you need.",
        "# Generated by `python -m core.settings --env-example > .env.example`; docs/configuration.md has more.",
        "# Lines left commented out keep their default.",
    ]
    group = ""
    for name, value, desc in _settings_rows():
        if name.split("_", 1)[0] != group:
            group = name.split("_", 1)[0]
            out.append("")
        out.append(f"# {desc}")
        needed = name in _ALWAYS_SHOWN
        out.append(f"{'' if needed else '# '}{name}={value}")
    return "\n".join(out) + "\n"


_ALWAYS_SHOWN = {"TGI_URL", "REDIS_URL", "DISCORD_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"}


if __name__ == "__main__":  # pragma: no cover
    if "--markdown" in sys.argv:
        sys.stdout.write(settings_markdown())
    elif "--env-example" in sys.argv:
        sys.stdout.write(env_example())
