"""Pure translation of Discord messages: which ones to answer, and `to_incoming()`.

No I/O here: tests build real `discord.Message` objects from recorded gateway payloads and call these.

Conversation keys: a text channel is one conversation (`ConversationKey(discord, guild, channel)`); a thread
is its own conversation, keyed under its parent channel (`thread=<thread id>`), so that what belongs to a
channel (a pause, the per-channel rate limit, the channel's persona) also covers its threads; DMs are one
conversation per user (`space="@dm"`, the DM channel is unique per user).
"""

from __future__ import annotations

import datetime as dt
import re

import discord

from core.access import AccessLists, Place
from core.models import ConversationKey, IncomingMessage, Platform
from core.settings import DiscordSettings

_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")
_CHANNEL_MENTION = re.compile(r"<#(\d+)>")
_EMOJI = re.compile(r"<a?:(\w{2,32}):\d+>")
_SLASH_COMMAND = re.compile(r"</([\w -]{1,100}):\d+>")
_TIMESTAMP = re.compile(r"<t:(-?\d{1,13})(?::[tTdDfFR])?>")
MAX_THREAD_NAME = 100  # Discord's limit for a thread name


def _is_bot_thread(channel: object, bot_id: int) -> bool:
    return isinstance(channel, discord.Thread) and channel.owner_id == bot_id


def _bot_role_id(message: discord.Message) -> int | None:
    """The bot's managed role (members often pick it instead of the bot in the mention list)."""
    role = message.guild.self_role if message.guild is not None else None
    return role.id if role is not None else None


def mentions_bot(message: discord.Message, *, bot_id: int) -> bool:
    if any(u.id == bot_id for u in message.mentions):
        return True
    role_id = _bot_role_id(message)
    return role_id is not None and any(r.id == role_id for r in message.role_mentions)


def should_answer(message: discord.Message, *, bot_id: int, settings: DiscordSettings) -> bool:
    """Whether a new message is addressed to the bot (triggers are each configurable). Edits never reach
    here: the adapter only listens to MESSAGE_CREATE."""
    author = message.author
    if author.bot or message.webhook_id is not None or author.id == bot_id:
        return False
    if message.type not in (discord.MessageType.default, discord.MessageType.reply):
        return False
    if isinstance(message.channel, discord.DMChannel | discord.GroupChannel):
        return settings.respond_to_dms
    if settings.respond_to_mentions and mentions_bot(message, bot_id=bot_id):
        return True
    channel_ids = {message.channel.id, getattr(message.channel, "parent_id", None)}
    if channel_ids & set(settings.free_channels):  # a free channel's threads are free too
        return True
    if settings.auto_thread and _is_bot_thread(message.channel, bot_id):
        return True
    if settings.respond_to_replies and message.reference is not None:
        resolved = message.reference.resolved
        if isinstance(resolved, discord.Message) and resolved.author.id == bot_id:
            return True
    return False


def clean_content(message: discord.Message, *, bot_id: int) -> str:
    """Mentions resolved to readable names, the bot's own mention (user or managed role) removed, custom
    emoji as `:name:`, command mentions as `/name`, timestamps as UTC dates; `@everyone`/`@here` defused."""
    users = {u.id: u for u in message.mentions}
    roles = {r.id: r for r in message.role_mentions}
    guild = message.guild
    bot_role = _bot_role_id(message)

    def user(m: re.Match[str]) -> str:
        uid = int(m.group(1))
        if uid == bot_id:
            return ""
        found = users.get(uid) or (guild.get_member(uid) if guild else None)
        return f"@{found.display_name}" if found else "@someone"

    def role(m: re.Match[str]) -> str:
        rid = int(m.group(1))
        if rid == bot_role:
            return ""
        found = roles.get(rid) or (guild.get_role(rid) if guild else None)
        return f"@{found.name}" if found else "@role"

    def channel(m: re.Match[str]) -> str:
        found = guild.get_channel_or_thread(int(m.group(1))) if guild else None
        return f"#{found.name}" if found else "#channel"

    def timestamp(m: re.Match[str]) -> str:
        try:
            when = dt.datetime.fromtimestamp(int(m.group(1)), tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            return m.group(0)
        return when.strftime("%Y-%m-%d %H:%M UTC")

    text = _USER_MENTION.sub(user, message.content)
    text = _ROLE_MENTION.sub(role, text)
    text = _CHANNEL_MENTION.sub(channel, text)
    text = _EMOJI.sub(r":\1:", text)
    text = _SLASH_COMMAND.sub(r"/\1", text)
    text = _TIMESTAMP.sub(timestamp, text)
    text = text.replace("@everyone", "@\u200beveryone").replace("@here", "@\u200bhere")
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def conversation_key(channel: object, guild: discord.Guild | None) -> ConversationKey:
    """The conversation of a channel: a thread is its own conversation, under its parent channel."""
    space = str(guild.id) if guild else "@dm"
    if isinstance(channel, discord.Thread):
        return ConversationKey(Platform.DISCORD, space, str(channel.parent_id), str(channel.id))
    return ConversationKey(Platform.DISCORD, space, str(getattr(channel, "id", "0")))


def new_thread_key(message: discord.Message) -> ConversationKey:
    """The conversation of the thread the bot will start from `message` (Discord gives a thread started
    from a message the message's id)."""
    assert message.guild is not None
    return ConversationKey(Platform.DISCORD, str(message.guild.id), str(message.channel.id), str(message.id))


def thread_name(question: str) -> str:
    """A thread name from the question: its first line, whitespace collapsed, cut at a word, ≤ 100 chars."""
    first = next((line for line in question.splitlines() if line.strip()), "")
    name = " ".join(first.split())
    if len(name) > MAX_THREAD_NAME:
        cut = name.rfind(" ", 0, MAX_THREAD_NAME - 1)
        name = name[: cut if cut > MAX_THREAD_NAME // 2 else MAX_THREAD_NAME - 1].rstrip() + "…"
    return name or "Question"


def is_adult(channel: object) -> bool:
    """An age-restricted channel, or a thread of one."""
    if isinstance(channel, discord.Thread):
        channel = channel.parent
    is_nsfw = getattr(channel, "is_nsfw", None)
    return bool(is_nsfw()) if callable(is_nsfw) else False


def access_lists(settings: DiscordSettings) -> AccessLists:
    """The DISCORD_ALLOWED_* / DISCORD_BLOCKED_* lists and the moderators, in the core's access model."""
    return AccessLists.of(
        direct_messages=settings.respond_to_dms,
        allowed_spaces=settings.allowed_guilds,
        blocked_spaces=settings.blocked_guilds,
        allowed_channels=settings.allowed_channels,
        blocked_channels=settings.blocked_channels,
        allowed_roles=settings.allowed_roles,
        blocked_roles=settings.blocked_roles,
        allowed_users=settings.allowed_users,
        blocked_users=settings.blocked_users,
        moderator_users=settings.moderator_users,
        moderator_roles=settings.moderator_roles,
    )


def _role_ids(member: object) -> frozenset[str]:
    return frozenset(str(r.id) for r in getattr(member, "roles", []))


def can_administer(member: object, *, settings: DiscordSettings) -> bool:
    """Manage Server (owner and Administrator imply it), a configured moderator role, or a configured user.
    Interactions carry the member's resolved permissions, which work even when the guild is not cached."""
    manage_guild = False
    if isinstance(member, discord.Member):
        resolved = member.resolved_permissions
        manage_guild = (
            resolved is not None and resolved.manage_guild
        ) or member.guild_permissions.manage_guild
    user = str(getattr(member, "id", ""))
    return access_lists(settings).is_moderator(user, _role_ids(member), platform_admin=manage_guild)


def to_incoming(message: discord.Message, *, bot_id: int, settings: DiscordSettings) -> IncomingMessage:
    return IncomingMessage(
        key=conversation_key(message.channel, message.guild),
        message_id=str(message.id),
        author_id=str(message.author.id),
        author_name=message.author.display_name,
        text=clean_content(message, bot_id=bot_id),
        is_direct=message.guild is None,
        can_administer=can_administer(message.author, settings=settings),
        adult_channel=is_adult(message.channel),
    )


def is_allowed(message: discord.Message, *, settings: DiscordSettings) -> bool:
    """Allow and block lists for guilds, channels (inherited by threads and category members), roles, users."""
    return allowed_context(message.guild, message.channel, message.author, settings=settings)


def channel_chain(channel: object) -> set[int]:
    """The ids a channel inherits access from: itself, its parent channel (threads), its category."""
    chain: set[int] = set()
    current = channel
    for _ in range(3):  # thread → channel → category
        if current is None:
            break
        cid = getattr(current, "id", None)
        if cid is not None:
            chain.add(cid)
        parent_id = getattr(current, "parent_id", None) or getattr(current, "category_id", None)
        if parent_id is not None:
            chain.add(parent_id)
        current = getattr(current, "parent", None) or getattr(current, "category", None)
    return chain


def place(guild: object, channel: object, author: object) -> Place:
    """Where a message or command comes from, in the core's access model: a thread inherits its channel's
    listing, a channel its category's."""
    guild_id = getattr(guild, "id", None)
    return Place(
        user=str(getattr(author, "id", "")),
        space=None if guild_id is None else str(guild_id),
        channels=tuple(str(c) for c in sorted(channel_chain(channel))),
        roles=_role_ids(author),
        direct=guild_id is None,
    )


def allowed_context(guild: object, channel: object, author: object, *, settings: DiscordSettings) -> bool:
    return access_lists(settings).permits(place(guild, channel, author))
