"""Text generation: the `TextGenerator` protocol and the one streaming client for every model server.

The client is composed of three parts, one concern each:

    core/endpoints.py   the endpoint pool: which server gets a request, health checks, the limits the
                        server reports, a concurrency gate per server
    core/dialects.py    one dialect per API (TGI, vLLM, SGLang, any OpenAI-compatible server): pure
                        functions from parameters to a request body and from a stream event to a token,
                        and from an error body to the error tree of core/errors.py
    `ModelClient`       (here) streams over SSE and owns retries and deadlines, whatever the dialect

Overload and connection errors are retried with backoff only before the first token; after it, any
failure is a `StreamCutOff`. Timeouts: connect (TGI_CONNECT_TIMEOUT_S), first token
(TGI_FIRST_TOKEN_TIMEOUT_S) and between tokens (TGI_TOKEN_TIMEOUT_S) — a long answer that keeps streaming
is never cut, and keep-alive comments do not keep a silent generation alive.

Streams are read with aiohttp (its C HTTP parser) and parsed chunk by chunk: about a quarter of the CPU
per stream of httpx + httpx-sse (docs/performance.md). A finished stream is read to its end so its
connection goes back to the pool; an abandoned one is closed at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any, Protocol, Self

import aiohttp
import httpx
import structlog

from core.dialects import (
    Dialect,
    GenerationParams,
    ModelInfo,
    Overloaded,
    StreamEvent,
    dialect_for,
    map_openai_error,
    map_tgi_error,
)
from core.endpoints import Endpoint, EndpointPool, describe
from core.errors import (
    Busy,
    GenerationFailed,
    GenerationTimeout,
    ModelUnavailable,
    StreamCutOff,
    UpstreamError,
)
from core.observability import redact_url
from core.settings import TGISettings
from core.sse import SSEDecoder


class TextGenerator(Protocol):
    async def info(self) -> ModelInfo:
        """Limits of the model server (cached after the first successful call)."""
        ...

    def stream(self, prompt: str, params: GenerationParams) -> AsyncIterator[StreamEvent]:
        """Stream one generation. Raises errors of the `core.errors.UpstreamError` tree."""
        ...

    async def count_tokens(self, text: str) -> int:
        """Exact token count from the server (`/tokenize`, includes BOS); raises `NotImplementedError` when
        the server cannot tokenize."""
        ...

    async def healthy(self) -> bool:
        """True when the server reports healthy (its health route answers 200)."""
        ...


__all__ = [
    "GenerationParams",
    "ModelClient",
    "ModelInfo",
    "Overloaded",
    "StreamEvent",
    "TGIClient",
    "TextGenerator",
    "build_generator",
    "build_http_client",
    "build_model_session",
    "map_openai_error",
    "map_tgi_error",
]


# --------------------------------------------------------------------------------------------- client

log = structlog.get_logger(__name__)

_DRAIN_S = 1.0  # after the last event, how long the end of the body may take (then the socket is closed)
_SSE_HEADERS = {"Accept": "text/event-stream", "Cache-Control": "no-store"}


def build_http_client(settings: TGISettings) -> httpx.AsyncClient:
    """A plain HTTP client for the guard model's `/generate` (the model servers use `build_model_session`);
    it sends TGI_API_KEY too, as guard and model usually sit behind the same gateway."""
    headers = {}
    if settings.api_key is not None:
        headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
    return httpx.AsyncClient(
        timeout=httpx.Timeout(connect=settings.connect_timeout_s, read=30.0, write=30.0, pool=None),
        limits=httpx.Limits(max_connections=256, max_keepalive_connections=64, keepalive_expiry=30.0),
        headers=headers,
    )


def build_model_session(settings: TGISettings) -> aiohttp.ClientSession:
    """The one HTTP session of the process for model servers (create it inside the running loop).

    Only the socket connect has a timeout of its own; the read timeout is a backstop, as first-token and
    between-token timeouts are enforced per event. Concurrency is bounded by the per-endpoint gates; the
    pool only caps sockets (waiting, not failing), and keeps them alive between streams."""
    headers = {}
    if settings.api_key is not None:
        headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
    read = max(settings.first_token_timeout_s, settings.token_timeout_s) + 5.0
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=1024, limit_per_host=0, keepalive_timeout=30.0),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=settings.connect_timeout_s, sock_read=read),
        headers=headers,
    )


class ModelClient:
    """`TextGenerator` for any model server: an endpoint pool (core/endpoints.py) and a dialect
    (core/dialects.py, from TGI_BACKEND unless given). Streams over SSE; owns retries and deadlines.
    `async with client` runs the pool's health checks (with several URLs)."""

    def __init__(
        self,
        *,
        http: aiohttp.ClientSession,
        settings: TGISettings,
        base_url: str | Sequence[str],
        dialect: Dialect | None = None,
    ) -> None:
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        self._http = http
        self._settings = settings
        self._pool = EndpointPool(
            http=http, settings=settings, urls=urls, dialect=dialect or dialect_for(settings.backend)
        )

    @property
    def urls(self) -> list[str]:
        return [e.url for e in self._pool.endpoints]

    @property
    def dialect(self) -> Dialect:
        """The API spoken; a generic `openai` one becomes `vllm` or `sglang` once the server said whose."""
        return self._pool.dialect

    async def __aenter__(self) -> Self:
        self._pool.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._pool.stop()

    async def healthy(self) -> bool:
        return await self._pool.healthy()

    async def info(self) -> ModelInfo:
        return await self._pool.info()

    def _model(self) -> str | None:
        info = self._pool.known_info
        return self._settings.model or (info.model_id if info is not None else None)

    async def count_tokens(self, text: str) -> int:
        if self._pool.dialect.name == "openai":  # the server may say it is vLLM or SGLang
            with contextlib.suppress(UpstreamError):
                await self._pool.info()
        dialect = self._pool.dialect
        if dialect.tokenize_path is None:
            raise NotImplementedError(f"{dialect.engine} servers have no tokenize route")
        endpoint = self._pool.pick()
        body = dialect.tokenize_body(text, model=self._model())
        try:
            async with self._http.post(f"{endpoint.url}{dialect.tokenize_path}", json=body) as resp:
                if resp.status == 404:
                    raise NotImplementedError("the model server has no tokenize route (no fast tokenizer)")
                if resp.status != 200:
                    raise dialect.error(resp.status, await resp.text(errors="replace"))
                return dialect.parse_token_count(await resp.json(content_type=None))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ModelUnavailable(describe(exc)) from None
        except ValueError as exc:
            raise GenerationFailed(describe(exc), error_type="protocol") from None

    # ---------------------------------------------------------------- generation

    async def stream(self, prompt: str, params: GenerationParams) -> AsyncIterator[StreamEvent]:
        pool = self._pool
        body: dict[str, Any] | None = None
        attempt = 0
        while True:
            endpoint = pool.pick()
            endpoint.outstanding += 1  # counted from the pick, so concurrent picks spread out
            yielded = False
            partial: list[str] = []
            try:
                try:
                    if body is None:
                        if pool.dialect.info_path == "/v1/models" and self._settings.model is None:
                            await pool.info()  # the request names the model: the first of /v1/models
                        body = pool.dialect.request_body(prompt, params, model=self._model())
                    gate = await pool.gate(endpoint)
                    # aclosing: when the consumer stops early (an answer blocked mid-stream), the HTTP
                    # response is closed right away, not whenever the inner generator is collected.
                    async with gate, contextlib.aclosing(self._stream_once(endpoint, body)) as events:
                        async for event in events:
                            yielded = True
                            partial.append(event.text)
                            yield event
                        return
                finally:
                    endpoint.outstanding -= 1
            except UpstreamError as exc:
                if yielded:
                    raise StreamCutOff(str(exc), partial="".join(partial)) from exc
                # A silent server is not retried: the user would wait (retries + 1) × the first-token
                # timeout before hearing anything. Overload and connection errors are retried.
                silent = isinstance(exc, GenerationTimeout)
                if silent or not exc.retryable or attempt >= self._settings.retries:
                    if isinstance(exc, Overloaded):
                        raise Busy(str(exc)) from exc
                    raise
                if isinstance(exc, ModelUnavailable):
                    pool.mark_down(endpoint)
            # Exponential, with jitter: replicas that hit the same overloaded server do not retry in step.
            delay = self._settings.retry_backoff_s * (2**attempt) * random.uniform(0.5, 1.0)
            attempt += 1
            log.info("tgi.retry", attempt=attempt, delay_s=delay, endpoint=redact_url(endpoint.url))
            await asyncio.sleep(delay)

    async def _stream_once(
        self, endpoint: Endpoint, body: dict[str, Any]
    ) -> AsyncGenerator[StreamEvent, None]:
        settings = self._settings
        dialect = self._pool.dialect
        parse = dialect.parse_event
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.first_token_timeout_s
        first = True  # nothing but keep-alive comments yet
        # The event with the finish reason, held until the stream is complete: OpenAI servers send the
        # token count (`usage`) in a chunk of its own after it.
        final: StreamEvent | None = None
        try:
            async with self._http.post(
                f"{endpoint.url}{dialect.stream_path}", json=body, headers=_SSE_HEADERS
            ) as resp:
                if resp.status != 200:
                    raise dialect.error(resp.status, await resp.text(errors="replace"))
                if resp.content_type != "text/event-stream":
                    raise GenerationFailed(
                        f"expected an event stream, got {resp.content_type!r}", error_type="protocol"
                    )
                content = resp.content
                decoder = SSEDecoder()
                complete = False
                while not complete:
                    chunk = content.read_nowait()  # what already arrived; no timer needed for it
                    if not chunk:
                        if content.at_eof():
                            if final is not None:
                                break
                            raise GenerationFailed(dialect.ended_early, error_type="incomplete_generation")
                        try:
                            # Only events move this deadline; keep-alive comments do not.
                            async with asyncio.timeout_at(deadline):
                                chunk = await content.readany()
                        except TimeoutError:
                            what, limit = (
                                ("first token", settings.first_token_timeout_s)
                                if first
                                else ("next token", settings.token_timeout_s)
                            )
                            raise GenerationTimeout(f"no {what} within {limit:g} s") from None
                        if not chunk:
                            continue
                    events = decoder.feed(chunk)
                    if not events:
                        continue
                    first = False
                    deadline = loop.time() + settings.token_timeout_s
                    for sse in events:
                        event, complete = parse(sse.data)
                        if event is not None:
                            if final is not None:  # after the finish reason: the usage chunk
                                final = final._replace(
                                    text=final.text + event.text,
                                    generated_tokens=event.generated_tokens or final.generated_tokens,
                                )
                            elif event.finish_reason is not None:
                                final = event
                            else:
                                yield event
                        if complete:
                            break
                if final is not None:
                    yield final
                # Read the end of the body (usually here already) so the connection can be reused.
                if not content.at_eof():
                    with contextlib.suppress(TimeoutError, aiohttp.ClientError):
                        async with asyncio.timeout(_DRAIN_S):
                            while await content.readany():
                                pass
        except aiohttp.ClientConnectorError as exc:
            raise ModelUnavailable(f"{redact_url(endpoint.url)}: {describe(exc)}") from None
        except aiohttp.ConnectionTimeoutError:
            raise ModelUnavailable(
                f"{redact_url(endpoint.url)}: no connection within {settings.connect_timeout_s:g} s"
            ) from None
        except aiohttp.ServerTimeoutError:
            raise GenerationTimeout("the model server stopped sending") from None
        except aiohttp.ClientError as exc:  # reset, disconnected, payload cut short
            raise GenerationFailed(
                f"connection lost: {describe(exc)}", error_type="connection", retryable=first
            ) from None
        except ValueError as exc:
            raise GenerationFailed(f"unreadable stream: {describe(exc)}", error_type="protocol") from None


# The name the rest of the code and the tests have always used: the client speaks TGI unless told
# otherwise (TGI_BACKEND, or `dialect=`).
TGIClient = ModelClient


def build_generator(
    *, http: aiohttp.ClientSession, settings: TGISettings, urls: Sequence[str]
) -> ModelClient:
    """The generator for TGI_BACKEND: `tgi`, `vllm`, `sglang`, or `openai` (any OpenAI-compatible server)."""
    return ModelClient(http=http, settings=settings, base_url=list(urls))
