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
import re
import socket
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
import redis.asyncio as aioredis

from bots.runtime import build_redis
from core.history import decode_exchange
from core.keys import KeySpace
from core.models import ConversationKey, Platform
from core.settings import RedisSettings, Settings
from tests.clock import within_one_window
from tests.fakes.slack_api import BOT_USER, TEAM, FakeSlackAPI
from tests.fakes.tgi import FakeTGI
from tests.integration.test_redis_cluster import CLI, SERVER, cluster  # noqa: F401  (a 3-master cluster)
from tests.polling import until
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


@dataclass
class Replica:
    """One `dolphin-relay slack` process: its Slack HTTP port, its metrics port, and its log lines
    (JSON, WARNING and up) as read so far."""

    port: int
    metrics_port: int
    log: list[str] = field(default_factory=list)

    def logged(self, event: str, text: str) -> bool:
        return any(event in line and text in line for line in self.log)


@contextlib.asynccontextmanager
async def bots(n: int, **settings: str) -> AsyncIterator[list[Replica]]:
    """`n` processes of `dolphin-relay slack` (HTTP mode) with these settings, each with its own
    /metrics port, once each accepts events."""
    replicas = [Replica(free_port(), free_port()) for _ in range(n)]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "TGI_", "REDIS_", "LIMITS_", "METRICS_", "LOG_"))
    }
    env.update(SLACK_BOT_TOKEN="xoxb-two", SLACK_SIGNING_SECRET=SECRET, LOG_LEVEL="WARNING", **settings)
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bots",
            "--env-file",
            os.devnull,
            "slack",
            "--port",
            str(r.port),
            cwd=ROOT,
            env={**env, "METRICS_HOST": "127.0.0.1", "METRICS_PORT": str(r.metrics_port)},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        for r in replicas
    ]

    async def read_log(proc: asyncio.subprocess.Process, replica: Replica) -> None:
        assert proc.stderr is not None
        async for line in proc.stderr:
            replica.log.append(line.decode(errors="replace"))

    readers = [asyncio.create_task(read_log(p, r)) for p, r in zip(procs, replicas, strict=True)]
    try:
        for r, proc in zip(replicas, procs, strict=True):
            await until(lambda r=r, proc=proc: listening(r.port) or proc.returncode is not None, timeout_s=30)
            assert proc.returncode is None, "".join(r.log)
        yield replicas
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            await proc.wait()
        await asyncio.gather(*readers)


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


async def outcomes(replicas: list[Replica]) -> Counter[str]:
    """How the messages the replicas have finished handling ended, summed over the replicas (from
    `dolphin_relay_messages_total`, counted once a message's handling is over: answer shown and stored)."""
    total: Counter[str] = Counter()
    async with aiohttp.ClientSession() as s:
        for r in replicas:
            async with s.get(f"http://127.0.0.1:{r.metrics_port}/metrics") as resp:
                text = await resp.text()
            for m in _MESSAGES.finditer(text):
                total[m["outcome"]] += int(float(m["n"]))
    return total


_MESSAGES = re.compile(
    r'^dolphin_relay_messages_total\{[^}]*outcome="(?P<outcome>[a-z_]+)"[^}]*\} (?P<n>\S+)$', re.M
)


async def handled(replicas: list[Replica], n: int, *, timeout_s: float = 60.0) -> Counter[str]:
    """Wait until the replicas have finished handling `n` messages in all (duplicates included); their
    outcomes. Fails the test when more than `n` were handled or none came in time."""
    deadline = time.monotonic() + timeout_s
    while sum((seen := await outcomes(replicas)).values()) < n:
        if time.monotonic() > deadline:
            raise AssertionError(f"{n} messages not handled in {timeout_s} s: {dict(seen)}")
        await asyncio.sleep(0.05)
    assert sum(seen.values()) == n, dict(seen)
    return seen


@pytest.fixture
async def two_bots(
    redis_client: aioredis.Redis, redis_url: str
) -> AsyncIterator[tuple[list[Replica], FakeSlackAPI, FakeTGI]]:
    async with (
        FakeSlackAPI() as slack,
        FakeTGI(token_delay_s=0.01) as tgi,
        bots(
            2, SLACK_API_URL=slack.url, TGI_URL=tgi.url, REDIS_URL=redis_url, LIMITS_USER_PER_MINUTE="4"
        ) as replicas,
    ):
        yield replicas, slack, tgi


async def test_replayed_event_answered_once_order_kept_limits_shared(
    two_bots, redis_client: aioredis.Redis
) -> None:  # type: ignore[no-untyped-def]
    replicas, slack, tgi = two_bots
    a, b = (r.port for r in replicas)
    # the same event delivered to both replicas (a load balancer's duplicate, a Slack retry)
    first = mention("remember 7", "EvDup", ts="100.1")
    assert await post(a, first) == 200 and await post(b, first) == 200
    assert await handled(replicas, 2) == {"answered": 1, "duplicate": 1}
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
    assert (await handled(replicas, 5))["answered"] == 4
    key = ConversationKey(Platform.SLACK, TEAM, "C1", "100.1")
    stored = [decode_exchange(r) for r in await redis_client.lrange(KeySpace("relay").turns(key.id), 0, -1)]
    texts = [ex.user.text for ex in stored if ex is not None]
    assert texts[0] == "remember 7" and sorted(texts[1:]) == ["step 0", "step 1", "step 2"]
    prompts_in_order = [p for p in tgi.prompts if "step" in p]
    for earlier, later in itertools.pairwise(prompts_in_order):
        assert len(later) > len(earlier)  # each answer saw the ones stored before it: one at a time, in order

    # rate limit (4 per minute per user) shared by both processes: U9 sends 5, alternating replicas. The
    # gates decide within one minute window of the processes' clock (else the fifth may start a new window):
    # the posts and the refusal (off the answer path) take well under a second.
    async with within_one_window(10):
        for i in range(5):
            await post((a, b)[i % 2], mention(f"flood {i}", f"EvF{i}", ts=f"200.{i}", user="U9"))
        for _ in range(1000):  # until a gate refuses one: all five were decided in this window
            if (await outcomes(replicas))["rate_limited"]:
                break
            await asyncio.sleep(0.02)
    assert await handled(replicas, 10) == {"answered": 8, "duplicate": 1, "rate_limited": 1}
    notices = [
        t
        for t in slack.texts("chat.postMessage") + slack.texts("chat.update")
        if "faster than I can answer" in t
    ]
    assert len(notices) == 1
    # every line the processes logged (bolt's and aiohttp's too) is JSON; none says the token is unused
    for r in replicas:
        assert all(json.loads(line) for line in r.log), r.log
        assert not any("will be unused" in line for line in r.log), r.log


@pytest.mark.skipif(SERVER is None or CLI is None, reason="redis-server and redis-cli start the cluster")
async def test_three_replicas_two_model_servers_and_a_redis_cluster(cluster: str) -> None:  # noqa: F811
    """The deployment of docs/operations.md ("Scale out"): three bot processes, TGI_URL naming two model
    servers, REDIS_URL a 3-master Redis Cluster. Requests follow the servers' health; a replayed event is
    answered once across the replicas; every exchange is stored in the cluster.

    Each step waits for what it asserts on, never for a time: that every replica has logged the health
    change (`model.endpoint_down` / `_up`), and that every message has been handled to the end (the
    replicas' `dolphin_relay_messages_total`); a Slack "…" placeholder is posted before the prompt is
    sent, so counting placeholders raced the prompts on a busy machine."""
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
        a_port, b_port = (f":{t.url.rsplit(':', 1)[1]}" for t in (tgi_a, tgi_b))

        async def health_seen(event: str, port: str) -> None:
            await until(lambda: all(r.logged(event, port) for r in replicas), timeout_s=30)

        async def ask(wave: str) -> None:  # one message per replica, each in its own thread
            await asyncio.gather(
                *(
                    post(r.port, mention(f"{wave} {i}", f"Ev{wave}{i}", ts=f"{i}.{wave}", user=f"U{wave}{i}"))
                    for i, r in enumerate(replicas)
                )
            )

        tgi_a.healthy = False  # a's /health fails: no process sends it anything new
        await health_seen("model.endpoint_down", a_port)
        await ask("1")
        assert await handled(replicas, 3) == {"answered": 3}
        assert (len(tgi_a.prompts), len(tgi_b.prompts)) == (0, 3)

        tgi_a.healthy, tgi_b.healthy = True, False  # a is back, b goes out
        await health_seen("model.endpoint_up", a_port)
        await health_seen("model.endpoint_down", b_port)
        await ask("2")
        assert await handled(replicas, 6) == {"answered": 6}
        assert (len(tgi_a.prompts), len(tgi_b.prompts)) == (3, 3)

        replay = mention("once only", "EvReplay", ts="9.9")
        assert [await post(r.port, replay) for r in replicas] == [200, 200, 200]
        assert await handled(replicas, 9) == {"answered": 7, "duplicate": 2}
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


async def slash(port: int, slack: FakeSlackAPI, text: str, *, user: str, trigger: str) -> str:
    """`/dolphin TEXT` as `user`, signed like Slack's form post; the ephemeral reply it got."""
    form = {
        "command": "/dolphin",
        "text": text,
        "team_id": TEAM,
        "channel_id": "C1",
        "user_id": user,
        "user_name": user.lower(),
        "trigger_id": trigger,
        "response_url": slack.response_url(trigger),
        "api_app_id": "A1",
    }
    body = urlencode(form)
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    headers = {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": sig,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    before = len(slack.responses())
    async with (
        aiohttp.ClientSession() as s,
        s.post(f"http://127.0.0.1:{port}/slack/events", data=body, headers=headers) as r,
    ):
        assert r.status == 200
    await until(lambda: len(slack.responses()) > before, timeout_s=10)
    return slack.responses()[before]


async def metric_sum(replicas: list[Replica], pattern: re.Pattern[str]) -> float:
    total = 0.0
    async with aiohttp.ClientSession() as s:
        for r in replicas:
            async with s.get(f"http://127.0.0.1:{r.metrics_port}/metrics") as resp:
                total += sum(float(m["n"]) for m in pattern.finditer(await resp.text()))
    return total


_USAGE = re.compile(r"You: (?P<used>[0-9,]+) of 1 tokens used today, 0 left\.")


async def test_budgets_are_enforced_across_two_processes_and_shown_by_usage(
    redis_client: aioredis.Redis, redis_url: str
) -> None:
    """BUDGET_MEMBER_TOKENS_PER_DAY=1: a member's first answer (on replica a) is shown whole with the warning
    that it was the last; their next message, on replica b, is refused until the reset; another member is
    still answered; `/dolphin usage` on either replica reads the same counters."""
    async with (
        FakeSlackAPI() as slack,
        FakeTGI(token_delay_s=0.005) as tgi,
        bots(
            2,
            SLACK_API_URL=slack.url,
            TGI_URL=tgi.url,
            REDIS_URL=redis_url,
            BUDGET_MEMBER_TOKENS_PER_DAY="1",
            BUDGET_COMMUNITY_TOKENS_PER_DAY="1000000",
        ) as replicas,
    ):
        a, b = (r.port for r in replicas)
        await post(a, mention("What is the tallest mountain in the world?", "EvB1", ts="300.1", user="U1"))
        assert await handled(replicas, 1) == {"answered": 1}
        answer = slack.texts("chat.postMessage") + slack.texts("chat.update")
        assert any("That was the last answer of your budget for today" in t for t in answer), answer

        await post(b, mention("And which one is the second tallest mountain?", "EvB2", ts="300.2", user="U1"))
        assert await handled(replicas, 2) == {"answered": 1, "over_budget": 1}
        assert len(tgi.prompts) == 1  # the refused message never reached the model
        shown = slack.texts("chat.postMessage") + slack.texts("chat.update")
        notice = "You've used today's token budget. I can answer you again after 00:00 UTC."
        assert notice in shown, shown

        await post(b, mention("How far away is the moon from the earth?", "EvB3", ts="300.3", user="U2"))
        assert await handled(replicas, 3) == {"answered": 2, "over_budget": 1}

        on_a = await slash(a, slack, "usage", user="U1", trigger="tu1")
        on_b = await slash(b, slack, "usage", user="U1", trigger="tu2")
        assert on_a == on_b, (on_a, on_b)
        used = _USAGE.search(on_a)
        assert used is not None, on_a
        first = int(used["used"].replace(",", ""))
        assert first > 1
        bob = await slash(a, slack, "usage", user="U2", trigger="tu3")
        bob_used = _USAGE.search(bob)
        assert bob_used is not None, bob
        community = first + int(bob_used["used"].replace(",", ""))
        assert f"This community: {community:,} of 1,000,000 tokens used today" in bob
        assert "Budgets reset <!date^" in bob

        tokens = re.compile(
            rf'^dolphin_relay_budget_tokens_total\{{[^}}]*community="{TEAM}"[^}}]*\}} (?P<n>\S+)$', re.M
        )
        refusals = re.compile(
            rf'^dolphin_relay_budget_refusals_total\{{[^}}]*community="{TEAM}"[^}}]*scope="member"\}} (?P<n>\S+)$',
            re.M,
        )
        assert await metric_sum(replicas, tokens) == community
        assert await metric_sum(replicas, refusals) == 1
