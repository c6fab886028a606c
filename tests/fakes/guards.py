"""Loopback stand-ins for the guard models, driven by rules a test gives ("texts containing X are Unsafe/Violent").

- `FakeOpenAIGuard`: vLLM's or SGLang's OpenAI-compatible server serving Qwen3Guard-Gen. `GET /v1/models`,
  `GET /health` (200, or 503 when `healthy` is False), `POST /v1/completions` (non-streaming): the
  `text_completion` object with `choices[0].text`, `finish_reason` (`length` when the answer is longer than
  `max_tokens`) and `usage`. Errors as each engine shapes them: vLLM (v0.10 and later)
  `{"error": {"message", "type", "param", "code"}}`, SGLang `{"object": "error", "message", "type", "param",
  "code"}`; vLLM answers 404 for a request naming a model it does not serve (SGLang ignores the name), 400
  for a prompt longer than `max_model_len`. The answer is Qwen3Guard's published format, for the text the
  prompt asks about (the last USER or ASSISTANT turn), from the first matching rule.
- `llama_guard_responder(rules)`: a `FakeTGI` responder (tests/fakes/tgi.py speaks TGI's `/generate`) that
  answers like Llama Guard 3: `safe`, or `unsafe` and the codes of the matching rules, only for categories
  the prompt lists (the model is asked about those alone).

Every request is recorded (`requests`, `prompts`). Scripted behaviour per request: `enqueue(GuardReply(…))`.

Run one to try the guard path by hand, without a GPU (docs/moderation.md, "Trying the guard path without a
GPU"): `python -m tests.fakes.guards --port 8001 --unsafe "pipe bomb=Violent"` (`--model llama-guard` for
Llama Guard 3 on TGI, with codes: `--unsafe "pipe bomb=S9"`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from core.alignment.qwen3guard import CATEGORY_CODES

QWEN3GUARD_MODEL = "Qwen/Qwen3Guard-Gen-0.6B"
_CONVERSATION = re.compile(r"<BEGIN CONVERSATION>\n\n(.*?)\n\n<END CONVERSATION>", re.DOTALL)
_LG_LISTED = re.compile(r"^(S\d+): ", re.MULTILINE)


@dataclass(frozen=True)
class Rule:
    """Texts containing `contains` (case-insensitive) get this verdict. `safety`: Qwen3Guard's level
    (Unsafe | Controversial); `categories`: Qwen3Guard's names, or Llama Guard's codes."""

    contains: str
    safety: Literal["Unsafe", "Controversial"] = "Unsafe"
    categories: tuple[str, ...] = ()
    stage: Literal["any", "request", "answer"] = "any"

    def matches(self, text: str, *, answer: bool) -> bool:
        if self.stage == ("request" if answer else "answer"):
            return False
        return self.contains.lower() in text.lower()


def last_turn(prompt: str, user: str, agent: str) -> tuple[bool, str] | None:
    """(is it an answer, its text): the last turn of the prompt's conversation, `agent`'s when it has one."""
    found = _CONVERSATION.search(prompt)
    if found is None:
        return None
    conversation = found.group(1)
    if f"\n\n{agent}: " in conversation:
        return True, conversation.rsplit(f"\n\n{agent}: ", 1)[1]
    return False, conversation.removeprefix(f"{user}: ")


def qwen3guard_answer(prompt: str, rules: Iterable[Rule]) -> str:
    """Qwen3Guard-Gen's answer to `prompt` under `rules`: two lines for a request, three for an answer."""
    turn = last_turn(prompt, "USER", "ASSISTANT")
    if turn is None:
        return "I'm not sure what you want me to assess."
    answer, text = turn
    hit = next((r for r in rules if r.matches(text, answer=answer)), None)
    lines = (
        ["Safety: Safe", "Categories: None"]
        if hit is None
        else [f"Safety: {hit.safety}", f"Categories: {', '.join(hit.categories) or 'None'}"]
    )
    if answer:
        lines.append("Refusal: No")
    return "\n".join(lines)


def llama_guard_responder(rules: Iterable[Rule]) -> Any:
    """A FakeTGI responder: Llama Guard 3's answer for the last User/Agent turn, naming only listed codes."""
    rules = list(rules)

    def respond(prompt: str, params: dict[str, Any]) -> str:
        turn = last_turn(prompt, "User", "Agent")
        if turn is None:
            return "I cannot help with that."
        answer, text = turn
        listed = set(_LG_LISTED.findall(prompt.split("<END UNSAFE CONTENT CATEGORIES>")[0]))
        codes = [
            code
            for rule in rules
            if rule.matches(text, answer=answer)
            for code in rule.categories
            if code in listed
        ]
        return "unsafe\n" + ",".join(dict.fromkeys(codes)) if codes else "safe"

    return respond


@dataclass
class GuardReply:
    text: str | None = None  # None: the rules decide; else this exact answer (e.g. a garbled one)
    delay_s: float = 0.0
    http_status: int | None = None  # answer with this status and the engine's error body
    error_message: str = "scripted error"


@dataclass
class FakeOpenAIGuard:
    rules: list[Rule] = field(default_factory=list)
    model_id: str = QWEN3GUARD_MODEL
    engine: Literal["vllm", "sglang"] = "vllm"
    max_model_len: int = 8192
    host: str = "127.0.0.1"
    port: int = 0

    def __post_init__(self) -> None:
        self.healthy = True
        self.requests: list[dict[str, Any]] = []
        self.queue: list[GuardReply] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/health", self._health)
        app.router.add_post("/v1/completions", self._completions)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{self.host}:{port}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeOpenAIGuard:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def enqueue(self, *replies: GuardReply) -> None:
        self.queue.extend(replies)

    @property
    def prompts(self) -> list[str]:
        return [str(r["body"].get("prompt", "")) for r in self.requests if r["path"] == "/v1/completions"]

    # ---------------------------------------------------------------- routes

    async def _models(self, request: web.Request) -> web.Response:
        self.requests.append({"path": "/v1/models", "body": {}})
        card = {
            "id": self.model_id,
            "object": "model",
            "created": int(time.time()),
            "owned_by": self.engine,
            "root": self.model_id,
            "max_model_len": self.max_model_len,
        }
        return web.json_response({"object": "list", "data": [card]})

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(status=200 if self.healthy else 503)

    def _error(self, status: int, message: str, kind: str, param: str | None = None) -> web.Response:
        info = {"message": message, "type": kind, "param": param, "code": status}
        body: dict[str, Any] = {"error": info} if self.engine == "vllm" else {"object": "error", **info}
        return web.json_response(body, status=status)

    async def _completions(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return self._error(400, "Invalid JSON body", "BadRequestError")
        self.requests.append({"path": "/v1/completions", "body": body})
        reply = self.queue.pop(0) if self.queue else GuardReply()
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.http_status is not None:
            return self._error(reply.http_status, reply.error_message, "InternalServerError")
        if self.engine == "vllm" and body.get("model") != self.model_id:
            return self._error(
                404, f"The model `{body.get('model')}` does not exist.", "NotFoundError", "model"
            )
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            return self._error(400, "Either prompt or prompt_embeds must be provided.", "BadRequestError")
        prompt_tokens = len(prompt.split())  # ~ words: enough for the length checks a guard meets
        if prompt_tokens >= self.max_model_len:
            return self._error(
                400,
                f"This model's maximum context length is {self.max_model_len} tokens. However, your request "
                f"has {prompt_tokens} input tokens.",
                "BadRequestError",
            )
        text = reply.text if reply.text is not None else qwen3guard_answer(prompt, self.rules)
        tokens = re.findall(r"\S+|\s+", text)
        max_tokens = int(body.get("max_tokens") or (self.max_model_len - prompt_tokens))
        finish = "stop"
        if len(tokens) > max_tokens:
            text, finish = "".join(tokens[:max_tokens]), "length"
        completion = min(len(tokens), max_tokens)
        return web.json_response(
            {
                "id": f"cmpl-{uuid.uuid4().hex}",
                "object": "text_completion",
                "created": int(time.time()),
                "model": body.get("model") or self.model_id,
                "choices": [
                    {
                        "index": 0,
                        "text": text,
                        "logprobs": None,
                        "finish_reason": finish,
                        "stop_reason": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "total_tokens": prompt_tokens + completion,
                    "completion_tokens": completion,
                },
            }
        )


# ------------------------------------------------------------------ `python -m tests.fakes.guards`

LLAMA_GUARD_MODEL = "meta-llama/Llama-Guard-3-1B"
_QWEN3GUARD_NAMES = tuple(CATEGORY_CODES)  # the names its published template lists


def parse_rules(
    model: str, unsafe: Sequence[str], answers: Sequence[str], controversial: Sequence[str]
) -> list[Rule]:
    """The command line's `TEXT=CATEGORY` options as rules; ValueError names the one that is wrong."""
    rules = []
    for option, values, stage, safety in (
        ("--unsafe", unsafe, "any", "Unsafe"),
        ("--unsafe-answer", answers, "answer", "Unsafe"),
        ("--controversial", controversial, "any", "Controversial"),
    ):
        for value in values:
            text, sep, category = value.rpartition("=")
            if not sep or not text or not category:
                raise ValueError(f"{option} {value!r}: write TEXT=CATEGORY, e.g. 'pipe bomb=Violent'")
            if model == "qwen3guard" and category not in _QWEN3GUARD_NAMES:
                names = ", ".join(_QWEN3GUARD_NAMES)
                raise ValueError(f"{option} {value!r}: Qwen3Guard's categories are {names}")
            if model == "llama-guard" and not re.fullmatch(r"S(?:[1-9]|1[0-4])", category):
                raise ValueError(f"{option} {value!r}: Llama Guard's categories are the codes S1 … S14")
            rules.append(Rule(text, safety, (category,), stage))  # type: ignore[arg-type]
    return rules


async def serve(model: str, port: int, rules: list[Rule]) -> None:
    """Serve the stand-in on 127.0.0.1:`port` until cancelled."""
    from tests.fakes.tgi import FakeTGI

    fake: FakeOpenAIGuard | FakeTGI
    if model == "qwen3guard":
        fake, what = FakeOpenAIGuard(rules=rules, port=port), f"{QWEN3GUARD_MODEL} on vLLM"
    else:
        fake = FakeTGI(model_id=LLAMA_GUARD_MODEL, responder=llama_guard_responder(rules), port=port)
        what = f"{LLAMA_GUARD_MODEL} on TGI"
    try:
        url = await fake.start()
    except OSError as exc:
        await fake.close()
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise SystemExit(
            f"python -m tests.fakes.guards: cannot listen on 127.0.0.1:{port} ({reason})"
        ) from None
    print(f"stand-in for {what} (answers by your rules, not a model) listening on {url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.guards",
        description="Serve a loopback stand-in for a guard model: the engine's API and the model's answer "
        "format, with verdicts from the rules given here (it is not a model). Point ALIGNMENT_GUARD_URL, "
        "or policy check/eval --guard-url, at it.",
    )
    parser.add_argument("--model", choices=["qwen3guard", "llama-guard"], default="qwen3guard")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument(
        "--unsafe",
        action="append",
        default=[],
        metavar="TEXT=CATEGORY",
        help="a request or answer containing TEXT (any case) is unsafe: a Qwen3Guard category name "
        "(Violent, Non-violent Illegal Acts, …) or a Llama Guard code (S1 … S14); repeatable",
    )
    parser.add_argument(
        "--unsafe-answer", action="append", default=[], metavar="TEXT=CATEGORY", help="the same, answers only"
    )
    parser.add_argument(
        "--controversial",
        action="append",
        default=[],
        metavar="TEXT=CATEGORY",
        help="Qwen3Guard only: judged Controversial",
    )
    args = parser.parse_args(argv)
    if args.controversial and args.model != "qwen3guard":
        parser.error("--controversial is Qwen3Guard's level; Llama Guard has none")
    try:
        rules = parse_rules(args.model, args.unsafe, args.unsafe_answer, args.controversial)
    except ValueError as exc:
        parser.error(str(exc))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.model, args.port, rules))
    return 0


if __name__ == "__main__":
    sys.exit(main())
