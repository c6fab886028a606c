"""Fixtures shared by the integration tests of one platform (the session-wide Redis ones are in
tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.fakes.discord_harness import Bot, discord_bot


@pytest.fixture
async def bot(
    request: pytest.FixtureRequest, redis_url: str, redis_client: aioredis.Redis
) -> AsyncIterator[Bot]:
    """The real discord.py client over the real core, against the loopback Discord and TGI fakes; its
    settings can be changed per test with `@pytest.mark.parametrize("bot", [{...}], indirect=True)`."""
    async with discord_bot(redis_url, **getattr(request, "param", {})) as b:
        yield b
