"""`python -m bench.write_budget`: how answers streaming at once spend the platforms' write budgets.

For each platform (Slack, Discord) and each number of concurrent answers (1, 10, 20, 50 by default), a fresh
stand-in of the platform that enforces its published limits with 429s (tests/fakes: Slack's Tier 3
`chat.update` per workspace and `chat.postMessage` per channel; Discord's global requests per second and the
per-channel message buckets, with their headers), one redis-server, the fake model server streaming a fixed
answer at a set delay per token, and `--processes` bot processes (the real adapters: bolt's HTTP endpoint for
Slack, discord.py's gateway client for Discord) sharing that Redis. The questions, one per channel, are sent at
once, spread over the processes.

Printed per run (one JSON line, then a table): writes per second the platform received (peak in any one-second
window, and mean over the run; refused ones included, as the platform counts them), for Slack `chat.update`
calls in the busiest minute, the 429s answered, intermediate edits per answer (accepted edits between the first
visible text and the final text), time from the question to the first visible text and to the final text
(p50, p90, max), and how many answers ended complete (the whole answer visible).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.harness import ROOT
from bots.fake_model import FakeTGI
from tools.loopback import free_port, start_redis, stop_redis

SECRET = "bench-signing-secret"
SLACK_TOKEN = "xoxb-bench-token"
PLACEHOLDER = "…"
WORDS = tuple(
    [
        "the",
        "tide",
        "comes",
        "in",
        "slowly",
        "over",
        "the",
        "flat",
        "sand",
        "and",
        "the",
        "birds",
        "walk",
        "ahead",
        "of",
        "it",
        "looking",
        "for",
        "small",
        "things",
        "to",
        "eat",
        "while",
        "the",
        "light",
        "changes",
        "from",
        "grey",
        "to",
        "gold",
    ]
)


def answer_text(words: int) -> str:
    """A plain answer (the same once rendered in Slack's mrkdwn and in Discord's Markdown)."""
    out = []
    for i in range(words):
        word = WORDS[i % len(WORDS)]
        out.append(word + ("." if i % 12 == 11 else ""))
    return " ".join(out).rstrip(".") + "."


# ----------------------------------------------------------------------------------------------- figures


@dataclass(frozen=True, slots=True)
class Write:
    at: float
    channel: str
    kind: str  # post, edit, other
    text: str | None
    accepted: bool


@dataclass(frozen=True, slots=True)
class Figures:
    platform: str
    processes: int
    answers: int
    complete: int
    writes: int
    refused_429: int
    writes_peak_per_s: int
    writes_mean_per_s: float
    updates_peak_per_min: int  # Slack: chat.update calls in any 60 s (Discord: edits)
    intermediate_per_min_peak: int
    intermediate_edits_per_answer: float
    first_text_p50_s: float
    first_text_p90_s: float
    first_text_within_5s: float  # share of answers
    final_text_p50_s: float
    final_text_p90_s: float
    final_text_max_s: float


def _peak(times: Sequence[float], window_s: float) -> int:
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - window_s:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def _pct(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def figures(
    platform: str, processes: int, sent: dict[str, float], writes: list[Write], expected: str
) -> Figures:
    all_writes = [w.at for w in writes]
    span = (max(all_writes) - min(all_writes)) if len(all_writes) > 1 else 0.0
    firsts, finals, intermediates, intermediate_times = [], [], [], []
    complete = 0
    for channel, t0 in sent.items():
        mine = [w for w in writes if w.channel == channel and w.accepted and w.kind in ("post", "edit")]
        texts = [w for w in mine if w.text and w.text.strip() and w.text.strip() != PLACEHOLDER]
        first = texts[0] if texts else None
        final = next((w for w in texts if w.text == expected), None)
        if first is not None:
            firsts.append(first.at - t0)
        if final is not None and texts[-1].text == expected:
            complete += 1
            finals.append(final.at - t0)
        end = final.at if final is not None else float("inf")
        between = [w for w in texts if w.kind == "edit" and first is not None and first.at < w.at < end]
        intermediates.append(len(between))
        intermediate_times += [w.at for w in between]
    edit_kind = [w.at for w in writes if w.kind == "edit"]
    return Figures(
        platform=platform,
        processes=processes,
        answers=len(sent),
        complete=complete,
        writes=len(writes),
        refused_429=sum(1 for w in writes if not w.accepted),
        writes_peak_per_s=_peak(all_writes, 1.0),
        writes_mean_per_s=round(len(writes) / span, 1) if span else float(len(writes)),
        updates_peak_per_min=_peak(edit_kind, 60.0),
        intermediate_per_min_peak=_peak(intermediate_times, 60.0),
        intermediate_edits_per_answer=round(statistics.fmean(intermediates), 2) if intermediates else 0.0,
        first_text_p50_s=round(_pct(firsts, 0.5), 2),
        first_text_p90_s=round(_pct(firsts, 0.9), 2),
        first_text_within_5s=round(sum(1 for f in firsts if f <= 5.0) / len(sent), 3),
        final_text_p50_s=round(_pct(finals, 0.5), 2),
        final_text_p90_s=round(_pct(finals, 0.9), 2),
        final_text_max_s=round(max(finals), 2) if finals else float("nan"),
    )


# ------------------------------------------------------------------------------------------ bot processes


@dataclass
class Worker:
    proc: asyncio.subprocess.Process
    url: str  # Slack: its events endpoint; Discord: ""


@contextlib.asynccontextmanager
async def workers(
    platform: str, count: int, *, api: str, tgi: str, redis_url: str, prefix: str, extra: Sequence[str]
) -> AsyncIterator[list[Worker]]:
    """`count` bot processes (`--worker`), each started and ready (its READY line read); stopped on exit."""
    procs: list[Worker] = []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        for _ in range(count):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.write_budget", "--worker", platform, "--api", api, "--tgi", tgi,
                "--redis", redis_url, "--prefix", prefix, *extra,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ROOT, env=env,
            )  # fmt: skip
            assert proc.stdout is not None
            line = (await asyncio.wait_for(proc.stdout.readline(), 120)).decode().strip()
            if not line.startswith("READY"):
                raise RuntimeError(f"bot process did not start: {line!r}")
            procs.append(Worker(proc, line.removeprefix("READY").strip()))
        yield procs
    finally:
        for w in procs:
            if w.proc.stdin is not None:
                w.proc.stdin.close()
        for w in procs:
            try:
                await asyncio.wait_for(w.proc.wait(), 30)
            except TimeoutError:
                w.proc.kill()
                await w.proc.wait()


async def _worker_main(args: argparse.Namespace) -> None:
    """One bot process: the real adapter over the real core, until its standard input closes."""
    from bots.runtime import open_core
    from core.observability import configure_logging
    from core.settings import LogSettings, Settings

    configure_logging(LogSettings(level="ERROR"))
    groups: dict[str, dict[str, Any]] = {
        "redis": {"url": args.redis, "key_prefix": args.prefix},
        "tgi": {"url": args.tgi},
        "limits": {"user_per_minute": 0, "channel_per_minute": 0},
        "alignment": {"enabled": False},
        "slack": {"bot_token": SLACK_TOKEN, "signing_secret": SECRET, "api_url": args.api},
        "discord": {"token": args.token},
    }
    for group, values in json.loads(args.settings or "{}").items():
        groups.setdefault(group, {}).update(values)
    if args.worker == "slack":
        del groups["discord"]
    else:
        del groups["slack"]
    settings = Settings.model_validate(groups)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if args.worker == "slack":
        from bots.slack.app import SlackRelay, start_http

        async with open_core(settings) as core:
            relay = SlackRelay(core, settings=settings.slack, http_mode=True)
            runner, url = await start_http(relay, host="127.0.0.1", port=0)
            print("READY", url, flush=True)
            await loop.run_in_executor(None, sys.stdin.read)
            await core.tasks.drain(30)
            await runner.cleanup()
        return
    import discord
    import discord.webhook.async_
    import yarl

    from bots.discord.app import run_discord

    discord.http.Route.BASE = f"{args.api}/api/v10"
    discord.webhook.async_.Route.BASE = f"{args.api}/api/v10"  # type: ignore[attr-defined]
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(
        f"ws://{args.api.removeprefix('http://')}/gateway"
    )
    async with open_core(settings) as core:
        task = asyncio.create_task(run_discord(core, stop=stop))
        print("READY", flush=True)
        await loop.run_in_executor(None, sys.stdin.read)
        await core.tasks.drain(30)
        stop.set()
        await asyncio.wait_for(task, 30)


# ------------------------------------------------------------------------------------------------- runs


def _signed(body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    base = f"v0:{stamp}:".encode() + body
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": "v0=" + hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest(),
        "Content-Type": "application/json",
    }


def _slack_event(channel: str, user: str, i: int) -> dict[str, Any]:
    from tests.fakes.slack_api import BOT_USER, TEAM

    ts = f"1700000100.{i:06d}"
    return {
        "token": "x",
        "team_id": TEAM,
        "api_app_id": "A1",
        "event": {
            "type": "app_mention",
            "user": user,
            "text": f"<@{BOT_USER}> tell me about the tide",
            "ts": ts,
            "channel": channel,
            "team": TEAM,
            "channel_type": "channel",
            "event_ts": ts,
        },
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:10]}",
        "event_time": int(time.time()),
        "authorizations": [
            {"team_id": TEAM, "user_id": BOT_USER, "is_bot": True, "is_enterprise_install": False}
        ],
    }


async def _wait_done(done: Any, timeout_s: float) -> None:
    """Poll the stand-in's record (it has no event for "every answer is final") until `done()`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not done():  # noqa: ASYNC110
        await asyncio.sleep(0.2)


async def run_slack(n: int, args: argparse.Namespace, redis_url: str, tgi: FakeTGI, expected: str) -> Figures:
    from tests.fakes.slack_api import FakeSlackAPI

    async with FakeSlackAPI() as api:
        if not args.no_limits:
            api.enforce_limits()
        prefix = f"bench{uuid.uuid4().hex[:8]}"
        extra = ["--settings", args.settings] if args.settings else []
        async with (
            workers("slack", args.processes, api=api.url, tgi=tgi.url, redis_url=redis_url, prefix=prefix, extra=extra)
            as procs,
            aiohttp.ClientSession() as http,
        ):  # fmt: skip
            sent: dict[str, float] = {}

            async def ask(i: int) -> None:
                channel = f"CB{i:04d}"
                body = json.dumps(_slack_event(channel, f"UB{i:04d}", i)).encode()
                sent[channel] = time.monotonic()
                async with http.post(procs[i % len(procs)].url, data=body, headers=_signed(body)) as r:
                    r.raise_for_status()

            await asyncio.gather(*(ask(i) for i in range(n)))

            def done() -> bool:
                return all(expected in api.visible(c, None) or _thread_has(api, c, expected) for c in sent)

            await _wait_done(done, args.timeout_s)
        writes = []
        for at, method, body, accepted in api.log:
            kind = {"chat.postMessage": "post", "chat.update": "edit", "chat.delete": "other"}.get(method)
            if kind is None:
                continue
            writes.append(Write(at, str(body.get("channel")), kind, body.get("text"), accepted))
        return figures("slack", args.processes, sent, writes, expected)


def _thread_has(api: Any, channel: str, text: str) -> bool:
    return any(m.channel == channel and not m.deleted and m.text == text for m in api.messages.values())


async def run_discord(
    n: int, args: argparse.Namespace, redis_url: str, tgi: FakeTGI, expected: str
) -> Figures:
    from tests.fakes.discord_api import TOKEN, FakeDiscord
    from tests.fakes.discord_payloads import ALICE, BOT_ID, GUILD_ID, guild_payload

    guild = guild_payload()
    channels = [9_100_000 + i for i in range(n)]
    guild["channels"] += [
        {"id": str(c), "type": 0, "name": f"bench-{i}", "position": 0, "permission_overwrites": [],
         "nsfw": False, "parent_id": None, "guild_id": str(GUILD_ID)}
        for i, c in enumerate(channels)
    ]  # fmt: skip
    async with FakeDiscord(guild=guild) as api:
        if not args.no_limits:
            api.enforce_limits()
        prefix = f"bench{uuid.uuid4().hex[:8]}"
        extra = ["--token", TOKEN, *(["--settings", args.settings] if args.settings else [])]
        async with workers(
            "discord",
            args.processes,
            api=api.url,
            tgi=tgi.url,
            redis_url=redis_url,
            prefix=prefix,
            extra=extra,
        ):
            await api.wait_until(lambda: api.ready_sessions >= args.processes, timeout_s=60)
            start_index = len(api.requests)
            sent: dict[str, float] = {}
            for i, channel in enumerate(channels):
                payload = api.message_create(
                    f"<@{BOT_ID}> tell me about the tide", author=ALICE, channel=channel, mentions=[BOT_ID]
                )
                sent[str(channel)] = time.monotonic()
                await api.dispatch("MESSAGE_CREATE", payload, session=i % args.processes)

            def done() -> bool:
                return all(expected in api.visible(int(c)) for c in sent)

            await _wait_done(done, args.timeout_s)
        refused = {id(r) for r in api.limited}
        writes = []
        for r in api.requests[start_index:]:
            if r.method == "GET" or not r.path.startswith("/channels/"):
                continue
            parts = r.path.strip("/").split("/")
            kind = "post" if r.method == "POST" and parts[2:] == ["messages"] else "other"
            kind = "edit" if r.method == "PATCH" and parts[2] == "messages" else kind
            text = r.json.get("content") if isinstance(r.json, dict) else None
            writes.append(Write(r.at, parts[1], kind, text, id(r) not in refused))
        return figures("discord", args.processes, sent, writes, expected)


def print_table(rows: list[Figures]) -> None:
    head = (
        f"{'platform':8} {'n':>3} {'done':>4} {'writes':>6} {'429':>4} {'peak/s':>6} {'mean/s':>6} "
        f"{'upd/min':>7} {'int/min':>7} {'int/ans':>7} {'first p50':>9} {'first p90':>9} {'<=5s':>5} "
        f"{'final p50':>9} {'final p90':>9} {'final max':>9}"
    )
    print(head)
    for f in rows:
        print(
            f"{f.platform:8} {f.answers:>3} {f.complete:>4} {f.writes:>6} {f.refused_429:>4} "
            f"{f.writes_peak_per_s:>6} {f.writes_mean_per_s:>6} {f.updates_peak_per_min:>7} "
            f"{f.intermediate_per_min_peak:>7} {f.intermediate_edits_per_answer:>7} {f.first_text_p50_s:>9} "
            f"{f.first_text_p90_s:>9} {f.first_text_within_5s:>5} {f.final_text_p50_s:>9} "
            f"{f.final_text_p90_s:>9} {f.final_text_max_s:>9}"
        )


async def spend_cost(redis_url: str, calls: int) -> dict[str, float]:
    """What the budget costs a write: `WriteBudget.try_spend` over the windows of a Discord edit (global and the
    channel's edits), `calls` times on the throwaway Redis, one at a time; microseconds p50 and p99."""
    import redis.asyncio as aioredis

    from bots.discord.sink import answer_budget
    from core.keys import KeySpace
    from core.settings import DiscordSettings
    from core.write_budget import Priority, WriteBudget

    client = aioredis.from_url(redis_url)
    try:
        budget = WriteBudget(redis=client)
        settings = DiscordSettings(writes_per_s=1_000_000, channel_writes_per_5s=10_000_000)
        answer = answer_budget(
            budget, keys=KeySpace("cost"), settings=settings, bot_id=1, channel_id=lambda: 2
        )
        assert answer is not None
        durations = []
        for _ in range(calls):
            started = time.perf_counter()
            await answer.spend("edit", Priority.INTERMEDIATE)
            durations.append((time.perf_counter() - started) * 1e6)
    finally:
        await client.aclose()
    return {"spend_us_p50": round(_pct(durations, 0.5), 1), "spend_us_p99": round(_pct(durations, 0.99), 1)}


async def main_async(args: argparse.Namespace) -> None:
    expected = answer_text(args.words)
    with tempfile.TemporaryDirectory() as data:
        port = free_port()
        redis = start_redis(port, Path(data), fsync="everysec")
        redis_url = f"redis://127.0.0.1:{port}/0"
        rows: list[Figures] = []
        try:
            if args.spend_cost:
                print(json.dumps(await spend_cost(redis_url, args.spend_cost)), flush=True)
                return
            async with FakeTGI(token_delay_s=args.token_delay_s, responder=lambda _p, _q: expected) as tgi:
                for platform in args.platforms.split(","):
                    for n in (int(c) for c in args.counts.split(",")):
                        run = run_slack if platform == "slack" else run_discord
                        row = await run(n, args, redis_url, tgi, expected)
                        print(json.dumps(asdict(row)), flush=True)
                        rows.append(row)
        finally:
            stop_redis(redis)
    print_table(rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.write_budget", description=__doc__.split("\n")[0])
    parser.add_argument("--platforms", default="slack,discord")
    parser.add_argument("--counts", default="1,10,20,50", help="concurrent answers per run")
    parser.add_argument("--processes", type=int, default=2, help="bot processes sharing one Redis")
    parser.add_argument("--words", type=int, default=150, help="words per answer")
    parser.add_argument("--token-delay-s", type=float, default=0.06, help="the model's delay per token")
    parser.add_argument("--timeout-s", type=float, default=300.0, help="longest wait for a run's answers")
    parser.add_argument("--settings", default="", help="JSON of settings groups for the bot processes")
    parser.add_argument(
        "--spend-cost",
        type=int,
        default=0,
        metavar="N",
        help="only time N budget checks (one Redis round trip)",
    )
    parser.add_argument(
        "--no-limits", action="store_true", help="stand-ins that accept every write (what the bot attempts)"
    )
    parser.add_argument("--worker", choices=("slack", "discord"), help=argparse.SUPPRESS)
    parser.add_argument("--api", help=argparse.SUPPRESS)
    parser.add_argument("--tgi", help=argparse.SUPPRESS)
    parser.add_argument("--redis", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        asyncio.run(_worker_main(args))
    else:
        asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
