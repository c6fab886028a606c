"""Who a Slack user is: `users.info`, cached (display names for the model and for mentions, whether someone
is a workspace admin, and the language of their Slack client for what the bot says before they write)."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.sink import slack_error
from core import i18n

log = structlog.get_logger(__name__)

_USER_CACHE_S = 300.0
_USER_FAILURE_CACHE_S = 10.0  # a failed lookup: the id for a name, not an admin, for a few seconds
_USER_CACHE_MAX = 10_000


@dataclass(frozen=True, slots=True)
class SlackUser:
    id: str
    name: str
    admin: bool  # workspace admin, owner or primary owner, and a member of this workspace
    language: str = i18n.FALLBACK  # ISO 639 code of the member's Slack locale ("fr" for fr-FR)


def locale_language(locale: object) -> str:
    """The language of a Slack locale (`en-US`, `ja-JP`, `zh-CN`): its ISO 639 code, English when unknown."""
    code = str(locale or "").split("-")[0].lower()
    return code if code.isalpha() and 2 <= len(code) <= 3 else i18n.FALLBACK


class UserDirectory:
    """`users.info`, cached for five minutes: display names (the model sees "name: text"; mentions become
    @name) and whether someone is a workspace admin. Failures fall back to the id and "not an admin", and
    are remembered for a few seconds only.

    Single flight: concurrent lookups of one user share one `users.info` call (a member's burst of 200
    messages made up to 200 calls for the same user, each a request against Slack's rate limit). The cache
    holds at most `max_users`, the least recently used go first."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_users: int = _USER_CACHE_MAX,
    ) -> None:
        self._client = client
        self._clock = clock
        self._max_users = max_users
        self._cache: OrderedDict[str, tuple[float, SlackUser | None]] = OrderedDict()
        self._pending: dict[str, asyncio.Task[SlackUser | None]] = {}

    async def get(self, user_id: str) -> SlackUser | None:
        cached = self._cache.get(user_id)
        if cached is not None and cached[0] > self._clock():
            self._cache.move_to_end(user_id)
            return cached[1]
        lookup = self._pending.get(user_id)
        if lookup is None:
            lookup = asyncio.get_running_loop().create_task(self._lookup(user_id), name="slack-users-info")
            self._pending[user_id] = lookup
            lookup.add_done_callback(lambda _: self._pending.pop(user_id, None))
        # shielded: one waiter cancelled (its answer's task) does not cancel the lookup the others share
        return await asyncio.shield(lookup)

    async def _lookup(self, user_id: str) -> SlackUser | None:
        user: SlackUser | None = None
        ttl = _USER_FAILURE_CACHE_S
        try:
            info = await self._client.users_info(user=user_id, include_locale=True)
        except SlackApiError as exc:
            log.warning("slack.users_info_failed", error=slack_error(exc))
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("slack.users_info_failed", error=type(exc).__name__)
        else:
            raw = info.get("user") or {}
            profile = raw.get("profile") or {}
            name = (
                profile.get("display_name")
                or profile.get("real_name")
                or raw.get("real_name")
                or raw.get("name")
                or user_id
            )
            admin = bool(raw.get("is_admin") or raw.get("is_owner") or raw.get("is_primary_owner"))
            user = SlackUser(
                user_id, str(name), admin and not raw.get("is_stranger"), locale_language(raw.get("locale"))
            )
            ttl = _USER_CACHE_S
        self._cache[user_id] = (self._clock() + ttl, user)
        self._cache.move_to_end(user_id)
        while len(self._cache) > self._max_users:
            self._cache.popitem(last=False)
        return user

    async def names(self, user_ids: Iterable[str]) -> dict[str, str]:
        ids = list(dict.fromkeys(u for u in user_ids if u))
        users = await asyncio.gather(*(self.get(u) for u in ids))
        return {u.id: u.name for u in users if u is not None}
