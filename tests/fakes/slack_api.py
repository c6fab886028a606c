"""A loopback fake of Slack's Web API (port 0) that records every call per method, like bolt-python's
own tests/mock_web_api_server. Point slack_sdk's `base_url` at `fake.url` (ends with /api/)."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

BOT_USER = "UBOT"
TEAM = "T1"


class FakeSlackAPI:
    def __init__(self) -> None:
        self.calls: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.admins: set[str] = set()
        self.rate_limited: dict[str, int] = {}  # method → how many 429s to answer before succeeding
        self.retry_after_s = 1
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> FakeSlackAPI:
        app = web.Application()
        app.router.add_post("/api/{method}", self._handle)
        app.router.add_get("/api/{method}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/api/"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def texts(self, method: str) -> list[str]:
        return [str(c.get("text", "")) for c in self.calls[method]]

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        raw = await request.text()
        if request.method == "GET":
            body: dict[str, Any] = dict(request.query)
        elif request.content_type == "application/json":
            body = json.loads(raw or "{}")
        else:
            body = {k: v[0] for k, v in parse_qs(raw).items()}
        if self.rate_limited.get(method, 0) > 0:
            self.rate_limited[method] -= 1
            self.calls[f"{method}:429"].append(body)
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(self.retry_after_s)},
            )
        self.calls[method].append(body)
        if method == "auth.test":
            return web.json_response(
                {
                    "ok": True,
                    "url": "https://t1.slack.com/",
                    "team": "Team",
                    "user": "dolphin",
                    "team_id": TEAM,
                    "user_id": BOT_USER,
                    "bot_id": "BBOT",
                }
            )
        if method == "chat.postMessage":
            ts = f"1700000000.{next(self._ts):06d}"
            return web.json_response(
                {"ok": True, "channel": body.get("channel"), "ts": ts, "message": {"ts": ts}}
            )
        if method == "users.info":
            user = str(body.get("user"))
            return web.json_response({"ok": True, "user": {"id": user, "is_admin": user in self.admins}})
        return web.json_response({"ok": True, "ts": body.get("ts", "")})
