"""The Slack app over loopback, for the test_slack_* modules: the real core on real Redis and the fake TGI,
bolt's real HTTP endpoint (signed requests) or its real Socket Mode client, answers into the fake Web API;
and what a test reads besides the channel: every log line (structlog's and the standard library's)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
import redis.asyncio as aioredis
from structlog.testing import capture_logs

from bots.runtime import Core
from bots.slack.app import SlackRelay, run_slack, start_http
from bots.tasks import TaskTracker
from core.alignment.audit import AuditEvent, ModFeedQueue, publish_all, stop_serving
from core.alignment.base import AllowAll, Moderator
from core.alignment.language import detect_language
from core.builder import build_gate, build_service, code_settings
from core.history import decode_exchange
from core.keys import KeySpace
from core.llm import TGIClient, build_model_session
from core.models import ALLOW, Action, ConversationKey, IncomingMessage, Platform, Verdict
from core.observability import Metrics
from core.settings import (
    AlignmentSettings,
    LimitSettings,
    Settings,
    SlackSettings,
    TGISettings,
)
from tests.fakes.slack_api import BOT_USER, TEAM, FakeSlackAPI
from tests.fakes.tgi import FakeTGI

SECRET = "test-signing-secret"
APP_TOKEN = "xapp-1-A1-test"
BLOCK_NOTICE = "I can't help with that here."


def key(channel: str, thread: str | None = None, team: str = TEAM) -> ConversationKey:
    return ConversationKey(Platform.SLACK, team, channel, thread)


@dataclass
class WordModerator(Moderator):
    """Blocks input or output containing a word, and publishes each block to its feeds like the policy
    moderator does (so the Slack mod-log feed can be tested without the whole alignment layer)."""

    input_word: str = "\x00"
    output_word: str = "\x00"
    feeds: list[Any] = field(default_factory=list)

    async def _block(self, msg: IncomingMessage, stage: str, text: str) -> Verdict:
        await publish_all(
            self.feeds,
            AuditEvent(
                time=time.time(),
                platform=msg.key.platform.value,
                space=msg.key.space,
                channel=msg.key.channel,
                thread=msg.key.thread or "",
                user_id=msg.user_id,
                author_name=msg.author_name,
                message_id=msg.message_id,
                stage=stage,
                action="block",
                category="test",
                category_name="Test words",
                layer="words",
                excerpt=text[:200],
                language=detect_language(text),
            ),
        )
        return Verdict(Action.BLOCK, category="test", layer="words", notice=BLOCK_NOTICE)

    async def check_input(self, msg: IncomingMessage) -> Verdict:
        return await self._block(msg, "input", msg.text) if self.input_word in msg.text else ALLOW

    async def check_output(self, msg: IncomingMessage, text: str, *, final: bool) -> Verdict:
        return await self._block(msg, "output", text) if self.output_word in text else ALLOW


def event(
    text: str,
    *,
    event_id: str = "Ev1",
    channel: str = "C1",
    ts: str = "1700000001.000100",
    thread_ts: str | None = None,
    kind: str = "app_mention",
    channel_type: str = "channel",
    user: str = "U1",
    team: str = TEAM,
    installation: str = TEAM,
    **extra: Any,
) -> dict[str, Any]:
    """An Events API request; `team` is the poster's workspace, `installation` the one the app is installed
    in (they differ in a shared channel)."""
    ev: dict[str, Any] = {
        "type": kind,
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "team": team,
        "channel_type": channel_type,
        "event_ts": ts,
        **extra,
    }
    if thread_ts:
        ev["thread_ts"] = thread_ts
    return {
        "token": "x",
        "team_id": team,
        "api_app_id": "A1",
        "event": ev,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [
            {"team_id": installation, "user_id": BOT_USER, "is_bot": True, "is_enterprise_install": False}
        ],
    }


def envelope(payload: Any, envelope_id: str, *, kind: str = "events_api", retry: int = 0) -> dict[str, Any]:
    """A Socket Mode envelope around an Events API or interactive payload (or, to test what the app does
    with it, anything else), as Slack pushes it."""
    return {
        "envelope_id": envelope_id,
        "type": kind,
        "accepts_response_payload": kind != "events_api",
        "retry_attempt": retry,
        "retry_reason": "timeout" if retry else "",
        "payload": payload,
    }


def mention(text: str, **kw: Any) -> dict[str, Any]:
    return event(f"<@{BOT_USER}> {text}", **kw)


class _Records(logging.Handler):
    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Logs:
    """Every log line while `watch_logs()` is open: structlog's events (what the app logs) and the standard
    library's records (bolt, slack_sdk, aiohttp)."""

    events: list[dict[str, Any]]
    records: list[logging.LogRecord]

    def named(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == name]

    def tracebacks(self) -> list[str]:
        """Entries with a traceback, and errors: none may appear for an expected condition."""
        bad = [
            f"{e['event']} ({e['log_level']})"
            for e in self.events
            if e.get("exc_info") or e["log_level"] in ("error", "critical")
        ]
        bad += [
            f"{r.name}: {r.getMessage()[:200]}"
            for r in self.records
            if r.exc_info or r.levelno >= logging.ERROR
        ]
        return bad

    def text(self) -> str:
        """Everything logged, as one string (to check that a message's text is not in it)."""
        return "\n".join([*(repr(e) for e in self.events), *(r.getMessage() for r in self.records)])


@contextmanager
def watch_logs(level: int = logging.WARNING) -> Iterator[Logs]:
    """Logs while open; standard-library records from `level` up (production logs INFO and up)."""
    handler = _Records(level)
    root = logging.getLogger()
    previous = root.level
    root.setLevel(min(previous, level))
    root.addHandler(handler)
    try:
        with capture_logs() as events:
            yield Logs(events, handler.records)
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


async def stored_texts(redis: aioredis.Redis, conversation: ConversationKey) -> list[str]:
    """The user turns stored for `conversation`, oldest first; every entry must be a whole exchange."""
    out = []
    for raw in await redis.lrange(KeySpace("relay").turns(conversation.id), 0, -1):
        exchange = decode_exchange(raw)
        assert exchange is not None and exchange.user.text and exchange.assistant.text, "a broken turn"
        out.append(exchange.user.text)
    return out


def signed_headers(
    body: str | bytes, *, secret: str = SECRET, age_s: float = 0, form: bool = False
) -> dict[str, str]:
    ts = str(int(time.time() - age_s))
    base = f"v0:{ts}:".encode() + (body.encode() if isinstance(body, str) else body)
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded" if form else "application/json",
    }


class Harness:
    def __init__(self, slack: FakeSlackAPI, tgi: FakeTGI, relay: SlackRelay, url: str, core: Core) -> None:
        self.slack, self.tgi, self.relay, self.url, self.core = slack, tgi, relay, url, core
        self.response_headers: dict[str, str] = {}  # of the last `post()`
        self.response_body = ""

    async def post(
        self,
        payload: dict[str, Any] | str | bytes,
        *,
        secret: str = SECRET,
        age_s: float = 0,
        headers: dict[str, str] | None = None,
        form: bool = False,
    ) -> int:
        """A signed request with `payload` as JSON (or form fields); a str or bytes payload is sent as is."""
        if isinstance(payload, dict):
            payload = urlencode(payload) if form else json.dumps(payload)
        body = payload if isinstance(payload, bytes) else payload.encode()
        h = {**signed_headers(body, secret=secret, age_s=age_s, form=form), **(headers or {})}
        async with aiohttp.ClientSession() as session, session.post(self.url, data=body, headers=h) as resp:
            self.response_headers = dict(resp.headers)
            self.response_body = await resp.text()
            return resp.status

    async def command(
        self, text: str, *, user: str = "U1", channel: str = "C1", trigger: str = "", team: str = TEAM
    ) -> int:
        trigger = trigger or f"trig-{time.monotonic_ns()}"
        payload = {
            "command": "/dolphin",
            "text": text,
            "team_id": team,
            "team_domain": "t1",
            "channel_id": channel,
            "channel_name": "directmessage" if channel.startswith("D") else "general",
            "user_id": user,
            "user_name": user.lower(),
            "trigger_id": trigger,
            "response_url": self.slack.response_url(trigger),
            "api_app_id": "A1",
            "is_enterprise_install": "false",
        }
        return await self.post(payload, form=True)

    async def settle(self, timeout_s: float = 10) -> None:
        """Until every answer in flight is done (and a little longer for bolt's own listener tasks)."""
        deadline = time.monotonic() + timeout_s
        quiet = 0
        while time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            quiet = quiet + 1 if len(self.core.tasks) == 0 else 0
            if quiet >= 3:
                return
        raise AssertionError("answers still running")


@asynccontextmanager
async def open_core(
    redis_client: aioredis.Redis,
    *,
    slack: FakeSlackAPI,
    tgi: FakeTGI,
    moderator: Moderator | None = None,
    limits: LimitSettings | None = None,
    tgi_url: str | None = None,
    tgi_settings: TGISettings | None = None,
    mod_feed: ModFeedQueue | None = None,
    gate_clock: Callable[[], float] = time.time,
    **slack_settings: Any,
) -> AsyncIterator[Core]:
    """The core's parts as `bots.runtime.open_core` wires them, on `redis_client`; the model server is the
    fake TGI, or `tgi_url` (e.g. a closed port); `gate_clock`: the clock of the rate limits' windows (a
    `tests.clock.Clock` keeps a test's messages in one window)."""
    settings = Settings(
        slack=SlackSettings(
            **{
                "bot_token": "xoxb-test-token",
                "signing_secret": SECRET,
                "api_url": slack.url,
                "update_interval_s": 0.5,
                "admin_users": "UADMIN",
                **slack_settings,
            }
        ),
    )
    cfg = tgi_settings or TGISettings()
    moderator = moderator or AllowAll()
    async with build_model_session(cfg) as http:
        generator = TGIClient(http=http, settings=cfg, base_url=tgi_url or tgi.url)
        service_settings = code_settings(
            chat=settings.chat,
            tgi=cfg,
            limits=limits or LimitSettings(user_per_minute=0, channel_per_minute=0),
            # Strict streaming with a short look-ahead: the tests' short answers stream in several updates.
            alignment=AlignmentSettings(stream_lookahead_chars=40, stream_chunk_chars=20),
        )
        service = build_service(
            service_settings,
            redis=redis_client,
            gate=build_gate(service_settings, redis_client, gate_clock),
            generator=generator,
            moderator=moderator,
        )
        yield Core(
            settings=settings,
            service=service,
            redis=redis_client,
            http=http,
            generator=generator,
            moderator=moderator,
            metrics=Metrics(),
            key_prefix="relay",
            tasks=TaskTracker(),
            mod_feeds={} if mod_feed is None else {Platform.SLACK: mod_feed},
        )


@asynccontextmanager
async def http_harness(
    redis_client: aioredis.Redis,
    *,
    moderator: Moderator | None = None,
    limits: LimitSettings | None = None,
    engine: str = "tgi",
    manifest: dict[str, Any] | None = None,
    **core_settings: Any,
) -> AsyncIterator[Harness]:
    """HTTP mode; `core_settings`: `open_core`'s `tgi_url` / `tgi_settings` / `gate_clock`, or Slack
    settings; `engine`: the fake model server stands in for TGI, vLLM or SGLang (and the client speaks its
    dialect); `manifest`: the fake Web API is the app created from it."""
    if engine != "tgi":
        core_settings.setdefault("tgi_settings", TGISettings(backend=engine))  # type: ignore[arg-type]
    async with (
        FakeSlackAPI(manifest=manifest) as slack,
        FakeTGI(dialect=engine) as tgi,
        open_core(
            redis_client, slack=slack, tgi=tgi, moderator=moderator, limits=limits, **core_settings
        ) as core,
    ):
        relay = SlackRelay(core, settings=core.settings.slack, http_mode=True)
        runner, url = await start_http(relay, host="127.0.0.1", port=0)
        try:
            yield Harness(slack, tgi, relay, url, core)
            await core.tasks.drain(5)
        finally:
            await runner.cleanup()
            await stop_serving(relay.mod_log)


@dataclass
class SocketHarness:
    slack: FakeSlackAPI
    tgi: FakeTGI
    core: Core


@asynccontextmanager
async def socket_harness(
    redis_client: aioredis.Redis, *, manifest: dict[str, Any] | None = None, **slack_settings: Any
) -> AsyncIterator[SocketHarness]:
    """`run_slack` in Socket Mode, as `dolphin-relay slack` runs it, connected to the fake's socket; stopped
    (intake closed, answers drained) at the end. `manifest`: the fake Web API is the app created from it."""
    async with (
        FakeSlackAPI(manifest=manifest) as slack,
        FakeTGI() as tgi,
        open_core(
            redis_client, slack=slack, tgi=tgi, app_token=APP_TOKEN, signing_secret=None, **slack_settings
        ) as core,
    ):
        stop = asyncio.Event()
        task = asyncio.create_task(run_slack(core, stop=stop))
        try:
            await slack.wait_connected()
            yield SocketHarness(slack, tgi, core)
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
