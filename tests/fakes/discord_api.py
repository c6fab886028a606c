"""A loopback fake of Discord: the REST API (`/api/v10/...`) and the gateway (a websocket at `/gateway`).

The real discord.py client talks to it unchanged once the test points `discord.http.Route.BASE` (and the
webhook `Route.BASE` used by interaction follow-ups) at `api_base` and the gateway at `gateway_url`
(`DiscordWebSocket.DEFAULT_GATEWAY`; a sharded client asks `GET /gateway/bot`, which answers it too).

Gateway: HELLO → the client's IDENTIFY → READY (the guild as unavailable) and GUILD_CREATE; HEARTBEAT is
answered with HEARTBEAT_ACK; `dispatch(event, data)` pushes any event (MESSAGE_CREATE, INTERACTION_CREATE).
REST: what the bot uses, with Discord's own refusals: an empty message is 400 code 50006, content over
2,000 characters is 400 code 50035, a wrong token is 401, a second thread from one message is 400 code
160004; a thread started from a message gets the message's id, as on Discord. `fail(...)` makes the next
matching requests fail the way Discord does: 403 code 50013 (Missing Permissions), 404 code 10008 (Unknown
Message), or 429 with `retry_after` and the `Via` header of Discord's edge (which discord.py requires to
treat it as a rate limit to wait out, not a ban): a route's limit (`scope="user"`, with the route's bucket
headers) or the global one (`scope="global"`: `"global": true`, `X-RateLimit-Global`, no bucket headers,
as Discord answers when the bot exceeds its requests per second across all routes). A fault can be
`applied`: the request takes effect and its reply is the failure (a reply lost on the way back, which
discord.py retries for a 5xx). Every request and every gateway frame received is recorded; `messages` holds
each message's current content as users would see it.

Two rules of Create Message and Edit Message, as Discord enforces them: a `nonce` (at most 25 characters)
sent with `enforce_nonce` returns the message the bot already created with that nonce in the last
`NONCE_WINDOW_S` instead of creating another (404 code 10008 when that message was deleted); and a bot
message older than an hour by the fake's clock (`advance(seconds)` moves it) cannot be edited: 400 code
30046. Discord allows a few such edits before refusing; the fake refuses every one, the strictest reading.

`enforce_limits()` makes it keep Discord's own limits: a global limit on the bot's requests per second (all
routes but interactions and webhooks; past it a global 429), and per-channel buckets for sending and editing
messages (5 per 5 s each), answered with Discord's bucket headers (`X-RateLimit-Limit`, `-Remaining`,
`-Reset-After`, `-Bucket`) on every response, which discord.py follows, and a 429 past them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.discord_payloads import BOT_ID, GUILD_ID, guild_payload, user

TOKEN = "fake-discord-token"
MAX_CHARS = 2000
NONCE_WINDOW_S = 300.0  # Discord: "the past few minutes"
EDIT_WINDOW_S = 3600.0

# gateway opcodes
DISPATCH, HEARTBEAT, IDENTIFY, HELLO, HEARTBEAT_ACK = 0, 1, 2, 10, 11


@dataclass
class Request:
    method: str
    path: str  # without the /api/v10 prefix
    json: Any
    at: float = field(default_factory=time.monotonic)


@dataclass
class Fault:
    method: str
    prefix: str  # request path without /api/v10, matched as a prefix
    status: int
    code: int
    times: int = 1
    retry_after_s: float = 0.05
    when: Callable[[Any], bool] | None = None  # on the JSON body; None: every matching request
    scope: str = "user"  # of a 429: "user" (the route's limit), "shared" or "global"
    applied: bool = False  # the request takes effect; only its reply is the failure


@dataclass(frozen=True)
class DiscordLimits:
    """Discord's limits as the fake enforces them."""

    global_per_s: int = 50  # requests per second per bot, all routes
    per_channel: int = 5  # message sends (and, in their own bucket, edits) per channel per window
    per_channel_window_s: float = 5.0


@dataclass
class Bucket:
    remaining: int
    reset_at: float


@dataclass
class SentMessage:
    id: int
    channel_id: int
    content: str
    reference: int | None
    edits: int = 0
    deleted: bool = False
    created_at: float = 0.0  # the fake's clock (`FakeDiscord.now`)
    nonce: str | None = None


class FakeDiscord:
    def __init__(
        self,
        *,
        token: str = TOKEN,
        guild: dict[str, Any] | None = None,
        heartbeat_interval_ms: int = 41_250,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token = token
        self.guild = guild if guild is not None else guild_payload()
        self.bot_user = user(BOT_ID, "dolphin", bot=True)
        self.application_id = BOT_ID
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.requests: list[Request] = []
        self.gateway_received: list[dict[str, Any]] = []
        self.messages: dict[int, SentMessage] = {}
        self.commands: dict[str, list[dict[str, Any]]] = {}  # scope ("global" or guild id) → commands
        self.interaction_responses: list[dict[str, Any]] = []
        self.interaction_log: list[dict[str, Any]] = []  # {"kind", "token", "body"} in order
        self.ready_sessions = 0  # gateway sessions identified and sent READY, still open
        self.threads: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self.limits: DiscordLimits | None = None  # enforce_limits()
        self.limited: list[Request] = []  # requests answered with a 429 by enforce_limits()
        self._recent: deque[float] = deque()  # times of the requests the global limit counted (last second)
        self._buckets: dict[str, Bucket] = {}
        self._limit_clock: Callable[[], float] = time.monotonic  # enforce_limits(clock=…)
        self.offset_s = 0.0  # added to the wall clock: `advance` ages every message
        self._nonces: dict[str, SentMessage] = {}
        self.guild_created = asyncio.Event()
        self.gateway_closed = asyncio.Event()
        self._sockets: list[web.WebSocketResponse] = []
        self._seq = 0
        self._sent_seq: dict[int, int] = {}  # per gateway session (id of its socket): the last sequence sent
        self._heard_seq: dict[int, int] = {}  # ... and the last one its client's heartbeat said it has read
        self._ids = itertools.count(1_300_000_000_000_000_000)
        self._changed = asyncio.Condition()
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.url = ""

    # ---------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> FakeDiscord:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/gateway", self._gateway)
        api = "/api/v10"
        routes: list[tuple[str, str, Callable[[web.Request], Any]]] = [
            ("GET", "/gateway/bot", self._gateway_bot),
            ("GET", "/users/@me", self._me),
            ("GET", "/oauth2/applications/@me", self._application),
            ("PUT", "/applications/{app}/commands", self._sync_commands),
            ("PUT", "/applications/{app}/guilds/{guild}/commands", self._sync_commands),
            ("POST", "/channels/{channel}/typing", self._typing),
            ("POST", "/channels/{channel}/messages", self._create_message),
            ("PATCH", "/channels/{channel}/messages/{message}", self._edit_message),
            ("DELETE", "/channels/{channel}/messages/{message}", self._delete_message),
            ("POST", "/channels/{channel}/messages/{message}/threads", self._create_thread),
            ("POST", "/interactions/{interaction}/{itoken}/callback", self._interaction_callback),
            ("PATCH", "/webhooks/{app}/{itoken}/messages/@original", self._edit_original),
            ("POST", "/webhooks/{app}/{itoken}", self._followup),
            ("PATCH", "/webhooks/{app}/{itoken}/messages/{message}", self._edit_followup),
            ("DELETE", "/webhooks/{app}/{itoken}/messages/{message}", self._delete_followup),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, api + path, handler)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        server: Any = site._server
        port = server.sockets[0].getsockname()[1]
        self.url = f"http://{self._host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"{self.url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.url.removeprefix('http://')}/gateway"

    # ---------------------------------------------------------------- test helpers

    def now(self) -> float:
        return time.time() + self.offset_s

    def advance(self, seconds: float) -> None:
        """Move the fake's clock forward: messages age (edits of those past the hour are refused)."""
        self.offset_s += seconds

    def snowflake(self) -> int:
        return next(self._ids)

    async def dispatch(self, event: str, data: dict[str, Any], *, session: int | None = None) -> None:
        """Send a DISPATCH to every connected gateway session, or to one (in the order they connected)."""
        for ws in list(self._sockets) if session is None else [self._sockets[session]]:
            self._seq += 1
            self._sent_seq[id(ws)] = self._seq
            await ws.send_json({"op": DISPATCH, "t": event, "s": self._seq, "d": data})

    async def caught_up(self, *, timeout_s: float = 10.0) -> None:
        """Return once every connected client has read every event sent to it. The gateway asks each for a
        heartbeat at once (op 1 from the server, as Discord may); discord.py answers with the sequence of the
        last event it read, and it parses each event (and schedules its handlers) before reading the next."""
        sockets = list(self._sockets)
        for ws in sockets:
            await ws.send_json({"op": HEARTBEAT, "d": None})

        def read_all() -> bool:
            return all(
                self._heard_seq.get(id(ws), 0) >= self._sent_seq.get(id(ws), 0)
                for ws in sockets
                if not ws.closed
            )

        await self.wait_until(read_all, timeout_s=timeout_s)

    async def wait_until(self, predicate: Callable[[], bool], *, timeout_s: float = 5.0) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout_s)

    def fail(
        self,
        method: str,
        prefix: str,
        *,
        status: int,
        code: int = 0,
        times: int = 1,
        retry_after_s: float = 0.05,
        when: Callable[[Any], bool] | None = None,
        scope: str = "user",
        applied: bool = False,
    ) -> Fault:
        """Make the next `times` requests matching method and path prefix (and `when`) fail; `applied`: after
        taking effect."""
        fault = Fault(method, prefix, status, code, times, retry_after_s, when, scope, applied)
        self.faults.append(fault)
        return fault

    def enforce_limits(
        self, limits: DiscordLimits | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Answer past Discord's rate limits with 429s, as Discord does (`limits`: the defaults are Discord's;
        `clock`: the seconds the limits are counted in, so that a test can stop time instead of racing it)."""
        self.limits = limits or DiscordLimits()
        self._limit_clock = clock
        self._recent.clear()
        self._buckets.clear()

    def calls(self, method: str, prefix: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    def message_data(self, message_id: int) -> dict[str, Any]:
        """A message the bot sent, as Discord sends it in payloads (e.g. an interaction's `resolved`)."""
        return self._message(self.messages[message_id])

    def visible(self, channel_id: int) -> list[str]:
        """The bot's messages in a channel, in order, as users see them now."""
        return [m.content for m in self.messages.values() if m.channel_id == channel_id and not m.deleted]

    def message_create(
        self,
        content: str,
        *,
        author: int,
        channel: int,
        mentions: list[int] | None = None,
        role_mentions: list[int] | None = None,
        reply_to: SentMessage | None = None,
        guild: bool = True,
    ) -> dict[str, Any]:
        """A MESSAGE_CREATE payload as Discord sends it (the author a member of the fake guild)."""
        members = {int(m["user"]["id"]): m for m in self.guild["members"]}
        member = members.get(author)
        author_user = member["user"] if member else user(author, "stranger")
        data: dict[str, Any] = {
            "id": str(self.snowflake()),
            "channel_id": str(channel),
            "author": author_user,
            "content": content,
            "timestamp": "2026-11-23T12:00:00+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [
                members[uid]["user"] if uid in members else user(uid, "someone") for uid in mentions or []
            ],
            "mention_roles": [str(r) for r in role_mentions or []],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": 0,
        }
        if reply_to is not None:
            data["type"] = 19
            data["message_reference"] = {"message_id": str(reply_to.id), "channel_id": str(channel)}
            data["referenced_message"] = self._message(reply_to)
        if guild:
            data["guild_id"] = str(GUILD_ID)
            if member is not None:
                data["member"] = {k: v for k, v in member.items() if k != "user"}
        return data

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # ---------------------------------------------------------------- gateway

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json({"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        ready = False
        try:
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    continue
                payload = json.loads(frame.data)
                self.gateway_received.append(payload)
                op = payload.get("op")
                if op == HEARTBEAT:
                    if isinstance(payload.get("d"), int):
                        self._heard_seq[id(ws)] = payload["d"]
                    await ws.send_json({"op": HEARTBEAT_ACK})
                elif op == IDENTIFY:
                    if payload["d"].get("token") != self.token:
                        await ws.close(code=4004, message=b"Authentication failed.")
                        break
                    await self._ready(ws, payload["d"].get("shard"))
                    ready = True
                    self.ready_sessions += 1
                await self._notify()
        finally:
            if ready:
                self.ready_sessions -= 1
            self._sockets.remove(ws)
            self.gateway_closed.set()
            await self._notify()
        return ws

    async def _ready(self, ws: web.WebSocketResponse, shard: list[int] | None) -> None:
        """READY, then GUILD_CREATE when the guild belongs to the session's shard (Discord's rule:
        `(guild_id >> 22) % shard_count == shard_id`)."""
        ours = shard is None or (int(self.guild["id"]) >> 22) % shard[1] == shard[0]
        self._seq += 1
        ready: dict[str, Any] = {
            "v": 10,
            "user": self.bot_user,
            "guilds": [{"id": self.guild["id"], "unavailable": True}] if ours else [],
            "session_id": f"fake-session-{self._seq}",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
        }
        if shard is not None:
            ready["shard"] = shard
        await ws.send_json({"op": DISPATCH, "t": "READY", "s": self._seq, "d": ready})
        if ours:
            self._seq += 1
            await ws.send_json({"op": DISPATCH, "t": "GUILD_CREATE", "s": self._seq, "d": self.guild})
            self.guild_created.set()

    # ---------------------------------------------------------------- REST

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)  # type: ignore[no-any-return]
        body = await _body(request)
        self.requests.append(Request(request.method, request.path.removeprefix("/api/v10"), body))
        is_webhook = request.path.startswith(("/api/v10/interactions/", "/api/v10/webhooks/"))
        if not is_webhook and request.headers.get("Authorization") != f"Bot {self.token}":
            return _error(401, 0, "401: Unauthorized")
        path = request.path.removeprefix("/api/v10")
        for fault in self.faults:
            if (
                fault.times > 0
                and fault.method == request.method
                and path.startswith(fault.prefix)
                and (fault.when is None or fault.when(body))
            ):
                fault.times -= 1
                if fault.applied:
                    await handler(request)
                await self._notify()
                return _fault(fault)
        bucket_headers: dict[str, str] = {}
        if self.limits is not None and not is_webhook:
            refused = self._rate_limit(request.method, path, bucket_headers)
            if refused is not None:
                self.limited.append(self.requests[-1])
                await self._notify()
                return refused
        try:
            response: web.StreamResponse = await handler(request)
            response.headers.update(bucket_headers)
            return response
        finally:
            await self._notify()

    def _rate_limit(self, method: str, path: str, headers: dict[str, str]) -> web.Response | None:
        """Discord's limits for one request: a 429 past them, else None and the bucket's headers set in
        `headers` (for a bucketed route)."""
        assert self.limits is not None
        now = self._limit_clock()
        while self._recent and self._recent[0] <= now - 1.0:
            self._recent.popleft()
        if len(self._recent) >= self.limits.global_per_s:
            wait = self._recent[0] + 1.0 - now
            return _fault(
                Fault(method, path, 429, 0, retry_after_s=round(max(wait, 0.001), 3), scope="global")
            )
        self._recent.append(now)
        parts = path.strip("/").split("/")
        if not (len(parts) >= 3 and parts[0] == "channels" and parts[2] == "messages" and len(parts) <= 4):
            return None
        if method not in ("POST", "PATCH"):
            return None
        name = f"{method}:{parts[1]}"  # per channel: sending, and (apart) editing
        bucket = self._buckets.get(name)
        window = self.limits.per_channel_window_s
        if bucket is None or bucket.reset_at <= now:
            bucket = self._buckets[name] = Bucket(self.limits.per_channel, now + window)
        reset_after = round(max(bucket.reset_at - now, 0.001), 3)
        if bucket.remaining <= 0:
            return _fault(Fault(method, path, 429, 0, retry_after_s=reset_after, scope="user"), bucket=name)
        bucket.remaining -= 1
        headers.update(
            {
                "X-RateLimit-Limit": str(self.limits.per_channel),
                "X-RateLimit-Remaining": str(bucket.remaining),
                "X-RateLimit-Reset-After": str(reset_after),
                "X-RateLimit-Reset": str(round(time.time() + reset_after, 3)),
                "X-RateLimit-Bucket": name,
            }
        )
        return None

    async def _gateway_bot(self, request: web.Request) -> web.Response:
        return _json(
            {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        )

    async def _me(self, request: web.Request) -> web.Response:
        return _json(self.bot_user)

    async def _application(self, request: web.Request) -> web.Response:
        return _json(
            {
                "id": str(self.application_id),
                "name": "dolphin",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": user(5003, "owner"),
                "verify_key": "0" * 64,
                "flags": 0,
            }
        )

    async def _sync_commands(self, request: web.Request) -> web.Response:
        body = (await _body(request)) or []
        scope = request.match_info.get("guild", "global")
        # As Discord answers: a message or user command (type 3 or 2) is sent without a description and
        # comes back with an empty one.
        synced = [
            {
                "description": "",
                **cmd,
                "id": str(self.snowflake()),
                "application_id": str(self.application_id),
                "version": "1",
                **({"guild_id": scope} if scope != "global" else {}),
            }
            for cmd in body
        ]
        self.commands[scope] = synced
        return _json(synced)

    async def _typing(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    def _check_content(self, body: dict[str, Any]) -> web.Response | None:
        content = body.get("content")
        if content is not None and len(content) > MAX_CHARS:
            return _error(400, 50035, "Invalid Form Body: content: Must be 2000 or fewer in length.")
        if not (content or "").strip() and not body.get("embeds") and not body.get("attachments"):
            return _error(400, 50006, "Cannot send an empty message")
        return None

    def _message(self, sent: SentMessage) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(sent.id),
            "channel_id": str(sent.channel_id),
            "author": self.bot_user,
            "content": sent.content,
            "timestamp": "2026-11-23T12:00:01+00:00",
            "edited_timestamp": "2026-11-23T12:00:02+00:00" if sent.edits else None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": 19 if sent.reference else 0,
        }
        if sent.nonce is not None:
            data["nonce"] = sent.nonce
        if sent.reference:
            data["message_reference"] = {
                "message_id": str(sent.reference),
                "channel_id": str(sent.channel_id),
            }
        return data

    async def _create_message(self, request: web.Request) -> web.Response:
        body = (await _body(request)) or {}
        refused = self._check_content(body)
        if refused is not None:
            return refused
        nonce = None if body.get("nonce") is None else str(body["nonce"])
        if nonce is not None and len(nonce) > 25:
            return _error(400, 50035, "Invalid Form Body: nonce: Must be 25 or fewer in length.")
        if nonce is not None and body.get("enforce_nonce"):
            earlier = self._nonces.get(nonce)
            if earlier is not None and self.now() - earlier.created_at < NONCE_WINDOW_S:
                if earlier.deleted:
                    return _error(404, 10008, "Unknown Message")
                return _json(self._message(earlier))  # the message already created: no second one
        reference = body.get("message_reference") or {}
        sent = SentMessage(
            id=self.snowflake(),
            channel_id=int(request.match_info["channel"]),
            content=body.get("content") or "",
            reference=int(reference["message_id"]) if reference.get("message_id") else None,
            created_at=self.now(),
            nonce=nonce,
        )
        self.messages[sent.id] = sent
        if nonce is not None:
            self._nonces[nonce] = sent
        return _json(self._message(sent))

    async def _edit_message(self, request: web.Request) -> web.Response:
        sent = self.messages.get(int(request.match_info["message"]))
        if sent is None or sent.deleted:
            return _error(404, 10008, "Unknown Message")
        if self.now() - sent.created_at >= EDIT_WINDOW_S:
            return _error(
                400, 30046, "Maximum number of edits to messages older than 1 hour reached. Try again later."
            )
        body = (await _body(request)) or {}
        if "content" in body:
            refused = self._check_content(body)
            if refused is not None:
                return refused
            sent.content = body["content"]
        sent.edits += 1
        return _json(self._message(sent))

    async def _delete_message(self, request: web.Request) -> web.Response:
        sent = self.messages.get(int(request.match_info["message"]))
        if sent is None or sent.deleted:
            return _error(404, 10008, "Unknown Message")
        sent.deleted = True
        return web.Response(status=204)

    async def _create_thread(self, request: web.Request) -> web.Response:
        """A public thread from a message; like Discord, also announced as THREAD_CREATE on the gateway."""
        body = (await _body(request)) or {}
        message_id = request.match_info["message"]
        if any(t["id"] == message_id for t in self.threads):
            return _error(400, 160004, "A thread has already been created for this message")
        thread = {
            "id": message_id,  # a thread started from a message shares the message's id
            "type": 11,
            "name": body.get("name", "thread"),
            "parent_id": request.match_info["channel"],
            "owner_id": str(BOT_ID),
            "guild_id": str(GUILD_ID),
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": body.get("auto_archive_duration", 1440),
                "archive_timestamp": "2026-11-23T12:00:01+00:00",
                "locked": False,
            },
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
        }
        self.threads.append(thread)
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return _json(thread)

    async def _interaction_callback(self, request: web.Request) -> web.Response:
        body = (await _body(request)) or {}
        self.interaction_responses.append(body)
        self.interaction_log.append({"kind": "callback", "token": request.match_info["itoken"], "body": body})
        if request.query.get("with_response") is None:
            return web.Response(status=204)
        kind = body.get("type")
        flags = (body.get("data") or {}).get("flags") or 0
        message_id = self.snowflake()
        resource: dict[str, Any] = {"type": kind}
        if kind == 4:  # CHANNEL_MESSAGE_WITH_SOURCE
            sent = SentMessage(message_id, 0, (body.get("data") or {}).get("content") or "", None)
            resource["message"] = {**self._message(sent), "flags": flags}
        return _json(
            {
                "interaction": {
                    "id": request.match_info["interaction"],
                    "type": 2,
                    "response_message_id": str(message_id),
                    "response_message_loading": kind == 5,
                    "response_message_ephemeral": bool(flags & 64),
                },
                "resource": resource,
            }
        )

    async def _edit_original(self, request: web.Request) -> web.Response:
        body = (await _body(request)) or {}
        self.interaction_responses.append({"edit_original": body})
        self.interaction_log.append(
            {"kind": "edit_original", "token": request.match_info["itoken"], "body": body}
        )
        sent = SentMessage(
            id=self.snowflake(), channel_id=0, content=body.get("content") or "", reference=None
        )
        return _json(self._message(sent))

    async def _followup(self, request: web.Request) -> web.Response:
        body = (await _body(request)) or {}
        refused = self._check_content(body)
        if refused is not None:
            return refused
        self.interaction_responses.append({"followup": body})
        self.interaction_log.append({"kind": "followup", "token": request.match_info["itoken"], "body": body})
        sent = SentMessage(
            id=self.snowflake(), channel_id=0, content=body.get("content") or "", reference=None
        )
        return _json(self._message(sent))

    async def _edit_followup(self, request: web.Request) -> web.Response:
        body = (await _body(request)) or {}
        self.interaction_log.append(
            {"kind": "edit_followup", "token": request.match_info["itoken"], "body": body}
        )
        sent = SentMessage(int(request.match_info["message"]), 0, body.get("content") or "", None, edits=1)
        return _json(self._message(sent))

    async def _delete_followup(self, request: web.Request) -> web.Response:
        self.interaction_log.append(
            {"kind": "delete_followup", "token": request.match_info["itoken"], "body": {}}
        )
        return web.Response(status=204)


_FAULT_MESSAGES = {403: "Missing Permissions", 404: "Unknown Message", 500: "Internal Server Error"}


def _fault(fault: Fault, *, bucket: str = "fake-bucket") -> web.Response:
    if fault.status == 429:
        is_global = fault.scope == "global"
        body = {
            "message": "You are being rate limited.",
            "retry_after": fault.retry_after_s,
            "global": is_global,
        }
        headers = {
            "Content-Type": "application/json",
            "Via": "1.1 google",  # Discord's edge; without it discord.py takes a 429 for a Cloudflare ban
            "Retry-After": str(max(1, round(fault.retry_after_s))),
            "X-RateLimit-Scope": fault.scope,
        }
        if is_global:  # not the route's limit: Discord sends no bucket headers
            headers["X-RateLimit-Global"] = "true"
        else:
            headers.update(
                {
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset-After": str(fault.retry_after_s),
                    "X-RateLimit-Bucket": bucket,
                    "X-RateLimit-Limit": "5",
                }
            )
        return web.Response(body=json.dumps(body).encode(), status=429, headers=headers)
    return _error(fault.status, fault.code, _FAULT_MESSAGES.get(fault.status, "Error"))


def _error(status: int, code: int, message: str) -> web.Response:
    return _json({"code": code, "message": message}, status=status)


def _json(data: Any, *, status: int = 200) -> web.Response:
    """discord.py parses a body as JSON only when Content-Type is exactly `application/json` (as Discord sends)."""
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"}
    )


async def _body(request: web.Request) -> Any:
    """The JSON body (aiohttp caches what it read, so the recorder and the handler both see it)."""
    raw = await request.read()  # cached after the first read (can_read_body turns False)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")
