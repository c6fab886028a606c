"""Slack's side of what the app says before a question (core/greeting.py): the greeting and suggested prompts
when a member opens the app's DM, and the thread status with its loading messages while an answer is on its
way. bolt hands the listeners `say`, `set_suggested_prompts` and `set_status` bound to the DM or thread."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import structlog
from slack_sdk.errors import SlackApiError

from bots.slack.sink import slack_error
from bots.slack.users import UserDirectory
from core import i18n
from core.errors import RelayError
from core.greeting import FirstVisits, greeting, progress, suggested_prompts, thread_greeting

log = structlog.get_logger(__name__)

Call = Callable[..., Awaitable[Any]]


def prompts_arg(prompts: Iterable[str]) -> list[dict[str, str]]:
    """SLACK_SUGGESTED_PROMPTS as assistant.threads.setSuggestedPrompts takes them."""
    return [{"title": p.title, "message": p.message} for p in suggested_prompts(prompts)]


def status_shower(set_status: Call, language: str) -> Callable[[], Awaitable[object]]:
    """bolt's `set_status` for one thread, with the status and loading messages in `language`."""
    shown = progress(language)

    async def show() -> object:
        return await set_status(status=shown.status, loading_messages=list(shown.loading_messages))

    return show


class Welcome:
    """A member opened the app's DM: the greeting on their first visit (`FirstVisits`, shared by replicas),
    then the suggested prompts, neither with a `thread_ts` (agent view ignores such a call)."""

    def __init__(
        self,
        *,
        visits: FirstVisits,
        users: UserDirectory,
        bot_name: str,
        agent_view: bool,
        prompts: Iterable[str],
    ) -> None:
        self._visits = visits
        self._users = users
        self._bot_name = bot_name
        self._agent_view = agent_view
        self._prompts = prompts_arg(prompts)

    async def language(self, user: str) -> str:
        found = await self._users.get(user)
        return found.language if found is not None else i18n.FALLBACK

    async def thread_started(self, user: str, say: Call, set_suggested_prompts: Call) -> None:
        """An assistant thread opened (assistant view): the greeting atop it, and the prompts."""
        await say(thread_greeting(self._bot_name, await self.language(user)))
        if self._prompts:
            await set_suggested_prompts(prompts=self._prompts)

    async def dm_opened(self, space: str, user: str, say: Call, set_suggested_prompts: Call) -> None:
        try:
            first = await self._visits.claim(space, user)
        except RelayError:  # no greeting rather than one at every visit
            log.warning("slack.greeting_skipped", reason="redis unavailable")
            first = False
        try:
            if first:
                language = await self.language(user)
                agent = self._agent_view
                text = (
                    greeting(self._bot_name, language) if agent else thread_greeting(self._bot_name, language)
                )
                await say(text=text)
            if self._prompts:
                await set_suggested_prompts(prompts=self._prompts)
        except SlackApiError as exc:
            log.warning("slack.greeting_failed", error=slack_error(exc))
