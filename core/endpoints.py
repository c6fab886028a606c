"""The model servers a client talks to: which one gets the next request, whether each is healthy, and the
limits they report (the endpoint pool of the model client, core/llm.py).

With several URLs, each request goes to the endpoint with the fewest outstanding requests among those
that are up: an endpoint that refuses connections is skipped for a few seconds, and one whose health check
fails (the dialect's health route, every TGI_HEALTH_CHECK_INTERVAL_S while the pool is open) gets no new
requests until a check passes again. When none is up, all are tried. A concurrency gate per endpoint,
sized from the server's report (or TGI_MAX_CONCURRENT_REQUESTS), queues requests in this process instead of
overloading the server. Limits are read once, from the first endpoint that answers, through the dialect.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

import aiohttp
import structlog

from core.dialects import Dialect, Limits, ModelInfo
from core.errors import ModelUnavailable, UpstreamError
from core.observability import redact_url
from core.settings import TGISettings

log = structlog.get_logger(__name__)

DOWN_FOR_S = 5.0  # an endpoint that refused a connection is skipped this long (unless all are down)
_PROBE_TIMEOUT = aiohttp.ClientTimeout(total=5.0)


class Endpoint:
    __slots__ = ("down_until", "gate", "healthy", "outstanding", "url")

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.outstanding = 0
        self.down_until = 0.0  # refused a connection: skipped until then
        self.healthy = True  # the last health check passed (or none ran yet)
        self.gate: asyncio.Semaphore | None = None


def limits_of(settings: TGISettings) -> Limits:
    return Limits(
        max_input_tokens=settings.max_input_tokens,
        max_total_tokens=settings.max_total_tokens,
        max_concurrent_requests=settings.max_concurrent_requests,
        model=settings.model,
    )


class EndpointPool:
    def __init__(
        self,
        *,
        http: aiohttp.ClientSession,
        settings: TGISettings,
        urls: Sequence[str],
        dialect: Dialect,
    ) -> None:
        if not urls:
            raise ValueError("at least one model server URL is needed")
        self._http = http
        self._settings = settings
        self.endpoints = [Endpoint(u) for u in urls]
        self.dialect: Dialect = dialect
        self._info: ModelInfo | None = None
        self._info_lock = asyncio.Lock()
        self._health_task: asyncio.Task[None] | None = None

    @property
    def known_info(self) -> ModelInfo | None:
        return self._info

    # ---------------------------------------------------------------- lifetime and health

    def start(self) -> None:
        interval = self._settings.health_check_interval_s
        if interval > 0 and len(self.endpoints) > 1 and self._health_task is None:
            self._health_task = asyncio.get_running_loop().create_task(
                self._watch_health(interval), name="model-health-checks"
            )

    async def stop(self) -> None:
        task, self._health_task = self._health_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watch_health(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await asyncio.gather(*(self.check(e) for e in self.endpoints))

    async def check(self, endpoint: Endpoint) -> bool:
        try:
            url = f"{endpoint.url}{self.dialect.health_path}"
            async with self._http.get(url, timeout=_PROBE_TIMEOUT) as resp:
                ok = resp.status == 200
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        if ok != endpoint.healthy:
            log.warning(
                "model.endpoint_up" if ok else "model.endpoint_down", endpoint=redact_url(endpoint.url)
            )
        endpoint.healthy = ok
        if ok:
            endpoint.down_until = 0.0
        return ok

    async def healthy(self) -> bool:
        return any(await asyncio.gather(*(self.check(e) for e in self.endpoints)))

    def mark_down(self, endpoint: Endpoint) -> None:
        endpoint.down_until = time.monotonic() + DOWN_FOR_S

    # ---------------------------------------------------------------- choice

    def up(self) -> list[Endpoint]:
        if len(self.endpoints) == 1:
            return self.endpoints
        now = time.monotonic()
        return [e for e in self.endpoints if e.healthy and e.down_until <= now] or self.endpoints

    def ordered(self) -> list[Endpoint]:
        return sorted(self.up(), key=lambda e: e.outstanding)

    def pick(self) -> Endpoint:
        return min(self.up(), key=lambda e: e.outstanding)

    async def gate(self, endpoint: Endpoint) -> asyncio.Semaphore:
        if endpoint.gate is None:
            size = self._settings.max_concurrent_requests
            if size is None:
                try:
                    size = (await self.info()).max_concurrent_requests
                except UpstreamError:
                    size = 128
            if endpoint.gate is None:
                endpoint.gate = asyncio.Semaphore(size)
        return endpoint.gate

    # ---------------------------------------------------------------- limits

    async def info(self) -> ModelInfo:
        if self._info is not None:
            return self._info
        async with self._info_lock:
            if self._info is None:
                self._info = await self._fetch_info()
        return self._info

    async def _fetch_info(self) -> ModelInfo:
        last: Exception | None = None
        for endpoint in self.ordered():
            try:
                data = await self.get_json(f"{endpoint.url}{self.dialect.info_path}")
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                last = exc
                continue
            self.dialect = self.dialect.refine(data)
            info = self.dialect.parse_info(data, limits_of(self._settings))
            log.info(
                "model.limits",
                engine=info.engine,
                model=info.model_id,
                max_input_tokens=info.max_input_tokens,
                max_total_tokens=info.max_total_tokens,
                source=info.limits_from,
            )
            return info
        raise ModelUnavailable(describe(last))

    async def get_json(self, url: str) -> dict[str, Any]:
        async with self._http.get(url) as resp:
            resp.raise_for_status()
            data = await resp.json(content_type=None)
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object from {redact_url(url)}")
        return data


def describe(exc: BaseException | None) -> str:
    """The error's type and text, without credentials: aiohttp's texts may quote the request URL."""
    if exc is None:
        return "no endpoint answered"
    text = redact_url(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
