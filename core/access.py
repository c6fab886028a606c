"""Who may talk to the bot where, and who moderates: one access model for every platform (pure, no I/O).

The adapters translate their ids into it: a `Place` says where a message or command comes from (its space,
the channel and what that channel inherits from: a thread its parent channel, a channel its category) and
who sent it (user id and role ids); `AccessLists` holds the operator's allow and block lists
(DISCORD_ALLOWED_* / DISCORD_BLOCKED_*, SLACK_ALLOWED_* / SLACK_BLOCKED_*). The rules, the same on every
platform:

- a block list always wins (a blocked user, role, channel or space is never answered);
- an allow list that is set admits only what it names (empty: everyone);
- channel, role and space lists apply outside direct messages only; direct messages are answered when
  `direct_messages` is on, user lists apply there too;
- a thread and a categorised channel inherit their parent's and category's listing (`Place.channels`).

Moderators (`is_moderator`): the platform's own admin right (Discord's Manage Server, a Slack workspace
admin or owner), a configured moderator user, or a member of a configured moderator role. The adapters put
the answer in `IncomingMessage.can_administer`, which core/commands.py authorizes on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


def _ids(values: Iterable[object]) -> frozenset[str]:
    return frozenset(str(v) for v in values)


@dataclass(frozen=True, slots=True)
class Place:
    """Where a message comes from and who sent it, in platform ids (as strings)."""

    user: str
    space: str | None = None  # Discord server, Slack workspace; None for a direct message
    channels: tuple[str, ...] = ()  # the channel, then what it inherits from (parent channel, category)
    roles: frozenset[str] = frozenset()
    direct: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessLists:
    """The operator's allow and block lists, and who moderates besides the platform's admins."""

    allowed_spaces: frozenset[str] = frozenset()
    blocked_spaces: frozenset[str] = frozenset()
    allowed_channels: frozenset[str] = frozenset()
    blocked_channels: frozenset[str] = frozenset()
    allowed_roles: frozenset[str] = frozenset()
    blocked_roles: frozenset[str] = frozenset()
    allowed_users: frozenset[str] = frozenset()
    blocked_users: frozenset[str] = frozenset()
    moderator_users: frozenset[str] = frozenset()
    moderator_roles: frozenset[str] = frozenset()
    direct_messages: bool = True

    @classmethod
    def of(cls, *, direct_messages: bool = True, **lists: Iterable[object]) -> AccessLists:
        """From settings' id lists (ints on Discord, strings on Slack): every id becomes a string."""
        return cls(direct_messages=direct_messages, **{name: _ids(ids) for name, ids in lists.items()})

    def permits(self, place: Place) -> bool:
        """Whether the bot may answer `place.user` there."""
        if place.user in self.blocked_users:
            return False
        if self.allowed_users and place.user not in self.allowed_users:
            return False
        if place.direct:
            return self.direct_messages
        if place.space is not None:
            if place.space in self.blocked_spaces:
                return False
            if self.allowed_spaces and place.space not in self.allowed_spaces:
                return False
        channels = set(place.channels)
        if channels & self.blocked_channels:
            return False
        if self.allowed_channels and not channels & self.allowed_channels:
            return False
        if place.roles & self.blocked_roles:
            return False
        return not (self.allowed_roles and not place.roles & self.allowed_roles)

    def is_moderator(self, user: str, roles: Iterable[str] = (), *, platform_admin: bool = False) -> bool:
        """The platform's admin right, a configured moderator user, or a configured moderator role."""
        if platform_admin or user in self.moderator_users:
            return True
        return not self.moderator_roles.isdisjoint(roles)
