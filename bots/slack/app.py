"""The Slack app (slack-bolt `AsyncApp`): Socket Mode with SLACK_APP_TOKEN, else HTTP mode with signature
verification. Every event is acknowledged at once; the answer runs in a tracked task (`core.tasks`).
Slack's retries of an event carry the same `event_id`, which the core's gate deduplicates in Redis — so
several replicas behind a load balancer answer once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web
from slack_bolt.async_app import AsyncApp, AsyncAssistant
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bots.runtime import Core
from bots.slack.sink import SlackReplySink
from bots.slack.translate import (
    MrkdwnRenderer,
    conversation_key,
    event_team,
    is_from_bot,
    reply_thread,
    to_incoming,
)
from core.alignment.audit import AuditEvent
from core.errors import ConfigurationError, RelayError
from core.history import redis_call
from core.models import IncomingMessage, Platform, scoped_user_id
from core.settings import SlackSettings

log = structlog.get_logger(__name__)

HELP = (
    "*/dolphin* commands: `ask QUESTION` · `reset` · `persona set TEXT` · `persona show` · `persona clear` · "
    "`forget-me` · `pause` · `resume` · `help`. Changing a channel (reset, persona set/clear, pause, resume) "
    "is for workspace admins and configured admins."
)
_ADMIN_CACHE_S = 300


class SlackModFeed:
    def __init__(self, client: AsyncWebClient, channel: str) -> None:
        self._client = client
        self._channel = channel

    async def publish(self, event: AuditEvent) -> None:
        if event.platform != "slack":
            return
        link = ""
        if event.thread:
            link = f" — https://slack.com/archives/{event.channel}/p{event.thread.replace('.', '')}"
        excerpt = f"\n> {event.excerpt[:300]}" if event.excerpt else ""
        from bots.slack.translate import escape

        text = (
            f"*{event.action}* ({event.stage}) · category *{event.category}* · layer {event.layer} · "
            f"user {escape(event.user_id.rsplit(':', 1)[-1])}{link}{escape(excerpt)}"
        )
        await self._client.chat_postMessage(channel=self._channel, text=text, unfurl_links=False)


class SlackRelay:
    """The listeners, bound to one core. `app` is the bolt AsyncApp."""

    def __init__(self, core: Core, *, settings: SlackSettings, http_mode: bool) -> None:
        if settings.bot_token is None:
            raise ConfigurationError(
                "SLACK_BOT_TOKEN is not set: install the app (slack/manifest.yml) and copy its Bot User OAuth Token",
                setting="SLACK_BOT_TOKEN",
            )
        if http_mode and settings.signing_secret is None:
            raise ConfigurationError(
                "SLACK_SIGNING_SECRET is required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode): copy it "
                "from Basic Information → App Credentials",
                setting="SLACK_SIGNING_SECRET",
            )
        self.core = core
        self.settings = settings
        self.accepting = True
        self.renderer = MrkdwnRenderer()
        self.client = AsyncWebClient(
            token=settings.bot_token.get_secret_value(),
            base_url=settings.api_url,
            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=3)],
        )
        self.app = AsyncApp(
            client=self.client,
            signing_secret=settings.signing_secret.get_secret_value()
            if settings.signing_secret
            else "unused",
            request_verification_enabled=http_mode,
            process_before_response=False,
        )
        self._admins: dict[tuple[str, str], tuple[float, bool]] = {}
        self._register()
        if settings.mod_log_channel:
            feeds = getattr(core.moderator, "feeds", None)
            if isinstance(feeds, list):
                feeds.append(SlackModFeed(self.client, settings.mod_log_channel))

    # ---------------------------------------------------------------- helpers

    def _thread_key(self, team: str, channel: str, thread_ts: str) -> str:
        return f"{self.core.key_prefix}:v1:slack:thread:{team}:{channel}:{thread_ts}"

    def _allowed(self, channel: str, user: str) -> bool:
        s = self.settings
        return (not s.allowed_channels or channel in s.allowed_channels) and (
            not s.allowed_users or user in s.allowed_users
        )

    async def is_admin(self, team: str, user: str) -> bool:
        if user in self.settings.admin_users:
            return True
        cached = self._admins.get((team, user))
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        try:
            info = await self.client.users_info(user=user)
        except SlackApiError as exc:
            log.warning("slack.users_info_failed", status=getattr(exc.response, "status_code", None))
            return False
        profile = info.get("user") or {}
        admin = bool(profile.get("is_admin") or profile.get("is_owner") or profile.get("is_primary_owner"))
        if len(self._admins) > 10_000:
            self._admins.clear()
        self._admins[(team, user)] = (time.monotonic() + _ADMIN_CACHE_S, admin)
        return admin

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        if not self.accepting:
            if asyncio.iscoroutine(coro):
                coro.close()
            return
        self.core.tasks.spawn(coro, name=name)  # type: ignore[arg-type]

    async def _answer(
        self,
        msg: IncomingMessage,
        *,
        channel: str,
        thread_ts: str | None,
        set_status: Callable[[str], Awaitable[Any]] | None = None,
    ) -> None:
        sink = SlackReplySink(
            client=self.client,
            channel=channel,
            thread_ts=thread_ts,
            update_interval_s=self.settings.update_interval_s,
            renderer=self.renderer,
            set_status=set_status,
        )
        await self.core.service.handle(msg, sink)
        if thread_ts is not None and not msg.is_direct:
            name = self._thread_key(msg.key.space, channel, thread_ts)
            try:
                await redis_call(self.core.redis.set(name, 1, ex=self.core.settings.history.ttl_s))
            except RelayError:
                log.warning("slack.thread_mark_failed")

    # ---------------------------------------------------------------- listeners

    def _register(self) -> None:
        app = self.app

        @app.event("app_mention")
        async def on_mention(body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
            if is_from_bot(event, context.bot_user_id) or event.get("subtype"):
                return
            team = event_team(body, event)
            channel = str(event.get("channel", ""))
            if not self._allowed(channel, str(event.get("user", ""))):
                return
            thread_ts = reply_thread(event)
            msg = to_incoming(
                event,
                team=team,
                event_id=str(body.get("event_id") or event.get("ts")),
                bot_user_id=context.bot_user_id,
            )
            self._spawn(self._answer(msg, channel=channel, thread_ts=thread_ts), f"slack-{msg.message_id}")

        @app.event("message")
        async def on_message(body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
            bot_user_id = context.bot_user_id
            if is_from_bot(event, bot_user_id) or event.get("subtype"):
                return
            text = str(event.get("text", ""))
            if bot_user_id and f"<@{bot_user_id}>" in text and event.get("channel_type") != "im":
                return  # the app_mention event answers it
            team = event_team(body, event)
            channel = str(event.get("channel", ""))
            user = str(event.get("user", ""))
            if not self._allowed(channel, user):
                return
            event_id = str(body.get("event_id") or event.get("ts"))
            if event.get("channel_type") == "im":
                thread_ts = event.get("thread_ts")
                msg = to_incoming(event, team=team, event_id=event_id, bot_user_id=bot_user_id)
                msg = IncomingMessage(
                    key=conversation_key(team, channel, str(thread_ts) if thread_ts else None),
                    message_id=msg.message_id,
                    author_id=msg.author_id,
                    author_name=msg.author_name,
                    text=msg.text,
                    is_direct=True,
                )
                self._spawn(
                    self._answer(msg, channel=channel, thread_ts=str(thread_ts) if thread_ts else None),
                    f"slack-{event_id}",
                )
                return
            thread_ts = event.get("thread_ts")
            if not thread_ts:
                return
            try:
                known = await redis_call(
                    self.core.redis.exists(self._thread_key(team, channel, str(thread_ts)))
                )
            except RelayError:
                log.warning("slack.thread_lookup_failed")
                return
            if known:
                msg = to_incoming(event, team=team, event_id=event_id, bot_user_id=bot_user_id)
                self._spawn(self._answer(msg, channel=channel, thread_ts=str(thread_ts)), f"slack-{event_id}")

        assistant = AsyncAssistant()

        @assistant.thread_started
        async def started(say: Any, set_suggested_prompts: Any) -> None:
            await say("Hi! I'm Dolphin. Ask me anything.")
            prompts = [{"title": p[:75], "message": p} for p in self.settings.suggested_prompts[:4]]
            if prompts:
                await set_suggested_prompts(prompts=prompts)

        @assistant.user_message
        async def assistant_message(
            body: dict[str, Any], payload: dict[str, Any], context: Any, set_status: Any
        ) -> None:
            team = event_team(body, payload)
            channel = str(payload.get("channel", ""))
            thread_ts = str(payload.get("thread_ts") or payload.get("ts"))
            event_id = str(body.get("event_id") or payload.get("ts"))
            msg = to_incoming(
                payload, team=team, event_id=event_id, bot_user_id=context.bot_user_id, thread_ts=thread_ts
            )
            msg = IncomingMessage(
                key=msg.key,
                message_id=msg.message_id,
                author_id=msg.author_id,
                author_name=msg.author_name,
                text=msg.text,
                is_direct=True,
            )
            self._spawn(
                self._answer(msg, channel=channel, thread_ts=thread_ts, set_status=set_status),
                f"slack-{event_id}",
            )

        app.use(assistant)

        @app.command("/dolphin")
        async def dolphin(ack: Any, command: dict[str, Any]) -> None:
            await ack()
            self._spawn(self.run_command(command), f"slack-cmd-{command.get('trigger_id', '')}")

    # ---------------------------------------------------------------- /dolphin

    async def run_command(self, command: dict[str, Any]) -> None:
        team = str(command.get("team_id", ""))
        channel = str(command.get("channel_id", ""))
        user = str(command.get("user_id", ""))
        sub, _, rest = str(command.get("text", "")).strip().partition(" ")
        sub = sub.lower()
        key = conversation_key(team, channel, None)
        service = self.core.service

        async def reply(text: str) -> None:
            await self.client.chat_postEphemeral(channel=channel, user=user, text=text)

        admin_only = {"reset", "pause", "resume"} | (
            {"persona"} if rest.split(" ")[0] in ("set", "clear") else set()
        )
        try:
            if sub in admin_only and not await self.is_admin(team, user):
                await reply(
                    "Only workspace admins (or configured admins) can change this channel's settings."
                )
            elif sub == "ask" and rest.strip():
                if not self._allowed(channel, user):
                    await reply("I'm not enabled here.")
                    return
                msg = IncomingMessage(
                    key=key,
                    message_id=str(command.get("trigger_id") or time.time_ns()),
                    author_id=user,
                    author_name=str(command.get("user_name") or user),
                    text=rest,
                )
                await self._answer(msg, channel=channel, thread_ts=None)
            elif sub == "reset":
                await service.reset(key)
                await reply("History cleared for this channel.")
            elif sub == "persona":
                action, _, text = rest.strip().partition(" ")
                if action == "set" and text.strip():
                    await service.set_persona(key, text)
                    await reply("Persona set.")
                elif action == "clear":
                    await service.set_persona(key, None)
                    await reply("Persona cleared.")
                else:
                    current = await service.get_persona(key)
                    await reply(f"Persona: {current}" if current else "No persona set (the default applies).")
            elif sub == "forget-me":
                removed = await service.forget_user(scoped_user_id(Platform.SLACK, team, user))
                await reply(f"Done: {removed} stored message(s) of yours were deleted.")
            elif sub == "pause":
                await service.pause(key)
                await reply("Paused: I won't answer in this channel.")
            elif sub == "resume":
                await service.resume(key)
                await reply("Resumed.")
            else:
                await reply(HELP)
        except RelayError as exc:
            await reply(exc.notice)


async def start_http(app: AsyncApp, *, host: str, port: int) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(
        app.web_app(path="/slack/events", port=port), handle_signals=False, shutdown_timeout=5
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://{host}:{bound}/slack/events"


async def run_slack(core: Core, *, stop: asyncio.Event, port: int = 3000, host: str = "0.0.0.0") -> None:
    settings = core.settings.slack
    socket_mode = settings.app_token is not None
    relay = SlackRelay(core, settings=settings, http_mode=not socket_mode)
    handler: Any = None
    runner: web.AppRunner | None = None
    try:
        if socket_mode:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            assert settings.app_token is not None
            handler = AsyncSocketModeHandler(relay.app, settings.app_token.get_secret_value())
            await handler.connect_async()
            log.info("slack.socket_mode_connected")
        else:
            runner, url = await start_http(relay.app, host=host, port=port)
            log.info("slack.http_listening", url=url)
        await stop.wait()
    finally:
        relay.accepting = False
        if runner is not None:
            await runner.cleanup()
        if handler is not None:
            await handler.close_async()
        await core.tasks.drain(core.settings.runtime.shutdown_grace_s)
