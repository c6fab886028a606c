"""`python -m bench [--json] [--quick] [--engine tgi|vllm|sglang] [--only prefix|budgets|throughput]`: the
performance figures
of issues #7 and #16, measured on this machine.

A real redis-server and a fake TGI in its own process (per-token delay that does not grow with
concurrency up to max_concurrent_requests, overload errors past it); everything else is the real code
path: ChatService with moderation on, the TGI client, the Redis store and gate.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import resource
import statistics
import sys
import time
import uuid
from typing import Any

from bench.harness import BenchSink, CountingConnection, bare_stream, fake_tgi, redis_server, service
from bench.prefix import prefix_figures
from core.models import ConversationKey, IncomingMessage, Outcome, Platform
from core.settings import BudgetSettings
from core.tokens import SentencePieceCounter

PROMPT = "<|im_start|>system\nYou are Dolphin.<|im_end|>\n<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n"


def msg(
    channel: str, text: str = "Tell me something nice about dolphins.", *, user: str = "u1"
) -> IncomingMessage:
    key = ConversationKey(Platform.DISCORD, "bench", channel)
    return IncomingMessage(key=key, message_id=uuid.uuid4().hex, author_id=user, author_name="Ann", text=text)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def overhead(engine: str, redis_url: str, n: int) -> dict[str, float]:
    with fake_tgi(engine=engine, token_delay_s=0.005, answer_tokens=50) as url:
        async with service(redis_url, url, engine=engine) as (svc, _redis, http):
            for i in range(3):  # warm up: scripts loaded, connections open, tokenizer loaded
                await svc.handle(msg(f"warm{i}"), BenchSink())
                await bare_stream(http, url, PROMPT, engine)
            e2e, floor = [], []
            for i in range(n):
                floor.append(await bare_stream(http, url, PROMPT, engine))
                started = time.perf_counter()
                result = await svc.handle(msg(f"o{i}"), BenchSink())
                e2e.append(time.perf_counter() - started)
                assert result.outcome is Outcome.ANSWERED, result
    diffs = [(a - b) * 1000 for a, b in zip(e2e, floor, strict=True)]
    return {
        "overhead_ratio_p50": round(statistics.median(e2e) / statistics.median(floor), 3),
        "overhead_ms_p50": round(statistics.median(diffs), 2),
        "overhead_ms_p99": round(pct(diffs, 0.99), 2),
        "stream_floor_ms_p50": round(statistics.median(floor) * 1000, 2),
    }


async def throughput(
    engine: str,
    redis_url: str,
    conversations: int,
    per_conversation: int,
    rounds: int = 3,
    budget: BudgetSettings | None = None,
) -> dict[str, Any]:
    """`conversations` at once, each sending `per_conversation` messages in turn, instant answers. The
    median of `rounds` rounds: another process taking a core for a while spoils one round, not the
    figure (every round is printed too)."""
    with fake_tgi(engine=engine, token_delay_s=0.0, answer_tokens=50) as url:
        async with service(redis_url, url, engine=engine, budget=budget) as (svc, _redis, _http):
            # warm up at full concurrency: the pool's connections are opened (and counted) here
            await asyncio.gather(*(svc.handle(msg(f"tw{c}"), BenchSink()) for c in range(conversations)))
            CountingConnection.round_trips = 0

            async def conversation(c: int) -> int:
                ok = 0
                for _ in range(per_conversation):
                    ok += (await svc.handle(msg(f"t{c}"), BenchSink())).outcome is Outcome.ANSWERED
                return ok

            rates, cpu_ms, answered = [], [], 0
            for _ in range(rounds):
                started, cpu_started = time.perf_counter(), time.process_time()
                done = sum(await asyncio.gather(*(conversation(c) for c in range(conversations))))
                rates.append(done / (time.perf_counter() - started))
                cpu_ms.append((time.process_time() - cpu_started) * 1000 / max(done, 1))
                answered += done
            trips = CountingConnection.round_trips
    total = conversations * per_conversation
    return {
        "throughput_msgs_per_s": round(statistics.median(rates), 1),
        "throughput_rounds_msgs_per_s": [round(r, 1) for r in rates],
        # this process's CPU per message (the fake model and Redis run in their own): steadier than the
        # rate on a shared machine
        "throughput_cpu_ms_per_msg": round(statistics.median(cpu_ms), 3),
        "throughput_answered": answered,
        "throughput_messages": total * rounds,
        "redis_round_trips_per_msg": round(trips / (total * rounds), 2),
    }


async def batching(engine: str, redis_url: str, conversations: int, rounds: int = 3) -> dict[str, Any]:
    """`conversations` asking at once against one alone, the median of `rounds` rounds (each round
    measures both, so a burst of other load spoils one round, not the figure). A first crowd warms up:
    the connections to the model server and Redis are opened there, as in a running bot."""
    ratios, alones = [], []
    with fake_tgi(engine=engine, token_delay_s=0.02, answer_tokens=50) as url:
        async with service(redis_url, url, engine=engine) as (svc, _redis, _http):
            await asyncio.gather(*(svc.handle(msg(f"bw{i}"), BenchSink()) for i in range(conversations)))
            for r in range(rounds):
                started = time.perf_counter()
                await svc.handle(msg(f"alone{r}"), BenchSink())
                alone = time.perf_counter() - started
                started = time.perf_counter()
                results = await asyncio.gather(
                    *(svc.handle(msg(f"b{r}-{i}"), BenchSink()) for i in range(conversations))
                )
                together = time.perf_counter() - started
                assert all(x.outcome is Outcome.ANSWERED for x in results)
                ratios.append(together / alone)
                alones.append(alone)
    return {
        "batching_ratio": round(statistics.median(ratios), 3),
        "batching_rounds": [round(x, 3) for x in ratios],
        "batching_alone_s": round(statistics.median(alones), 3),
    }


async def overload(engine: str, redis_url: str, messages: int) -> dict[str, float]:
    with fake_tgi(engine=engine, token_delay_s=0.005, answer_tokens=50, max_concurrent=128) as url:
        async with service(redis_url, url, engine=engine) as (svc, _redis, _http):
            await svc.handle(msg("warm"), BenchSink())
            sinks = [BenchSink() for _ in range(messages)]
            started = time.perf_counter()
            results = await asyncio.gather(*(svc.handle(msg(f"ov{i}"), sinks[i]) for i in range(messages)))
    waits = [(s.first_visible or started) - started for s in sinks]
    errors = sum(r.outcome is not Outcome.ANSWERED for r in results)
    jain = sum(waits) ** 2 / (len(waits) * sum(w * w for w in waits)) if any(waits) else 1.0
    return {
        "overload_user_errors": errors,
        "overload_fairness": round(jain, 3),
        "overload_wait_p50_s": round(statistics.median(waits), 3),
        "overload_wait_max_s": round(max(waits), 3),
    }


async def growth(engine: str, redis_url: str, turns: int, samples: int = 40) -> dict[str, float]:
    """Turn `turns` of one conversation against turn 1. After `turns - 1` turns, the long conversation's
    next messages alternate with first messages of new conversations, so that the noise of a shared
    machine (other processes taking a core for a while) falls on both sides alike."""
    with fake_tgi(engine=engine, token_delay_s=0.0, answer_tokens=50) as url:
        async with service(redis_url, url, engine=engine) as (svc, redis, _http):

            async def timed(channel: str, i: int) -> float:
                started = time.perf_counter()
                result = await svc.handle(
                    msg(channel, f"This is message number {i} of a long conversation."), BenchSink()
                )
                assert result.outcome is Outcome.ANSWERED
                return time.perf_counter() - started

            for i in range(turns - 1):
                await timed("long", i)
            first, last = [], []
            for i in range(samples):
                first.append(await timed(f"new{i}", 0))
                last.append(await timed("long", turns - 1 + i))
            key = "bench:v1:{conv:discord:bench:long:-}:turns"
            stored = await redis.lrange(key, 0, -1)
            memory = await redis.memory_usage(key)
    return {
        "growth_ratio": round(statistics.median(last) / statistics.median(first), 3),
        "growth_turn1_ms_p50": round(statistics.median(first) * 1000, 2),
        "growth_turn1000_ms_p50": round(statistics.median(last) * 1000, 2),
        "bytes_per_stored_turn": round(sum(len(x) for x in stored) / (2 * len(stored)), 1),
        "redis_bytes_per_stored_turn": round((memory or 0) / (2 * len(stored)), 1),
    }


async def memory(engine: str, redis_url: str, stored: int, active: int) -> dict[str, Any]:
    with fake_tgi(engine=engine, token_delay_s=0.002, answer_tokens=50) as url:
        async with service(redis_url, url, engine=engine) as (svc, redis, _http):
            pipe = redis.pipeline(transaction=False)
            blob = json.dumps(
                {
                    "u": {"t": "hello there", "n": 9, "a": "u", "m": "Ann"},
                    "a": {"t": "Hi! " * 20, "n": 30},
                    "i": "m",
                    "c": 1.0,
                }
            )
            for c in range(stored):
                key = f"bench:v1:{{conv:discord:bench:stored{c}:-}}:turns"
                pipe.rpush(key, *([blob] * 10))
                pipe.expire(key, 3600)
            await pipe.execute()
            await svc.handle(msg("warm"), BenchSink())
            gc.collect()
            before = rss_mb()
            results = await asyncio.gather(
                *(svc.handle(msg(f"stored{c}"), BenchSink()) for c in range(active))
            )
            gc.collect()
            after = rss_mb()
    outcomes = {o.value: sum(r.outcome is o for r in results) for o in {r.outcome for r in results}}
    return {
        "rss_mb_10k_conversations": round(after, 1),
        "memory_scenario_outcomes": outcomes,
        "rss_mb_growth_1k_active": round(after - before, 1),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


async def latency_curve(engine: str, redis_url: str, levels: list[int]) -> dict[str, list[float]]:
    """Median end-to-end latency per message against concurrency (for the plot in docs/performance.md)."""
    out: dict[str, list[float]] = {"concurrency": [], "latency_p50_s": [], "latency_p99_s": []}
    with fake_tgi(engine=engine, token_delay_s=0.02, answer_tokens=50) as url:
        async with service(redis_url, url, engine=engine) as (svc, _redis, _http):
            await svc.handle(msg("warm"), BenchSink())

            async def one(name: str) -> float:
                started = time.perf_counter()
                await svc.handle(msg(name), BenchSink())
                return time.perf_counter() - started

            for level in levels:
                lat = await asyncio.gather(*(one(f"lc{level}-{i}") for i in range(level)))
                out["concurrency"].append(level)
                out["latency_p50_s"].append(round(statistics.median(lat), 3))
                out["latency_p99_s"].append(round(pct(list(lat), 0.99), 3))
    return out


async def prefix(engine: str, redis_url: str, messages: int, context: int = 4096) -> dict[str, Any]:
    """A channel conversation of `messages` messages from three people, on a server that reports a
    `context`-token window (no limit set here), answers of 120 tokens: the prefix figures of its
    prompts (bench/prefix.py) and how many were answered."""
    prompts: list[str] = []
    with fake_tgi(engine=engine, token_delay_s=0.0, answer_tokens=120, max_model_len=context) as url:
        async with service(redis_url, url, engine=engine, prompts=prompts) as (svc, _redis, _http):
            answered = 0
            for i in range(messages):
                text = f"Message {i}: " + " ".join(["tell me more about dolphins"] * (1 + i % 7))
                result = await svc.handle(msg(f"prefix-{context}", text, user=f"u{i % 3}"), BenchSink())
                answered += result.outcome is Outcome.ANSWERED
    counter = SentencePieceCounter()
    figures = await prefix_figures(prompts, counter.count)
    return {
        **figures,
        "prefix_messages": messages,
        "prefix_answered": answered,
        "prefix_context_tokens": context,
    }


async def run(quick: bool, engine: str = "tgi", only: str | None = None) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "engine": engine,
    }
    with redis_server() as redis_url:
        if only == "throughput":
            figures.update(await throughput(engine, redis_url, 200, 2 if quick else 5))
            return figures
        if only == "budgets":  # the same throughput run without and with daily budgets (never reached)
            per = 2 if quick else 5
            for name, budget in (
                ("budgets_off", None),
                ("budgets_on", BudgetSettings(member_tokens_per_day=10**12, community_tokens_per_day=10**12)),
            ):
                measured = await throughput(engine, redis_url, 200, per, budget=budget)
                figures.update({f"{name}_{k}": v for k, v in measured.items()})
            return figures
        figures.update(await prefix(engine, redis_url, 300, context=4096))
        at_8192 = await prefix(
            engine, redis_url, 300, context=8192
        )  # Dolphin's context, as compose serves it
        figures.update(
            {
                f"{k}_8192": v
                for k, v in at_8192.items()
                if k.startswith(("prefix_reuse", "prefill", "prompt"))
            }
        )
        if only == "prefix":
            return figures
        figures.update(await overhead(engine, redis_url, 20 if quick else 60))
        figures.update(await throughput(engine, redis_url, 200, 2 if quick else 5))
        figures.update(await batching(engine, redis_url, 64))
        figures.update(await overload(engine, redis_url, 500))
        figures.update(await growth(engine, redis_url, 200 if quick else 1000))
        figures.update(await memory(engine, redis_url, 10_000, 1_000))
        figures["latency_curve"] = await latency_curve(
            engine, redis_url, [1, 8, 32, 64, 128] if quick else [1, 8, 16, 32, 64, 96, 128]
        )
    return figures


def plot(figures: dict[str, Any], path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)", file=sys.stderr)
        return
    curve = figures["latency_curve"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(curve["concurrency"], curve["latency_p50_s"], marker="o", label="p50")
    ax.plot(curve["concurrency"], curve["latency_p99_s"], marker="o", label="p99")
    ax.set_xlabel("concurrent conversations")
    ax.set_ylabel("seconds per message (50 tokens at 20 ms)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    parser.add_argument("--plot", metavar="PNG", help="write the latency-against-concurrency plot")
    parser.add_argument(
        "--engine",
        choices=("tgi", "vllm", "sglang"),
        default="tgi",
        help="the model server the fake stands in for, and the client's TGI_BACKEND",
    )
    parser.add_argument("--only", choices=("prefix", "budgets", "throughput"), help="run only these figures")
    args = parser.parse_args()
    from core.observability import configure_logging
    from core.settings import LogSettings

    configure_logging(LogSettings(level="ERROR"))
    figures = asyncio.run(run(args.quick, args.engine, args.only))
    if args.plot:
        plot(figures, args.plot)
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>30}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
