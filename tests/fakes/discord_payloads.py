"""Real discord.py objects built from recorded-style gateway payloads (no connection), as discord.py's own
tests do: a ConnectionState parses a GUILD_CREATE and MESSAGE_CREATE data."""

from __future__ import annotations

from typing import Any

import discord

BOT_ID = 1000
GUILD_ID = 2000
GENERAL = 3001  # text channel
NSFW = 3002  # age-restricted text channel
FREE = 3003  # a "free channel"
CATEGORY = 3100
IN_CATEGORY = 3101
THREAD = 3201  # a thread of GENERAL, started by the bot
NSFW_THREAD = 3202  # a thread of the age-restricted NSFW channel
MOD_ROLE = 4001
MEMBER_ROLE = 4002
BOT_ROLE = 4003  # the bot's managed (integration) role
ALICE = 5001  # a member
MOD = 5002  # has the moderator role
OWNER = 5003  # Manage Server through @everyone? no: owner of the guild
OTHER_BOT = 5004


def user(uid: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(uid),
        "username": name,
        "global_name": name.title(),
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
    }


def thread(tid: int, name: str, parent: int, *, owner: int = BOT_ID) -> dict[str, Any]:
    return {
        "id": str(tid),
        "type": 11,
        "name": name,
        "parent_id": str(parent),
        "owner_id": str(owner),
        "guild_id": str(GUILD_ID),
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": "2026-01-01T00:00:00+00:00",
            "locked": False,
        },
        "message_count": 1,
        "member_count": 2,
        "rate_limit_per_user": 0,
    }


def guild_payload() -> dict[str, Any]:
    def text(cid: int, name: str, *, nsfw: bool = False, parent: int | None = None) -> dict[str, Any]:
        return {
            "id": str(cid),
            "type": 0,
            "name": name,
            "position": 0,
            "permission_overwrites": [],
            "nsfw": nsfw,
            "parent_id": str(parent) if parent else None,
            "guild_id": str(GUILD_ID),
        }

    return {
        "id": str(GUILD_ID),
        "name": "Test Guild",
        "owner_id": str(OWNER),
        "features": [],
        "emojis": [],
        "stickers": [],
        "roles": [
            {
                "id": str(GUILD_ID),
                "name": "@everyone",
                "permissions": "1024",
                "position": 0,
                "color": 0,
                "hoist": False,
                "managed": False,
                "mentionable": False,
            },
            {
                "id": str(MOD_ROLE),
                "name": "Mods",
                "permissions": str(1 << 5),
                "position": 2,
                "color": 0,
                "hoist": False,
                "managed": False,
                "mentionable": True,
            },
            {
                "id": str(BOT_ROLE),
                "name": "Dolphin",
                "permissions": "309237713920",
                "position": 3,
                "color": 0,
                "hoist": False,
                "managed": True,
                "mentionable": False,
                "tags": {"bot_id": str(BOT_ID)},
            },
            {
                "id": str(MEMBER_ROLE),
                "name": "Members",
                "permissions": "0",
                "position": 1,
                "color": 0,
                "hoist": False,
                "managed": False,
                "mentionable": True,
            },
        ],
        "channels": [
            text(GENERAL, "general"),
            text(NSFW, "after-dark", nsfw=True),
            text(FREE, "ask-dolphin"),
            {"id": str(CATEGORY), "type": 4, "name": "Projects", "position": 0, "permission_overwrites": []},
            text(IN_CATEGORY, "project-a", parent=CATEGORY),
        ],
        "threads": [thread(THREAD, "a thread", GENERAL), thread(NSFW_THREAD, "late talk", NSFW, owner=ALICE)],
        "members": [
            {
                "user": user(ALICE, "alice"),
                "roles": [str(MEMBER_ROLE)],
                "joined_at": "2026-01-01T00:00:00+00:00",
                "deaf": False,
                "mute": False,
                "flags": 0,
                "nick": "Ally",
            },
            {
                "user": user(MOD, "mod"),
                "roles": [str(MOD_ROLE)],
                "joined_at": "2026-01-01T00:00:00+00:00",
                "deaf": False,
                "mute": False,
                "flags": 0,
            },
            {
                "user": user(BOT_ID, "dolphin", bot=True),
                "roles": [str(BOT_ROLE)],
                "joined_at": "2026-01-01T00:00:00+00:00",
                "deaf": False,
                "mute": False,
                "flags": 0,
            },
        ],
        "member_count": 3,
        "large": False,
        "unavailable": False,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "system_channel_flags": 0,
    }


class World:
    """A discord.py ConnectionState with one guild, parsed from payloads."""

    def __init__(self) -> None:
        self.client = discord.Client(intents=discord.Intents.all())
        self.state = self.client._connection
        self.state.user = discord.ClientUser(state=self.state, data=user(BOT_ID, "dolphin", bot=True))  # type: ignore[arg-type]
        self.guild = self.state._add_guild_from_data(guild_payload())  # type: ignore[arg-type]

    def channel(self, cid: int) -> Any:
        return self.guild.get_channel_or_thread(cid)

    def message(
        self,
        content: str,
        *,
        author: int = ALICE,
        channel: int = GENERAL,
        mentions: list[int] = (),  # type: ignore[assignment]
        role_mentions: list[int] = (),  # type: ignore[assignment]
        bot: bool = False,
        webhook: bool = False,
        reply_to: discord.Message | None = None,
        dm: bool = False,
        mid: int = 9001,
    ) -> discord.Message:
        member = self.guild.get_member(author)
        data: dict[str, Any] = {
            "id": str(mid),
            "channel_id": str(channel),
            "author": user(author, member.name if member else "stranger", bot=bot),
            "content": content,
            "timestamp": "2026-11-23T12:00:00+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [user(uid, "dolphin" if uid == BOT_ID else "alice") for uid in mentions],
            "mention_roles": [str(r) for r in role_mentions],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": 19 if reply_to is not None else 0,
        }
        if webhook:
            data["webhook_id"] = "7777"
        if reply_to is not None:
            data["message_reference"] = {"message_id": str(reply_to.id), "channel_id": str(channel)}
            data["referenced_message"] = _message_data(reply_to)
        if dm:
            dm_channel = self.state.add_dm_channel(
                {"id": str(channel), "type": 1, "recipients": [data["author"]]}  # type: ignore[typeddict-item]
            )
            return discord.Message(state=self.state, channel=dm_channel, data=data)  # type: ignore[arg-type]
        data["guild_id"] = str(GUILD_ID)
        if member is not None:
            data["member"] = {
                "roles": [str(r.id) for r in member.roles[1:]],
                "joined_at": "2026-01-01T00:00:00+00:00",
                "deaf": False,
                "mute": False,
                "flags": 0,
                "nick": member.nick,
            }
        return discord.Message(state=self.state, channel=self.channel(channel), data=data)  # type: ignore[arg-type]


def _message_data(message: discord.Message) -> dict[str, Any]:
    return {
        "id": str(message.id),
        "channel_id": str(message.channel.id),
        "author": user(message.author.id, message.author.name, bot=message.author.bot),
        "content": message.content,
        "timestamp": "2026-11-23T11:59:00+00:00",
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": False,
        "type": 0,
    }
