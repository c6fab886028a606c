"""`dolphin-relay fake-model`: a loopback fake of Hugging Face Text Generation Inference (v3 router) that speaks
its real wire protocol. It echoes; it is not a model. People run it to try the console without a GPU (README),
bench/ runs it as the model server, and the tests use it (tests/fakes/tgi.py re-exports it).

- `POST /generate_stream`: SSE `data:{json}` events, one per token, the stop token `<|im_end|>` sent as a
  special token, the last event carrying `generated_text` and `details`; errors as an in-stream event
  `{"error", "error_type"}` with HTTP 200, as TGI does; keep-alive comments between events.
- `POST /generate`: the same, non-streaming, with real status codes (422 validation, 429 overloaded, 424).
- `GET /info`, `POST /tokenize` (BOS included; 404 when switched off), `GET /health` (200/503), `/metrics`;
  `GET /v1/models` and `POST /v1/completions` as below (TGI serves its OpenAI-compatible routes too).
- Validation like TGI: input tokens over `max_input_tokens`, input + max_new_tokens over `max_total_tokens`,
  `top_p` outside (0, 1), temperature <= 0 → a validation error.
- Continuous batching: up to `max_concurrent_requests` streams run at once, each at `token_delay_s` per
  token regardless of how many run (tokens are due on a fixed schedule, so the fake's own event-loop
  latency does not add up); past that, the `overloaded` error.

With `dialect="vllm"` or `dialect="sglang"` it is a stand-in for those engines' OpenAI-compatible servers,
written from their server code (vllm/entrypoints/openai/, sglang/srt/entrypoints/openai/):
- `GET /v1/models`: `{"object": "list", "data": [{"id", "object": "model", "owned_by": "vllm"|"sglang",
  "root", "max_model_len", …}]}` (`max_model_len` = `max_total_tokens`).
- `POST /v1/completions` with `stream: true`: `data: {json}` chunks `{"id", "object": "text_completion",
  "created", "model", "choices": [{"index", "text", "logprobs", "finish_reason", "stop_reason"}], "usage":
  null}`; the stop string is not sent; `finish_reason` "stop" (vLLM's `stop_reason`: the matched stop
  string or null at the end-of-sequence token; SGLang's `matched_stop`: the string or the token id) or
  "length"; with `stream_options.include_usage` a last chunk
  `{"choices": [], "usage": {"prompt_tokens", "completion_tokens", "total_tokens"}}`; then `data: [DONE]`.
- Errors with their status: vLLM `{"error": {"message", "type", "param", "code"}}`, SGLang
  `{"object": "error", "message", "type", "param", "code"}`; in the stream `data: {"error": {…}}` and
  [DONE]. A prompt over the context is a 400 `BadRequestError` ("This model's maximum context length is
  …"), as both engines say it.
- vLLM `POST /tokenize`, SGLang `POST /v1/tokenize` (and `/tokenize`): `{"prompt", "add_special_tokens"}` →
  `{"count", "max_model_len", "tokens"}`; `GET /health` 200/503.
- Only those: TGI's routes (`/generate_stream`, `/generate`, `/info`) are 404 there, as on the real servers
  (SGLang's native `/generate` speaks another protocol and is not faked).

Every request is recorded (`requests`, `prompts`). Scripted behaviour per request: `enqueue(FakeReply(…))`.
Run it for a person to try the console against: `dolphin-relay fake-model --port 8080 --show-prompts`
(`--dialect vllm` or `--dialect sglang` for those engines; `python -m bots.fake_model` works too).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from core.health import bind_problem

MODEL_ID = "cognitivecomputations/dolphin-2.1-mistral-7b"
_PIECES = re.compile(r"<\|im_(?:start|end)\|>|\s+(?=<\|im_(?:start|end)\|>)|\s*[^\s<]+|\s*<|\s+")
_MARKER = re.compile(r"<\|im_(?:start|end)\|>")
_LAST_USER = re.compile(r"<\|im_start\|>user\n(.*?)<\|im_end\|>", re.DOTALL)


def fake_tokenize(text: str) -> list[str]:
    """A deterministic stand-in for the Mistral tokenizer: ChatML markers are one token, else ~words."""
    return _PIECES.findall(text)


def fake_token_count(text: str, memo: dict[str, int] | None = None) -> int:
    """`len(fake_tokenize(text))` at a fraction of the cost (validation counts every prompt, and a prompt
    with a full history window is ~20 KB): per segment between markers, each run of characters other
    than whitespace and `<`, each `<`, and trailing whitespace are one piece. `memo` keeps the counts of
    segments seen before (a conversation's turns come back in every later prompt)."""
    segments = _MARKER.split(text)
    count = len(segments) - 1
    for segment in segments:
        if not segment:
            continue
        known = None if memo is None else memo.get(segment)
        if known is None:
            known = len(segment.replace("<", " < ").split()) + segment[-1].isspace()
            if memo is not None:
                if len(memo) > 100_000:
                    memo.clear()
                memo[segment] = known
        count += known
    return count


def echo_responder(prompt: str, params: dict[str, Any]) -> str:
    users = _LAST_USER.findall(prompt)
    last = users[-1] if users else ""
    return f"You said: {last}"


@dataclass
class FakeReply:
    text: str | None = None  # None: the responder decides
    first_token_delay_s: float = 0.0
    token_delay_s: float | None = None  # None: the server's default
    error_type: str | None = None  # validation | overloaded | generation | incomplete_generation
    error_message: str = "scripted error"
    error_after_tokens: int = 0
    drop_after_tokens: int | None = None  # close the connection without a final event
    keepalive_comments: bool = True
    http_status: int | None = None  # answer with this status and a JSON error body instead
    finish_reason: str | None = None
    hang: bool = False  # never send anything
    hold: asyncio.Event | None = None  # send nothing until it is set (a test releases the generation)
    eos_as_text: bool = False  # send the final `<|im_end|>` as ordinary text (special: false)
    # With `top_n_tokens` (TGI) or `logprobs` (OpenAI) in the request: the most likely tokens of the first
    # generated position, (text, logprob): /generate's `details.top_tokens[0]`, the first stream event's
    # `top_tokens`, the first completions chunk's `logprobs.top_logprobs[0]`.
    first_top_tokens: list[tuple[str, float]] | None = None


class _Cadence:
    """Token `i` is due `i × delay` after the first: like a batch of streams that advances one token per
    forward pass, a stream whose previous token was sent late (the event loop busy with other streams) is
    not delayed further, so the per-token delay does not grow with the number of concurrent streams."""

    def __init__(self, delay: float) -> None:
        self._delay = delay
        self._due: float | None = None

    async def next_token(self) -> None:
        if not self._delay:
            return
        loop = asyncio.get_running_loop()
        self._due = (loop.time() if self._due is None else self._due) + self._delay
        wait = self._due - loop.time()
        await asyncio.sleep(wait if wait > 0 else 0)


class FakeTGI:
    def __init__(
        self,
        *,
        model_id: str = MODEL_ID,
        max_input_tokens: int = 7168,
        max_total_tokens: int = 8192,
        max_concurrent_requests: int = 128,
        token_delay_s: float = 0.0,
        legacy_info: bool = False,
        tokenize: bool = True,
        responder: Callable[[str, dict[str, Any]], str] = echo_responder,
        remember_counts: bool = True,
        dialect: str = "tgi",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if dialect not in ("tgi", "vllm", "sglang"):
            raise ValueError(f"unknown dialect {dialect!r}")
        self.dialect = dialect
        self.model_id = model_id
        self.max_input_tokens = max_input_tokens
        self.max_total_tokens = max_total_tokens
        self.max_concurrent_requests = max_concurrent_requests
        self.token_delay_s = token_delay_s
        self.legacy_info = legacy_info
        self.tokenize_enabled = tokenize
        self.responder = responder
        self.healthy = True
        self.requests: list[dict[str, Any]] = []
        self.queue: list[FakeReply] = []
        self.in_flight = 0
        self.max_in_flight_seen = 0
        self.disconnects = 0
        self.connections: set[object] = set()  # client sockets (peer addresses) that asked for streams
        # Token counts of prompt segments seen before (up to 100,000): fast validation of long prompts.
        # Off for the soak, which measures the memory of the process the fake runs in.
        self._segment_counts: dict[str, int] | None = {} if remember_counts else None
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.url = ""

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> str:
        # Each engine's routes only (a route another engine has is a 404 here, as on the real server). TGI
        # serves the OpenAI routes too (router/src/server.rs); SGLang's native /generate takes another
        # protocol and is not faked.
        app = web.Application()
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/v1/models", self._openai_models)
        app.router.add_post("/v1/completions", self._openai_completions)
        if self.dialect == "tgi":
            app.router.add_post("/generate_stream", self._generate_stream)
            app.router.add_post("/generate", self._generate)
            app.router.add_get("/info", self._info)
            app.router.add_post("/tokenize", self._tokenize)
        else:  # vLLM's /tokenize; SGLang's /v1/tokenize, and /tokenize, its older name
            app.router.add_post("/tokenize", self._openai_tokenize)
            if self.dialect == "sglang":
                app.router.add_post("/v1/tokenize", self._openai_tokenize)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        sockets = site._server.sockets  # type: ignore[union-attr]
        port = sockets[0].getsockname()[1]
        self.url = f"http://{self._host}:{port}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTGI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---------------------------------------------------------------- recording and scripting

    def enqueue(self, *replies: FakeReply) -> None:
        self.queue.extend(replies)

    @property
    def prompts(self) -> list[str]:
        paths = ("/generate_stream", "/generate", "/v1/completions")
        return [r["body"]["inputs"] for r in self.requests if r["path"] in paths]

    def count_tokens(self, text: str) -> int:
        return fake_token_count(text, self._segment_counts) + 1  # + BOS

    # ---------------------------------------------------------------- routes

    async def _info(self, request: web.Request) -> web.Response:
        info: dict[str, Any] = {
            "model_id": self.model_id,
            "model_sha": "0000000000000000000000000000000000000000",
            "model_pipeline_tag": "text-generation",
            "max_concurrent_requests": self.max_concurrent_requests,
            "max_best_of": 2,
            "max_stop_sequences": 4,
            "max_total_tokens": self.max_total_tokens,
            "validation_workers": 2,
            "version": "3.3.4",
            "router": "text-generation-router",
        }
        info["max_input_length" if self.legacy_info else "max_input_tokens"] = self.max_input_tokens
        return web.json_response(info)

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(status=200 if self.healthy else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(text=f"tgi_queue_size {max(0, self.in_flight - self.max_concurrent_requests)}\n")

    async def _tokenize(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append({"path": "/tokenize", "body": body})
        if not self.tokenize_enabled:
            return web.json_response({"error": "Tokenizer not found", "error_type": "tokenizer"}, status=404)
        out = [{"id": 1, "text": "<s>", "start": 0, "stop": 0}]
        pos = 0
        for i, piece in enumerate(fake_tokenize(body["inputs"])):
            out.append({"id": 100 + i, "text": piece, "start": pos, "stop": pos + len(piece)})
            pos += len(piece)
        return web.json_response(out)

    def _validate(self, body: dict[str, Any]) -> str | None:
        params = body.get("parameters") or {}
        top_p = params.get("top_p")
        if top_p is not None and not 0.0 < top_p < 1.0:
            return "`top_p` must be > 0.0 and < 1.0"
        temperature = params.get("temperature")
        if temperature is not None and temperature <= 0:
            return "`temperature` must be strictly positive"
        top_n = params.get("top_n_tokens")
        if top_n is not None and not 0 <= top_n <= 5:  # TGI's --max-top-n-tokens, 5 by default
            return "`top_n_tokens` must be >= 0 and <= 5"
        input_tokens = self.count_tokens(body.get("inputs", ""))
        if input_tokens > self.max_input_tokens:
            return (
                f"Input validation error: `inputs` tokens + `max_new_tokens` must be <= "
                f"{self.max_total_tokens}. Given: {input_tokens} `inputs` tokens"
            )
        max_new = params.get("max_new_tokens") or 100
        if input_tokens + max_new > self.max_total_tokens:
            return (
                f"Input validation error: `inputs` tokens + `max_new_tokens` must be <= {self.max_total_tokens}. "
                f"Given: {input_tokens} `inputs` tokens and {max_new} `max_new_tokens`"
            )
        return None

    def _plan(self, body: dict[str, Any], reply: FakeReply) -> tuple[list[str], str]:
        """The tokens to send and the finish reason, honoring max_new_tokens and stop sequences."""
        params = body.get("parameters") or {}
        text = reply.text if reply.text is not None else self.responder(body["inputs"], params)
        pieces = fake_tokenize(text)
        max_new = params.get("max_new_tokens") or 100
        finish = reply.finish_reason or "eos_token"
        if len(pieces) > max_new:
            pieces, finish = pieces[:max_new], "length"
        stops = params.get("stop") or []
        sent = ""
        for i, piece in enumerate(pieces):
            sent += piece
            if any(s in sent for s in stops):
                return pieces[: i + 1], "stop_sequence"
        return pieces, finish

    async def _streamed(
        self, request: web.Request, reply: FakeReply, produce: Callable[[], Awaitable[None]]
    ) -> None:
        """Run one streamed generation (`produce`) in a slot of the server, counted in flight while it runs. A
        scripted hang stays silent until the client gives up and closes the connection (an hour at most; TGI
        then frees the slot); a client that goes away (e.g. the answer was blocked mid-stream) is a disconnect."""
        self.in_flight += 1
        self.max_in_flight_seen = max(self.max_in_flight_seen, self.in_flight)
        try:
            if reply.hold is not None:
                await reply.hold.wait()
            if reply.hang:
                for _ in range(72_000):
                    if request.transport is None or request.transport.is_closing():
                        break
                    await asyncio.sleep(0.05)
                self.disconnects += 1
                return
            await produce()
        except ConnectionResetError:
            self.disconnects += 1
        except asyncio.CancelledError:
            self.disconnects += 1
            raise
        finally:
            self.in_flight -= 1

    def _take_stream(self, request: web.Request, path: str, body: dict[str, Any]) -> FakeReply:
        """Record a streaming request (its body, key, time and connection) and take its scripted reply."""
        self.requests.append(
            {
                "path": path,
                "body": body,
                "authorization": request.headers.get("Authorization"),
                "at": time.monotonic(),
            }
        )
        if request.transport is not None:
            self.connections.add(request.transport.get_extra_info("peername"))
        return self.queue.pop(0) if self.queue else FakeReply()

    async def _generate_stream(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        reply = self._take_stream(request, "/generate_stream", body)
        if reply.http_status is not None:
            return web.json_response(
                {"error": reply.error_message, "error_type": reply.error_type or "generation"},
                status=reply.http_status,
            )
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)

        async def send(obj: dict[str, Any]) -> None:
            await resp.write(f"data:{json.dumps(obj)}\n\n".encode())

        if self.in_flight >= self.max_concurrent_requests:
            await send({"error": "Model is overloaded", "error_type": "overloaded"})
            return resp
        error = self._validate(body)
        if error is not None:
            await send({"error": error, "error_type": "validation"})
            return resp

        async def produce() -> None:
            if reply.keepalive_comments:
                await resp.write(b": keep-alive\n\n")
            if reply.first_token_delay_s:
                await asyncio.sleep(reply.first_token_delay_s)
            pieces, finish = self._plan(body, reply)
            # The last event carries the last token: the eos `<|im_end|>` (special) when the model
            # stopped by itself, else the token that hit the length limit or completed a stop sequence.
            final_piece = "<|im_end|>"
            if finish != "eos_token" and pieces and reply.finish_reason is None:
                final_piece = pieces.pop()
            delay = self.token_delay_s if reply.token_delay_s is None else reply.token_delay_s
            cadence = _Cadence(delay)
            generated = ""
            top = _top_tokens(body, reply)
            for i, piece in enumerate(pieces):
                if reply.error_type is not None and i == reply.error_after_tokens:
                    await send({"error": reply.error_message, "error_type": reply.error_type})
                    return
                if reply.drop_after_tokens is not None and i == reply.drop_after_tokens:
                    assert request.transport is not None
                    request.transport.close()
                    return
                await cadence.next_token()
                special = piece in ("<|im_end|>", "<|im_start|>")
                if not special:
                    generated += piece
                await send(
                    {
                        "index": i + 1,
                        "token": {"id": 100 + i, "text": piece, "logprob": -0.1, "special": special},
                        "generated_text": None,
                        "details": None,
                        "top_tokens": top if i == 0 else None,
                    }
                )
                if reply.keepalive_comments and i % 16 == 15:
                    await resp.write(b": keep-alive\n\n")
            if reply.error_type is not None:
                await send({"error": reply.error_message, "error_type": reply.error_type})
                return
            if reply.drop_after_tokens is not None:
                assert request.transport is not None
                request.transport.close()
                return
            n = len(pieces)
            final_special = final_piece in ("<|im_end|>", "<|im_start|>") and not reply.eos_as_text
            if not final_special:
                generated += final_piece
            await send(
                {
                    "index": n + 1,
                    "token": {
                        "id": 32000 if final_piece == "<|im_end|>" else 100 + n,
                        "text": final_piece,
                        "logprob": -0.01,
                        "special": final_special,
                    },
                    "generated_text": generated,
                    "details": {"finish_reason": finish, "generated_tokens": n + 1, "seed": None},
                    "top_tokens": top if n == 0 else None,
                }
            )
            await resp.write_eof()

        await self._streamed(request, reply, produce)
        return resp

    # ---------------------------------------------------------------- OpenAI-compatible (vLLM, SGLang)

    def _openai_error(self, message: str, status: int, err_type: str = "BadRequestError") -> dict[str, Any]:
        """The engine's error body: vLLM's ErrorResponse nests an ErrorInfo; SGLang's is flat."""
        if self.dialect == "sglang":
            return {"object": "error", "message": message, "type": err_type, "param": None, "code": status}
        return {"error": {"message": message, "type": err_type, "param": None, "code": status}}

    async def _openai_models(self, request: web.Request) -> web.Response:
        card: dict[str, Any] = {"id": self.model_id, "object": "model"}
        if self.dialect != "tgi":
            card.update(
                created=int(time.time()),
                owned_by=self.dialect,
                root=self.model_id,
                parent=None,
                max_model_len=self.max_total_tokens,
            )
            if self.dialect == "vllm":
                card["permission"] = []
        return web.json_response({"object": "list", "data": [card]})

    async def _openai_tokenize(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append({"path": request.path, "body": body})
        if not self.tokenize_enabled:
            return web.json_response(self._openai_error("Not Found", 404, "NotFoundError"), status=404)
        prompt = body.get("prompt")
        if not isinstance(prompt, str):
            return web.json_response(self._openai_error("prompt must be a string", 400), status=400)
        bos = [1] if body.get("add_special_tokens", True) else []
        tokens = bos + [100 + i for i, _ in enumerate(fake_tokenize(prompt))]
        return web.json_response(
            {
                "count": len(tokens),
                "max_model_len": self.max_total_tokens,
                "tokens": tokens,
                "token_strs": None,
            }
        )

    def _openai_validate(self, body: dict[str, Any]) -> str | None:
        """vLLM's and SGLang's checks of a completion request that the fake model can fail."""
        if self.dialect != "tgi" and body.get("model") not in (None, self.model_id):
            return f"The model `{body.get('model')}` does not exist."
        temperature = body.get("temperature")
        if temperature is not None and temperature < 0:
            return "temperature must be non-negative"
        top_p = body.get("top_p")
        if top_p is not None and not 0.0 < top_p <= 1.0:
            return "top_p must be in (0, 1]"
        input_tokens = self.count_tokens(body.get("prompt", ""))
        max_tokens = body.get("max_tokens") or 16
        if self.dialect == "tgi":  # the old generic stand-in: TGI's limits
            return self._validate(
                {"inputs": body.get("prompt", ""), "parameters": {"max_new_tokens": max_tokens}}
            )
        if input_tokens >= self.max_total_tokens:
            return (
                f"This model's maximum context length is {self.max_total_tokens} tokens. However, your "
                f"request has {input_tokens} input tokens. Please reduce the length of the input messages."
            )
        if input_tokens + max_tokens > self.max_total_tokens:
            return (
                f"This model's maximum context length is {self.max_total_tokens} tokens. However, you "
                f"requested {input_tokens + max_tokens} tokens ({input_tokens} in the messages, "
                f"{max_tokens} in the completion). Please reduce the length of the messages or completion."
            )
        return None

    async def _openai_completions(self, request: web.Request) -> web.StreamResponse:
        """Streaming completions as vLLM and SGLang send them (the same fake model)."""
        body = await request.json()
        reply = self._take_stream(request, "/v1/completions", {**body, "inputs": body.get("prompt", "")})
        if reply.http_status is not None:
            return web.json_response(
                self._openai_error(
                    reply.error_message, reply.http_status, reply.error_type or "BadRequestError"
                ),
                status=reply.http_status,
            )
        if self.in_flight >= self.max_concurrent_requests:
            return web.json_response(
                self._openai_error("The server is overloaded", 429, "TooManyRequests"), status=429
            )
        error = self._openai_validate(body)
        if error is not None:
            status = 404 if error.startswith("The model `") else 400
            err_type = "NotFoundError" if status == 404 else "BadRequestError"
            return web.json_response(self._openai_error(error, status, err_type), status=status)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        created = int(time.time())
        ident = f"cmpl-{len(self.requests)}"

        def chunk(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> bytes:
            data = {
                "id": ident,
                "object": "text_completion",
                "created": created,
                "model": body.get("model"),
                "choices": choices,
                "usage": usage,
            }
            return f"data: {json.dumps(data)}\n\n".encode()

        async def produce() -> None:
            if reply.first_token_delay_s:
                await asyncio.sleep(reply.first_token_delay_s)
            stops = body.get("stop") or []
            tgi_body = {
                "inputs": body.get("prompt", ""),
                "parameters": {"max_new_tokens": body.get("max_tokens") or 16, "stop": stops},
            }
            pieces, finish = self._plan(tgi_body, reply)
            stop_reason: str | None = None
            if finish == "stop_sequence":  # the stop string is not sent (include_stop_str_in_output off)
                sent = "".join(pieces)
                stop_reason = next(s for s in stops if s in sent)
                kept = sent[: sent.index(stop_reason)]
                pieces = [kept] if kept else []
            stop_field = "matched_stop" if self.dialect == "sglang" else "stop_reason"
            delay = self.token_delay_s if reply.token_delay_s is None else reply.token_delay_s
            cadence = _Cadence(delay)
            logprobs = body.get("logprobs") and reply.first_top_tokens
            for i, piece in enumerate(pieces):
                if reply.error_type is not None and i == reply.error_after_tokens:
                    break
                if reply.drop_after_tokens is not None and i == reply.drop_after_tokens:
                    assert request.transport is not None
                    request.transport.close()
                    return
                await cadence.next_token()
                choice: dict[str, Any] = {"index": 0, "text": piece, "logprobs": None, "finish_reason": None}
                choice[stop_field] = None
                if logprobs and i == 0:
                    assert reply.first_top_tokens is not None
                    choice["logprobs"] = {
                        "tokens": [piece],
                        "token_logprobs": [reply.first_top_tokens[0][1]],
                        "top_logprobs": [dict(reply.first_top_tokens)],
                        "text_offset": [0],
                    }
                await resp.write(chunk([choice]))
            if reply.error_type is not None:
                error_body = self._openai_error(reply.error_message, 500, "InternalServerError")
                wrapped = error_body if "error" in error_body else {"error": error_body}
                await resp.write(f"data: {json.dumps(wrapped)}\n\ndata: [DONE]\n\n".encode())
                return
            if reply.drop_after_tokens is not None:
                assert request.transport is not None
                request.transport.close()
                return
            reason = "length" if finish == "length" else "stop"
            last = {
                "index": 0,
                "text": "",
                "logprobs": None,
                "finish_reason": reason,
                "stop_reason": stop_reason,
            }
            await resp.write(chunk([last]))
            if (body.get("stream_options") or {}).get("include_usage"):
                prompt_tokens = self.count_tokens(body.get("prompt", ""))
                completion = len(pieces) + (finish != "length")  # + the end-of-sequence or stop token
                usage = {
                    "prompt_tokens": prompt_tokens,
                    "total_tokens": prompt_tokens + completion,
                    "completion_tokens": completion,
                    "prompt_tokens_details": None,
                }
                await resp.write(chunk([], usage))
            await resp.write(b"data: [DONE]\n\n")
            await resp.write_eof()

        await self._streamed(request, reply, produce)
        return resp

    async def _generate(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append({"path": "/generate", "body": body})
        reply = self.queue.pop(0) if self.queue else FakeReply()
        if reply.http_status is not None:
            return web.json_response(
                {"error": reply.error_message, "error_type": reply.error_type or "generation"},
                status=reply.http_status,
            )
        if self.in_flight >= self.max_concurrent_requests:
            return web.json_response({"error": "Model is overloaded", "error_type": "overloaded"}, status=429)
        error = self._validate(body)
        if error is not None:
            return web.json_response({"error": error, "error_type": "validation"}, status=422)
        if reply.error_type is not None:
            return web.json_response(
                {"error": reply.error_message, "error_type": reply.error_type}, status=424
            )
        self.in_flight += 1
        try:
            if reply.first_token_delay_s:
                await asyncio.sleep(reply.first_token_delay_s)
            pieces, finish = self._plan(body, reply)
            details: dict[str, Any] = {"finish_reason": finish, "generated_tokens": len(pieces)}
            params = body.get("parameters") or {}
            if params.get("details") and params.get("top_n_tokens") and reply.first_top_tokens is not None:
                # TGI: one list of the most likely tokens per generated position
                details["top_tokens"] = [
                    [
                        {"id": i, "text": text, "logprob": logprob, "special": False}
                        for i, (text, logprob) in enumerate(reply.first_top_tokens)
                    ]
                ]
            return web.json_response({"generated_text": "".join(pieces), "details": details})
        finally:
            self.in_flight -= 1


def _top_tokens(body: dict[str, Any], reply: FakeReply) -> list[dict[str, Any]] | None:
    """A stream event's `top_tokens` for the first position, when asked for and scripted."""
    if not (body.get("parameters") or {}).get("top_n_tokens") or reply.first_top_tokens is None:
        return None
    return [
        {"id": i, "text": text, "logprob": logprob, "special": False}
        for i, (text, logprob) in enumerate(reply.first_top_tokens)
    ]


def fixed_answer(tokens: int) -> Callable[[str, dict[str, Any]], str]:
    def respond(prompt: str, params: dict[str, Any]) -> str:
        return " ".join(f"tok{i}" for i in range(tokens))

    return respond


_ANSWER_ID = re.compile(r"\[answer (\d+)\]")


def file_answers(path: str) -> Callable[[str, dict[str, Any]], str]:
    """Answers from a JSONL file of `{"text": …}`: a last user turn containing `[answer N]` gets line N's
    text (0-based); anything else is echoed. The streaming benchmark (bench/stream_check.py) uses it."""
    with open(path, encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()]

    def respond(prompt: str, params: dict[str, Any]) -> str:
        users = _LAST_USER.findall(prompt)
        m = _ANSWER_ID.search(users[-1]) if users else None
        return (
            texts[int(m.group(1))] if m and int(m.group(1)) < len(texts) else echo_responder(prompt, params)
        )

    return respond


def printing(responder: Callable[[str, dict[str, Any]], str]) -> Callable[[str, dict[str, Any]], str]:
    """Print every prompt received, whole, before answering: what the model would see (the system turn,
    the remembered history, typed markers as harmless text)."""

    def respond(prompt: str, params: dict[str, Any]) -> str:
        print(f"--- prompt ({len(prompt)} characters) ---\n{prompt}\n--- end of prompt ---", flush=True)
        return responder(prompt, params)

    return respond


async def _serve(
    port: int,
    token_delay_s: float,
    max_concurrent: int = 128,
    answer_tokens: int = 0,
    show_prompts: bool = False,
    dialect: str = "tgi",
    max_model_len: int = 8192,
    answers: str | None = None,
) -> None:
    responder = fixed_answer(answer_tokens) if answer_tokens else echo_responder
    if answers is not None:
        try:
            responder = file_answers(answers)
        except OSError as exc:
            raise _CannotServe(f"--answers {answers}: cannot read it ({exc.strerror})") from None
    fake = FakeTGI(
        port=port,
        token_delay_s=token_delay_s,
        max_concurrent_requests=max_concurrent,
        responder=printing(responder) if show_prompts else responder,
        dialect=dialect,
        max_total_tokens=max_model_len,
        max_input_tokens=min(7168, max_model_len - 1),
    )
    try:
        url = await fake.start()
    except OSError as exc:
        await fake.close()
        raise _CannotServe(
            f"cannot listen on 127.0.0.1:{port} ({bind_problem(exc)}): pick another --port (another "
            "fake-model may still be running there), and point TGI_URL at it"
        ) from None
    name = {"tgi": "TGI", "vllm": "vLLM", "sglang": "SGLang"}[dialect]
    print(f"fake {name} (echo, not a model) listening on {url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.close()


def add_fake_model_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`dolphin-relay fake-model …`: the same options as `python -m bots.fake_model`."""
    parser = sub.add_parser(
        "fake-model",
        help="serve a loopback fake of the model server (it echoes; it is not a model) to try things without a GPU",
        description=DESCRIPTION,
    )
    _add_arguments(parser)
    parser.set_defaults(handler=run)


DESCRIPTION = "Serve the loopback fake TGI, vLLM or SGLang server (it echoes; it is not a model)."


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--token-delay", type=float, default=0.02, help="seconds per streamed token")
    parser.add_argument("--max-concurrent-requests", type=int, default=128)
    parser.add_argument(
        "--answer-tokens", type=int, default=0, help="answer with N tokens instead of echoing"
    )
    parser.add_argument(
        "--answers", default=None, help='JSONL of {"text"}: "[answer N]" in a message gets line N as answer'
    )
    parser.add_argument(
        "--show-prompts", action="store_true", help="print every prompt received (what the model would see)"
    )
    parser.add_argument(
        "--dialect",
        choices=("tgi", "vllm", "sglang"),
        default="tgi",
        help="the engine to stand in for (TGI_BACKEND=vllm or sglang for the latter two)",
    )
    parser.add_argument(
        "--max-model-len", type=int, default=8192, help="the context it reports (prompt + answer tokens)"
    )


class _CannotServe(Exception):
    """The fake cannot start (a busy port, an unreadable --answers file): one line, exit 2."""


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted (Ctrl-C; SIGTERM ends the process at once); the exit code."""
    try:
        _serve_until_interrupted(args)
    except _CannotServe as exc:
        print(f"dolphin-relay fake-model: {exc}", file=sys.stderr)
        return 2
    return 0


def _serve_until_interrupted(args: argparse.Namespace) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            _serve(
                args.port,
                args.token_delay,
                args.max_concurrent_requests,
                args.answer_tokens,
                show_prompts=args.show_prompts,
                dialect=args.dialect,
                max_model_len=args.max_model_len,
                answers=args.answers,
            )
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bots.fake_model", description=DESCRIPTION)
    _add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
