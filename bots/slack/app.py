"""The Slack app (slack-bolt `AsyncApp`): Socket Mode with SLACK_APP_TOKEN, else HTTP mode with signature
verification. `run_slack(core, stop=…)` is what `dolphin-relay slack` runs.

- Start: the tokens are checked with Slack first (`auth.test`, and `apps.connections.open` in Socket Mode),
  so a wrong or revoked token ends start-up with one line naming the setting instead of a retry loop.
- Intake: every event is acknowledged at once (bolt acks before the listener runs); the work runs in a
  tracked task (`core.tasks`), drained on shutdown. Slack's retries and Socket Mode redeliveries carry the
  same `event_id`, which the core's gate claims with `SET NX` in Redis: several replicas answer once.
  What cannot be handled (not JSON, a field missing or of the wrong type) is dropped before bolt sees it,
  with one `slack.event_dropped` warning (bots/slack/intake.py, bots/slack/payloads.py).
- Direct messages (docs/slack.md): with the agent messaging experience (`agent_view`, SLACK_MESSAGING_VIEW
  `agent`), a member who opens the DM is greeted once (`core.greeting.FirstVisits`, shared by replicas) and
  offered the suggested prompts, without a `thread_ts` as agent view requires; each top-level message
  starts a thread of its own, answered there under a status with rotating loading messages, and each
  thread is a conversation of its own. `app_context_changed` (what the member is looking at) is
  acknowledged and not used: the model sees only what a member writes to it. Installs still on
  `assistant_view` (`assistant`) keep bolt's assistant middleware: a greeting and prompts atop each
  assistant thread, top-level DMs one conversation answered at the top level.
- Conversations: one per thread in channels, keyed by the installation's workspace (not the poster's team:
  shared channels), channel and thread. The threads the bot takes part in are kept by the core
  (core/threads.py `ThreadIndex`, a sorted set per channel in Redis): follow-ups there need no mention,
  `/dolphin reset` clears them all, and the channel's persona (set with `/dolphin persona set`) applies to
  every one of them.
- Shutdown: stop intake (close the socket / the HTTP listener: Slack redelivers elsewhere), drain the
  answers in flight within RUNTIME_SHUTDOWN_GRACE_S, then the caller closes the clients.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import structlog
from aiohttp import web
from slack_bolt.async_app import AsyncApp, AsyncAssistant
from slack_sdk.errors import SlackApiError

from bots.runtime import Core
from bots.slack.commands import NOTATION, SlashCommand
from bots.slack.feed import SlackModFeed
from bots.slack.intake import EVENTS_PATH, CheckedSocketModeHandler, http_app
from bots.slack.report import FEEDBACK_ACTION, is_praise, reply_place, to_report
from bots.slack.sink import SlackTransport, answer_budget, slack_error
from bots.slack.start import build_client, check_tokens, open_socket_url, verify
from bots.slack.translate import (
    MrkdwnRenderer,
    access_lists,
    addressed_to_others,
    installation_space,
    is_direct,
    is_from_bot,
    mentioned_users,
    place,
    reply_thread,
    to_incoming,
)
from bots.slack.users import UserDirectory
from bots.slack.welcome import Welcome, status_shower
from core.alignment.language import detect_language
from core.commands import Commands
from core.errors import ConfigurationError, RelayError
from core.health import bind_problem
from core.keys import KeySpace
from core.models import HandleResult, IncomingMessage, Outcome, Platform, ReplySink
from core.reply import StreamingReply
from core.settings import SlackSettings

log = structlog.get_logger(__name__)


# ------------------------------------------------------------------------------------------ the app


class SlackRelay:
    """The listeners, bound to one core. `app` is the bolt AsyncApp."""

    def __init__(self, core: Core, *, settings: SlackSettings, http_mode: bool) -> None:
        check_tokens(settings, http_mode=http_mode)
        self.core = core
        self.settings = settings
        self.accepting = True
        self.renderer = MrkdwnRenderer()
        self.access = access_lists(settings)
        self.slash = SlashCommand(self, commands=Commands(service=core.service, notation=NOTATION))
        self.client = build_client(settings, metrics=core.metrics)
        self.keys = KeySpace(core.key_prefix)
        self.users = UserDirectory(self.client)
        self.threads = core.threads(Platform.SLACK)
        self.welcome = Welcome(
            visits=core.first_visits(Platform.SLACK),
            users=self.users,
            bot_name=self.bot_name,
            agent_view=self.agent_view,
            prompts=settings.suggested_prompts,
        )
        self.app = AsyncApp(
            client=self.client,
            # In Socket Mode nothing is signed (the socket is authenticated) and verification is off.
            signing_secret=settings.signing_secret.get_secret_value() if settings.signing_secret else "",
            request_verification_enabled=http_mode,
            process_before_response=False,
        )
        self._register()
        self.mod_log: asyncio.Task[None] | None = None  # serves the core's feed for the mod-log channel
        if settings.mod_log_channel:
            poster = SlackModFeed(
                self.client,
                settings.mod_log_channel,
                spawn=lambda coro: self.core.tasks.spawn(coro, name="slack-modfeed"),
            )
            self.mod_log = core.serve_mod_log(Platform.SLACK, poster.publish)

    @property
    def bot_name(self) -> str:
        return self.core.settings.chat.bot_name

    @property
    def agent_view(self) -> bool:
        return self.settings.messaging_view == "agent"

    # ---------------------------------------------------------------- access

    def allowed(self, channel: str, user: str, *, direct: bool) -> bool:
        return self.access.permits(place(channel, user, direct=direct))

    async def is_admin(self, user: str) -> bool:
        if self.access.is_moderator(user):  # configured: no users.info needed
            return True
        found = await self.users.get(user)
        return found is not None and self.access.is_moderator(user, platform_admin=found.admin)

    # ---------------------------------------------------------------- answering

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        if not self.accepting:
            coro.close()
            return
        self.core.tasks.spawn(coro, name=name)

    async def _incoming(
        self,
        body: dict[str, Any],
        event: dict[str, Any],
        *,
        bot_user_id: str | None,
        thread_ts: str | None = None,
        direct: bool | None = None,
    ) -> IncomingMessage:
        text = str(event.get("text", ""))
        author = str(event.get("user", ""))
        names = await self.users.names([author, *mentioned_users(text)])
        # Moderators may be exempt from budgets (BUDGET_MODERATORS_EXEMPT): asked only when budgets are set
        # (the author's users.info is cached by `names` just above).
        moderator = self.core.service.budgets_enabled and await self.is_admin(author)
        return to_incoming(
            event,
            team=installation_space(body),
            event_id=str(body.get("event_id") or f"{event.get('channel')}:{event.get('ts')}"),
            bot_user_id=bot_user_id,
            names=names,
            thread_ts=thread_ts,
            direct=direct,
            can_administer=moderator,
        )

    async def answer(
        self,
        msg: IncomingMessage,
        *,
        channel: str,
        thread_ts: str | None,
        set_status: Callable[..., Awaitable[Any]] | None = None,
        sink: ReplySink | None = None,
    ) -> HandleResult:
        show_status = None if set_status is None else status_shower(set_status, detect_language(msg.text))
        sink = sink or StreamingReply(
            self.transport(channel, thread_ts, show_status=show_status),
            notice_gate=self.core.notices.gate(msg),  # cooldown notices once per cooldown, as on Discord
            budget=answer_budget(
                self.core.write_budget,
                keys=self.keys,
                settings=self.settings,
                team=msg.key.space,
                channel=channel,
            ),
        )
        result = await self.core.service.handle(msg, sink)
        if thread_ts is not None and result.outcome not in (Outcome.DUPLICATE, Outcome.IGNORED):
            try:
                await self.threads.add(msg.key.space, channel, thread_ts)
            except RelayError:
                log.warning("slack.thread_mark_failed")
        return result

    def transport(
        self,
        channel: str,
        thread_ts: str | None,
        *,
        show_status: Callable[[], Awaitable[object]] | None = None,
    ) -> SlackTransport:
        return SlackTransport(
            client=self.client,
            channel=channel,
            thread_ts=thread_ts,
            update_interval_s=self.settings.update_interval_s,
            renderer=self.renderer,
            show_status=show_status,
            feedback=self.settings.feedback_buttons,
        )

    async def on_mention(self, body: dict[str, Any], event: dict[str, Any], bot_user_id: str | None) -> None:
        channel, user = str(event.get("channel", "")), str(event.get("user", ""))
        direct = is_direct(event)
        if not self.allowed(channel, user, direct=direct):
            return
        thread_ts = reply_thread(event)
        msg = await self._incoming(body, event, bot_user_id=bot_user_id, thread_ts=thread_ts, direct=direct)
        await self.answer(msg, channel=channel, thread_ts=thread_ts)

    async def on_message(
        self,
        body: dict[str, Any],
        event: dict[str, Any],
        bot_user_id: str | None,
        set_status: Callable[..., Awaitable[Any]] | None = None,
    ) -> None:
        channel, user = str(event.get("channel", "")), str(event.get("user", ""))
        text = str(event.get("text", ""))
        thread_ts = event.get("thread_ts")
        if is_direct(event):
            if not self.allowed(channel, user, direct=True):
                return
            if thread_ts is None and self.agent_view:  # a new message starts a thread of its own
                thread_ts = event.get("ts")
            else:
                set_status = None  # answered at the DM's top level: no thread to show a status in
            thread = str(thread_ts) if thread_ts else None
            msg = await self._incoming(body, event, bot_user_id=bot_user_id, thread_ts=thread, direct=True)
            await self.answer(msg, channel=channel, thread_ts=thread, set_status=set_status)
            return
        if not thread_ts or addressed_to_others(text, bot_user_id):
            return
        team = installation_space(body)
        try:
            known = await self.threads.contains(team, channel, str(thread_ts))
        except RelayError:
            log.warning("slack.thread_lookup_failed")
            return
        if not known or not self.allowed(channel, user, direct=False):
            return
        msg = await self._incoming(body, event, bot_user_id=bot_user_id, thread_ts=str(thread_ts))
        await self.answer(msg, channel=channel, thread_ts=str(thread_ts))

    async def on_dm_opened(
        self,
        body: dict[str, Any],
        event: dict[str, Any],
        say: Callable[..., Awaitable[Any]],
        set_suggested_prompts: Callable[..., Awaitable[Any]],
    ) -> None:
        """A member opened the app's DM (`app_home_opened`, tab `messages`)."""
        channel, user = str(event.get("channel", "")), str(event.get("user", ""))
        if self.allowed(channel, user, direct=True):
            await self.welcome.dm_opened(installation_space(body), user, say, set_suggested_prompts)

    async def on_assistant_message(
        self,
        body: dict[str, Any],
        payload: dict[str, Any],
        bot_user_id: str | None,
        set_status: Callable[..., Awaitable[Any]],
    ) -> None:
        channel, user = str(payload.get("channel", "")), str(payload.get("user", ""))
        if not self.allowed(channel, user, direct=True):
            return
        thread_ts = str(payload.get("thread_ts") or payload.get("ts"))
        msg = await self._incoming(body, payload, bot_user_id=bot_user_id, thread_ts=thread_ts, direct=True)
        await self.answer(msg, channel=channel, thread_ts=thread_ts, set_status=set_status)

    async def on_feedback(self, body: dict[str, Any], bot_user_id: str | None) -> None:
        """A click on an answer's feedback buttons (bots/slack/report.py): the negative one reports the
        answer; the member is thanked privately (or told why not) in the answer's thread, in the language of
        their Slack client."""
        report = to_report(body, bot_user_id=bot_user_id)
        if report is None and not is_praise(body):
            return
        channel, user, thread_ts = reply_place(body)
        language = await self.welcome.language(user)
        if report is not None:
            text = (await self.core.reports.report(report, language=language)).text
        else:
            text = self.core.reports.praise(Platform.SLACK, language=language)
        try:
            await self.client.chat_postEphemeral(channel=channel, user=user, text=text, thread_ts=thread_ts)
        except SlackApiError as exc:
            log.warning("slack.feedback_reply_failed", error=slack_error(exc))

    # ---------------------------------------------------------------- listeners

    def _register(self) -> None:
        app = self.app

        @app.event("app_mention")
        async def mention(body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
            if is_from_bot(event, context.bot_user_id):
                return
            self._spawn(self.on_mention(body, event, context.bot_user_id), f"slack-{body.get('event_id')}")

        @app.event("message")
        async def message(body: dict[str, Any], event: dict[str, Any], context: Any, set_status: Any) -> None:
            bot_user_id = context.bot_user_id
            if is_from_bot(event, bot_user_id):
                return
            if not is_direct(event) and bot_user_id and f"<@{bot_user_id}>" in str(event.get("text", "")):
                return  # the app_mention event for the same message answers it
            self._spawn(
                self.on_message(body, event, bot_user_id, set_status), f"slack-{body.get('event_id')}"
            )

        @app.event("app_home_opened")
        async def home_opened(
            body: dict[str, Any], event: dict[str, Any], say: Any, set_suggested_prompts: Any
        ) -> None:
            if event.get("tab") != "messages" or set_suggested_prompts is None:
                return  # the Home tab (disabled in the manifests)
            self._spawn(
                self.on_dm_opened(body, event, say, set_suggested_prompts), f"slack-{body.get('event_id')}"
            )

        @app.event("app_context_changed")
        async def context_changed(event: dict[str, Any]) -> None:
            # What the member is looking at in Slack (agent view). Acknowledged and not used: the model sees
            # only what a member writes to it, never a channel on their behalf (docs/slack.md).
            entities = (event.get("context") or {}).get("entities") or []
            log.debug("slack.context_changed", entities=len(entities) if isinstance(entities, list) else 0)

        assistant = AsyncAssistant()

        @assistant.thread_started
        async def started(say: Any, set_suggested_prompts: Any, payload: dict[str, Any]) -> None:
            user = str((payload.get("assistant_thread") or {}).get("user_id", ""))
            if not self.allowed("", user, direct=True):
                await say("Sorry, I'm not enabled for you here.")
                return
            await self.welcome.thread_started(user, say, set_suggested_prompts)

        @assistant.user_message
        async def assistant_message(
            body: dict[str, Any], payload: dict[str, Any], context: Any, set_status: Any
        ) -> None:
            if is_from_bot(payload, context.bot_user_id):
                return
            self._spawn(
                self.on_assistant_message(body, payload, context.bot_user_id, set_status),
                f"slack-{body.get('event_id')}",
            )

        app.use(assistant)

        @app.action(FEEDBACK_ACTION)
        async def feedback(ack: Any, body: dict[str, Any], context: Any) -> None:
            await ack()
            self._spawn(
                self.on_feedback(body, context.bot_user_id), f"slack-feedback-{body.get('trigger_id')}"
            )

        @app.command("/dolphin")
        async def dolphin(ack: Any, command: dict[str, Any], respond: Any) -> None:
            await ack()
            self._spawn(
                self.slash.run_command(command, respond), f"slack-cmd-{command.get('trigger_id', '')}"
            )


# ------------------------------------------------------------------------------------------ running


async def start_http(relay: SlackRelay, *, host: str, port: int) -> tuple[web.AppRunner, str]:
    assert relay.settings.signing_secret is not None  # SlackRelay refuses HTTP mode without it
    web_app = http_app(relay.app, signing_secret=relay.settings.signing_secret.get_secret_value())
    runner = web.AppRunner(web_app, handle_signals=False, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigurationError(
            f"--port {port}: cannot listen on {host}:{port} ({bind_problem(exc)}): give `dolphin-relay slack` "
            "a free --port (and point your proxy or Slack's request URL at it)",
            setting="--port",
        ) from None
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://{host}:{bound}{EVENTS_PATH}"


async def run_slack(core: Core, *, stop: asyncio.Event, port: int = 3000, host: str = "0.0.0.0") -> None:
    settings = core.settings.slack
    socket_mode = settings.app_token is not None
    relay = SlackRelay(core, settings=settings, http_mode=not socket_mode)
    handler: Any = None
    runner: web.AppRunner | None = None
    try:
        await verify(relay.client, settings)
        if socket_mode:
            assert settings.app_token is not None
            app_token = settings.app_token.get_secret_value()
            url = await open_socket_url(relay.client, settings, app_token)
            handler = CheckedSocketModeHandler(relay.app, app_token)
            handler.client.wss_uri = url  # checked above; connect() uses it instead of asking again
            await handler.connect_async()
            log.info("slack.socket_mode_connected")
        else:
            runner, url = await start_http(relay, host=host, port=port)
            log.info("slack.http_listening", url=url)
        await stop.wait()
    finally:
        # Stop intake first: Slack redelivers what this process no longer acknowledges (to another replica
        # or connection); what was acknowledged already is in core.tasks and gets the grace period.
        if handler is not None:
            await handler.close_async()
        if runner is not None:
            await runner.cleanup()
        relay.accepting = False
        await core.wind_down(relay.mod_log)
