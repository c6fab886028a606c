"""The Slack and Discord stand-ins keep the platforms' write limits when asked (`enforce_limits`), answering
past them as the platforms do: Slack a 429 `ratelimited` with `Retry-After`; Discord its bucket headers on
every message send and edit, a route 429 past a channel's bucket, a global 429 past the bot's requests per
second."""

from __future__ import annotations

import aiohttp

from tests.fakes.discord_api import TOKEN, DiscordLimits, FakeDiscord
from tests.fakes.slack_api import FakeSlackAPI, SlackLimits

BOT = {"Authorization": f"Bot {TOKEN}"}


def stopped_clock() -> float:
    """The stand-ins' clock stopped: every request of a test falls in one second, however slow the machine."""
    return 1000.0


async def test_slack_answers_429_past_tier_3_and_one_post_a_second_per_channel() -> None:
    async with FakeSlackAPI() as api, aiohttp.ClientSession() as http:
        api.enforce_limits(SlackLimits(update_per_workspace=3), clock=stopped_clock)
        headers = {"Authorization": "Bearer xoxb-1"}
        ts = []
        for channel in ("C1", "C2", "C1"):
            async with http.post(
                api.url + "chat.postMessage", data={"channel": channel, "text": "hi"}, headers=headers
            ) as r:
                body = await r.json()
                ts.append(body.get("ts"))
                status, retry_after = r.status, r.headers.get("Retry-After")
        assert (status, retry_after, body) == (429, "1", {"ok": False, "error": "ratelimited"})  # C1 again
        statuses = []
        for _ in range(4):
            async with http.post(
                api.url + "chat.update", data={"channel": "C1", "ts": ts[0], "text": "more"}, headers=headers
            ) as r:
                statuses.append(r.status)
                retry_after = r.headers.get("Retry-After")
        assert statuses == [200, 200, 200, 429]  # the workspace's minute is spent
        assert retry_after == "60"  # the whole minute: no time has passed
        assert [m for _, m, _, accepted in api.log if not accepted] == ["chat.postMessage", "chat.update"]


async def test_discord_keeps_channel_buckets_with_headers_and_a_global_limit() -> None:
    async with FakeDiscord() as api, aiohttp.ClientSession() as http:
        api.enforce_limits(DiscordLimits(global_per_s=8, per_channel=3), clock=stopped_clock)
        sends = []
        for _ in range(4):
            async with http.post(
                f"{api.api_base}/channels/1/messages", json={"content": "hi"}, headers=BOT
            ) as r:
                sends.append(
                    (r.status, r.headers.get("X-RateLimit-Remaining"), r.headers.get("X-RateLimit-Global"))
                )
        assert sends == [(200, "2", None), (200, "1", None), (200, "0", None), (429, "0", None)]
        async with http.post(f"{api.api_base}/channels/2/messages", json={"content": "hi"}, headers=BOT) as r:
            assert r.status == 200  # another channel has its own bucket
        statuses = []
        for _ in range(4):
            async with http.post(f"{api.api_base}/channels/3/typing", headers=BOT) as r:
                statuses.append(r.status)
                global_ = r.headers.get("X-RateLimit-Global")
                body = await r.json() if r.status == 429 else {}
        assert statuses == [204, 204, 204, 429]  # 8 requests in the second: the bot's global limit
        assert global_ == "true" and body["global"] is True and body["retry_after"] == 1.0
        assert len(api.limited) == 2
