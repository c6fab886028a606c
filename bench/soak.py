"""`python -m bench.soak --minutes N`: mixed traffic over many conversations with random faults — model
errors, streams dropped mid-answer, a silent model, overload storms, and a Redis restart — then checks
that every accepted message got an answer or a notice (`lost` must be 0) and that history holds no
broken or half turns (`orphaned_history_entries` must be 0)."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from bench.harness import free_port, rss_mb
from bots.runtime import open_core
from core.history import decode_exchange
from core.models import ConversationKey, IncomingMessage, Platform, SinkLimits
from core.observability import configure_logging
from core.settings import HistorySettings, LimitSettings, LogSettings, RedisSettings, Settings, TGISettings
from tests.fakes.tgi import FakeReply, FakeTGI


class SoakSink:
    def __init__(self) -> None:
        self.limits = SinkLimits(max_chars=2000, min_edit_interval_s=0.2)
        self.finished = ""
        self.notice = ""

    async def typing(self) -> None:
        return None

    async def update(self, text_so_far: str) -> None:
        return None

    async def finish(self, text: str) -> None:
        self.finished = text

    async def fail(self, notice: str) -> None:
        self.notice = notice


def start_redis(port: int, data: Path) -> subprocess.Popen[bytes]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data),
            "--appendonly",
            "yes",
            "--save",
            "",
        ],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.3)
    return proc


def random_fault(rng: random.Random) -> FakeReply:
    kind = rng.choice(["generation", "validation", "incomplete_generation", "drop", "overloaded", "slow"])
    if kind == "drop":
        return FakeReply(drop_after_tokens=rng.randint(1, 10))
    if kind == "slow":
        return FakeReply(first_token_delay_s=rng.uniform(0.5, 1.5))
    return FakeReply(error_type=kind, error_after_tokens=rng.randint(0, 5) if kind != "overloaded" else 0)


async def soak(minutes: float, conversations: int, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        redis_proc = start_redis(port, Path(tmp))
        async with FakeTGI(token_delay_s=0.003) as tgi:
            settings = Settings(
                tgi=TGISettings(url=tgi.url, retries=2, retry_backoff_s=0.05, first_token_timeout_s=1.0),
                redis=RedisSettings(url=f"redis://127.0.0.1:{port}/0", socket_timeout_s=1.0),
                history=HistorySettings(max_turns=20, lock_wait_s=5),
                limits=LimitSettings(user_per_minute=0, channel_per_minute=0),
            )
            outcomes: Counter[str] = Counter()
            lost = 0
            sent = 0
            deadline = time.monotonic() + minutes * 60
            restart_at = time.monotonic() + minutes * 30
            restarted = False
            rss_start = 0.0
            async with open_core(settings) as core:

                async def one(c: int) -> None:
                    nonlocal lost, sent
                    key = ConversationKey(Platform.DISCORD, f"g{c % 3}", f"c{c}")
                    mid = uuid.uuid4().hex
                    msg = IncomingMessage(
                        key=key,
                        message_id=mid,
                        author_id=f"u{c % 7}",
                        author_name="User",
                        text=f"message {sent} about dolphins",
                    )
                    sink = SoakSink()
                    sent += 1
                    try:
                        result = await core.service.handle(msg, sink)
                    except Exception:
                        lost += 1
                        return
                    outcomes[result.outcome.value] += 1
                    if not sink.finished and not sink.notice:
                        lost += 1

                async def conversation(c: int) -> None:
                    while time.monotonic() < deadline:
                        await one(c)
                        await asyncio.sleep(rng.uniform(0.0, 0.2))

                async def chaos() -> None:
                    nonlocal redis_proc, restarted
                    while time.monotonic() < deadline:
                        await asyncio.sleep(rng.uniform(0.2, 1.0))
                        tgi.enqueue(*[random_fault(rng) for _ in range(rng.randint(1, 4))])
                        tgi.requests.clear()  # the fake records every request; not the service's memory
                        if not restarted and time.monotonic() > restart_at:
                            redis_proc.terminate()
                            redis_proc.wait(10)
                            await asyncio.sleep(2.0)
                            redis_proc = start_redis(port, Path(tmp))
                            restarted = True

                async def sample_memory() -> None:
                    nonlocal rss_start
                    await asyncio.sleep(min(10.0, minutes * 6))
                    rss_start = rss_mb()

                await asyncio.gather(
                    *(conversation(c) for c in range(conversations)), chaos(), sample_memory()
                )
                rss_end = rss_mb()

                orphaned = 0
                stored_ids: Counter[str] = Counter()
                async for key in core.redis.scan_iter("relay:v1:{conv:*}:turns"):
                    for raw in await core.redis.lrange(key, 0, -1):
                        ex = decode_exchange(raw)
                        if ex is None or not ex.user.text or not ex.assistant.text:
                            orphaned += 1
                        else:
                            stored_ids[ex.message_id] += 1
                duplicates = sum(n - 1 for n in stored_ids.values() if n > 1)
        redis_proc.terminate()
        redis_proc.wait(10)
    return {
        "minutes": minutes,
        "conversations": conversations,
        "sent": sent,
        "answered": outcomes.get("answered", 0),
        "notices": sent - outcomes.get("answered", 0) - lost,
        "outcomes": dict(outcomes),
        "lost": lost,
        "orphaned_history_entries": orphaned,
        "duplicate_history_entries": duplicates,
        "redis_restarted": restarted,
        "rss_mb_start": round(rss_start, 1),
        "rss_mb_end": round(rss_end, 1),
        "memory_growth_mb": round(rss_end - rss_start, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak")
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--conversations", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    configure_logging(LogSettings(level="ERROR"))
    result = asyncio.run(soak(args.minutes, args.conversations, args.seed))
    print(json.dumps(result))
    return 0 if result["lost"] == 0 and result["orphaned_history_entries"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
