"""The service as the composition root builds it under a moderation policy (its own Redis client, the fake
TGI, the policy's moderator writing the audit stream), for the tests that serve traffic and then read the
audit stream back with the `policy` CLI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import redis.asyncio as aioredis

from core.alignment.moderator import build_moderator
from core.builder import build_gate, build_service, code_settings
from core.llm import TGIClient, build_model_session
from core.service import ChatService
from core.settings import AlignmentSettings, RedisSettings, TGISettings
from tests.fakes.tgi import FakeTGI


@asynccontextmanager
async def moderated_service(
    redis_url: str, prefix: str, policy: Path | None = None
) -> AsyncIterator[tuple[ChatService, FakeTGI]]:
    """A `ChatService` under `policy` (default: the bundled one), keys under `prefix`, and its fake TGI."""
    redis = aioredis.Redis.from_url(redis_url)
    cfg = TGISettings()
    try:
        async with FakeTGI() as tgi, build_model_session(cfg) as http:
            settings = code_settings(tgi=cfg, redis=RedisSettings(key_prefix=prefix))
            gate = build_gate(settings, redis)
            yield (
                build_service(
                    settings,
                    redis=redis,
                    gate=gate,
                    generator=TGIClient(http=http, settings=cfg, base_url=tgi.url),
                    moderator=build_moderator(
                        settings=AlignmentSettings(policy_file=policy),
                        redis=redis,
                        http=None,
                        key_prefix=prefix,
                        mute=gate.mute,
                    ),
                ),
                tgi,
            )
    finally:
        await redis.aclose()
