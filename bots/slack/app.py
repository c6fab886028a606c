"""The Slack app (slack-bolt `AsyncApp`): Socket Mode with SLACK_APP_TOKEN, else HTTP mode with signature
verification. `run_slack(core, stop=…)` is what `dolphin-relay slack` runs.

- Start: the tokens are checked with Slack first (`auth.test`, and `apps.connections.open` in Socket Mode),
  so a wrong or revoked token ends start-up with one line naming the setting instead of a retry loop.
- Intake: every event is acknowledged at once (bolt acks before the listener runs); the work runs in a
  tracked task (`core.tasks`), drained on shutdown. Slack's retries and Socket Mode redeliveries carry the
  same `event_id`, which the core's gate claims with `SET NX` in Redis: several replicas answer once.
  What cannot be handled (not JSON, a field missing or of the wrong type) is dropped before bolt sees it,
  with one `slack.event_dropped` warning (bots/slack/intake.py, bots/slack/payloads.py).
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
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog
from aiohttp import web
from slack_bolt.async_app import AsyncApp, AsyncAssistant
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    async_default_handlers,
)
from slack_sdk.web.async_client import AsyncWebClient

from bots.runtime import Core
from bots.slack.intake import EVENTS_PATH, CheckedSocketModeHandler, http_app
from bots.slack.sink import SlackTransport, slack_error
from bots.slack.translate import (
    MrkdwnRenderer,
    access_lists,
    addressed_to_others,
    clean_text,
    conversation_key,
    escape,
    installation_space,
    is_direct,
    is_from_bot,
    mentioned_users,
    place,
    reply_thread,
    to_incoming,
)
from core.alignment.audit import AuditEvent, stop_serving
from core.commands import COMMAND_FAILED, NOT_ENABLED, PAUSED, CommandReply, Commands, Notation, refusal
from core.errors import ConfigurationError, RelayError
from core.models import HandleResult, IncomingMessage, Outcome, Platform, ReplySink
from core.reply import StreamingReply
from core.settings import SlackSettings

log = structlog.get_logger(__name__)

HELP = (
    "*/dolphin* commands: `ask QUESTION` · `persona show` · `forget-me` · `help` — and, for workspace admins "
    "and configured admins: `reset` · `persona set TEXT` · `persona clear` · `pause` · `resume` (they change "
    "this channel for everyone; in a direct message with me, `reset` and `persona` are yours)."
)
CANNOT_POST = (
    "I can't post in this conversation. Invite me first (`/invite @{name}`), or ask me in a direct message."
)

# The core words the command replies (core/commands.py); this is how Slack writes what they name.
NOTATION = Notation(
    moderators="command.moderators.slack",
    command=lambda name: f"`/dolphin {name}`",
    user=lambda user_id: f"<@{user_id}>",
    quote=lambda text: "".join(f"\n> {escape(line)}" for line in text.splitlines() if line.strip()),
)
NOT_ADMIN = refusal(NOTATION)
_USER_CACHE_S = 300.0
_USER_FAILURE_CACHE_S = 10.0  # a failed lookup: the id for a name, not an admin, for a few seconds
_USER_CACHE_MAX = 10_000
_CANNOT_POST_ERRORS = {"not_in_channel", "channel_not_found", "is_archived", "restricted_action"}
_BAD_TOKEN_ERRORS = {
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "not_allowed_token_type",
}


def build_client(settings: SlackSettings) -> AsyncWebClient:
    """The one Web API client of the app (bolt's listeners and the Socket Mode client use it too): base URL
    SLACK_API_URL; slack_sdk's default connection-error retries plus 429s waited out (`Retry-After`)."""
    assert settings.bot_token is not None
    return AsyncWebClient(
        token=settings.bot_token.get_secret_value(),
        base_url=settings.api_url,
        retry_handlers=[*async_default_handlers(), AsyncRateLimitErrorRetryHandler(max_retry_count=3)],
    )


# ------------------------------------------------------------------------------------------ helpers


@dataclass(frozen=True, slots=True)
class SlackUser:
    id: str
    name: str
    admin: bool  # workspace admin, owner or primary owner, and a member of this workspace


class UserDirectory:
    """`users.info`, cached for five minutes: display names (the model sees "name: text"; mentions become
    @name) and whether someone is a workspace admin. Failures fall back to the id and "not an admin", and
    are remembered for a few seconds only.

    Single flight: concurrent lookups of one user share one `users.info` call (a member's burst of 200
    messages made up to 200 calls for the same user, each a request against Slack's rate limit). The cache
    holds at most `max_users`, the least recently used go first."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_users: int = _USER_CACHE_MAX,
    ) -> None:
        self._client = client
        self._clock = clock
        self._max_users = max_users
        self._cache: OrderedDict[str, tuple[float, SlackUser | None]] = OrderedDict()
        self._pending: dict[str, asyncio.Task[SlackUser | None]] = {}

    async def get(self, user_id: str) -> SlackUser | None:
        cached = self._cache.get(user_id)
        if cached is not None and cached[0] > self._clock():
            self._cache.move_to_end(user_id)
            return cached[1]
        lookup = self._pending.get(user_id)
        if lookup is None:
            lookup = asyncio.get_running_loop().create_task(self._lookup(user_id), name="slack-users-info")
            self._pending[user_id] = lookup
            lookup.add_done_callback(lambda _: self._pending.pop(user_id, None))
        # shielded: one waiter cancelled (its answer's task) does not cancel the lookup the others share
        return await asyncio.shield(lookup)

    async def _lookup(self, user_id: str) -> SlackUser | None:
        user: SlackUser | None = None
        ttl = _USER_FAILURE_CACHE_S
        try:
            info = await self._client.users_info(user=user_id)
        except SlackApiError as exc:
            log.warning("slack.users_info_failed", error=slack_error(exc))
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("slack.users_info_failed", error=type(exc).__name__)
        else:
            raw = info.get("user") or {}
            profile = raw.get("profile") or {}
            name = (
                profile.get("display_name")
                or profile.get("real_name")
                or raw.get("real_name")
                or raw.get("name")
                or user_id
            )
            admin = bool(raw.get("is_admin") or raw.get("is_owner") or raw.get("is_primary_owner"))
            user = SlackUser(user_id, str(name), admin and not raw.get("is_stranger"))
            ttl = _USER_CACHE_S
        self._cache[user_id] = (self._clock() + ttl, user)
        self._cache.move_to_end(user_id)
        while len(self._cache) > self._max_users:
            self._cache.popitem(last=False)
        return user

    async def names(self, user_ids: Iterable[str]) -> dict[str, str]:
        ids = list(dict.fromkeys(u for u in user_ids if u))
        users = await asyncio.gather(*(self.get(u) for u in ids))
        return {u.id: u.name for u in users if u is not None}


class SlackModFeed:
    """Posts moderation events to SLACK_MOD_LOG_CHANNEL with a permalink to the thread, in the background
    (a moderators' channel never slows an answer down), escaped like every other text."""

    def __init__(
        self, client: AsyncWebClient, channel: str, *, spawn: Callable[[Coroutine[Any, Any, None]], Any]
    ) -> None:
        self._client = client
        self._channel = channel
        self._spawn = spawn

    async def publish(self, event: AuditEvent) -> None:
        """One event of this platform's `ModFeedQueue` (it holds this platform's events only)."""
        self._spawn(self.post(event))

    async def post(self, event: AuditEvent) -> None:
        where = "a direct message" if event.channel.startswith("D") else f"<#{escape(event.channel)}>"
        link = ""
        if event.thread and event.channel:
            try:
                found = await self._client.chat_getPermalink(channel=event.channel, message_ts=event.thread)
                link = f" · <{str(found['permalink']).replace('&', '&amp;')}|open the thread>"
            except SlackApiError as exc:
                log.info("slack.permalink_failed", error=slack_error(exc))
        user = event.user_id.rsplit(":", 1)[-1]
        category = " ".join(part for part in (event.category, event.category_name) if part) or "-"
        language = f" · language {escape(event.language)}" if event.language else ""
        lines = [
            f"*{escape(event.action)}* ({escape(event.stage)}) · category *{escape(category)}* · "
            f"layer {escape(event.layer or '-')}{language}",
            f"{escape(event.author_name)} (`{escape(user)}`) in {where}{link}",
        ]
        lines += [f"> {escape(line)}" for line in event.excerpt[:300].splitlines() if line.strip()]
        try:
            await self._client.chat_postMessage(
                channel=self._channel, text="\n".join(lines), unfurl_links=False, unfurl_media=False
            )
        except SlackApiError as exc:
            log.warning("slack.modfeed_failed", error=slack_error(exc))


class _AskSink(StreamingReply[str]):
    """`/dolphin ask`: the question is shown in the thread's first message only once it has passed the gate
    and the input check (that is when the core calls `typing()`)."""

    def __init__(self, transport: SlackTransport, *, reveal: Callable[[], Awaitable[None]]) -> None:
        super().__init__(transport)
        self._reveal = reveal
        self.revealed = False

    async def typing(self) -> None:
        try:
            await self._reveal()
            self.revealed = True
        except SlackApiError as exc:
            log.warning("slack.ask_reveal_failed", error=slack_error(exc))
        await super().typing()


# ------------------------------------------------------------------------------------------ the app


class SlackRelay:
    """The listeners, bound to one core. `app` is the bolt AsyncApp."""

    def __init__(self, core: Core, *, settings: SlackSettings, http_mode: bool) -> None:
        if settings.bot_token is None:
            raise ConfigurationError(
                "SLACK_BOT_TOKEN is not set: install the app (slack/manifest.yml) and copy its Bot User OAuth "
                "Token (xoxb-…) from OAuth & Permissions",
                setting="SLACK_BOT_TOKEN",
            )
        if not settings.bot_token.get_secret_value().startswith(("xoxb-", "xoxe.xoxb-")):
            raise ConfigurationError(
                "SLACK_BOT_TOKEN is not a bot token: copy the Bot User OAuth Token (it starts with xoxb-) from "
                "OAuth & Permissions",
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
        self.access = access_lists(settings)
        self.commands = Commands(service=core.service, notation=NOTATION)
        self.client = build_client(settings)
        self.users = UserDirectory(self.client)
        self.threads = core.threads(Platform.SLACK)
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
            feed = core.mod_feed(Platform.SLACK)
            if feed is None:
                log.warning("slack.mod_log_unavailable", reason="moderation is disabled")
            else:
                poster = SlackModFeed(
                    self.client,
                    settings.mod_log_channel,
                    spawn=lambda coro: self.core.tasks.spawn(coro, name="slack-modfeed"),
                )
                self.mod_log = asyncio.create_task(feed.serve(poster.publish), name="mod-log-slack")

    @property
    def bot_name(self) -> str:
        return self.core.settings.chat.bot_name

    # ---------------------------------------------------------------- start-up

    async def verify(self) -> dict[str, Any]:
        """`auth.test` with the bot token: a rejected token or an unreachable SLACK_API_URL ends start-up
        with one line that names the setting."""
        try:
            auth = await self.client.auth_test()
        except SlackApiError as exc:
            error = slack_error(exc)
            raise ConfigurationError(
                f"Slack rejected SLACK_BOT_TOKEN ({error}): copy the Bot User OAuth Token (xoxb-…) from OAuth & "
                "Permissions, and reinstall the app if you changed its scopes",
                setting="SLACK_BOT_TOKEN",
            ) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise self._unreachable(exc) from None
        data = dict(auth.data) if isinstance(auth.data, dict) else {}
        log.info("slack.authenticated", team=data.get("team_id"), bot_user=data.get("user_id"))
        return data

    def _unreachable(self, exc: BaseException) -> ConfigurationError:
        return ConfigurationError(
            f"cannot reach the Slack Web API at {self.settings.api_url} ({type(exc).__name__}): check the "
            "network or SLACK_API_URL",
            setting="SLACK_API_URL",
        )

    async def open_socket_url(self, app_token: str) -> str:
        """`apps.connections.open` once with the app token: a wrong token fails here, with one line, instead
        of slack_sdk's endless reconnect loop."""
        if not app_token.startswith("xapp-"):
            raise ConfigurationError(
                "SLACK_APP_TOKEN is not an app-level token: generate one (it starts with xapp-) with the "
                "connections:write scope under Basic Information → App-Level Tokens",
                setting="SLACK_APP_TOKEN",
            )
        try:
            opened = await self.client.apps_connections_open(app_token=app_token)
        except SlackApiError as exc:
            raise ConfigurationError(
                f"Slack refused a Socket Mode connection for SLACK_APP_TOKEN ({slack_error(exc)}): generate an "
                "app-level token with connections:write (Basic Information → App-Level Tokens) and turn on "
                "Settings → Socket Mode",
                setting="SLACK_APP_TOKEN",
            ) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise self._unreachable(exc) from None
        return str(opened["url"])

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
        names = await self.users.names([str(event.get("user", "")), *mentioned_users(text)])
        return to_incoming(
            event,
            team=installation_space(body),
            event_id=str(body.get("event_id") or f"{event.get('channel')}:{event.get('ts')}"),
            bot_user_id=bot_user_id,
            names=names,
            thread_ts=thread_ts,
            direct=direct,
        )

    async def answer(
        self,
        msg: IncomingMessage,
        *,
        channel: str,
        thread_ts: str | None,
        set_status: Callable[[str], Awaitable[Any]] | None = None,
        sink: ReplySink | None = None,
    ) -> HandleResult:
        sink = sink or StreamingReply(
            self._transport(channel, thread_ts, set_status=set_status),
            notice_gate=self.core.notices.gate(msg),  # cooldown notices once per cooldown, as on Discord
        )
        result = await self.core.service.handle(msg, sink)
        if thread_ts is not None and result.outcome not in (Outcome.DUPLICATE, Outcome.IGNORED):
            try:
                await self.threads.add(msg.key.space, channel, thread_ts)
            except RelayError:
                log.warning("slack.thread_mark_failed")
        return result

    def _transport(
        self,
        channel: str,
        thread_ts: str | None,
        *,
        set_status: Callable[[str], Awaitable[Any]] | None = None,
    ) -> SlackTransport:
        return SlackTransport(
            client=self.client,
            channel=channel,
            thread_ts=thread_ts,
            update_interval_s=self.settings.update_interval_s,
            renderer=self.renderer,
            set_status=set_status,
        )

    async def on_mention(self, body: dict[str, Any], event: dict[str, Any], bot_user_id: str | None) -> None:
        channel, user = str(event.get("channel", "")), str(event.get("user", ""))
        direct = is_direct(event)
        if not self.allowed(channel, user, direct=direct):
            return
        thread_ts = reply_thread(event)
        msg = await self._incoming(body, event, bot_user_id=bot_user_id, thread_ts=thread_ts, direct=direct)
        await self.answer(msg, channel=channel, thread_ts=thread_ts)

    async def on_message(self, body: dict[str, Any], event: dict[str, Any], bot_user_id: str | None) -> None:
        channel, user = str(event.get("channel", "")), str(event.get("user", ""))
        text = str(event.get("text", ""))
        thread_ts = event.get("thread_ts")
        if is_direct(event):
            if not self.allowed(channel, user, direct=True):
                return
            msg = await self._incoming(body, event, bot_user_id=bot_user_id, direct=True)
            await self.answer(msg, channel=channel, thread_ts=str(thread_ts) if thread_ts else None)
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

    async def on_assistant_message(
        self,
        body: dict[str, Any],
        payload: dict[str, Any],
        bot_user_id: str | None,
        set_status: Callable[[str], Awaitable[Any]],
    ) -> None:
        channel, user = str(payload.get("channel", "")), str(payload.get("user", ""))
        if not self.allowed(channel, user, direct=True):
            return
        thread_ts = str(payload.get("thread_ts") or payload.get("ts"))
        msg = await self._incoming(body, payload, bot_user_id=bot_user_id, thread_ts=thread_ts, direct=True)
        await self.answer(msg, channel=channel, thread_ts=thread_ts, set_status=set_status)

    # ---------------------------------------------------------------- listeners

    def _register(self) -> None:
        app = self.app

        @app.event("app_mention")
        async def mention(body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
            if is_from_bot(event, context.bot_user_id):
                return
            self._spawn(self.on_mention(body, event, context.bot_user_id), f"slack-{body.get('event_id')}")

        @app.event("message")
        async def message(body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
            bot_user_id = context.bot_user_id
            if is_from_bot(event, bot_user_id):
                return
            if not is_direct(event) and bot_user_id and f"<@{bot_user_id}>" in str(event.get("text", "")):
                return  # the app_mention event for the same message answers it
            self._spawn(self.on_message(body, event, bot_user_id), f"slack-{body.get('event_id')}")

        assistant = AsyncAssistant()

        @assistant.thread_started
        async def started(say: Any, set_suggested_prompts: Any, payload: dict[str, Any]) -> None:
            user = str((payload.get("assistant_thread") or {}).get("user_id", ""))
            if not self.allowed("", user, direct=True):
                await say("Sorry, I'm not enabled for you here.")
                return
            await say(f"Hi! I'm {self.bot_name}. Ask me anything.")
            prompts = [{"title": p[:75], "message": p} for p in self.settings.suggested_prompts[:4]]
            if prompts:
                await set_suggested_prompts(prompts=prompts)

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

        @app.command("/dolphin")
        async def dolphin(ack: Any, command: dict[str, Any], respond: Any) -> None:
            await ack()
            self._spawn(self.run_command(command, respond), f"slack-cmd-{command.get('trigger_id', '')}")

    # ---------------------------------------------------------------- /dolphin

    async def run_command(self, command: dict[str, Any], respond: Callable[..., Awaitable[Any]]) -> None:
        """One slash command; every outcome is an ephemeral reply through the command's response_url (which
        works in any conversation, even one the bot is not in)."""

        async def reply(text: str) -> None:
            try:
                await respond(text=text, response_type="ephemeral")
            except Exception as exc:  # the response_url expired or is unreachable: nothing more to do
                log.warning("slack.respond_failed", error=type(exc).__name__)

        try:
            await self._command(command, reply)
        except RelayError as exc:
            await reply(exc.notice)
        except SlackApiError as exc:
            log.warning("slack.command_failed", error=slack_error(exc))
            await reply(COMMAND_FAILED)
        except Exception as exc:  # the command's boundary: logged with context, a fixed notice
            log.exception("slack.command_error", error=type(exc).__name__)
            await reply(COMMAND_FAILED)

    async def _command(self, command: dict[str, Any], reply: Callable[[str], Awaitable[None]]) -> None:
        """`/dolphin SUBCOMMAND …` mapped to core/commands.py, which authorizes and words the reply."""
        team = installation_space(command)
        channel = str(command.get("channel_id", ""))
        user = str(command.get("user_id", ""))
        sub, _, rest = str(command.get("text", "")).strip().partition(" ")
        sub, rest = sub.lower(), rest.strip()
        action, _, persona_text = rest.partition(" ")
        if sub == "ask" and rest:
            await self._ask(command, team=team, channel=channel, user=user, question=rest, reply=reply)
            return
        subcommands: dict[tuple[str, str], Callable[[IncomingMessage], Awaitable[CommandReply]]] = {
            ("reset", ""): lambda m: self.commands.reset(
                m, threads=lambda: self.threads.members(team, channel)
            ),
            ("persona", "clear"): self.commands.persona_clear,
            ("persona", "show"): self.commands.persona_show,
            ("forget-me", ""): self.commands.forget_me,
            ("pause", ""): self.commands.pause,
            ("resume", ""): self.commands.resume,
        }
        if persona_text.strip():
            text = clean_text(persona_text, bot_user_id=None)
            subcommands["persona", "set"] = lambda m: self.commands.persona_set(m, text)
        run = subcommands.get((sub, action.lower() or "show") if sub == "persona" else (sub, ""))
        if run is None:
            await reply(HELP)
            return
        msg = IncomingMessage(
            key=conversation_key(team, channel, None),
            message_id=f"cmd:{command.get('trigger_id') or time.time_ns()}",
            author_id=user,
            author_name=str(command.get("user_name") or user),
            text="",
            is_direct=channel.startswith("D"),  # a direct message with the bot: the caller's own
            can_administer=await self.is_admin(user),
        )
        await reply((await run(msg)).text)

    async def _ask(
        self,
        command: dict[str, Any],
        *,
        team: str,
        channel: str,
        user: str,
        question: str,
        reply: Callable[[str], Awaitable[None]],
    ) -> None:
        """`/dolphin ask`: a thread like a mention's. Its first message names who asked; the question appears
        in it once the core has let it through, and the answer streams below it."""
        direct = channel.startswith("D")
        if not self.allowed(channel, user, direct=direct):
            await reply(NOT_ENABLED)
            return
        if await self.core.service.is_paused(conversation_key(team, channel, None)):
            await reply(PAUSED)
            return
        found = await self.users.get(user)
        name = found.name if found else str(command.get("user_name") or user)
        text = clean_text(question, bot_user_id=None)
        header = f"*{escape(name)}* asked {escape(self.bot_name)}"
        try:
            parent = await self.client.chat_postMessage(
                channel=channel, text=f"{header}…", unfurl_links=False, unfurl_media=False
            )
        except SlackApiError as exc:
            if slack_error(exc) in _CANNOT_POST_ERRORS:
                await reply(CANNOT_POST.format(name=self.bot_name))
                return
            raise
        thread_ts = str(parent["ts"])
        quoted = "\n".join(f"> {escape(line)}" for line in text.splitlines() if line.strip())

        async def reveal() -> None:
            await self.client.chat_update(channel=channel, ts=thread_ts, text=f"{header}:\n{quoted}")

        msg = IncomingMessage(
            key=conversation_key(team, channel, thread_ts),
            message_id=f"cmd:{command.get('trigger_id') or time.time_ns()}",
            author_id=user,
            author_name=name,
            text=text,
            is_direct=direct,
        )
        sink = _AskSink(self._transport(channel, thread_ts), reveal=reveal)
        result = await self.answer(msg, channel=channel, thread_ts=thread_ts, sink=sink)
        try:
            if result.outcome in (Outcome.IGNORED, Outcome.DUPLICATE):  # nothing to show: no empty thread
                await self.client.chat_delete(channel=channel, ts=thread_ts)
            elif not sink.revealed:  # refused before the question was shown (blocked, rate limited, …)
                await self.client.chat_update(channel=channel, ts=thread_ts, text=f"{header} a question.")
        except SlackApiError as exc:
            log.warning("slack.ask_parent_failed", error=slack_error(exc))


# ------------------------------------------------------------------------------------------ running


async def start_http(relay: SlackRelay, *, host: str, port: int) -> tuple[web.AppRunner, str]:
    assert relay.settings.signing_secret is not None  # SlackRelay refuses HTTP mode without it
    web_app = http_app(relay.app, signing_secret=relay.settings.signing_secret.get_secret_value())
    runner = web.AppRunner(web_app, handle_signals=False, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://{host}:{bound}{EVENTS_PATH}"


async def run_slack(core: Core, *, stop: asyncio.Event, port: int = 3000, host: str = "0.0.0.0") -> None:
    settings = core.settings.slack
    socket_mode = settings.app_token is not None
    relay = SlackRelay(core, settings=settings, http_mode=not socket_mode)
    handler: Any = None
    runner: web.AppRunner | None = None
    try:
        await relay.verify()
        if socket_mode:
            assert settings.app_token is not None
            app_token = settings.app_token.get_secret_value()
            url = await relay.open_socket_url(app_token)
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
        await core.tasks.drain(core.settings.runtime.shutdown_grace_s)
        await stop_serving(relay.mod_log)
