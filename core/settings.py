"""All configuration, read from the environment and an optional `.env` file.

Each component gets its own sub-model. Environment names are the group and the field joined by one
underscore: `TGI_URL` → `tgi.url`, `SLACK_BOT_TOKEN` → `slack.bot_token`, `HISTORY_TTL_S` → `history.ttl_s`.
Names that are not settings never stop start-up (Kubernetes injects `REDIS_PORT` and `TGI_SERVICE_HOST`
for services named redis and tgi, Docker Compose reads `COMPOSE_PROFILES` from the same `.env`): they are
ignored, and `unknown_settings` lists them with the closest known name, for the start-up warning and
`dolphin-relay doctor`. Secrets are `SecretStr` and never printed.
`docs/configuration.md` is generated from this module (`python -m core.settings --markdown`).
"""

from __future__ import annotations

import difflib
import re
import sys
from dataclasses import dataclass
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
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.exceptions import SettingsError

from core.errors import ConfigurationError
from core.redact import redact_url

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


# A bare host and port ("localhost:6379", "cache.internal:6380/1"): a value that cannot hold a password.
_HOST_PORT = re.compile(r"(localhost|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*:[0-9]{1,5})(/[0-9]*)?")


def _check_scheme(url: str, schemes: tuple[str, ...], example: str) -> None:
    """A URL without one of `schemes` fails with the fix. The value is echoed only when it cannot hold a
    password (a bare host:port), so that no secret reaches an error message."""
    if url.startswith(schemes):
        return
    wanted = " or ".join(schemes)
    if _HOST_PORT.fullmatch(url) and "://" not in url:
        host = url.rstrip("/")
        fixed = (
            f"{schemes[0]}{host}/0" if schemes[0] == "redis://" and "/" not in host else f"{schemes[0]}{host}"
        )
        raise ValueError(f"{url!r} has no scheme: write {fixed} (it must start with {wanted})")
    raise ValueError(f"must start with {wanted}, e.g. {example}")


class TGISettings(_Group):
    url: str = Field(
        "http://localhost:8080",
        description="Base URL of the model server; several URLs may be given separated by commas.",
    )
    backend: Literal["tgi", "vllm", "sglang", "openai"] = Field(
        "tgi",
        description="The model server's engine: `tgi` (TGI's /generate_stream), `vllm` or `sglang` (their"
        " OpenAI-compatible /v1/completions, /tokenize, /health), `openai` (any other OpenAI-compatible"
        " server; a vLLM or SGLang one is recognised from /v1/models).",
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
    max_input_tokens: int | None = Field(
        None,
        ge=64,
        description="OpenAI-compatible servers: prompt token limit; default: max_model_len - 1 from"
        " /v1/models (vLLM, SGLang), else 7168. TGI reports its own (/info).",
    )
    max_total_tokens: int | None = Field(
        None,
        ge=128,
        description="OpenAI-compatible servers: prompt + answer token limit; default: max_model_len from"
        " /v1/models (vLLM, SGLang), else 8192.",
    )

    @field_validator("url")
    @classmethod
    def _urls(cls, value: str) -> str:
        urls = [u.strip() for u in value.split(",") if u.strip()]
        if not urls:
            raise ValueError("give at least one URL, e.g. http://localhost:8080")
        for url in urls:
            if not url.startswith(("http://", "https://")):
                # Redacted: a mistyped scheme must not print the password of the URL it is part of.
                raise ValueError(f"{redact_url(url)!r} must start with http:// or https://")
        return value


class RedisSettings(_Group):
    url: str = Field("redis://localhost:6379/0", description="Redis URL (redis:// or rediss://).")
    cluster: bool = Field(False, description="Use the Redis Cluster client (REDIS_URL names one node).")
    key_prefix: str = Field("relay", description="Namespace of every key the service writes.")
    socket_timeout_s: float = Field(5.0, gt=0, description="Seconds before a Redis command times out.")
    max_connections: int = Field(
        100, ge=4, description="Connections to Redis per process; more concurrent commands wait for one."
    )
    pool_wait_s: float = Field(
        30.0,
        gt=0,
        description="Seconds a command waits for a free connection when all are in use; past it the member"
        " is told the bot is busy (not that Redis is unreachable).",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        _check_scheme(value, ("redis://", "rediss://", "unix://"), "redis://localhost:6379/0")
        return value


class HistorySettings(_Group):
    max_turns: int = Field(50, ge=1, description="Exchanges (question + answer) kept per conversation.")
    ttl_s: int = Field(
        7 * 24 * 3600, ge=60, description="Seconds a conversation is kept after its last message."
    )
    lock_timeout_s: float = Field(
        15.0,
        gt=0,
        description="Lease of the per-conversation lock, renewed every third of it while an answer runs: a"
        " lock whose holder is gone (a crash, a Redis outage) frees itself within this time.",
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
    tokenizer: Literal["auto", "server", "tgi", "sentencepiece", "estimate"] = Field(
        "auto",
        description="Token counting: the model server's tokenize route (`server`, or `tgi` as before), the"
        " bundled Mistral SentencePiece model, or an estimate.",
    )
    min_answer_tokens: int = Field(64, ge=1, description="Room always left for the answer, in tokens.")


class LimitSettings(_Group):
    user_per_minute: int = Field(6, ge=0, description="Messages one user may send per minute (0: no limit).")
    channel_per_minute: int = Field(
        30, ge=0, description="Messages one channel may send per minute (0: no limit)."
    )


_OVERRIDE = re.compile(
    r"(?P<platform>discord|slack|console):(?P<space>[^=\s]+)=(?P<member>[0-9]+)/(?P<community>[0-9]+)"
)


class BudgetSettings(_Group):
    """Daily token budgets per member and per community (core/budget.py; docs/discord.md "Budgets")."""

    member_tokens_per_day: int = Field(
        0,
        ge=0,
        description="Tokens one member may use per day in one community (their message and the answer, as"
        " counted by CHAT_TOKENIZER); past it they get a notice until the reset (0: no limit).",
    )
    community_tokens_per_day: int = Field(
        0,
        ge=0,
        description="Tokens one community (a Discord server, a Slack workspace; Discord DMs together count as"
        " one) may use per day (0: no limit).",
    )
    warn_at_percent: int = Field(
        80,
        ge=1,
        le=100,
        description="The answer that takes a member or community past this share of its budget ends with a"
        " warning (100: only when it is spent).",
    )
    moderators_exempt: bool = Field(
        True,
        description="Moderators (DISCORD_MODERATOR_*, Manage Server; SLACK_ADMIN_USERS, workspace admins) are"
        " never refused and not counted.",
    )
    timezone: str = Field(
        "UTC",
        description="Budgets reset at midnight in this IANA time zone (e.g. Europe/Berlin).",
    )
    overrides: StrList = Field(
        (),
        description="Per-community budgets, `platform:space=member/community` (e.g."
        " `discord:123456789=20000/500000,slack:T0123=0/0`; 0: no limit).",
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. UTC, Europe/Berlin)") from None
        return value

    @field_validator("overrides")
    @classmethod
    def _overrides(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            if not _OVERRIDE.fullmatch(entry):
                raise ValueError(
                    f"{entry!r} is not `platform:space=member/community` (e.g. discord:123456789=20000/500000)"
                )
        return value

    def limits_for(self, platform: str, space: str) -> tuple[int, int]:
        """(member, community) tokens per day in `space` of `platform`: its override, else the defaults."""
        for entry in self.overrides:
            m = _OVERRIDE.fullmatch(entry)
            if m and m["platform"] == platform and m["space"] == space:
                return int(m["member"]), int(m["community"])
        return self.member_tokens_per_day, self.community_tokens_per_day


class AlignmentSettings(_Group):
    enabled: bool = Field(True, description="Check what users ask and what the model answers.")
    policy_file: Path | None = Field(
        None,
        description="Moderation policy YAML (categories and notices, per-community overrides, `languages`: "
        "which the local checks cover and what happens to the others without a guard); default: the bundled "
        "policy.",
    )
    guard_mode: Literal["auto", "off", "qwen3guard", "llama-guard", "self-check"] = Field(
        "auto",
        description="The guard-model layer: `qwen3guard` (Qwen3Guard-Gen on vLLM or SGLang at"
        " ALIGNMENT_GUARD_URL), `llama-guard` (Llama Guard 3 on TGI at ALIGNMENT_GUARD_URL), `self-check` (the"
        " model at TGI_URL judges: no second model, a weaker judge), `off`; `auto`: with ALIGNMENT_GUARD_URL,"
        " the model ALIGNMENT_GUARD_MODEL names or, unset, the one the server says it serves; else off.",
    )
    guard_url: str | None = Field(
        None,
        description="The guard model's server: vLLM or SGLang serving Qwen3Guard-Gen, or TGI serving Llama"
        " Guard 3 (compose: http://guard:8000, or http://llama-guard:80 with --profile llama-guard).",
    )
    guard_model: str | None = Field(
        None,
        description="The guard's model id (e.g. Qwen/Qwen3Guard-Gen-0.6B, meta-llama/Llama-Guard-3-1B): picks"
        " the mode under `auto` without asking the server, and is the id sent to vLLM; unset: asked.",
    )
    stream_mode: Literal["strict", "relaxed"] = Field(
        "strict",
        description="While an answer streams: `strict` shows text only after every output layer (the guard"
        " model too, on the partial answer) checked it and the look-ahead after it; `relaxed` checks the"
        " local layers (rules, answer classifier) before each update and holds back the newest 80 characters;"
        " the guard judges the whole answer only (docs/moderation.md).",
    )
    stream_lookahead_chars: int = Field(
        600,
        ge=0,
        description="Strict streaming: characters a check sees beyond what is shown (a harmful answer is"
        " stopped before this much of it is visible after the checks first could tell).",
    )
    stream_chunk_chars: int = Field(
        200,
        ge=20,
        le=4000,
        description="Strict streaming: the answer is checked every this many new characters (the guard"
        " model is called per chunk, not per token).",
    )
    stream_hold_max_chars: int = Field(
        2000,
        ge=0,
        description="Strict streaming, the suspicion hold: while the answer check finds a partial answer"
        " suspicious (policy `layers.classifier.output_hold_threshold`) nothing more is shown; after this many"
        " more characters were checked without a block, showing resumes (0: hold until the answer ends)"
        " (docs/moderation.md).",
    )

    @field_validator("guard_url")
    @classmethod
    def _guard_url(cls, value: str | None) -> str | None:
        if value is not None:
            _check_scheme(value, ("http://", "https://"), "http://localhost:8081")
        return value


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
    writes_per_s: int = Field(
        40,
        ge=0,
        description="Writes per second the bot makes to Discord, all replicas together (Discord allows 50 "
        "requests per bot; the rest is headroom for delays between a write's turn and its arrival, and for "
        "requests outside the budget); 0: no write budget.",
    )
    channel_writes_per_5s: int = Field(
        5, ge=2, description="Messages sent, and apart edits made, per channel in any 5 seconds (Discord: 5)."
    )
    intermediate_share: float = Field(
        0.8,
        gt=0,
        le=1,
        description="Share of DISCORD_WRITES_PER_S that edits of streaming answers and typing may use; the rest "
        "is kept for first and final texts.",
    )
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
    blocked_channels: StrList = Field((), description="Never these channel ids (their threads neither).")
    blocked_users: StrList = Field((), description="Never these user ids, anywhere (direct messages too).")
    respond_to_dms: bool = Field(
        True, description="Answer direct messages and the assistant container (SLACK_ALLOWED_USERS applies)."
    )
    mod_log_channel: str | None = Field(None, description="Channel id that receives moderation events.")
    feedback_buttons: bool = Field(
        True,
        description="Feedback buttons under each answer (the negative one reports it to the moderators); "
        "needs interactivity on in the app's manifest (docs/slack.md).",
    )
    update_interval_s: float = Field(
        1.0, ge=0.5, description="Seconds between updates of a streaming answer."
    )
    updates_per_minute: int = Field(
        50,
        ge=0,
        description="chat.update calls per minute per workspace, all replicas together (Slack's Tier 3: 50); "
        "0: no write budget.",
    )
    posts_per_channel_per_s: int = Field(
        1, ge=1, description="chat.postMessage calls per second per channel (Slack: about 1)."
    )
    suggested_prompts: StrList = Field(
        ("Summarize a topic for me", "Help me write a message", "Explain some code"),
        description="Suggested prompts (at most 4) shown when a member opens the app's DM or an assistant thread"
        " (comma-separated).",
    )
    messaging_view: Literal["agent", "assistant"] = Field(
        "agent",
        description="The app's messaging experience: `agent` (manifest `agent_view`, every app created from"
        " slack/manifest*.yml: each top-level DM starts a thread of its own) or `assistant` (an install still on"
        " `assistant_view`: top-level DMs are one conversation, answered at the top level). docs/slack.md.",
    )

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        _check_scheme(value, ("http://", "https://"), "https://slack.com/api/")
        return value


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
        0.8,
        gt=0,
        le=1,
        description="Share of GPU memory Dolphin's TGI may take; the rest is the guard's (docs/operations.md).",
    )
    guard_url: str = Field(
        "http://guard:8000",
        description="The guard server the compose bots use: http://llama-guard:80 with --profile llama-guard;"
        " empty for none (ALIGNMENT_GUARD_MODE=self-check or off).",
    )
    guard_gpu_memory_utilization: float = Field(
        0.15, gt=0, le=1, description="Share of GPU memory the guard's vLLM may take (Qwen3Guard-Gen-0.6B)."
    )
    llama_guard_memory_fraction: float = Field(
        0.2, gt=0, le=1, description="Share of GPU memory Llama Guard's TGI may take (--profile llama-guard)."
    )
    vllm_gpu_memory_utilization: float = Field(
        0.70,
        gt=0,
        le=1,
        description="Share of GPU memory Dolphin's vLLM may take (--profile vllm); 0.70 leaves room for a guard"
        " model on the same GPU, 0.90 for Dolphin alone.",
    )
    hf_token: SecretStr | None = Field(
        None, description="Hugging Face token for the model downloads (needed for the gated Llama Guard 3)."
    )
    tgi_url: str = Field(
        "http://tgi:80",
        description="The model server the compose bots use (http://tgi-cpu:80 with --profile cpu,"
        " http://vllm:8000 with --profile vllm and TGI_BACKEND=vllm).",
    )
    grafana_password: SecretStr | None = Field(
        None, description="Grafana admin password (--profile monitoring)."
    )


class RuntimeSettings(_Group):
    shutdown_grace_s: float = Field(
        30.0, ge=0, description="Seconds in-flight answers get to finish on shutdown."
    )
    max_in_flight: int = Field(
        256,
        ge=1,
        description="Messages one process handles at once (answers streaming included); more wait their"
        " turn, in arrival order.",
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
    budget: BudgetSettings = BudgetSettings()
    alignment: AlignmentSettings = AlignmentSettings()
    discord: DiscordSettings = DiscordSettings()
    slack: SlackSettings = SlackSettings()
    metrics: MetricsSettings = MetricsSettings()
    log: LogSettings = LogSettings()
    runtime: RuntimeSettings = RuntimeSettings()
    deploy: DeploySettings = DeploySettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Keyword arguments (code) stay strict; the environment and .env give only the names we know.
        return (
            init_settings,
            _KnownOnly(settings_cls, env_settings),
            _KnownOnly(settings_cls, dotenv_settings),
            file_secret_settings,
        )


class _KnownOnly(PydanticBaseSettingsSource):
    """What `inner` read, without the names that are not settings (see `unknown_settings`)."""

    def __init__(self, settings_cls: type[BaseSettings], inner: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self._inner = inner

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return self._inner.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        return _split_known(self._inner())[0]


def _split_known(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, object]]:
    """`data` as a settings source read it ({"redis": {"url": …, "port": …}, "compose_profiles": …}):
    the part naming settings, and the other names (environment spelling) with their values."""
    known: dict[str, Any] = {}
    unknown: dict[str, object] = {}
    for key, value in data.items():
        field = Settings.model_fields.get(key)
        model = field.annotation if field is not None else None
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            unknown[key.upper()] = value
        elif isinstance(value, dict):
            # A service named "metrics" gets METRICS_PORT=tcp://10.0.0.5:9100 from Kubernetes: not ours either.
            ours = {
                k: v
                for k, v in value.items()
                if k in model.model_fields and not (isinstance(v, str) and _KUBERNETES_PORT.fullmatch(v))
            }
            known[key] = ours
            unknown.update({f"{key}_{k}".upper(): v for k, v in value.items() if k not in ours})
        else:
            known[key] = value
    return known, unknown


# Names other tools put in the same environment or .env: not typos, so no start-up warning.
_KUBERNETES = re.compile(
    r"[A-Z0-9_]+_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT_[0-9]+_(TCP|UDP|SCTP)\w*)"
)
_KUBERNETES_PORT = re.compile(r"(tcp|udp|sctp)://.*")  # `REDIS_PORT=tcp://10.0.0.11:6379`
_COMPOSE = ("COMPOSE_", "DOCKER_")


@dataclass(frozen=True, kw_only=True)
class UnknownSetting:
    """A name in the environment or a .env file that looks like a setting but is none; it is ignored."""

    name: str
    source: str  # "environment" or the .env file's path
    closest: str | None  # the known setting it most resembles (a likely typo)
    owner: str | None  # "Kubernetes" or "Docker Compose" when the name is theirs (expected, no warning)

    def describe(self) -> str:
        where = "in the environment" if self.source == "environment" else f"in {self.source}"
        if self.owner is not None:
            return f"{self.name} {where} is not a setting of dolphin-relay ({self.owner} sets it): ignored"
        hint = f"; did you mean {self.closest}?" if self.closest else " (docs/configuration.md lists them)"
        return f"{self.name} {where} is not a setting: ignored{hint}"


def unknown_settings(env_file: str | Path | None = ".env") -> list[UnknownSetting]:
    """The names in the environment (those with a settings prefix such as `REDIS_`) and in `env_file`
    (every key) that are not settings, with the closest known name. Values are never kept."""
    config = Settings.model_config
    nested: dict[str, Any] = {
        "env_nested_delimiter": config.get("env_nested_delimiter"),
        "env_nested_max_split": config.get("env_nested_max_split"),
        "env_ignore_empty": config.get("env_ignore_empty"),
    }
    known_names = [name for name, _, _ in _settings_rows()]
    found: list[UnknownSetting] = []
    sources: list[tuple[str, PydanticBaseSettingsSource]] = [
        ("environment", EnvSettingsSource(Settings, **nested))
    ]
    if env_file is not None and Path(env_file).is_file():
        dotenv = DotEnvSettingsSource(Settings, env_file=env_file, env_file_encoding="utf-8", **nested)
        sources.append((str(env_file), dotenv))
    for source, reader in sources:
        for name, value in _split_known(reader())[1].items():
            owner = None
            if source == "environment" and (
                _KUBERNETES.fullmatch(name)
                or (name.endswith("_PORT") and _KUBERNETES_PORT.fullmatch(str(value)))
            ):
                owner = "Kubernetes"
            elif name.startswith(_COMPOSE):
                owner = "Docker Compose"
            closest = difflib.get_close_matches(name, known_names, n=1, cutoff=0.75)
            found.append(
                UnknownSetting(name=name, source=source, closest=closest[0] if closest else None, owner=owner)
            )
    return found


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
                lines.append(f"{name}: {err['msg'].removeprefix('Value error, ')}")
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
        "A name that is not a setting never stops start-up: it is ignored, the bots log one `settings.unknown`",
        "warning naming the closest setting (`TGI_URLL` → `TGI_URL`), and `dolphin-relay doctor` lists it. Names",
        "that Kubernetes (`REDIS_SERVICE_HOST`, `REDIS_PORT=tcp://…`, `TGI_SERVICE_PORT`) and Docker Compose",
        "(`COMPOSE_PROFILES`, `COMPOSE_PROJECT_NAME`, `DOCKER_HOST`, …) set are expected and pass quietly.",
        "`--env-file PATH` naming a file that does not exist stops with one line and exit code 2; without",
        "`--env-file`, `./.env` is read when there is one.",
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
