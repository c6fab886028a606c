"""Processes and wiring shared by the benchmarks: a throwaway redis-server, a fake TGI in its own process
(so it does not share this process's core), and a ChatService built the way the composition root does."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis
from redis.asyncio.connection import Connection

from bots.fake_model import MODEL_ID
from core.alignment.moderator import build_moderator
from core.builder import build_gate, build_service, code_settings
from core.llm import GenerationParams, ModelInfo, StreamEvent, TextGenerator, TGIClient, build_model_session
from core.models import ReplySink, SinkLimits
from core.service import ChatService
from core.settings import (
    AlignmentSettings,
    BudgetSettings,
    HistorySettings,
    LimitSettings,
    RedisSettings,
    TGISettings,
)
from core.tokens import build_counter
from tools.loopback import free_port, wait_listening

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                tmp,
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            wait_listening(port, timeout_s=15)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(10)


@contextlib.contextmanager
def fake_tgi(
    *,
    token_delay_s: float,
    answer_tokens: int = 50,
    max_concurrent: int = 128,
    engine: str = "tgi",
    max_model_len: int = 8192,
    answers: Path | None = None,
) -> Iterator[str]:
    """The fake model server in its own process, standing in for `engine` (tgi, vllm or sglang).
    `answers`: a JSONL of `{"text"}` the fake answers with (`[answer N]` in a message: line N)."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bots.fake_model",
            "--port",
            str(port),
            "--token-delay",
            str(token_delay_s),
            "--max-concurrent-requests",
            str(max_concurrent),
            "--answer-tokens",
            str(answer_tokens),
            "--dialect",
            engine,
            "--max-model-len",
            str(max_model_len),
            *(["--answers", str(answers)] if answers is not None else []),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        wait_listening(port, timeout_s=15)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


class RecordingGenerator:
    """A `TextGenerator` that keeps every prompt it is asked to stream (for the prefix figures)."""

    def __init__(self, inner: TGIClient, prompts: list[str]) -> None:
        self._inner = inner
        self.prompts = prompts

    async def info(self) -> ModelInfo:
        return await self._inner.info()

    def stream(self, prompt: str, params: GenerationParams) -> AsyncIterator[StreamEvent]:
        self.prompts.append(prompt)
        return self._inner.stream(prompt, params)

    async def count_tokens(self, text: str) -> int:
        return await self._inner.count_tokens(text)

    async def healthy(self) -> bool:
        return await self._inner.healthy()


class CountingConnection(Connection):
    """Counts round trips: every packed send to Redis (a command, a pipeline, a script) is one."""

    round_trips = 0

    async def send_packed_command(self, command, check_health=True):  # type: ignore[no-untyped-def]
        CountingConnection.round_trips += 1
        return await super().send_packed_command(command, check_health)


class BenchSink(ReplySink):
    """Records when the first text became visible and what was finished."""

    def __init__(self, *, interval_s: float = 1.0) -> None:
        self.limits = SinkLimits(max_chars=2000, min_edit_interval_s=interval_s)
        self.first_visible: float | None = None
        self.final = ""
        self.notice = ""

    async def typing(self) -> None:
        return None

    async def update(self, text_so_far: str) -> None:
        if self.first_visible is None:
            self.first_visible = time.perf_counter()

    async def finish(self, text: str) -> None:
        if self.first_visible is None:
            self.first_visible = time.perf_counter()
        self.final = text

    async def fail(self, notice: str) -> None:
        self.notice = notice


@contextlib.asynccontextmanager
async def service(
    redis_url: str,
    tgi_url: str,
    *,
    moderation: bool = True,
    max_turns: int = 50,
    engine: str = "tgi",
    prompts: list[str] | None = None,
    budget: BudgetSettings | None = None,
) -> AsyncIterator[tuple[ChatService, aioredis.Redis, aiohttp.ClientSession]]:
    """A ChatService as the composition root builds it; with `prompts`, every prompt sent is appended;
    `budget`: daily token budgets (none by default)."""
    pool = aioredis.BlockingConnectionPool.from_url(
        redis_url, connection_class=CountingConnection, max_connections=100, timeout=10
    )
    redis = aioredis.Redis.from_pool(pool)
    cfg = TGISettings(url=tgi_url, backend=engine)
    http = build_model_session(cfg)
    try:
        settings = code_settings(
            redis=RedisSettings(key_prefix="bench"),
            history=HistorySettings(max_turns=max_turns),
            limits=LimitSettings(user_per_minute=0, channel_per_minute=0),
            budget=budget or BudgetSettings(),
            tgi=cfg,
            # The figures of docs/performance.md were measured with relaxed streaming (the rules before each
            # update); strict streaming's cost is bench/stream_check.py's subject.
            alignment=AlignmentSettings(enabled=moderation, stream_mode="relaxed"),
        )
        client = TGIClient(http=http, settings=cfg, base_url=tgi_url)
        generator: TextGenerator = client if prompts is None else RecordingGenerator(client, prompts)
        gate = build_gate(settings, redis)
        moderator = build_moderator(
            settings=settings.alignment,
            redis=redis,
            http=None,  # no guard model: the rules layer only
            key_prefix=settings.redis.key_prefix,
            mute=gate.mute,
        )
        svc = build_service(
            settings,
            redis=redis,
            gate=gate,
            generator=generator,
            counter=await build_counter(settings.chat.tokenizer, generator),
            moderator=moderator,
        )
        yield svc, redis, http
    finally:
        await http.close()
        await redis.aclose()


async def bare_stream(http: aiohttp.ClientSession, url: str, prompt: str, engine: str = "tgi") -> float:
    """The floor: the same stream read to its end with the same HTTP session and no parsing, seconds."""
    body: dict[str, Any]
    if engine == "tgi":
        path, body = "/generate_stream", {"inputs": prompt, "parameters": {"max_new_tokens": 200}}
    else:
        path = "/v1/completions"
        body = {"model": MODEL_ID, "prompt": prompt, "max_tokens": 200, "stream": True}
    started = time.perf_counter()
    async with http.post(f"{url}{path}", json=body) as resp:
        async for _ in resp.content.iter_any():
            pass
    return time.perf_counter() - started
