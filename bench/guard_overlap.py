"""`python -m bench.guard_overlap [--rounds N] [--guard-ms MS]`: what overlapping the input guard check with
the start of generation (docs/moderation.md, "How a message is checked") saves in time to the first visible text.

One message at a time through the real ChatService (real Redis, the TGI client, the rules and the Llama
Guard client), against two loopback fakes: a model server streaming at `--token-ms` per token after a
`--prefill-ms` wait, and a Llama Guard server that takes `--guard-ms` per verdict. Each round sends one
message with the overlap and one without (the same moderator behind a wrapper that offers only
`check_input`, so the service checks first and generates after), alternating which goes first; the
figures are medians and 90th percentiles over the rounds. Time to first visible text: from `handle()` to
the first `sink.update`; the answer's first 80 characters are always held back for the output check, so
the first update comes some tokens after the first token.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import httpx
import redis.asyncio as aioredis

from bench.harness import redis_server
from bots.fake_model import FakeReply, FakeTGI, fixed_answer
from core.alignment.base import Moderator
from core.alignment.guard import LlamaGuardClient
from core.alignment.language import load_detector
from core.alignment.moderator import PolicyModerator, guard_categories
from core.alignment.policy import load_policy
from core.builder import build_service, code_settings
from core.llm import TGIClient, build_model_session
from core.models import ConversationKey, IncomingMessage, Outcome, Platform, ReplySink, SinkLimits, Verdict
from core.service import ChatService
from core.settings import (
    AlignmentSettings,
    LimitSettings,
    RedisSettings,
    TGISettings,
)


class FirstTextSink(ReplySink):
    limits = SinkLimits(max_chars=2000, min_edit_interval_s=1.0)

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.first_text: float | None = None
        self.finished: float | None = None

    async def typing(self) -> None:
        pass

    async def update(self, text_so_far: str) -> None:
        if self.first_text is None:
            self.first_text = time.monotonic() - self.started

    async def finish(self, text: str) -> None:
        self.finished = time.monotonic() - self.started
        if self.first_text is None:
            self.first_text = self.finished

    async def fail(self, notice: str) -> None:
        raise AssertionError(f"unexpected notice: {notice}")


class Sequential(Moderator):
    """The same moderator without `begin_input`: the service awaits the whole input check first."""

    def __init__(self, inner: PolicyModerator) -> None:
        self._inner = inner

    async def check_input(self, msg: IncomingMessage) -> Verdict:
        return await self._inner.check_input(msg)

    async def check_output(self, msg: IncomingMessage, text: str, *, final: bool) -> Verdict:
        return await self._inner.check_output(msg, text, final=final)


async def run(rounds: int, guard_ms: float, prefill_ms: float, token_ms: float) -> dict[str, float]:
    load_detector()  # before anything is timed, as at start-up (the first check would load it, ~0.6 s)
    times: dict[str, list[float]] = {
        "overlap": [],
        "sequential": [],
        "overlap_total": [],
        "sequential_total": [],
    }
    with redis_server() as redis_url:
        redis = aioredis.Redis.from_url(redis_url)
        cfg = TGISettings()
        async with (
            FakeTGI(token_delay_s=token_ms / 1000, responder=fixed_answer(120)) as model,
            FakeTGI(model_id="meta-llama/Llama-Guard-3-1B", responder=lambda p, q: "safe") as guard_server,
            build_model_session(cfg) as session,
            httpx.AsyncClient() as http,
        ):
            policy = load_policy()
            layer = policy.layers.guard.model_copy(update={"cache_ttl_s": 0})
            guard = LlamaGuardClient(
                http=http, url=guard_server.url, layer=layer, categories=guard_categories(policy)
            )
            moderator = PolicyModerator(policy=policy, guard=guard)

            def service(mod: PolicyModerator | Sequential) -> ChatService:
                settings = code_settings(
                    redis=RedisSettings(key_prefix="bench-overlap"),
                    limits=LimitSettings(user_per_minute=0, channel_per_minute=0),
                    tgi=cfg,
                    # As when the figures in docs/moderation.md were measured: the guard judges the whole
                    # answer only (strict streaming is bench/stream_check.py's subject).
                    alignment=AlignmentSettings(stream_mode="relaxed"),
                )
                return build_service(
                    settings,
                    redis=redis,
                    generator=TGIClient(http=session, settings=cfg, base_url=model.url),
                    moderator=mod,
                )

            services = {"overlap": service(moderator), "sequential": service(Sequential(moderator))}

            async def one(name: str) -> None:
                model.enqueue(FakeReply(first_token_delay_s=prefill_ms / 1000))
                guard_server.enqueue(*[FakeReply(first_token_delay_s=guard_ms / 1000)] * 2)  # input, output
                key = ConversationKey(Platform.DISCORD, "bench", uuid.uuid4().hex)
                msg = IncomingMessage(
                    key=key,
                    message_id=uuid.uuid4().hex,
                    author_id="u1",
                    author_name="Ann",
                    text="Tell me a story.",
                )
                sink = FirstTextSink()
                result = await services[name].handle(msg, sink)
                assert result.outcome is Outcome.ANSWERED, result
                assert sink.first_text is not None and sink.finished is not None
                times[name].append(sink.first_text * 1000)
                times[f"{name}_total"].append(sink.finished * 1000)

            for name in ("overlap", "sequential"):  # warm up: connections, scripts
                await one(name)
            for key in times:
                times[key].clear()
            for i in range(rounds):
                order = ("overlap", "sequential") if i % 2 == 0 else ("sequential", "overlap")
                for name in order:
                    await one(name)
        await redis.aclose()
    out: dict[str, float] = {}
    for name, values in times.items():
        ordered = sorted(values)
        out[f"{name}_p50_ms"] = statistics.median(ordered)
        out[f"{name}_p90_ms"] = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    out["gain_p50_ms"] = out["sequential_p50_ms"] - out["overlap_p50_ms"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--guard-ms", type=float, default=200.0)
    parser.add_argument("--prefill-ms", type=float, default=50.0)
    parser.add_argument("--token-ms", type=float, default=20.0)
    args = parser.parse_args()
    figures = asyncio.run(run(args.rounds, args.guard_ms, args.prefill_ms, args.token_ms))
    print(
        f"guard {args.guard_ms:g} ms, prefill {args.prefill_ms:g} ms, {args.token_ms:g} ms/token, "
        f"{args.rounds} rounds"
    )
    print("                    first visible text        whole answer")
    print("                    p50        p90            p50        p90")
    for name in ("sequential", "overlap"):
        print(
            f"  {name:<16}  {figures[f'{name}_p50_ms']:7.0f} ms {figures[f'{name}_p90_ms']:7.0f} ms"
            f"     {figures[f'{name}_total_p50_ms']:7.0f} ms {figures[f'{name}_total_p90_ms']:7.0f} ms"
        )
    print(f"  gain (p50)        {figures['gain_p50_ms']:7.0f} ms")


if __name__ == "__main__":
    main()
