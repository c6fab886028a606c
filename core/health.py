"""The health and metrics server of a bot process: `/healthz` (alive), `/readyz` (Redis answers and the
model server's `/health` is 200, within short timeouts; 503 "stopping" once shutdown has begun, so a load
balancer stops sending work) and `/metrics` (Prometheus text)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from core.errors import ConfigurationError
from core.llm import TextGenerator
from core.observability import Metrics

_CHECK_TIMEOUT_S = 2.0


class HealthServer:
    def __init__(
        self,
        *,
        metrics: Metrics,
        redis: aioredis.Redis,
        generator: TextGenerator,
        host: str = "0.0.0.0",
        port: int = 9100,
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        self._metrics = metrics
        self._stopping = stopping
        self._redis = redis
        self._generator = generator
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics_route)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        try:
            await site.start()
        except OSError as exc:  # most often a second dolphin-relay on this machine, on the default port
            await self.stop()
            raise ConfigurationError(
                f"METRICS_PORT: cannot listen on {self._host}:{self._port} ({bind_problem(exc)}): set "
                "METRICS_PORT to a free port for this process (each bot process on a machine needs its own), "
                "or 0 for none",
                setting="METRICS_PORT",
            ) from None
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{'127.0.0.1' if self._host in ('0.0.0.0', '') else self._host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> HealthServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, request: web.Request) -> web.Response:
        if self._stopping():
            return web.json_response({"status": "stopping"}, status=503)
        redis_ok, model_ok = await asyncio.gather(self._redis_ok(), self._model_ok())
        body: dict[str, Any] = {
            "redis": "ok" if redis_ok else "unreachable",
            "model": "ok" if model_ok else "unavailable",
        }
        ready = redis_ok and model_ok
        body["status"] = "ready" if ready else "not ready"
        return web.json_response(body, status=200 if ready else 503)

    async def _redis_ok(self) -> bool:
        try:
            async with asyncio.timeout(_CHECK_TIMEOUT_S):
                return bool(await self._redis.ping())
        except Exception:  # any failure of the probe means "not ready"
            return False

    async def _model_ok(self) -> bool:
        try:
            async with asyncio.timeout(_CHECK_TIMEOUT_S):
                return await self._generator.healthy()
        except Exception:  # any failure of the probe means "not ready"
            return False

    async def _metrics_route(self, request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(self._metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )


def bind_problem(exc: OSError) -> str:
    """Why a listening socket could not be opened, in a few words ("Address already in use")."""
    return os.strerror(exc.errno) if exc.errno else str(exc)
