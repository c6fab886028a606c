"""Pure translation of Discord messages: which ones to answer, and `to_incoming()`.

No I/O here: tests build real `discord.Message` objects from recorded gateway payloads and call these.
"""

from __future__ import annotations

import re

import discord

from core.models import ConversationKey, IncomingMessage, Platform
from core.settings import DiscordSettings

_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")
_CHANNEL_MENTION = re.compile(r"<#(\d+)>")


def _is_bot_thread(channel: object, bot_id: int) -> bool:
    return isinstance(channel, discord.Thread) and channel.owner_id == bot_id


def should_answer(message: discord.Message, *, bot_id: int, settings: DiscordSettings) -> bool:
    """Whether a new message is addressed to the bot (triggers are each configurable)."""
    author = message.author
    if author.bot or message.webhook_id is not None or author.id == bot_id:
        return False
    if message.type not in (discord.MessageType.default, discord.MessageType.reply):
        return False
    if isinstance(message.channel, discord.DMChannel | discord.GroupChannel):
        return settings.respond_to_dms
    if settings.respond_to_mentions and any(u.id == bot_id for u in message.mentions):
        return True
    channel_ids = {message.channel.id, getattr(message.channel, "parent_id", None)}
    if channel_ids & set(settings.free_channels):
        return True
    if settings.auto_thread and _is_bot_thread(message.channel, bot_id):
        return True
    if settings.respond_to_replies and message.reference is not None:
        resolved = message.reference.resolved
        if isinstance(resolved, discord.Message) and resolved.author.id == bot_id:
            return True
    return False


def clean_content(message: discord.Message, *, bot_id: int) -> str:
    """Mentions resolved to readable names, the bot's own mention removed."""
    users = {u.id: u for u in message.mentions}
    roles = {r.id: r for r in message.role_mentions}
    guild = message.guild

    def user(m: re.Match[str]) -> str:
        uid = int(m.group(1))
        if uid == bot_id:
            return ""
        found = users.get(uid) or (guild.get_member(uid) if guild else None)
        return f"@{found.display_name}" if found else "@someone"

    def role(m: re.Match[str]) -> str:
        found = roles.get(int(m.group(1))) or (guild.get_role(int(m.group(1))) if guild else None)
        return f"@{found.name}" if found else "@role"

    def channel(m: re.Match[str]) -> str:
        found = guild.get_channel_or_thread(int(m.group(1))) if guild else None
        return f"#{found.name}" if found else "#channel"

    text = _USER_MENTION.sub(user, message.content)
    text = _ROLE_MENTION.sub(role, text)
    text = _CHANNEL_MENTION.sub(channel, text)
    text = text.replace("@everyone", "@\u200beveryone").replace("@here", "@\u200bhere")
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def conversation_key(channel: object, guild: discord.Guild | None) -> ConversationKey:
    return ConversationKey(
        Platform.DISCORD, str(guild.id) if guild else "@dm", str(getattr(channel, "id", "0"))
    )


def is_adult(channel: object) -> bool:
    if isinstance(channel, discord.Thread):
        channel = channel.parent
    is_nsfw = getattr(channel, "is_nsfw", None)
    return bool(is_nsfw()) if callable(is_nsfw) else False


def can_administer(member: object, *, settings: DiscordSettings) -> bool:
    if getattr(member, "id", None) in settings.moderator_users:
        return True
    if not isinstance(member, discord.Member):
        return False
    if member.guild_permissions.manage_guild:
        return True
    return any(role.id in settings.moderator_roles for role in member.roles)


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


def allowed_context(guild: object, channel: object, author: object, *, settings: DiscordSettings) -> bool:
    guild_id = getattr(guild, "id", None)
    if guild_id is not None:
        if guild_id in settings.blocked_guilds:
            return False
        if settings.allowed_guilds and guild_id not in settings.allowed_guilds:
            return False
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
    if chain & set(settings.blocked_channels):
        return False
    if settings.allowed_channels and guild_id is not None and not chain & set(settings.allowed_channels):
        return False
    user_id = getattr(author, "id", None)
    if user_id in settings.blocked_users:
        return False
    if settings.allowed_users and user_id not in settings.allowed_users:
        return False
    role_ids = {r.id for r in getattr(author, "roles", [])}
    if role_ids & set(settings.blocked_roles):
        return False
    return not (
        settings.allowed_roles and guild_id is not None and not role_ids & set(settings.allowed_roles)
    )
