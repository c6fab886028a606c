"""A loopback fake of Slack's Web API and Socket Mode (port 0) that records every call per method, like
bolt-python's own tests/mock_web_api_server. Point slack_sdk's `base_url` at `fake.url` (ends with /api/).

It keeps the messages it was sent (posts, updates, deletions) so a test can read a thread as a user would
see it (`visible()`), answers Slack's errors where the real API does (`no_text`, `message_not_found`,
`not_in_channel`, `invalid_auth`, `not_allowed_token_type`), serves `response_url`s (`response_url()`), and
runs a Socket Mode WebSocket: `apps.connections.open` hands out its URL, `push()` sends an envelope to the
connected app (`push_raw()`: any text frame) and `wait_ack()` waits for the app's acknowledgement.

Created from an app manifest (`FakeSlackAPI(manifest=…)`), it is that app: `subscribes()` tells whether
Slack would send an event to it, and the AI methods behave as Slack documents them for its messaging
experience. `assistant.threads.setSuggestedPrompts` with a `thread_ts` fails silently for an `agent_view`
app (ok, and nothing shown); without one the prompts go to the channel's latest message. What a member
sees: `shown_prompts()`, `statuses`.

`enforce_limits()` makes it answer like Slack's rate limits do (a 429 `ratelimited` with `Retry-After` in whole
seconds): `chat.update` per workspace (Tier 3, about 50 a minute) and `chat.postMessage` per channel (about one
a second), each counted over a sliding window of the calls it accepted.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from aiohttp import WSMsgType, web

BOT_USER = "UBOT"
BOT_ID = "BBOT"
TEAM = "T1"
MAX_TEXT_CHARS = 40_000


@dataclass
class Message:
    ts: str
    channel: str
    thread_ts: str | None
    text: str
    deleted: bool = False
    blocks: list[dict[str, Any]] | None = None  # as last posted or updated (chat.update keeps them if absent)


@dataclass(frozen=True)
class SlackLimits:
    """Slack's published limits, as the fake enforces them: calls accepted in any `window_s`."""

    update_per_workspace: int = 50  # chat.update, Tier 3: 50+ per minute
    update_window_s: float = 60.0
    post_per_channel: int = 1  # chat.postMessage: about 1 per second per channel
    post_window_s: float = 1.0


class FakeSlackAPI:
    def __init__(self, *, manifest: Mapping[str, Any] | None = None) -> None:
        features = (manifest or {}).get("features") or {}
        # the app's messaging experience, as Slack reads it from the manifest (None: no manifest given)
        self.view = (
            "agent" if "agent_view" in features else "assistant" if "assistant_view" in features else None
        )
        settings = (manifest or {}).get("settings") or {}
        self.bot_events: set[str] = set((settings.get("event_subscriptions") or {}).get("bot_events") or [])
        # (channel, thread_ts or None for the channel) → the prompts shown there
        self.prompts: dict[tuple[str, str | None], list[dict[str, str]]] = {}
        # (channel, thread_ts) → (status, loading messages) last set there
        self.statuses: dict[tuple[str, str], tuple[str, list[str]]] = {}
        self.calls: dict[str, list[dict[str, Any]]] = defaultdict(list)
        # (time.monotonic(), method) of every call; a call answered with a 429 as "method:429"
        self.timeline: list[tuple[float, str]] = []
        # (time.monotonic(), method, body, accepted) of every Web API call, in order
        self.log: list[tuple[float, str, dict[str, Any], bool]] = []
        self.admins: set[str] = set()
        self.users: dict[str, dict[str, Any]] = {}  # user id → users.info `user` object (else a default)
        self.rate_limited: dict[str, int] = {}  # method → how many 429s to answer before succeeding
        self.retry_after_s = 1
        self.failing: dict[str, str] = {}  # method → Slack error code it answers with (ok: false)
        self.rejected_tokens: set[str] = set()  # → invalid_auth
        self.non_member_channels: set[str] = set()  # chat.postMessage → not_in_channel
        self.messages: dict[str, Message] = {}
        self.acks: list[dict[str, Any]] = []
        self.socket_tokens: list[str] = []  # app tokens apps.connections.open was called with
        self.limits: SlackLimits | None = None  # enforce_limits()
        self._windows: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._limit_clock: Callable[[], float] = time.monotonic  # enforce_limits(clock=…)
        self._ts = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []
        self._acked = asyncio.Condition()
        self._connected = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base = ""
        self.url = ""

    async def __aenter__(self) -> FakeSlackAPI:
        app = web.Application()
        app.router.add_post("/api/{method}", self._handle)
        app.router.add_get("/api/{method}", self._handle)
        app.router.add_post("/response/{name}", self._response_url)
        app.router.add_get("/link/", self._socket)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"
        self.url = f"{self.base}/api/"
        return self

    async def __aexit__(self, *exc: object) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def enforce_limits(
        self, limits: SlackLimits | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Answer past Slack's rate limits with 429s, as Slack does (`limits`: the defaults are Slack's; `clock`:
        the seconds the windows are counted in, so that a test can stop time instead of racing it)."""
        self.limits = limits or SlackLimits()
        self._limit_clock = clock
        self._windows.clear()

    def _over_limit(self, method: str, body: dict[str, Any], token: str) -> int | None:
        """Seconds to wait (Retry-After) when this call is past its limit, else None (the call is counted)."""
        if self.limits is None:
            return None
        if method == "chat.update":
            key, limit, window = (
                (method, token),
                self.limits.update_per_workspace,
                self.limits.update_window_s,
            )
        elif method == "chat.postMessage":
            key = (method, str(body.get("channel")))
            limit, window = self.limits.post_per_channel, self.limits.post_window_s
        else:
            return None
        now = self._limit_clock()
        accepted = self._windows[key]
        while accepted and accepted[0] <= now - window:
            accepted.popleft()
        if len(accepted) >= limit:
            return max(1, math.ceil(accepted[0] + window - now))
        accepted.append(now)
        return None

    # ---------------------------------------------------------------- what a test reads

    def texts(self, method: str) -> list[str]:
        return [str(c.get("text", "")) for c in self.calls[method]]

    def visible(self, channel: str, thread_ts: str | None = None) -> list[str]:
        """The texts a user sees now in `channel` (top level) or in the thread `thread_ts`, oldest first."""
        return [
            m.text
            for m in self.messages.values()
            if m.channel == channel and not m.deleted and m.thread_ts == thread_ts
        ]

    def subscribes(self, event_type: str) -> bool:
        """Whether Slack sends `event_type` (`message` in an im: `message.im`) to the app of the manifest."""
        return event_type in self.bot_events

    def shown_prompts(self, channel: str, thread_ts: str | None = None) -> list[str]:
        """The titles of the suggested prompts a member sees in `channel` (or its thread `thread_ts`)."""
        return [p["title"] for p in self.prompts.get((channel, thread_ts), [])]

    def click(self, ts: str, value: str, *, user: str = "U2", team: str = TEAM) -> dict[str, Any]:
        """The `block_actions` payload Slack sends when `user` clicks the button with `value` of an element
        shown under the message `ts` (a feedback button of a `context_actions` block, or a button); an
        AssertionError when the message shows no such button (a member could not click it)."""
        message = self.messages[ts]
        assert not message.deleted, "the message is gone"
        for block in message.blocks or []:
            for element in block.get("elements") or []:
                buttons = [element.get("positive_button"), element.get("negative_button"), element]
                clicked = next((b for b in buttons if b and b.get("value") == value), None)
                if clicked is None:
                    continue
                action_ts = f"{time.time():.6f}"
                container: dict[str, Any] = {
                    "type": "message",
                    "message_ts": ts,
                    "channel_id": message.channel,
                    "is_ephemeral": False,
                }
                shown: dict[str, Any] = {
                    "user": BOT_USER,
                    "type": "message",
                    "ts": ts,
                    "bot_id": BOT_ID,
                    "app_id": "A1",
                    "text": message.text,
                    "team": TEAM,
                    "blocks": message.blocks,
                }
                if message.thread_ts:
                    container["thread_ts"] = shown["thread_ts"] = message.thread_ts
                return {
                    "type": "block_actions",
                    "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team},
                    "api_app_id": "A1",
                    "token": "x",
                    "container": container,
                    "trigger_id": f"trigger-{action_ts}",
                    "team": {"id": team, "domain": "t1"},
                    "enterprise": None,
                    "is_enterprise_install": False,
                    "channel": {"id": message.channel, "name": "general"},
                    "message": shown,
                    "state": {"values": {}},
                    "response_url": self.response_url(f"action-{action_ts}"),
                    "actions": [
                        {
                            "type": element["type"],
                            "action_id": element.get("action_id", ""),
                            "block_id": block.get("block_id", "b1"),
                            "value": value,
                            "text": clicked.get("text"),
                            "action_ts": action_ts,
                        }
                    ],
                }
        raise AssertionError(f"message {ts} shows no button with value {value!r}")

    def response_url(self, name: str) -> str:
        return f"{self.base}/response/{name}"

    def responses(self) -> list[str]:
        return [str(c.get("text", "")) for c in self.calls["response_url"]]

    # ---------------------------------------------------------------- Socket Mode

    async def wait_connected(self, timeout_s: float = 5) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout_s)

    async def push(self, envelope: dict[str, Any]) -> None:
        """Send a Socket Mode envelope (`type`, `envelope_id`, `payload`, …) to the connected app."""
        await self.push_raw(json.dumps(envelope))

    async def push_raw(self, frame: str) -> None:
        """Send one text frame as is (which need not be JSON)."""
        await self.wait_connected()
        await self._sockets[-1].send_str(frame)

    async def wait_ack(self, envelope_id: str, timeout_s: float = 5) -> dict[str, Any]:
        async def acked() -> dict[str, Any]:
            async with self._acked:
                while True:
                    for ack in self.acks:
                        if ack.get("envelope_id") == envelope_id:
                            return ack
                    await self._acked.wait()

        return await asyncio.wait_for(acked(), timeout_s)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": len(self._sockets),
                    "debug_info": {"host": "fake", "approximate_connection_time": 18060},
                    "connection_info": {"app_id": "A1"},
                }
            )
        )
        self._connected.set()
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    async with self._acked:
                        self.acks.append(json.loads(msg.data))
                        self._acked.notify_all()
        finally:
            self._sockets.remove(ws)
            if not self._sockets:
                self._connected.clear()
        return ws

    # ---------------------------------------------------------------- Web API

    async def _response_url(self, request: web.Request) -> web.Response:
        body = await request.json()
        body["_name"] = request.match_info["name"]
        self.calls["response_url"].append(body)
        return web.Response(text="ok")

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        raw = await request.text()
        body: dict[str, Any] = dict(request.query)  # slack_sdk sends some POSTs as query parameters
        if request.content_type == "application/json":
            body.update(json.loads(raw or "{}"))
        elif raw:
            body.update({k: v[0] for k, v in parse_qs(raw).items()})
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        retry_after_s: int | None = None
        if self.rate_limited.get(method, 0) > 0:
            self.rate_limited[method] -= 1
            retry_after_s = self.retry_after_s
        else:
            retry_after_s = self._over_limit(method, body, token)
        if retry_after_s is not None:
            self.calls[f"{method}:429"].append(body)
            self.timeline.append((time.monotonic(), f"{method}:429"))
            self.log.append((time.monotonic(), method, body, False))
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(retry_after_s)},
            )
        self.calls[method].append(body)
        self.timeline.append((time.monotonic(), method))
        self.log.append((time.monotonic(), method, body, True))
        if token in self.rejected_tokens:
            return _error("invalid_auth")
        if method in self.failing:
            return _error(self.failing[method])
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is not None:
            response: web.Response = handler(body, token)
            return response
        return web.json_response({"ok": True, "ts": body.get("ts", "")})

    def _auth_test(self, body: dict[str, Any], token: str) -> web.Response:
        if token.startswith("xapp-"):
            return _error("not_allowed_token_type")
        return web.json_response(
            {
                "ok": True,
                "url": "https://t1.slack.com/",
                "team": "Team",
                "user": "dolphin",
                "team_id": TEAM,
                "user_id": BOT_USER,
                "bot_id": BOT_ID,
            }
        )

    def _apps_connections_open(self, body: dict[str, Any], token: str) -> web.Response:
        self.socket_tokens.append(token)
        if not token.startswith("xapp-"):
            return _error("not_allowed_token_type")
        return web.json_response({"ok": True, "url": f"{self.base.replace('http', 'ws')}/link/?ticket=t1"})

    def _chat_postMessage(self, body: dict[str, Any], token: str) -> web.Response:
        text = str(body.get("text") or "")
        channel = str(body.get("channel"))
        if not text.strip():
            return _error("no_text")
        if len(text) > MAX_TEXT_CHARS:
            return _error("msg_too_long")
        if channel in self.non_member_channels:
            return _error("not_in_channel")
        ts = f"1700000000.{next(self._ts):06d}"
        thread = body.get("thread_ts")
        blocks = _blocks(body)
        if isinstance(blocks, web.Response):
            return blocks
        self.messages[ts] = Message(ts, channel, str(thread) if thread else None, text, blocks=blocks)
        return web.json_response({"ok": True, "channel": channel, "ts": ts, "message": {"ts": ts}})

    def _chat_postEphemeral(self, body: dict[str, Any], token: str) -> web.Response:
        """Only `user` sees it; it is not kept among the messages (`calls["chat.postEphemeral"]` has it)."""
        if not str(body.get("user") or "") or not str(body.get("channel") or ""):
            return _error("invalid_arguments")
        if not str(body.get("text") or "").strip():
            return _error("no_text")
        return web.json_response({"ok": True, "message_ts": f"1700000000.{next(self._ts):06d}"})

    def _chat_update(self, body: dict[str, Any], token: str) -> web.Response:
        text = str(body.get("text") or "")
        found = self.messages.get(str(body.get("ts")))
        if found is None or found.deleted:
            return _error("message_not_found")
        if not text.strip():
            return _error("no_text")
        if len(text) > MAX_TEXT_CHARS:
            return _error("msg_too_long")
        blocks = _blocks(body)
        if isinstance(blocks, web.Response):
            return blocks
        found.text = text
        if blocks is not None:  # Slack keeps a message's blocks when an update sends none
            found.blocks = blocks
        return web.json_response({"ok": True, "channel": found.channel, "ts": found.ts, "text": text})

    def _chat_delete(self, body: dict[str, Any], token: str) -> web.Response:
        found = self.messages.get(str(body.get("ts")))
        if found is None or found.deleted:
            return _error("message_not_found")
        found.deleted = True
        return web.json_response({"ok": True, "channel": found.channel, "ts": found.ts})

    def _chat_getPermalink(self, body: dict[str, Any], token: str) -> web.Response:
        channel, ts = str(body.get("channel")), str(body.get("message_ts"))
        return web.json_response(
            {
                "ok": True,
                "channel": channel,
                "permalink": f"https://t1.slack.com/archives/{channel}/p{ts.replace('.', '')}",
            }
        )

    def _users_info(self, body: dict[str, Any], token: str) -> web.Response:
        user = str(body.get("user"))
        default = {"id": user, "name": user, "team_id": TEAM}
        info = dict(self.users.get(user, default))
        info.setdefault("id", user)
        info["is_admin"] = bool(info.get("is_admin")) or user in self.admins
        info.setdefault("locale", "en-US")
        if not _flag(body.get("include_locale")):  # Slack sends `locale` only when asked
            info.pop("locale")
        return web.json_response({"ok": True, "user": info})

    def _assistant_threads_setSuggestedPrompts(self, body: dict[str, Any], token: str) -> web.Response:
        prompts = _json_field(body.get("prompts"))
        channel, thread = body.get("channel_id"), body.get("thread_ts")
        if not channel or not isinstance(prompts, list) or not 0 < len(prompts) <= 4:
            return _error("invalid_arguments")
        if not all(isinstance(p, dict) and p.get("title") and p.get("message") for p in prompts):
            return _error("invalid_arguments")
        if thread and self.view == "agent":
            return web.json_response({"ok": True})  # "will cause the call to silently fail" (Slack's docs)
        self.prompts[(str(channel), str(thread) if thread else None)] = prompts
        return web.json_response({"ok": True})

    def _assistant_threads_setStatus(self, body: dict[str, Any], token: str) -> web.Response:
        channel, thread, status = body.get("channel_id"), body.get("thread_ts"), body.get("status")
        loading = _json_field(body.get("loading_messages")) or []
        if not channel or not thread or status is None:
            return _error("invalid_arguments")
        if not isinstance(loading, list) or len(loading) > 10:
            return _error("invalid_arguments")
        self.statuses[(str(channel), str(thread))] = (str(status), [str(m) for m in loading])
        return web.json_response({"ok": True})


def _flag(value: object) -> bool:
    return value is True or str(value).lower() in ("1", "true")


def _json_field(value: object) -> object:
    """An array or object argument: JSON in a JSON body, a JSON string in a form body."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _blocks(body: dict[str, Any]) -> list[dict[str, Any]] | web.Response | None:
    """The message's Block Kit blocks (JSON, or a JSON string as form fields carry it), checked where Slack
    refuses them with `invalid_blocks`: a section's text over 3,000 characters, a `context_actions` block
    with no or more than 5 elements, feedback buttons without both buttons."""
    blocks = _json_field(body.get("blocks"))
    if blocks is None:
        return None
    if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
        return _error("invalid_blocks")
    for block in blocks:
        if block.get("type") == "section" and len((block.get("text") or {}).get("text", "")) > 3000:
            return _error("invalid_blocks")
        if block.get("type") == "context_actions":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 5:
                return _error("invalid_blocks")
            for element in elements:
                buttons = (element.get("positive_button"), element.get("negative_button"))
                if element.get("type") == "feedback_buttons" and not all(
                    b and b.get("value") and (b.get("text") or {}).get("type") == "plain_text"
                    for b in buttons
                ):
                    return _error("invalid_blocks")
    return list(blocks)


def _error(code: str) -> web.Response:
    return web.json_response({"ok": False, "error": code})
