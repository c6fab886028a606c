"""Every Redis key name of the service, in one place.

Versioned (`v1`) and namespaced (REDIS_KEY_PREFIX). Every key of one conversation shares a Redis Cluster
hash slot through a hash tag (`{conv:…}`), so that its multi-key updates stay atomic on a cluster too.
Every key written has a TTL.
"""

from __future__ import annotations

from urllib.parse import quote

from core.models import ConversationKey, Platform


class KeySpace:
    def __init__(self, prefix: str) -> None:
        self._p = f"{prefix}:v1"

    @property
    def prefix(self) -> str:
        return self._p

    # one conversation (one hash slot)
    def turns(self, conv_id: str) -> str:
        return f"{self._p}:{{conv:{conv_id}}}:turns"

    def persona(self, conv_id: str) -> str:
        return f"{self._p}:{{conv:{conv_id}}}:persona"

    def lock(self, conv_id: str) -> str:
        return f"{self._p}:{{conv:{conv_id}}}:lock"

    # one user
    def user_conversations(self, user_id: str) -> str:
        return f"{self._p}:{{user:{user_id}}}:convs"

    def author_users(self, platform: Platform, author_id: str) -> str:
        """The space-scoped ids (`IncomingMessage.user_id`) of one author on a platform, one per space where
        turns of theirs are stored (maintained on commit): forget-everywhere reads it instead of scanning
        key names."""
        return f"{self._p}:{{author:{platform.value}:{quote(author_id, safe='')}}}:users"

    def greeted(self, platform: Platform, space: str, author_id: str) -> str:
        """A member already greeted in the bot's direct messages (`core.greeting.FirstVisits`)."""
        return f"{self._p}:greeted:{platform.value}:{quote(space, safe='')}:{quote(author_id, safe='')}"

    def mute(self, user_id: str) -> str:
        return f"{self._p}:mute:{user_id}"

    # one channel (all its threads)
    def paused(self, key: ConversationKey) -> str:
        return f"{self._p}:{{chan:{key.channel_id}}}:paused"

    def threads(self, platform: Platform, space: str, channel: str) -> str:
        """The threads of a channel the bot takes part in (`core.threads.ThreadIndex`)."""
        return f"{self._p}:{platform.value}:threads:{quote(space, safe='')}:{quote(channel, safe='')}"

    # write budgets (one hash slot per platform scope: a workspace, a bot)
    def write_budget(self, platform: Platform, scope: str, window: str) -> str:
        return f"{self._p}:{{wb:{platform.value}:{quote(scope, safe='')}}}:{quote(window, safe='')}"

    # gate
    def seen(self, platform: Platform, message_id: str) -> str:
        return f"{self._p}:seen:{platform.value}:{quote(message_id, safe='')}"

    def user_rate(self, user_id: str, window: int) -> str:
        return f"{self._p}:rl:user:{user_id}:{window}"

    def channel_rate(self, channel_id: str, window: int) -> str:
        return f"{self._p}:rl:chan:{channel_id}:{window}"

    def notice(self, scope: str) -> str:
        """A cooldown notice already shown (`NoticeThrottle`): `rl:user:<user id>`, `rl:channel:<channel
        id>` or `mute:<user id>`; the ids are the platform- and space-scoped ones."""
        return f"{self._p}:notice:{scope}"

    # budgets: every key of one community in one hash slot, so that a charge is one atomic script
    def budget_member(self, platform: Platform, space: str, author_id: str, day: str) -> str:
        """Tokens one member used on `day` (the budget's local date, `2026-12-06`) in one community."""
        return f"{self._budget(platform, space)}:member:{quote(author_id, safe='')}:{day}"

    def budget_community(self, platform: Platform, space: str, day: str) -> str:
        """Tokens one community (a Discord guild, "@dm" for Discord DMs; a Slack team) used on `day`."""
        return f"{self._budget(platform, space)}:community:{day}"

    def budget_charged(self, platform: Platform, space: str, message_id: str) -> str:
        """Marks the exchange of one message as charged, so that a charge redis-py retries counts once."""
        return f"{self._budget(platform, space)}:charged:{quote(message_id, safe='')}"

    def _budget(self, platform: Platform, space: str) -> str:
        return f"{self._p}:{{budget:{platform.value}:{quote(space, safe='')}}}"

    # answers and reports (core/reports.py)
    def answer(self, platform: Platform, ref: str) -> str:
        """A message that showed an answer (`ReplySink.answer_refs`) → the conversation and request it
        answered; kept as long as the history."""
        return f"{self._p}:answer:{platform.value}:{quote(ref, safe='')}"

    def reported(self, platform: Platform, ref: str, reporter: str) -> str:
        """One member's report of one answer (so that reporting it again counts once)."""
        return f"{self._p}:reported:{platform.value}:{quote(ref, safe='')}:{quote(reporter, safe='')}"

    # moderation
    def audit(self) -> str:
        return f"{self._p}:audit"

    def strikes(self, user_id: str) -> str:
        return f"{self._p}:strikes:{user_id}"
