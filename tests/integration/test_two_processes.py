"""Two real bot processes (`dolphin-relay slack`, HTTP mode) against one Redis, as behind a load balancer:
a replayed event is answered once, concurrent messages in one conversation are stored in order, and rate
limits are shared."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import os
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from core.history import decode_exchange
from core.keys import KeySpace
from core.models import ConversationKey, Platform
from tests.fakes.slack_api import BOT_USER, TEAM, FakeSlackAPI
from tests.fakes.tgi import FakeTGI

ROOT = Path(__file__).resolve().parents[2]
SECRET = "two-process-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def post(port: int, payload: dict[str, Any]) -> int:
    body = json.dumps(payload)
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig, "Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession() as s,
        s.post(f"http://127.0.0.1:{port}/slack/events", data=body, headers=headers) as r,
    ):
        return r.status


def mention(
    text: str, event_id: str, *, ts: str, user: str = "U1", thread: str | None = None
) -> dict[str, Any]:
    event = {
        "type": "app_mention",
        "user": user,
        "text": f"<@{BOT_USER}> {text}",
        "ts": ts,
        "channel": "C1",
        "team": TEAM,
    }
    if thread:
        event["thread_ts"] = thread
    return {
        "team_id": TEAM,
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "event": event,
    }


@pytest.fixture
async def two_bots(
    redis_client: aioredis.Redis, redis_url: str
) -> AsyncIterator[tuple[list[int], FakeSlackAPI, FakeTGI]]:
    async with FakeSlackAPI() as slack, FakeTGI(token_delay_s=0.01) as tgi:
        ports = [free_port(), free_port()]
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "TGI_", "REDIS_", "LIMITS_", "METRICS_"))
        }
        env.update(
            SLACK_BOT_TOKEN="xoxb-two",
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=slack.url,
            TGI_URL=tgi.url,
            REDIS_URL=redis_url,
            METRICS_PORT="0",
            LIMITS_USER_PER_MINUTE="4",
            LOG_LEVEL="WARNING",
        )
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bots",
                "--env-file",
                os.devnull,
                "slack",
                "--port",
                str(port),
                cwd=ROOT,
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            for port in ports
        ]
        try:
            for port in ports:
                for _ in range(200):
                    with socket.socket() as s:
                        if s.connect_ex(("127.0.0.1", port)) == 0:
                            break
                    await asyncio.sleep(0.05)
            yield ports, slack, tgi
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                await proc.wait()


async def settle(tgi: FakeTGI, expected_prompts: int) -> None:
    for _ in range(300):
        if len(tgi.prompts) >= expected_prompts and tgi.in_flight == 0:
            await asyncio.sleep(0.3)
            return
        await asyncio.sleep(0.05)


async def test_replayed_event_answered_once_order_kept_limits_shared(
    two_bots, redis_client: aioredis.Redis
) -> None:  # type: ignore[no-untyped-def]
    (a, b), slack, tgi = two_bots
    # the same event delivered to both replicas (a load balancer's duplicate, a Slack retry)
    first = mention("remember 7", "EvDup", ts="100.1")
    assert await post(a, first) == 200 and await post(b, first) == 200
    await settle(tgi, 1)
    assert len(tgi.prompts) == 1

    # concurrent messages in one thread, spread over both replicas
    await asyncio.gather(
        *(
            post(
                (a, b)[i % 2],
                mention(f"step {i}", f"EvS{i}", ts=f"100.{i + 2}", user=f"U{i + 2}", thread="100.1"),
            )
            for i in range(3)
        )
    )
    await settle(tgi, 4)
    key = ConversationKey(Platform.SLACK, TEAM, "C1", "100.1")
    stored = [decode_exchange(r) for r in await redis_client.lrange(KeySpace("relay").turns(key.id), 0, -1)]
    texts = [ex.user.text for ex in stored if ex is not None]
    assert texts[0] == "remember 7" and sorted(texts[1:]) == ["step 0", "step 1", "step 2"]
    prompts_in_order = [p for p in tgi.prompts if "step" in p]
    for earlier, later in itertools.pairwise(prompts_in_order):
        assert len(later) > len(earlier)  # each answer saw the ones stored before it: one at a time, in order

    # rate limit (4 per minute per user) shared by both processes: U9 sends 5, alternating replicas
    for i in range(5):
        await post((a, b)[i % 2], mention(f"flood {i}", f"EvF{i}", ts=f"200.{i}", user="U9"))
    await settle(tgi, 8)
    notices = [
        t
        for t in slack.texts("chat.postMessage") + slack.texts("chat.update")
        if "faster than I can answer" in t
    ]
    assert len(notices) == 1
