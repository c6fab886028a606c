"""Text generation: the `TextGenerator` protocol and the model server clients (aiohttp + core/sse.py).

TGI reports errors on the stream route as an SSE event with HTTP 200 (`{"error", "error_type"}`) and with
real status codes elsewhere; `map_tgi_error` turns both into the error tree of core/errors.py. Overload
and connection errors are retried with backoff only before the first token; after it, any failure is a
`StreamCutOff`. Timeouts: connect (TGI_CONNECT_TIMEOUT_S), first token (TGI_FIRST_TOKEN_TIMEOUT_S) and
between tokens (TGI_TOKEN_TIMEOUT_S) — a long answer that keeps streaming is never cut, and keep-alive
comments do not keep a silent generation alive.

Streams are read with aiohttp (its C HTTP parser) and parsed chunk by chunk: about a quarter of the CPU
per stream of httpx + httpx-sse (docs/performance.md). A finished stream is read to its end so its
connection goes back to the pool; an abandoned one is closed at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, Self

import aiohttp
import httpx
import structlog

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


@dataclass(frozen=True, slots=True)
class ModelInfo:
    model_id: str
    max_input_tokens: int
    max_total_tokens: int
    max_concurrent_requests: int = 128
    max_stop_sequences: int = 4
    version: str | None = None


@dataclass(frozen=True, slots=True)
class GenerationParams:
    max_new_tokens: int
    temperature: float = 0.7
    top_p: float = 0.95
    repetition_penalty: float | None = 1.1
    stop: tuple[str, ...] = ("<|im_end|>",)
    # Greedy decoding (a classification, e.g. the guard's self-check): temperature, top_p and the
    # repetition penalty are not sent (TGI samples as soon as one is set); OpenAI servers get temperature 0.
    greedy: bool = False
    top_n_tokens: int = 0  # > 0: each event carries the most likely tokens (TGI allows at most 5)


class StreamEvent(NamedTuple):
    """One step of a stream: visible text (never special tokens); the last event has `finish_reason`.
    (A named tuple: one is made per token, and it is built in C, unlike a frozen dataclass.)"""

    text: str
    finish_reason: str | None = None  # "length" | "eos_token" | "stop_sequence" on the last event
    generated_tokens: int | None = None  # on the last event, when the server says
    # With `top_n_tokens`: the most likely tokens at this position, (text, logprob), when the server says.
    top_tokens: tuple[tuple[str, float], ...] | None = None


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
        """True when the server reports healthy (GET /health is 200)."""
        ...


# --------------------------------------------------------------------------------------------- clients

log = structlog.get_logger(__name__)

_DOWN_FOR_S = 5.0  # an endpoint that refused a connection is skipped this long (unless all are down)
_PROBE_TIMEOUT = aiohttp.ClientTimeout(total=5.0)
_DRAIN_S = 1.0  # after the last event, how long the end of the body may take (then the socket is closed)
_SSE_HEADERS = {"Accept": "text/event-stream", "Cache-Control": "no-store"}


class Overloaded(UpstreamError):
    """TGI's max_concurrent_requests gate is full (in-stream `overloaded`, or HTTP 429). Retried; then Busy."""

    retryable = True


def map_tgi_error(error_type: str | None, message: str, *, status: int | None = None) -> UpstreamError:
    """The one place where TGI errors (in-stream events and HTTP statuses) become the error tree."""
    if error_type == "overloaded" or status == 429:
        return Overloaded(message)
    if status == 503:
        return ModelUnavailable(message)
    if error_type == "validation" or status == 422:
        return GenerationFailed(message, error_type="validation")
    if error_type in ("generation", "incomplete_generation"):
        return GenerationFailed(message, error_type=error_type)
    if status is not None and status >= 500:
        return GenerationFailed(message, error_type=f"http_{status}", retryable=True)
    return GenerationFailed(message, error_type=error_type or f"http_{status}")


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


class _Endpoint:
    __slots__ = ("down_until", "gate", "healthy", "outstanding", "url")

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.outstanding = 0
        self.down_until = 0.0  # refused a connection: skipped until then
        self.healthy = True  # the last health check passed (or none ran yet)
        self.gate: asyncio.Semaphore | None = None


class TGIClient:
    """`TextGenerator` for Hugging Face TGI: streams `/generate_stream` over SSE.

    With several URLs, each request goes to the endpoint with the fewest outstanding requests among those
    that are up: an endpoint that refuses connections is skipped for a few seconds, and one whose health
    check fails (checked every TGI_HEALTH_CHECK_INTERVAL_S while the client is open: `async with client`)
    gets no new requests until a check passes again. When none is up, all are tried. A concurrency gate
    per endpoint, sized from `/info` (or TGI_MAX_CONCURRENT_REQUESTS), queues requests in this process
    instead of overloading the server."""

    _stream_path = "/generate_stream"
    _health_path = "/health"
    _ended_early = "the stream ended without a final event"

    def __init__(
        self,
        *,
        http: aiohttp.ClientSession,
        settings: TGISettings,
        base_url: str | Sequence[str],
    ) -> None:
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        if not urls:
            raise ValueError("at least one model server URL is needed")
        self._http = http
        self._settings = settings
        self._endpoints = [_Endpoint(u) for u in urls]
        self._info: ModelInfo | None = None
        self._info_lock = asyncio.Lock()
        self._health_task: asyncio.Task[None] | None = None

    @property
    def urls(self) -> list[str]:
        return [e.url for e in self._endpoints]

    # ---------------------------------------------------------------- lifetime and health

    async def __aenter__(self) -> Self:
        interval = self._settings.health_check_interval_s
        if interval > 0 and len(self._endpoints) > 1 and self._health_task is None:
            self._health_task = asyncio.get_running_loop().create_task(
                self._watch_health(interval), name="model-health-checks"
            )
        return self

    async def __aexit__(self, *exc: object) -> None:
        task, self._health_task = self._health_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watch_health(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await asyncio.gather(*(self._check(e) for e in self._endpoints))

    async def _check(self, endpoint: _Endpoint) -> bool:
        try:
            async with self._http.get(f"{endpoint.url}{self._health_path}", timeout=_PROBE_TIMEOUT) as resp:
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
        return any(await asyncio.gather(*(self._check(e) for e in self._endpoints)))

    # ---------------------------------------------------------------- metadata

    async def info(self) -> ModelInfo:
        if self._info is not None:
            return self._info
        async with self._info_lock:
            if self._info is None:
                self._info = await self._fetch_info()
        return self._info

    async def _fetch_info(self) -> ModelInfo:
        last: Exception | None = None
        for endpoint in self._ordered():
            try:
                data = await self._get_json(f"{endpoint.url}/info")
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                last = exc
                continue
            max_input = data.get("max_input_tokens", data.get("max_input_length"))
            if max_input is None or "max_total_tokens" not in data:
                raise GenerationFailed("GET /info lacks the token limits", error_type="info")
            return ModelInfo(
                model_id=str(data.get("model_id", "unknown")),
                max_input_tokens=int(max_input),
                max_total_tokens=int(data["max_total_tokens"]),
                max_concurrent_requests=int(data.get("max_concurrent_requests", 128)),
                max_stop_sequences=int(data.get("max_stop_sequences", 4)),
                version=data.get("version"),
            )
        raise ModelUnavailable(_describe(last))

    async def _get_json(self, url: str) -> dict[str, Any]:
        async with self._http.get(url) as resp:
            resp.raise_for_status()
            data = await resp.json(content_type=None)
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object from {url}")
        return data

    async def count_tokens(self, text: str) -> int:
        endpoint = self._pick()
        try:
            async with self._http.post(f"{endpoint.url}/tokenize", json={"inputs": text}) as resp:
                if resp.status == 404:
                    raise NotImplementedError("the model server has no /tokenize (no fast tokenizer)")
                if resp.status != 200:
                    _type, message = await _error_body(resp)
                    raise map_tgi_error(None, message, status=resp.status)
                return len(await resp.json(content_type=None))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ModelUnavailable(_describe(exc)) from None

    # ---------------------------------------------------------------- generation

    def _body(self, prompt: str, params: GenerationParams) -> dict[str, Any]:
        parameters: dict[str, Any] = {"max_new_tokens": params.max_new_tokens}
        if params.greedy:
            parameters["do_sample"] = False
        else:
            parameters["temperature"] = params.temperature
            parameters["top_p"] = min(max(params.top_p, 1e-3), 0.999)  # TGI rejects top_p >= 1
        parameters["stop"] = list(params.stop)
        parameters["details"] = True
        if params.repetition_penalty is not None and not params.greedy:
            parameters["repetition_penalty"] = params.repetition_penalty
        if params.top_n_tokens:
            parameters["top_n_tokens"] = params.top_n_tokens
        return {"inputs": prompt, "parameters": parameters}

    def _up(self) -> list[_Endpoint]:
        if len(self._endpoints) == 1:
            return self._endpoints
        now = time.monotonic()
        return [e for e in self._endpoints if e.healthy and e.down_until <= now] or self._endpoints

    def _ordered(self) -> list[_Endpoint]:
        return sorted(self._up(), key=lambda e: e.outstanding)

    def _pick(self) -> _Endpoint:
        return min(self._up(), key=lambda e: e.outstanding)

    async def _gate(self, endpoint: _Endpoint) -> asyncio.Semaphore:
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

    async def stream(self, prompt: str, params: GenerationParams) -> AsyncIterator[StreamEvent]:
        body = self._body(prompt, params)
        attempt = 0
        while True:
            endpoint = self._pick()
            endpoint.outstanding += 1  # counted from the pick, so concurrent picks spread out
            yielded = False
            partial: list[str] = []
            try:
                try:
                    gate = await self._gate(endpoint)
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
                    endpoint.down_until = time.monotonic() + _DOWN_FOR_S
            # Exponential, with jitter: replicas that hit the same overloaded server do not retry in step.
            delay = self._settings.retry_backoff_s * (2**attempt) * random.uniform(0.5, 1.0)
            attempt += 1
            log.info("tgi.retry", attempt=attempt, delay_s=delay, endpoint=redact_url(endpoint.url))
            await asyncio.sleep(delay)

    async def _request_body(self, body: dict[str, Any]) -> dict[str, Any]:
        return body

    def _parse(self, data: str) -> tuple[StreamEvent | None, bool]:
        """One SSE event's data → (what to yield, whether the stream is complete)."""
        if not data:
            return None, False
        event = json.loads(data)
        if not isinstance(event, dict):
            raise ValueError("an event that is not a JSON object")
        if "error" in event:
            raise map_tgi_error(event.get("error_type"), str(event["error"]))
        token = event.get("token") or {}
        text = "" if token.get("special") else str(token.get("text", ""))
        top = event.get("top_tokens")  # only with top_n_tokens: a list of tokens for this position
        top_tokens = _tgi_top_tokens(top) if top else None
        if event.get("generated_text") is not None:
            details = event.get("details") or {}
            if text.endswith("<|im_end|>"):
                text = text[: -len("<|im_end|>")]
            final = StreamEvent(
                text,
                finish_reason=details.get("finish_reason", "eos_token"),
                generated_tokens=details.get("generated_tokens"),
                top_tokens=top_tokens,
            )
            return final, True
        if text and text != "<|im_end|>":
            return StreamEvent(text, top_tokens=top_tokens), False
        return None, False

    async def _status_error(self, resp: aiohttp.ClientResponse) -> UpstreamError:
        error_type, message = await _error_body(resp)
        return map_tgi_error(error_type, message, status=resp.status)

    async def _stream_once(
        self, endpoint: _Endpoint, body: dict[str, Any]
    ) -> AsyncGenerator[StreamEvent, None]:
        settings = self._settings
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.first_token_timeout_s
        first = True  # nothing but keep-alive comments yet
        finished = False  # saw the stream's final event (or the finish reason, for OpenAI servers)
        body = await self._request_body(body)
        try:
            async with self._http.post(
                f"{endpoint.url}{self._stream_path}", json=body, headers=_SSE_HEADERS
            ) as resp:
                if resp.status != 200:
                    raise await self._status_error(resp)
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
                            if finished:
                                return
                            raise GenerationFailed(self._ended_early, error_type="incomplete_generation")
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
                        event, complete = self._parse(sse.data)
                        if event is not None:
                            finished = finished or event.finish_reason is not None
                            yield event
                        if complete:
                            break
                # Read the end of the body (usually here already) so the connection can be reused.
                if not content.at_eof():
                    with contextlib.suppress(TimeoutError, aiohttp.ClientError):
                        async with asyncio.timeout(_DRAIN_S):
                            while await content.readany():
                                pass
        except aiohttp.ClientConnectorError as exc:
            raise ModelUnavailable(f"{redact_url(endpoint.url)}: {_describe(exc)}") from None
        except aiohttp.ConnectionTimeoutError:
            raise ModelUnavailable(
                f"{redact_url(endpoint.url)}: no connection within {settings.connect_timeout_s:g} s"
            ) from None
        except aiohttp.ServerTimeoutError:
            raise GenerationTimeout("the model server stopped sending") from None
        except aiohttp.ClientError as exc:  # reset, disconnected, payload cut short
            raise GenerationFailed(
                f"connection lost: {_describe(exc)}", error_type="connection", retryable=first
            ) from None
        except ValueError as exc:
            raise GenerationFailed(f"unreadable stream: {_describe(exc)}", error_type="protocol") from None


class OpenAICompletionsClient(TGIClient):
    """`TextGenerator` for OpenAI-compatible servers (vLLM, SGLang, llama.cpp's server, Ollama): the same
    ChatML prompt and stop sequence on `POST /v1/completions` with `stream: true`. Token limits come from
    the settings (these servers do not report them); token counting stays local. Health is `/v1/models`,
    which every such server answers."""

    _stream_path = "/v1/completions"
    _health_path = "/v1/models"
    _ended_early = "the stream ended without [DONE]"

    async def _fetch_info(self) -> ModelInfo:
        last: Exception | None = None
        for endpoint in self._ordered():
            try:
                data = await self._get_json(f"{endpoint.url}/v1/models")
                models = [m.get("id", "") for m in data.get("data", [])]
            except (aiohttp.ClientError, TimeoutError, ValueError, AttributeError) as exc:
                last = exc
                continue
            return ModelInfo(
                model_id=self._settings.model or (models[0] if models else "unknown"),
                max_input_tokens=self._settings.max_input_tokens,
                max_total_tokens=self._settings.max_total_tokens,
                max_concurrent_requests=self._settings.max_concurrent_requests or 128,
            )
        raise ModelUnavailable(_describe(last))

    async def count_tokens(self, text: str) -> int:
        raise NotImplementedError("OpenAI-compatible servers have no standard tokenize route")

    def _body(self, prompt: str, params: GenerationParams) -> dict[str, Any]:
        parameters = super()._body(prompt, params)["parameters"]
        body: dict[str, Any] = {
            "model": self._settings.model or (self._info.model_id if self._info else "default"),
            "prompt": prompt,
            "max_tokens": parameters["max_new_tokens"],
            # temperature 0 is greedy decoding on vLLM, SGLang, llama.cpp and Ollama
            "temperature": 0 if params.greedy else parameters["temperature"],
            "stop": parameters["stop"],
            "stream": True,
        }
        if not params.greedy:
            body["top_p"] = parameters["top_p"]
        if params.top_n_tokens:
            body["logprobs"] = params.top_n_tokens  # choices[0].logprobs.top_logprobs, where supported
        return body

    async def _request_body(self, body: dict[str, Any]) -> dict[str, Any]:
        if self._info is None:  # the model name comes from /v1/models unless TGI_MODEL is set
            await self.info()
            return {
                **body,
                "model": self._settings.model or (self._info.model_id if self._info else "default"),
            }
        return body

    async def _status_error(self, resp: aiohttp.ClientResponse) -> UpstreamError:
        _type, message = await _error_body(resp)
        return map_tgi_error("validation" if resp.status == 400 else None, message, status=resp.status)

    def _parse(self, data: str) -> tuple[StreamEvent | None, bool]:
        if data.strip() == "[DONE]":
            return None, True
        event = json.loads(data)
        if not isinstance(event, dict):
            raise ValueError("an event that is not a JSON object")
        if "error" in event:
            raise map_tgi_error(None, str(event["error"]))
        choice = (event.get("choices") or [{}])[0]
        text = str(choice.get("text") or "")
        reason = choice.get("finish_reason")
        logprobs = choice.get("logprobs")
        top_tokens = _openai_top_tokens(logprobs) if logprobs else None
        if reason is not None:
            finish = "length" if reason == "length" else "eos_token"
            return StreamEvent(text, finish_reason=finish, top_tokens=top_tokens), False
        return (StreamEvent(text, top_tokens=top_tokens) if text else None), False


def build_generator(*, http: aiohttp.ClientSession, settings: TGISettings, urls: Sequence[str]) -> TGIClient:
    """The generator for TGI_BACKEND: `tgi` (TGI's own API) or `openai` (an OpenAI-compatible server)."""
    cls = OpenAICompletionsClient if settings.backend == "openai" else TGIClient
    return cls(http=http, settings=settings, base_url=list(urls))


def _tgi_top_tokens(top: object) -> tuple[tuple[str, float], ...] | None:
    """TGI's `top_tokens` of one stream event: `[{"id", "text", "logprob", "special"}, …]`."""
    if not isinstance(top, list):
        return None
    return tuple(
        (str(t.get("text", "")), float(t.get("logprob", -100.0))) for t in top if isinstance(t, dict)
    )


def _openai_top_tokens(logprobs: object) -> tuple[tuple[str, float], ...] | None:
    """The first position of a completions chunk's `logprobs.top_logprobs`: `[{token: logprob}, …]`."""
    if not isinstance(logprobs, dict):
        return None
    top = logprobs.get("top_logprobs")
    if not isinstance(top, list) or not top or not isinstance(top[0], dict):
        return None
    return tuple((str(k), float(v)) for k, v in top[0].items() if isinstance(v, int | float))


async def _error_body(resp: aiohttp.ClientResponse) -> tuple[str | None, str]:
    text = await resp.text(errors="replace")
    try:
        data = json.loads(text)
    except ValueError:
        return None, text[:200] or f"HTTP {resp.status}"
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):  # OpenAI-compatible servers: {"error": {"message": …}}
            error = error.get("message", error)
        return data.get("error_type"), str(error)[:500]
    return None, str(data)[:200]


def _describe(exc: BaseException | None) -> str:
    """The error's type and text, without credentials: aiohttp's texts may quote the request URL."""
    if exc is None:
        return "no endpoint answered"
    text = redact_url(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
