"""core/builder.py: the one place the service is wired; the settings it is given are the ones it obeys."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from core.alignment.base import AllowAll
from core.builder import build_service, code_settings
from core.keys import KeySpace
from core.models import ConversationKey, IncomingMessage, Outcome, Platform
from core.settings import ChatSettings, RedisSettings
from tests.fakes.memory import MemoryGate, MemoryStore, RecordingSink, ScriptedGenerator

KEY = ConversationKey(Platform.SLACK, "T1", "C1")


def message(text: str, mid: str = "m1") -> IncomingMessage:
    return IncomingMessage(key=KEY, message_id=mid, author_id="U1", author_name="Ann", text=text)


def test_code_settings_never_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_SYSTEM_PROMPT", "from the shell")
    assert code_settings().chat.system_prompt == ChatSettings().system_prompt
    assert code_settings(chat=ChatSettings(system_prompt="from code")).chat.system_prompt == "from code"


def test_code_settings_reject_an_unknown_group() -> None:
    with pytest.raises(TypeError, match="chats"):
        code_settings(chats=ChatSettings())


def test_a_service_without_redis_needs_both_store_and_gate() -> None:
    with pytest.raises(TypeError, match="redis"):
        build_service(
            code_settings(), store=MemoryStore(), generator=ScriptedGenerator(), moderator=AllowAll()
        )


async def test_the_chat_settings_given_are_the_ones_the_service_obeys() -> None:
    generator = ScriptedGenerator()
    service = build_service(
        code_settings(chat=ChatSettings(max_message_chars=10, system_prompt="You are Flipper.")),
        store=MemoryStore(),
        gate=MemoryGate(),
        generator=generator,
        moderator=AllowAll(),
    )
    sink = RecordingSink()
    assert (await service.handle(message("x" * 11), sink)).outcome is Outcome.TOO_LONG
    assert "limit is 10" in sink.of("fail")[0]
    assert (await service.handle(message("hello", mid="m2"), RecordingSink())).outcome is Outcome.ANSWERED
    assert generator.prompts[-1].startswith("<|im_start|>system\nYou are Flipper.")


async def test_on_redis_the_history_lives_under_the_configured_prefix(redis_client: aioredis.Redis) -> None:
    service = build_service(
        code_settings(redis=RedisSettings(key_prefix="builder")),
        redis=redis_client,
        generator=ScriptedGenerator(),
        moderator=AllowAll(),
    )
    assert (await service.handle(message("hello"), RecordingSink())).outcome is Outcome.ANSWERED
    assert await redis_client.llen(KeySpace("builder").turns(KEY.id)) == 1
    assert await redis_client.llen(KeySpace("relay").turns(KEY.id)) == 0
