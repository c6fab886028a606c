"""Two real bot processes (`dolphin-relay slack`, HTTP mode) against one Redis, as behind a load balancer:
a replayed event is answered once, concurrent messages in one conversation are stored in order, and rate
limits are shared."""

from __future__ import annotations

import asyncio
import contextlib
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

from bots.runtime import build_redis
from core.history import decode_exchange
from core.keys import KeySpace
from core.models import ConversationKey, Platform
from core.settings import RedisSettings, Settings
from tests.fakes.slack_api import BOT_USER, TEAM, FakeSlackAPI
from tests.fakes.tgi import FakeTGI
from tests.integration.test_redis_cluster import CLI, SERVER, cluster  # noqa: F401  (a 3-master cluster)
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "two-process-secret"


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


@contextlib.asynccontextmanager
async def bots(n: int, **settings: str) -> AsyncIterator[list[int]]:
    """`n` processes of `dolphin-relay slack` (HTTP mode) with these settings; their ports."""
    ports = [free_port() for _ in range(n)]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "TGI_", "REDIS_", "LIMITS_", "METRICS_"))
    }
    env.update(
        SLACK_BOT_TOKEN="xoxb-two",
        SLACK_SIGNING_SECRET=SECRET,
        METRICS_PORT="0",
        LOG_LEVEL="WARNING",
        **settings,
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
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            await proc.wait()


@pytest.fixture
async def two_bots(
    redis_client: aioredis.Redis, redis_url: str
) -> AsyncIterator[tuple[list[int], FakeSlackAPI, FakeTGI]]:
    async with (
        FakeSlackAPI() as slack,
        FakeTGI(token_delay_s=0.01) as tgi,
        bots(
            2, SLACK_API_URL=slack.url, TGI_URL=tgi.url, REDIS_URL=redis_url, LIMITS_USER_PER_MINUTE="4"
        ) as ports,
    ):
        yield ports, slack, tgi


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


@pytest.mark.skipif(SERVER is None or CLI is None, reason="redis-server and redis-cli start the cluster")
async def test_three_replicas_two_model_servers_and_a_redis_cluster(cluster: str) -> None:  # noqa: F811
    """The deployment of docs/operations.md ("Scale out"): three bot processes, TGI_URL naming two model
    servers, REDIS_URL a 3-master Redis Cluster. Requests follow the servers' health; a replayed event is
    answered once across the replicas; every exchange is stored in the cluster."""
    async with (
        FakeSlackAPI() as slack,
        FakeTGI(token_delay_s=0.005) as tgi_a,
        FakeTGI(token_delay_s=0.005) as tgi_b,
        bots(
            3,
            SLACK_API_URL=slack.url,
            TGI_URL=f"{tgi_a.url},{tgi_b.url}",
            TGI_HEALTH_CHECK_INTERVAL_S="0.1",
            REDIS_URL=cluster,
            REDIS_CLUSTER="true",
        ) as replicas,
    ):

        async def answered(n: int) -> None:
            for _ in range(300):
                if len(slack.calls["chat.postMessage"]) >= n:
                    return
                await asyncio.sleep(0.05)

        async def ask(wave: str) -> None:  # one message per replica, each in its own thread
            await asyncio.gather(
                *(
                    post(port, mention(f"{wave} {i}", f"Ev{wave}{i}", ts=f"{i}.{wave}", user=f"U{wave}{i}"))
                    for i, port in enumerate(replicas)
                )
            )

        tgi_a.healthy = False  # a's /health fails: no process sends it anything new
        await asyncio.sleep(1.0)  # ten check intervals: room for a process slowed by a busy machine
        await ask("1")
        await answered(3)
        assert (len(tgi_a.prompts), len(tgi_b.prompts)) == (0, 3)

        tgi_a.healthy, tgi_b.healthy = True, False  # a is back, b goes out
        await asyncio.sleep(1.0)
        await ask("2")
        await answered(6)
        assert (len(tgi_a.prompts), len(tgi_b.prompts)) == (3, 3)

        replay = mention("once only", "EvReplay", ts="9.9")
        assert [await post(port, replay) for port in replicas] == [200, 200, 200]
        await answered(7)
        await asyncio.sleep(0.5)
        assert len(tgi_a.prompts) + len(tgi_b.prompts) == 7
        assert len(slack.calls["chat.postMessage"]) == 7

    store = build_redis(Settings(redis=RedisSettings(url=cluster, cluster=True)))
    try:
        threads = [f"{i}.{wave}" for wave in "12" for i in range(3)] + ["9.9"]
        for thread in threads:
            key = ConversationKey(Platform.SLACK, TEAM, "C1", thread)
            assert len(await store.lrange(KeySpace("relay").turns(key.id), 0, -1)) == 1, thread
    finally:
        await store.aclose()
