"""Text generation: the `TextGenerator` protocol and the TGI client (httpx + httpx-sse).

TGI reports errors on the stream route as an SSE event with HTTP 200 (`{"error", "error_type"}`) and with
real status codes elsewhere; `map_tgi_error` turns both into the error tree of core/errors.py. Overload
and connection errors are retried with backoff only before the first token; after it, any failure is a
`StreamCutOff`. Timeouts: connect (TGI_CONNECT_TIMEOUT_S), first token (TGI_FIRST_TOKEN_TIMEOUT_S) and
between tokens (TGI_TOKEN_TIMEOUT_S) — a long answer that keeps streaming is never cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import structlog
from httpx_sse import SSEError, aconnect_sse

from core.errors import (
    Busy,
    GenerationFailed,
    GenerationTimeout,
    ModelUnavailable,
    StreamCutOff,
    UpstreamError,
)
from core.settings import TGISettings


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


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One step of a stream: visible text (never special tokens); the last event has `finish_reason`."""

    text: str
    finish_reason: str | None = None  # "length" | "eos_token" | "stop_sequence" on the last event
    generated_tokens: int | None = None  # on the last event, when the server says


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


# --------------------------------------------------------------------------------------------- TGI client

log = structlog.get_logger(__name__)

_DOWN_FOR_S = 5.0  # an endpoint that refused a connection is skipped this long (unless all are down)


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
    """The one HTTP client of the process for model servers: separate connect and read timeouts.

    The read timeout is only a backstop; first-token and between-token timeouts are enforced per event
    (keep-alive comments must not keep a silent generation alive)."""
    read = max(settings.first_token_timeout_s, settings.token_timeout_s) + 5.0
    headers = {}
    if settings.api_key is not None:
        headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
    return httpx.AsyncClient(
        timeout=httpx.Timeout(connect=settings.connect_timeout_s, read=read, write=30.0, pool=None),
        # Concurrency is bounded by the per-endpoint gates; the pool only caps sockets (waiting, not failing).
        limits=httpx.Limits(max_connections=1024, max_keepalive_connections=256, keepalive_expiry=30.0),
        headers=headers,
    )


class _Endpoint:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.outstanding = 0
        self.down_until = 0.0
        self.gate: asyncio.Semaphore | None = None


class TGIClient:
    """`TextGenerator` for Hugging Face TGI: streams `/generate_stream` over SSE.

    With several URLs, each request goes to the reachable endpoint with the fewest outstanding requests;
    an endpoint that refuses connections is skipped for a few seconds. A concurrency gate per endpoint,
    sized from `/info` (or TGI_MAX_CONCURRENT_REQUESTS), queues requests in this process instead of
    overloading the server."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
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

    @property
    def urls(self) -> list[str]:
        return [e.url for e in self._endpoints]

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
                resp = await self._http.get(f"{endpoint.url}/info")
                resp.raise_for_status()
                data = resp.json()
            except (httpx.HTTPError, ValueError) as exc:
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

    async def count_tokens(self, text: str) -> int:
        endpoint = self._pick()
        try:
            resp = await self._http.post(f"{endpoint.url}/tokenize", json={"inputs": text})
        except httpx.HTTPError as exc:
            raise ModelUnavailable(_describe(exc)) from None
        if resp.status_code == 404:
            raise NotImplementedError("the model server has no /tokenize (no fast tokenizer)")
        if resp.status_code != 200:
            raise map_tgi_error(None, resp.text[:200], status=resp.status_code)
        return len(resp.json())

    async def healthy(self) -> bool:
        for endpoint in self._endpoints:
            try:
                resp = await self._http.get(f"{endpoint.url}/health", timeout=5.0)
            except httpx.HTTPError:
                continue
            if resp.status_code == 200:
                return True
        return False

    # ---------------------------------------------------------------- generation

    def _body(self, prompt: str, params: GenerationParams) -> dict[str, Any]:
        parameters: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": min(max(params.top_p, 1e-3), 0.999),  # TGI rejects top_p >= 1
            "stop": list(params.stop),
            "details": True,
        }
        if params.repetition_penalty is not None:
            parameters["repetition_penalty"] = params.repetition_penalty
        return {"inputs": prompt, "parameters": parameters}

    def _ordered(self) -> list[_Endpoint]:
        now = time.monotonic()
        up = [e for e in self._endpoints if e.down_until <= now]
        return sorted(up or self._endpoints, key=lambda e: e.outstanding)

    def _pick(self) -> _Endpoint:
        return self._ordered()[0]

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
            delay = self._settings.retry_backoff_s * (2**attempt)
            attempt += 1
            log.info("tgi.retry", attempt=attempt, delay_s=delay, endpoint=endpoint.url)
            await asyncio.sleep(delay)

    async def _stream_once(
        self, endpoint: _Endpoint, body: dict[str, Any]
    ) -> AsyncGenerator[StreamEvent, None]:
        url = f"{endpoint.url}/generate_stream"
        first = True
        try:
            async with aconnect_sse(self._http, "POST", url, json=body) as source:
                resp = source.response
                if resp.status_code != 200:
                    await resp.aread()
                    error_type, message = _error_body(resp)
                    raise map_tgi_error(error_type, message, status=resp.status_code)
                events = source.aiter_sse()
                try:
                    while True:
                        timeout = (
                            self._settings.first_token_timeout_s if first else self._settings.token_timeout_s
                        )
                        try:
                            async with asyncio.timeout(timeout):
                                sse = await anext(events)
                        except StopAsyncIteration:
                            raise GenerationFailed(
                                "the stream ended without a final event", error_type="incomplete_generation"
                            ) from None
                        except TimeoutError:
                            what = "first token" if first else "next token"
                            raise GenerationTimeout(f"no {what} within {timeout:g} s") from None
                        if not sse.data:
                            continue
                        data = json.loads(sse.data)
                        if "error" in data:
                            raise map_tgi_error(data.get("error_type"), str(data["error"]))
                        token = data.get("token") or {}
                        text = "" if token.get("special") else str(token.get("text", ""))
                        first = False
                        if data.get("generated_text") is not None:
                            details = data.get("details") or {}
                            if text.endswith("<|im_end|>"):
                                text = text[: -len("<|im_end|>")]
                            yield StreamEvent(
                                text,
                                finish_reason=details.get("finish_reason", "eos_token"),
                                generated_tokens=details.get("generated_tokens"),
                            )
                            return
                        if text and text != "<|im_end|>":
                            yield StreamEvent(text)
                finally:
                    await events.aclose()
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ModelUnavailable(f"{endpoint.url}: {_describe(exc)}") from None
        except httpx.ReadTimeout:
            raise GenerationTimeout("the model server stopped sending") from None
        except (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError) as exc:
            raise GenerationFailed(
                f"connection lost: {_describe(exc)}", error_type="connection", retryable=first
            ) from None
        except (SSEError, ValueError) as exc:
            raise GenerationFailed(f"unreadable stream: {_describe(exc)}", error_type="protocol") from None


class OpenAICompletionsClient(TGIClient):
    """`TextGenerator` for OpenAI-compatible servers (vLLM, SGLang, llama.cpp's server, Ollama): the same
    ChatML prompt and stop sequence on `POST /v1/completions` with `stream: true`. Token limits come from
    the settings (these servers do not report them); token counting stays local."""

    async def _fetch_info(self) -> ModelInfo:
        last: Exception | None = None
        for endpoint in self._ordered():
            try:
                resp = await self._http.get(f"{endpoint.url}/v1/models")
                resp.raise_for_status()
                models = [m.get("id", "") for m in resp.json().get("data", [])]
            except (httpx.HTTPError, ValueError, AttributeError) as exc:
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

    async def healthy(self) -> bool:
        for endpoint in self._endpoints:
            try:
                resp = await self._http.get(f"{endpoint.url}/v1/models", timeout=5.0)
            except httpx.HTTPError:
                continue
            if resp.status_code == 200:
                return True
        return False

    def _body(self, prompt: str, params: GenerationParams) -> dict[str, Any]:
        body = super()._body(prompt, params)["parameters"]
        return {
            "model": self._settings.model or (self._info.model_id if self._info else "default"),
            "prompt": prompt,
            "max_tokens": body["max_new_tokens"],
            "temperature": body["temperature"],
            "top_p": body["top_p"],
            "stop": body["stop"],
            "stream": True,
        }

    async def _stream_once(
        self, endpoint: _Endpoint, body: dict[str, Any]
    ) -> AsyncGenerator[StreamEvent, None]:
        if self._info is None:
            await self.info()
            body = {
                **body,
                "model": self._settings.model or (self._info.model_id if self._info else "default"),
            }
        url = f"{endpoint.url}/v1/completions"
        first = True
        try:
            async with aconnect_sse(self._http, "POST", url, json=body) as source:
                resp = source.response
                if resp.status_code != 200:
                    await resp.aread()
                    _type, message = _error_body(resp)
                    raise map_tgi_error(
                        "validation" if resp.status_code == 400 else None, message, status=resp.status_code
                    )
                events = source.aiter_sse()
                try:
                    while True:
                        timeout = (
                            self._settings.first_token_timeout_s if first else self._settings.token_timeout_s
                        )
                        try:
                            async with asyncio.timeout(timeout):
                                sse = await anext(events)
                        except StopAsyncIteration:
                            raise GenerationFailed(
                                "the stream ended without [DONE]", error_type="incomplete_generation"
                            ) from None
                        except TimeoutError:
                            raise GenerationTimeout(f"no token within {timeout:g} s") from None
                        if sse.data.strip() == "[DONE]":
                            return
                        data = json.loads(sse.data)
                        if "error" in data:
                            raise map_tgi_error(None, str(data["error"]))
                        choice = (data.get("choices") or [{}])[0]
                        first = False
                        text = str(choice.get("text") or "")
                        reason = choice.get("finish_reason")
                        if reason is not None:
                            yield StreamEvent(
                                text, finish_reason="length" if reason == "length" else "eos_token"
                            )
                        elif text:
                            yield StreamEvent(text)
                finally:
                    await events.aclose()
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ModelUnavailable(f"{endpoint.url}: {_describe(exc)}") from None
        except httpx.ReadTimeout:
            raise GenerationTimeout("the model server stopped sending") from None
        except (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError) as exc:
            raise GenerationFailed(
                f"connection lost: {_describe(exc)}", error_type="connection", retryable=first
            ) from None
        except (SSEError, ValueError) as exc:
            raise GenerationFailed(f"unreadable stream: {_describe(exc)}", error_type="protocol") from None


def build_generator(*, http: httpx.AsyncClient, settings: TGISettings, urls: Sequence[str]) -> TGIClient:
    """The generator for TGI_BACKEND: `tgi` (TGI's own API) or `openai` (an OpenAI-compatible server)."""
    cls = OpenAICompletionsClient if settings.backend == "openai" else TGIClient
    return cls(http=http, settings=settings, base_url=list(urls))


def _error_body(resp: httpx.Response) -> tuple[str | None, str]:
    try:
        data = resp.json()
    except ValueError:
        return None, resp.text[:200] or f"HTTP {resp.status_code}"
    if isinstance(data, dict):
        return data.get("error_type"), str(data.get("error", data))[:500]
    return None, str(data)[:200]


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "no endpoint answered"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
