"""Operations: /healthz, /readyz and /metrics; a real `dolphin-relay slack` process that finishes and
stores an answer in progress when it gets SIGTERM, and exits 0 within the grace period."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from core.alignment.base import AllowAll
from core.health import HealthServer
from core.keys import KeySpace
from core.llm import TGIClient, build_http_client
from core.models import ConversationKey, IncomingMessage, Platform
from core.observability import Metrics
from core.service import ChatService
from core.settings import ChatSettings, TGISettings
from tests.fakes.memory import MemoryGate, MemoryStore, RecordingSink, WordCounter
from tests.fakes.slack_api import BOT_USER, TEAM, FakeSlackAPI
from tests.fakes.tgi import FakeReply, FakeTGI

ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, await resp.text()


async def test_health_readiness_and_metrics(redis_client: aioredis.Redis) -> None:
    metrics = Metrics()
    async with FakeTGI() as tgi:
        cfg = TGISettings()
        async with build_http_client(cfg) as http:
            generator = TGIClient(http=http, settings=cfg, base_url=tgi.url)
            async with HealthServer(
                metrics=metrics, redis=redis_client, generator=generator, host="127.0.0.1", port=0
            ) as hs:
                assert (await get(f"{hs.url}/healthz"))[0] == 200
                status, body = await get(f"{hs.url}/readyz")
                assert status == 200 and json.loads(body)["status"] == "ready"
                tgi.healthy = False
                status, body = await get(f"{hs.url}/readyz")
                assert status == 503 and json.loads(body)["model"] == "unavailable"
                tgi.healthy = True

                service = ChatService(
                    store=MemoryStore(),
                    gate=MemoryGate(),
                    generator=generator,
                    counter=WordCounter(),
                    moderator=AllowAll(),
                    chat=ChatSettings(),
                    tgi=cfg,
                    metrics=metrics,
                )
                key = ConversationKey(Platform.DISCORD, "g", "c")
                msg = IncomingMessage(key=key, message_id="1", author_id="u", author_name="U", text="hi")
                await service.handle(msg, RecordingSink())
                _, text = await get(f"{hs.url}/metrics")
                assert 'dolphin_relay_messages_total{outcome="answered",platform="discord"} 1.0' in text
                assert "dolphin_relay_time_to_first_token_seconds_bucket" in text
                for line in text.splitlines():  # bounded labels only: never an id
                    assert 'channel="' not in line and 'user="' not in line and 'guild="' not in line

        down = aioredis.Redis(host="127.0.0.1", port=closed_port(), retry=Retry(NoBackoff(), 0))
        async with build_http_client(TGISettings()) as http:
            generator = TGIClient(http=http, settings=TGISettings(), base_url=tgi.url)
            async with HealthServer(
                metrics=metrics, redis=down, generator=generator, host="127.0.0.1", port=0
            ) as hs:
                status, body = await get(f"{hs.url}/readyz")
                assert status == 503 and json.loads(body)["redis"] == "unreachable"
        await down.aclose()


def signed(body: str, secret: str) -> dict[str, str]:
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig, "Content-Type": "application/json"}


async def test_sigterm_finishes_the_answer_in_progress_and_exits_0(
    redis_client: aioredis.Redis, redis_url: str
) -> None:
    secret = "shutdown-secret"
    port = closed_port()
    async with FakeSlackAPI() as slack, FakeTGI() as tgi:
        tgi.enqueue(FakeReply(text=" ".join(f"w{i}" for i in range(40)), token_delay_s=0.05))  # ~2 s
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "TGI_", "REDIS_", "METRICS_", "LOG_"))
        }
        env.update(
            SLACK_BOT_TOKEN="xoxb-shutdown-test",
            SLACK_SIGNING_SECRET=secret,
            SLACK_API_URL=slack.url,
            TGI_URL=tgi.url,
            REDIS_URL=redis_url,
            METRICS_PORT="0",
            LOG_FORMAT="json",
            RUNTIME_SHUTDOWN_GRACE_S="20",
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bots", "--env-file", os.devnull, "slack", "--port", str(port),
            cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}/slack/events"
            for _ in range(100):
                try:
                    async with aiohttp.ClientSession() as s, s.get(url.replace("/slack/events", "/")) as _r:
                        break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            body = json.dumps(
                {
                    "team_id": TEAM, "api_app_id": "A1", "type": "event_callback", "event_id": "EvStop",
                    "event_time": int(time.time()),
                    "event": {"type": "app_mention", "user": "U1", "text": f"<@{BOT_USER}> long one", "ts": "1.1",
                              "channel": "C1", "team": TEAM},
                }
            )  # fmt: skip
            async with (
                aiohttp.ClientSession() as s,
                s.post(url, data=body, headers=signed(body, secret)) as r,
            ):
                assert r.status == 200
            for _ in range(100):  # wait until the answer is streaming
                if tgi.in_flight:
                    break
                await asyncio.sleep(0.05)
            assert tgi.in_flight == 1
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            _out, err = await asyncio.wait_for(proc.communicate(), 30)
            assert proc.returncode == 0, err.decode()[-2000:]
            assert time.monotonic() - started < 20
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        texts = slack.texts("chat.update") + slack.texts("chat.postMessage")
        assert any("w39" in t for t in texts), texts[-3:]
        stored = await redis_client.lrange(
            KeySpace("relay").turns(ConversationKey(Platform.SLACK, TEAM, "C1", "1.1").id), 0, -1
        )
        assert len(stored) == 1 and b"w39" in stored[0]
        assert "xoxb-shutdown-test" not in err.decode() and secret not in err.decode()
        assert re.search(r'"event": "shutdown.complete"', err.decode())
