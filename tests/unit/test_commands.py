"""The conversation-admin API (core/commands.py) over the real service and a throwaway Redis: who may run
what, what each command changes, and what the member is told."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from bots.runtime import Core, open_core
from core.commands import RULES, Commands, Notation, Right, language_of
from core.models import ConversationKey, IncomingMessage, Platform
from core.settings import ChatSettings, RedisSettings, Settings, TGISettings
from tests.ports import refused_port
from tests.redis_servers import start_redis, stop_redis

CHANNEL = ConversationKey(Platform.SLACK, "T1", "C1")
THREAD = replace(CHANNEL, thread="171.1")
NOTATION = Notation(
    moderators="command.moderators.slack",
    command=lambda name: f"/x {name}",
    channel=lambda key: f"#{key.channel}",
    user=lambda user: f"@{user}",
    time=lambda unix: "soon",
    quote=lambda text: f" «{text}»",
)


@pytest.fixture
async def core(redis_url: str) -> AsyncIterator[Core]:
    settings = Settings(
        redis=RedisSettings(url=redis_url),
        tgi=TGISettings(url=f"http://127.0.0.1:{refused_port()}"),  # never called: commands need no model
        chat=ChatSettings(tokenizer="estimate"),
    )
    async with open_core(settings) as built:
        yield built


def caller(key: ConversationKey = CHANNEL, *, admin: bool = False, direct: bool = False) -> IncomingMessage:
    return IncomingMessage(
        key=key,
        message_id="c1",
        author_id="U1",
        author_name="Ann",
        text="",
        is_direct=direct,
        can_administer=admin,
    )


async def test_who_may_run_what(core: Core) -> None:
    commands = Commands(service=core.service, notation=NOTATION)
    for name, right in RULES.items():
        assert commands.may(name, caller(admin=True)), name
        assert commands.may(name, caller()) is (right is Right.ANYONE), name
        assert commands.may(name, caller(direct=True)) is (right is not Right.MODERATOR), name


async def test_a_member_without_the_right_changes_nothing(core: Core) -> None:
    commands = Commands(service=core.service, notation=NOTATION)
    for reply in (
        await commands.persona_set(caller(), "You are a pirate."),
        await commands.pause(caller(direct=True)),
        await commands.mute(caller(), "U2", "1h"),
    ):
        assert (
            reply.text == "Only workspace admins (or configured admins) can do that."
            and not reply.done
            and reply.private
        )
    assert await core.service.get_persona(CHANNEL) is None
    assert not await core.service.is_paused(CHANNEL)


async def test_persona_reset_pause_and_mute_in_the_platforms_notation(core: Core) -> None:
    commands = Commands(service=core.service, notation=NOTATION)
    admin = caller(admin=True)
    assert (await commands.persona_set(admin, "You are a pirate.")).text == (
        "Persona set for this channel and its threads."
    )
    shown = await commands.persona_show(caller(THREAD))
    assert shown.text == "Persona (from the channel): «You are a pirate.»" and shown.done
    assert (await commands.persona_clear(admin)).text == "Persona cleared for this channel."
    assert (await commands.persona_show(caller())).text == "No persona set (the default applies)."

    assert (
        await commands.pause(admin)
    ).text == "Paused: I won't answer in #C1 or its threads until /x resume."
    assert await core.service.is_paused(THREAD)
    assert (await commands.resume(admin)).text == "Resumed: I answer in #C1 again."
    assert (await commands.mute(admin, "U2", "10m")).text == "Muted @U2 until soon."
    assert (await commands.unmute(admin, "U2")).text == "Unmuted @U2."

    async def threads() -> list[str]:
        return ["171.1", "172.1"]

    reset = await commands.reset(caller(direct=True), threads=threads)
    assert reset.text == "Done: I forgot this conversation (2 thread(s) and the channel itself)."
    assert (await commands.reset(caller(THREAD, admin=True))).text == "History cleared for this thread."


async def test_a_persona_too_long_is_refused_with_its_notice(core: Core) -> None:
    commands = Commands(service=core.service, notation=NOTATION)
    reply = await commands.persona_set(caller(admin=True), "x" * 5000)
    assert not reply.done and reply.text == "A persona can be at most 4,000 characters long."
    assert await core.service.get_persona(CHANNEL) is None


async def test_an_unreachable_store_is_a_notice_not_a_crash(own_redis: tuple[int, Path]) -> None:
    port, data = own_redis
    server = start_redis(port, data)
    settings = Settings(
        redis=RedisSettings(url=f"redis://127.0.0.1:{port}/0", socket_timeout_s=1),
        tgi=TGISettings(url=f"http://127.0.0.1:{refused_port()}"),
        chat=ChatSettings(tokenizer="estimate"),
    )
    try:
        async with open_core(settings) as core:
            commands = Commands(service=core.service, notation=NOTATION)
            stop_redis(server)  # the memory store goes away
            reply = await commands.forget_me(caller())
            assert not reply.done and "memory store" in reply.text
    finally:
        stop_redis(server)


async def test_replies_in_the_callers_language_with_english_as_the_fallback(core: Core) -> None:
    japanese = Commands(service=core.service, notation=NOTATION).in_language(language_of("ja"))
    assert (await japanese.pause(caller(admin=True))).text == (
        "一時停止しました：/x resume が実行されるまで、#C1 とそのスレッドでは応答しません。"
    )
    refused = await japanese.reset(caller())
    assert refused.text == "この操作はワークスペースの管理者（または設定された管理者）だけが実行できます。"
    spanish = Commands(service=core.service, notation=NOTATION).in_language(language_of("es-419"))
    assert (await spanish.forget_me(caller())).text == "Hecho: se eliminaron 0 mensaje(s) tuyos guardados."
    unknown = Commands(service=core.service, notation=NOTATION).in_language(language_of("xx-YY"))
    assert (await unknown.resume(caller(admin=True))).text == "Resumed: I answer in #C1 again."
    too_long = await spanish.persona_set(caller(admin=True), "x" * 5000)
    assert too_long.text == "A persona can be at most 4,000 characters long."  # a notice given as is
