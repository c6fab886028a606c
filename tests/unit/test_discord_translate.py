"""Discord messages (real discord.py objects parsed from gateway payloads) → triggers and IncomingMessage."""

from __future__ import annotations

import re
from pathlib import Path

import discord
import pytest

from bots.discord.app import INVITE_PERMISSIONS, intents, invite_url
from bots.discord.feed import format_mod_event
from bots.discord.translate import is_allowed, should_answer, thread_name, to_incoming
from core.alignment.audit import AuditEvent
from core.models import Platform
from core.settings import DiscordSettings
from tests.fakes.discord_payloads import (
    ALICE,
    BOT_ID,
    BOT_ROLE,
    CATEGORY,
    FREE,
    GENERAL,
    IN_CATEGORY,
    MEMBER_ROLE,
    MOD,
    MOD_ROLE,
    NSFW,
    NSFW_THREAD,
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
    key = to_incoming(m, bot_id=BOT_ID, settings=DiscordSettings()).key
    # its own conversation, under its parent channel (a pause or the channel's persona covers it)
    assert (key.channel, key.thread) == (str(GENERAL), str(THREAD))
    assert key.id != to_incoming(world.message("x"), bot_id=BOT_ID, settings=DiscordSettings()).key.id


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


def test_mentioning_the_bots_managed_role_counts_as_a_mention(world: World) -> None:
    # Discord's mention picker offers the bot's integration role next to the bot; members pick either.
    m = world.message(f"<@&{BOT_ROLE}> what is a pod?", role_mentions=[BOT_ROLE])
    assert answer(m)
    assert to_incoming(m, bot_id=BOT_ID, settings=DiscordSettings()).text == "what is a pod?"
    other_role = world.message(f"<@&{MOD_ROLE}> anyone?", role_mentions=[MOD_ROLE])
    assert not answer(other_role)


def test_discord_markup_reaches_the_model_readable(world: World) -> None:
    m = world.message(
        f"<@{BOT_ID}> is <:party_dolphin:123456789012345678> allowed </relay pause:987654321098765432> "
        "at <t:1767225600:R>?",
        mentions=[BOT_ID],
    )
    text = to_incoming(m, bot_id=BOT_ID, settings=DiscordSettings()).text
    assert text == "is :party_dolphin: allowed /relay pause at 2026-01-01 00:00 UTC?"


def test_dms_are_one_conversation_per_user(world: World) -> None:
    first = to_incoming(world.message("hi", dm=True, channel=6001), bot_id=BOT_ID, settings=DiscordSettings())
    other = to_incoming(
        world.message("hi", dm=True, channel=6002, author=MOD), bot_id=BOT_ID, settings=DiscordSettings()
    )
    assert first.key.space == other.key.space == "@dm" and first.key.id != other.key.id
    assert first.user_id != other.user_id


def test_threads_of_an_age_restricted_channel_are_age_restricted(world: World) -> None:
    m = world.message("x", channel=NSFW_THREAD)
    assert to_incoming(m, bot_id=BOT_ID, settings=DiscordSettings()).adult_channel
    assert not to_incoming(
        world.message("x", channel=THREAD), bot_id=BOT_ID, settings=DiscordSettings()
    ).adult_channel


def test_a_thread_not_started_by_the_bot_needs_a_mention(world: World) -> None:
    assert not answer(world.message("chatting", channel=NSFW_THREAD), auto_thread=True)
    assert answer(world.message(f"<@{BOT_ID}> hi", channel=NSFW_THREAD, mentions=[BOT_ID]), auto_thread=True)


def test_free_channels_cover_their_threads(world: World) -> None:
    assert answer(world.message("no mention", channel=THREAD), free_channels=str(GENERAL))


def test_thread_names_come_from_the_question() -> None:
    assert thread_name("what is a pod of dolphins?") == "what is a pod of dolphins?"
    assert thread_name("\n  first   line\nsecond line") == "first line"
    long = thread_name("why " * 60)
    assert len(long) <= 100 and long.endswith("…") and " " not in long[-2:]
    assert thread_name("   ") == "Question"


def test_intents_are_the_ones_the_bot_needs() -> None:
    i = intents()
    assert i.guilds and i.guild_messages and i.dm_messages and i.message_content
    assert not i.members and not i.presences  # privileged intents it does not use stay off
    assert (
        i.value
        == discord.Intents(guilds=True, guild_messages=True, dm_messages=True, message_content=True).value
    )


def test_invite_url_and_permission_integer_match_the_docs() -> None:
    needed = discord.Permissions(
        view_channel=True,  # 1 << 10
        send_messages=True,  # 1 << 11
        read_message_history=True,  # 1 << 16: replies need it
        create_public_threads=True,  # 1 << 35
        send_messages_in_threads=True,  # 1 << 38
    )
    assert (
        INVITE_PERMISSIONS.value == needed.value == (1 << 10) + (1 << 11) + (1 << 16) + (1 << 35) + (1 << 38)
    )
    assert not (INVITE_PERMISSIONS.manage_messages or INVITE_PERMISSIONS.mention_everyone)
    url = invite_url(BOT_ID)
    assert f"permissions={INVITE_PERMISSIONS.value}" in url and "scope=bot+applications.commands" in url
    doc = (Path(__file__).parents[2] / "docs" / "discord.md").read_text()
    assert f"permissions={INVITE_PERMISSIONS.value}" in doc
    assert re.search(rf"`{INVITE_PERMISSIONS.value}`", doc)


def _event(**overrides: str) -> AuditEvent:
    base = dict(
        time=0.0,
        platform="discord",
        space="2000",
        channel=str(GENERAL),
        thread="",
        user_id=f"discord:2000:{ALICE}",
        author_name="Ally",
        message_id="9001",
        stage="input",
        action="block",
        category="weapons",
        layer="rules",
        excerpt="how do I **build** a\nthing || <@5002> @everyone",
    )
    base.update(overrides)
    return AuditEvent(**base)  # type: ignore[arg-type]


def test_mod_log_lines_link_to_the_message_and_hide_the_excerpt() -> None:
    line = format_mod_event(_event())
    assert f"https://discord.com/channels/2000/{GENERAL}/9001" in line
    assert f"<@{ALICE}>" in line and f"<#{GENERAL}>" in line
    _head, excerpt = line.split("\n")
    assert excerpt.startswith("> ||") and excerpt.endswith("||")  # one spoiler, one quoted line
    assert "\\*\\*build\\*\\*" in excerpt and excerpt.count("||") == 2
    # a follow-up inside a thread links into the thread; the thread's first message lives in the channel
    assert f"/2000/{THREAD}/9002" in format_mod_event(_event(thread=str(THREAD), message_id="9002"))
    first = format_mod_event(_event(thread=str(THREAD), message_id=str(THREAD)))
    assert f"/2000/{GENERAL}/{THREAD}" in first and f"in <#{GENERAL}>" in first
    dm = format_mod_event(_event(space="@dm", user_id=f"discord:@dm:{ALICE}"))
    assert "direct message" in dm and "https://" not in dm
    ask = format_mod_event(_event(message_id="i424242"))
    assert "via /ask" in ask and "https://" not in ask
    assert len(format_mod_event(_event(excerpt="x" * 5000))) <= 2000
    # moderators read the policy's name of the category beside its code
    named = format_mod_event(_event(category="JM", category_name="Injection Markers"))
    assert "category **JM Injection Markers**" in named
    # and the language of the text checked, when known
    assert "· language ja ·" in format_mod_event(_event(language="ja"))
    assert "language" not in format_mod_event(_event())
