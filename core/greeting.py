"""What a chat app says before it is asked anything: the greeting when a member first opens the bot's direct
messages, the prompts it suggests there, and the progress it shows while an answer is on its way, in the
member's language (core/locales/*.yaml).

`FirstVisits` remembers who was greeted, in Redis and shared by every replica: a member opens the DM many
times (each opening is an event), and a greeting each time would be noise. The first replica to claim the
member (`SET NX`) greets; after `GREETED_TTL_S` without a visit a member is greeted again. The key holds no
message text, only that a member of a space was greeted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import redis.asyncio as aioredis

from core import i18n
from core.history import redis_call
from core.keys import KeySpace
from core.models import Platform

GREETED_TTL_S = 30 * 24 * 3600  # renewed by every visit
MAX_SUGGESTED_PROMPTS = (
    4  # Slack's limit (assistant.threads.setSuggestedPrompts, agent_view.suggested_prompts)
)
MAX_PROMPT_TITLE_CHARS = 75
MAX_LOADING_MESSAGES = 10  # assistant.threads.setStatus `loading_messages`


@dataclass(frozen=True, slots=True)
class SuggestedPrompt:
    title: str  # what the button shows
    message: str  # what is sent when it is pressed


@dataclass(frozen=True, slots=True)
class Progress:
    """What shows while an answer is on its way: a status line and messages that rotate under it."""

    status: str
    loading_messages: tuple[str, ...]


class FirstVisits:
    def __init__(
        self, *, redis: aioredis.Redis, keys: KeySpace, platform: Platform, ttl_s: int = GREETED_TTL_S
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._platform = platform
        self._ttl_s = ttl_s

    async def claim(self, space: str, author_id: str) -> bool:
        """True for the first visit of `author_id` in `space` (within the TTL), on whichever replica asks
        first; every visit renews the TTL. `HistoryUnavailable` when Redis cannot be reached."""
        key = self._keys.greeted(self._platform, space, author_id)
        first = await redis_call(self._redis.set(key, b"1", nx=True, ex=self._ttl_s))
        if not first:
            await redis_call(self._redis.expire(key, self._ttl_s))
        return bool(first)


def greeting(bot_name: str, language: str) -> str:
    """The greeting in the bot's direct messages (agent view: every new message starts its own thread)."""
    return i18n.translate("greeting.dm", language, name=bot_name)


def thread_greeting(bot_name: str, language: str) -> str:
    """The greeting at the top of an assistant thread (assistant view)."""
    return i18n.translate("greeting.thread", language, name=bot_name)


def suggested_prompts(prompts: Iterable[str]) -> tuple[SuggestedPrompt, ...]:
    """The configured prompts as Slack shows them: at most four, titles cut to 75 characters."""
    cleaned = [p.strip() for p in prompts if p.strip()]
    return tuple(SuggestedPrompt(p[:MAX_PROMPT_TITLE_CHARS], p) for p in cleaned[:MAX_SUGGESTED_PROMPTS])


def progress(language: str) -> Progress:
    """The status while an answer is prepared, and the loading messages that rotate under it."""
    lines = i18n.translate("status.loading", language).splitlines()
    loading = tuple(line.strip() for line in lines if line.strip())
    return Progress(i18n.translate("status.thinking", language), loading[:MAX_LOADING_MESSAGES])
