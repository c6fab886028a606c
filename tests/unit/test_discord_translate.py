"""Discord messages (real discord.py objects parsed from gateway payloads) → triggers and IncomingMessage."""

from __future__ import annotations

import pytest

from bots.discord.translate import is_allowed, should_answer, to_incoming
from core.models import Platform
from core.settings import DiscordSettings
from tests.fakes.discord_payloads import (
    ALICE,
    BOT_ID,
    CATEGORY,
    FREE,
    GENERAL,
    IN_CATEGORY,
    MEMBER_ROLE,
    MOD,
    MOD_ROLE,
    NSFW,
    OTHER_BOT,
    THREAD,
    World,
)


@pytest.fixture
def world() -> World:
    return World()


def answer(message, **settings) -> bool:  # type: ignore[no-untyped-def]
    return should_answer(message, bot_id=BOT_ID, settings=DiscordSettings(**settings))


def test_mentions_are_resolved_and_the_bots_own_mention_stripped(world: World) -> None:
    m = world.message(
        f"<@{BOT_ID}> ask <@{ALICE}> and <@&{MOD_ROLE}> about <#{NSFW}> @everyone", mentions=[BOT_ID, ALICE]
    )
    msg = to_incoming(m, bot_id=BOT_ID, settings=DiscordSettings())
    assert msg.text == "ask @Ally and @Mods about #after-dark @\u200beveryone"
    assert (
        msg.key.platform is Platform.DISCORD and msg.key.space == "2000" and msg.key.channel == str(GENERAL)
    )
    assert msg.author_name == "Ally" and msg.author_id == str(ALICE)
    assert not msg.is_direct and not msg.can_administer and not msg.adult_channel


def test_triggers(world: World) -> None:
    assert answer(world.message("hi", mentions=[BOT_ID]))
    assert not answer(world.message("hi", mentions=[BOT_ID]), respond_to_mentions=False)
    assert not answer(world.message("just chatting"))
    assert answer(world.message("no mention needed", channel=FREE), free_channels=str(FREE))
    earlier = world.message("an earlier answer", author=BOT_ID, mid=8000)
    assert answer(world.message("follow-up", reply_to=earlier))
    assert not answer(world.message("follow-up", reply_to=earlier), respond_to_replies=False)
    assert not answer(world.message("reply to a human", reply_to=world.message("x", mid=8001)))


def test_bots_webhooks_and_itself_are_ignored(world: World) -> None:
    assert not answer(world.message("beep", author=OTHER_BOT, bot=True, mentions=[BOT_ID]))
    assert not answer(world.message("hook", webhook=True, mentions=[BOT_ID]))
    assert not answer(world.message("me", author=BOT_ID, bot=True, mentions=[BOT_ID]))


def test_direct_messages(world: World) -> None:
    dm = world.message("hello in private", dm=True, channel=6000)
    assert answer(dm)
    assert not answer(dm, respond_to_dms=False)
    msg = to_incoming(dm, bot_id=BOT_ID, settings=DiscordSettings())
    assert msg.is_direct and msg.key.space == "@dm"


def test_threads_are_their_own_conversation_and_bot_threads_need_no_mention(world: World) -> None:
    m = world.message("continuing", channel=THREAD)
    assert answer(m, auto_thread=True)
    assert not answer(m)
    assert to_incoming(m, bot_id=BOT_ID, settings=DiscordSettings()).key.channel == str(THREAD)


def test_age_restricted_channel_and_moderators(world: World) -> None:
    assert to_incoming(
        world.message("x", channel=NSFW), bot_id=BOT_ID, settings=DiscordSettings()
    ).adult_channel
    mod = to_incoming(world.message("x", author=MOD), bot_id=BOT_ID, settings=DiscordSettings())
    assert mod.can_administer  # Manage Server through the Mods role
    configured = DiscordSettings(moderator_users=str(ALICE))
    assert to_incoming(world.message("x"), bot_id=BOT_ID, settings=configured).can_administer
    by_role = DiscordSettings(moderator_roles=str(MEMBER_ROLE))
    assert to_incoming(world.message("x"), bot_id=BOT_ID, settings=by_role).can_administer


def test_access_lists_inherit_through_threads_and_categories(world: World) -> None:
    def allowed(message, **settings) -> bool:  # type: ignore[no-untyped-def]
        return is_allowed(message, settings=DiscordSettings(**settings))

    in_thread = world.message("x", channel=THREAD)
    in_category = world.message("x", channel=IN_CATEGORY)
    assert allowed(in_thread)
    assert not allowed(in_thread, blocked_channels=str(GENERAL))
    assert allowed(in_thread, allowed_channels=str(GENERAL))
    assert not allowed(in_category, blocked_channels=str(CATEGORY))
    assert allowed(in_category, allowed_channels=str(CATEGORY))
    assert not allowed(world.message("x", channel=FREE), allowed_channels=str(CATEGORY))
    assert not allowed(world.message("x"), blocked_users=str(ALICE))
    assert not allowed(world.message("x"), blocked_roles=str(MEMBER_ROLE))
    assert not allowed(world.message("x", author=MOD), allowed_roles=str(MEMBER_ROLE))
    assert not allowed(world.message("x"), blocked_guilds="2000")
    assert not allowed(world.message("x"), allowed_guilds="1")
