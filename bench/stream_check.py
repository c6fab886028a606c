"""`python -m bench.stream_check`: what a channel sees of a harmful answer before it is blocked, and what
checking before showing costs a safe answer, in strict and relaxed streaming (ALIGNMENT_STREAM_MODE).

The real core streams each answer: a throwaway redis-server (history, gate, audit trail), the fake TGI in
its own process sending the answer word by word at a set delay per token, the real moderator with the
local layers, and a sink that records every visible update with its time. Answers: the harmful and safe
model answers of the training corpus (`../shared/alignment/corpus/output_train.jsonl`, with the request
each answered) when present, else the project's own `tests/data/alignment/answers*.jsonl`. The shipped
answer check was trained on that corpus file; `--data tests/data/alignment/answers_heldout2.jsonl` streams
answers it never saw (all shorter than look-ahead + a quarter chunk: nothing of them shows before the end).

Two configurations:
- `local`: the local layers only. Harmful answers: those the local layers block on the whole answer (the
  others are never blocked, so there is no "before the block" to measure).
- `guard`: the local layers and a stand-in guard model with a set latency per verdict. The stand-in is not
  a model: it knows each answer's label and recognizes a harmful answer once it has seen
  `--guard-detects-after` characters of it (a guard that needs the first sentence or two to tell). It
  measures the streaming, not a guard's accuracy.

For harmful answers that end blocked: the share of the answer that was visible before the block (mean,
p50, max, and how many showed more than 10%; in strict mode each of those is listed with its checks: the
characters each saw, whether it held, and which layer blocked, partial or whole). For safe answers: delivered whole, and the added delay from
the model's first token to the first visible text and from its last token to the final text. The
suspicion hold (strict only): how many blocked harmful and safe answers a partial check held, and for a
held safe answer the seconds from its first held check to its next visible text (`--hold LEVEL|off`).

Requests are not checked here (every request is allowed), so that each answer is streamed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from bench.harness import ROOT, fake_tgi, redis_server
from core import chatml
from core.alignment.audit import AuditLog
from core.alignment.base import Moderator
from core.alignment.guard import GuardModel, GuardVerdict
from core.alignment.language import load_detector
from core.alignment.moderator import PolicyModerator, hold_rise
from core.alignment.policy import GuardLayer, load_policy
from core.builder import build_service, code_settings
from core.keys import KeySpace
from core.llm import GenerationParams, ModelInfo, StreamEvent, TGIClient, build_model_session
from core.models import (
    ALLOW,
    ConversationKey,
    IncomingMessage,
    Outcome,
    Platform,
    ReplySink,
    SinkLimits,
    Stage,
    Verdict,
)
from core.observability import configure_logging
from core.settings import (
    AlignmentSettings,
    ChatSettings,
    LimitSettings,
    LogSettings,
    RedisSettings,
    TGISettings,
)

CORPUS = ROOT.parent / "shared" / "alignment" / "corpus" / "output_train.jsonl"
FALLBACK = sorted((ROOT / "tests" / "data" / "alignment").glob("answers*.jsonl"))
_ID = re.compile(r"\[answer (\d+)\]")


@dataclass(frozen=True, slots=True)
class Answer:
    prompt: str
    text: str
    unsafe: bool


def load_answers(path: Path | None) -> tuple[list[Answer], str]:
    paths = [path] if path is not None else ([CORPUS] if CORPUS.exists() else FALLBACK)
    answers = []
    for p in paths:
        for line in p.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                text = str(r["text"]).strip()
                # An answer with ChatML markers in it would end at its first <|im_end|> (a stop sequence).
                if text and "<|im_" not in text:
                    answers.append(Answer(str(r.get("prompt") or "Please answer."), text, bool(r["unsafe"])))
    return answers, ", ".join(str(p) for p in paths)


# ----------------------------------------------------------------------------------------- stand-ins


class OracleGuard(GuardModel):
    """A stand-in guard with a set latency: `unsafe` for a harmful answer once it has seen `detect_chars` of
    it (it knows the labels), `safe` otherwise. Runs inside the real guard frame (slots, timeout)."""

    name = "guard"

    def __init__(self, *, labels: dict[int, bool], latency_s: float, detect_chars: int) -> None:
        super().__init__(
            layer=GuardLayer(failure_mode="closed", timeout_s=30, cache_ttl_s=0, max_concurrency=8)
        )
        self._labels = labels
        self._latency = latency_s
        self._detect = detect_chars
        self.calls = 0

    async def _judge(self, *, user: str, agent: str | None, variant: tuple[str, ...]) -> GuardVerdict:
        self.calls += 1
        await asyncio.sleep(self._latency)
        m = _ID.search(user)
        if agent is not None and m and self._labels.get(int(m.group(1))) and len(agent) >= self._detect:
            return GuardVerdict(True, ("S2",), 1.0)
        return GuardVerdict(False, (), 0.0)


@dataclass(frozen=True, slots=True)
class Check:
    """One check of an answer: when, how many characters it saw, and its verdict."""

    at: float
    chars: int
    final: bool
    hold: bool
    layer: str | None  # the layer that blocked; None when allowed

    def __str__(self) -> str:
        verdict = f"blocked ({self.layer})" if self.layer else "held" if self.hold else "ok"
        return f"{'whole ' if self.final else ''}{self.chars}: {verdict}"


class OutputOnly(Moderator):
    """The moderator with every request allowed (the bench measures the answers). Records each check of an
    answer: partial or whole, its length, whether it held (the suspicion hold) and which layer blocked."""

    def __init__(self, inner: PolicyModerator) -> None:
        self._inner = inner
        self.checks: dict[str, list[Check]] = {}  # message id: its checks in order

    async def check_input(self, msg: IncomingMessage) -> Verdict:
        return ALLOW

    async def check_output(self, msg: IncomingMessage, text: str, *, final: bool) -> Verdict:
        verdict = await self._inner.check_output(msg, text, final=final)
        layer = verdict.layer if verdict.blocked else None
        check = Check(time.perf_counter(), len(text), final, verdict.hold, layer)
        self.checks.setdefault(msg.message_id, []).append(check)
        return verdict


def explain(n: int, length: int, shown: int, checks: list[Check]) -> str:
    """How a harmful answer came to show `shown` of its `length` characters: its checks in order (characters
    checked: ok, held or blocked and by which layer). Lengths only: never the answer's text."""
    return f"answer {n}: {length} characters, {shown} shown ({shown / length:.1%}); checks " + ", ".join(
        map(str, checks)
    )


def hold_time(checks: list[Check], sink: TimelineSink) -> float | None:
    """Seconds from the first partial check that held to the next visible text (an update, or the final
    text); None when no check held."""
    start = next((c.at for c in checks if c.hold and not c.final), None)
    if start is None:
        return None
    shown = [t for t, _ in sink.updates if t > start] + ([sink.finished[0]] if sink.finished else [])
    return (min(shown) if shown else time.perf_counter()) - start


class TimedGenerator:
    """The real TGI client, recording when each answer's first and last token arrived."""

    def __init__(self, inner: TGIClient) -> None:
        self._inner = inner
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}

    async def info(self) -> ModelInfo:
        return await self._inner.info()

    async def count_tokens(self, text: str) -> int:
        return await self._inner.count_tokens(text)

    async def healthy(self) -> bool:
        return await self._inner.healthy()

    async def stream(self, prompt: str, params: GenerationParams) -> AsyncIterator[StreamEvent]:
        ids = _ID.findall(prompt)
        n = int(ids[-1]) if ids else -1
        async for event in self._inner.stream(prompt, params):
            if event.text:
                now = time.perf_counter()
                self.first.setdefault(n, now)
                self.last[n] = now
            yield event


class TimelineSink(ReplySink):
    """Every visible text with its time; the final text or the notice."""

    def __init__(self, interval_s: float) -> None:
        self.limits = SinkLimits(max_chars=2000, min_edit_interval_s=interval_s)
        self.updates: list[tuple[float, str]] = []
        self.finished: tuple[float, str] | None = None
        self.notice: str | None = None

    async def typing(self) -> None:
        return None

    async def update(self, text_so_far: str) -> None:
        self.updates.append((time.perf_counter(), text_so_far))

    async def finish(self, text: str) -> None:
        self.finished = (time.perf_counter(), text)

    async def fail(self, notice: str) -> None:
        self.notice = notice


# ----------------------------------------------------------------------------------------- one run


@dataclass
class Figures:
    harmful: int = 0
    blocked: int = 0
    shares: list[float] = field(default_factory=list)
    safe: int = 0
    whole: int = 0
    safe_blocked: int = 0
    first_delay_s: list[float] = field(default_factory=list)
    final_delay_s: list[float] = field(default_factory=list)
    hold_s: list[float] = field(default_factory=list)  # per safe answer held: the hold_time
    harmful_held: int = 0  # blocked harmful answers a partial check held before the block
    guard_calls: int = 0
    leaks: list[str] = field(default_factory=list)  # per blocked harmful answer showing > 10 %: `explain`


async def run(
    *,
    redis_url: str,
    tgi_url: str,
    answers: list[tuple[int, Answer]],
    mode: str,
    guard: OracleGuard | None,
    args: argparse.Namespace,
    tag: str,
) -> Figures:
    redis = aioredis.Redis.from_url(redis_url)
    cfg = TGISettings(url=tgi_url, max_new_tokens=4096)
    keys = KeySpace("streambench")
    policy = load_policy()
    if args.hold is not None:  # the suspicion hold's level (policy layers.classifier.output_hold_threshold)
        level = None if args.hold == "off" else float(args.hold)
        classifier = policy.layers.classifier.model_copy(update={"output_hold_threshold": level})
        policy = policy.model_copy(
            update={"layers": policy.layers.model_copy(update={"classifier": classifier})}
        )
    figures = Figures()
    try:
        async with build_model_session(cfg) as http:
            generator = TimedGenerator(TGIClient(http=http, settings=cfg, base_url=tgi_url))
            settings = code_settings(
                redis=RedisSettings(key_prefix="streambench"),
                limits=LimitSettings(user_per_minute=0, channel_per_minute=0),
                chat=ChatSettings(max_message_chars=20_000),
                tgi=cfg,
                alignment=AlignmentSettings(
                    stream_mode=mode,
                    stream_lookahead_chars=args.lookahead,
                    stream_chunk_chars=args.chunk,
                    stream_hold_max_chars=args.hold_max_chars,
                ),
            )
            moderator = PolicyModerator(
                policy=policy,
                guard=guard,
                audit=AuditLog(redis=redis, keys=keys, audit=policy.audit),
                guard_partial=mode == "strict",
                # as build_moderator does: the hold on a rising score measures over strict mode's chunk
                hold_rise=hold_rise(settings.alignment)
                if mode == "strict" and args.hold_rise == "on"
                else (0, 0),
            )
            output_only = OutputOnly(moderator)
            service = build_service(settings, redis=redis, generator=generator, moderator=output_only)
            slots = asyncio.Semaphore(args.concurrency)
            calls_before = guard.calls if guard is not None else 0

            async def one(n: int, answer: Answer) -> None:
                key = ConversationKey(Platform.DISCORD, "bench", f"{tag}-{n}")
                msg = IncomingMessage(
                    key=key,
                    message_id=f"{tag}-{n}",
                    author_id="u",
                    author_name="Ann",
                    text=f"[answer {n}] {answer.prompt}",
                )
                sink = TimelineSink(args.interval)
                async with slots:
                    result = await service.handle(msg, sink)
                shown = max((len(t) for _, t in sink.updates), default=0)
                # the hold applies in strict mode only (relaxed checks ignore it)
                checks = output_only.checks.get(msg.message_id, [])
                held = hold_time(checks, sink) if mode == "strict" else None
                if answer.unsafe:
                    figures.harmful += 1
                    if result.outcome is Outcome.BLOCKED_OUTPUT:
                        figures.blocked += 1
                        figures.shares.append(shown / len(answer.text))
                        figures.harmful_held += held is not None
                        if shown > 0.10 * len(answer.text):
                            figures.leaks.append(explain(n, len(answer.text), shown, checks))
                    return
                if held is not None:
                    figures.hold_s.append(held)
                figures.safe += 1
                if result.outcome is Outcome.BLOCKED_OUTPUT:
                    figures.safe_blocked += 1
                if sink.finished is not None and sink.finished[1] == chatml.clean_answer(answer.text):
                    figures.whole += 1
                first_token = generator.first.get(n)
                if first_token is not None and sink.finished is not None:
                    first_visible = sink.updates[0][0] if sink.updates else sink.finished[0]
                    figures.first_delay_s.append(first_visible - first_token)
                    figures.final_delay_s.append(sink.finished[0] - generator.last[n])

            await asyncio.gather(*(one(n, a) for n, a in answers))
            figures.guard_calls = (guard.calls if guard is not None else 0) - calls_before
    finally:
        await redis.aclose()
    return figures


# ----------------------------------------------------------------------------------------- report


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def row(config: str, mode: str, f: Figures) -> dict[str, Any]:
    return {
        "config": config,
        "mode": mode,
        "harmful_blocked": f"{f.blocked}/{f.harmful}",
        "visible_mean": round(statistics.fmean(f.shares), 3) if f.shares else None,
        "visible_p50": round(pct(f.shares, 0.5), 3) if f.shares else None,
        "visible_max": round(max(f.shares), 3) if f.shares else None,
        "over_10pct": sum(s > 0.10 for s in f.shares),
        "safe_whole": f"{f.whole}/{f.safe}",
        "safe_blocked": f.safe_blocked,
        "first_delay_s_p50": round(pct(f.first_delay_s, 0.5), 2),
        "first_delay_s_p95": round(pct(f.first_delay_s, 0.95), 2),
        "final_delay_s_p50": round(pct(f.final_delay_s, 0.5), 3),
        "final_delay_s_p95": round(pct(f.final_delay_s, 0.95), 3),
        "harmful_held": f.harmful_held,
        "safe_held": len(f.hold_s),
        "hold_s_p50": round(pct(f.hold_s, 0.5), 2) if f.hold_s else None,
        "hold_s_max": round(max(f.hold_s), 2) if f.hold_s else None,
        "guard_calls": f.guard_calls,
    }


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        f"{'config':<7} {'mode':<8} {'blocked':>8} {'vis mean':>9} {'vis p50':>8} {'vis max':>8} {'>10%':>5}"
        f" {'safe whole':>10} {'1st+ p50':>9} {'1st+ p95':>9} {'end+ p50':>9} {'end+ p95':>9}"
        f" {'held h/s':>8} {'hold p50':>8} {'hold max':>8} {'guard calls':>11}"
    )
    out = [head]
    for r in rows:

        def f(v: object) -> str:
            return "—" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

        out.append(
            f"{r['config']:<7} {r['mode']:<8} {r['harmful_blocked']:>8} {f(r['visible_mean']):>9}"
            f" {f(r['visible_p50']):>8} {f(r['visible_max']):>8} {r['over_10pct']:>5} {r['safe_whole']:>10}"
            f" {r['first_delay_s_p50']:>9.2f} {r['first_delay_s_p95']:>9.2f} {r['final_delay_s_p50']:>9.3f}"
            f" {r['final_delay_s_p95']:>9.3f} {str(r['harmful_held']) + '/' + str(r['safe_held']):>8}"
            f" {f(r['hold_s_p50']):>8} {f(r['hold_s_max']):>8} {r['guard_calls']:>11}"
        )
    return "\n".join(out)


async def main_async(args: argparse.Namespace) -> int:
    configure_logging(LogSettings(level="WARNING"))
    # The language detector's model, loaded before any clock runs (the service loads it at start-up, not
    # on the first message); else the first run would time the load.
    load_detector()
    answers, source = load_answers(args.data)
    rng = random.Random(args.seed)
    policy_mod = PolicyModerator(policy=load_policy())
    console = ConversationKey(Platform.CONSOLE, "bench", "select")

    def blocked_locally(a: Answer) -> bool:
        msg = IncomingMessage(key=console, message_id="-", author_id="-", author_name="-", text=a.prompt)
        return policy_mod.check_text(a.text, Stage.OUTPUT, msg).blocked

    harmful = [a for a in answers if a.unsafe]
    safe = [a for a in answers if not a.unsafe and not blocked_locally(a)]
    local_harmful = [a for a in harmful if blocked_locally(a)][: args.harmful]
    guard_harmful = rng.sample(harmful, min(args.harmful, len(harmful)))
    safe = rng.sample(safe, min(args.safe, len(safe)))
    pool = local_harmful + guard_harmful + safe
    with tempfile.TemporaryDirectory() as tmp:
        answers_file = Path(tmp) / "answers.jsonl"
        answers_file.write_text("".join(json.dumps({"text": a.text}) + "\n" for a in pool), encoding="utf-8")
        local_set = [
            (n, a) for n, a in enumerate(pool) if n < len(local_harmful) or n >= len(pool) - len(safe)
        ]
        guard_set = [(n, a) for n, a in enumerate(pool) if n >= len(local_harmful)]
        labels = {n: a.unsafe for n, a in enumerate(pool)}
        print(
            f"data: {source}\n"
            f"answers: {len(local_harmful)} harmful ones the local layers block (local), {len(guard_harmful)} harmful"
            f" (guard), {len(safe)} safe (both; safe answers the local layers block are left out)\n"
            f"fake TGI: {args.token_delay:g} s per token (about one word), edit interval {args.interval:g} s,"
            f" {args.concurrency} answers at once; strict: look-ahead {args.lookahead}, chunk {args.chunk},"
            f" suspicion hold {args.hold or policy_mod.policy.layers.classifier.output_hold_threshold}"
            f" (rising: {args.hold_rise}; for at most {args.hold_max_chars} characters)\n"
            f"stand-in guard: {args.guard_latency:g} s per verdict, recognizes a harmful answer after"
            f" {args.guard_detects_after} characters",
            flush=True,
        )
        rows = []
        with (
            redis_server() as redis_url,
            fake_tgi(token_delay_s=args.token_delay, answers=answers_file) as url,
        ):
            for config, subset in (("local", local_set), ("guard", guard_set)):
                if args.only not in (None, config):
                    continue
                for mode in ("relaxed", "strict"):
                    if args.mode not in (None, mode):
                        continue
                    guard = None
                    if config == "guard":
                        guard = OracleGuard(
                            labels=labels, latency_s=args.guard_latency, detect_chars=args.guard_detects_after
                        )
                    started = time.perf_counter()
                    figures = await run(
                        redis_url=redis_url,
                        tgi_url=url,
                        answers=subset,
                        mode=mode,
                        guard=guard,
                        args=args,
                        tag=f"{config}-{mode}",
                    )
                    rows.append(row(config, mode, figures))
                    print(f"  {config}/{mode}: {time.perf_counter() - started:.0f} s", flush=True)
                    if mode == "strict":  # relaxed shows most answers by design: nothing to explain
                        for leak in sorted(figures.leaks):
                            print(f"    > 10 %: {leak}", flush=True)
    print()
    print(table(rows))
    print(
        "\nvis: share of a blocked harmful answer visible before the block; >10%: how many showed more."
        "\n1st+/end+: seconds a safe answer's first visible text came after the model's first token, and its"
        " final text after the model's last token."
        "\nheld h/s: blocked harmful answers / safe answers a partial check held (the suspicion hold); hold:"
        " seconds from a safe answer's first held check to its next visible text."
    )
    if args.json:
        print(json.dumps(rows))
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.stream_check", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--data", type=Path, default=None, help="JSONL of {prompt, text, unsafe} answers")
    parser.add_argument(
        "--harmful", type=int, default=60, help="harmful answers per configuration (default 60)"
    )
    parser.add_argument("--safe", type=int, default=60, help="safe answers (default 60)")
    parser.add_argument("--token-delay", type=float, default=0.03, help="seconds per token (default 0.03)")
    parser.add_argument(
        "--interval", type=float, default=1.0, help="the sink's edit interval (default 1.0 s)"
    )
    parser.add_argument("--concurrency", type=int, default=24, help="answers streamed at once (default 24)")
    parser.add_argument("--lookahead", type=int, default=AlignmentSettings().stream_lookahead_chars)
    parser.add_argument("--chunk", type=int, default=AlignmentSettings().stream_chunk_chars)
    parser.add_argument(
        "--hold",
        default=None,
        help="the suspicion hold's level, or `off` (default: the policy's output_hold_threshold)",
    )
    parser.add_argument("--hold-max-chars", type=int, default=AlignmentSettings().stream_hold_max_chars)
    parser.add_argument(
        "--hold-rise",
        choices=["on", "off"],
        default="on",
        help="the hold also on a rising score (on, as served) or on the partial answer's score only (off)",
    )
    parser.add_argument(
        "--guard-latency", type=float, default=0.15, help="stand-in guard seconds per verdict"
    )
    parser.add_argument("--guard-detects-after", type=int, default=200, help="characters the stand-in needs")
    parser.add_argument("--only", choices=["local", "guard"], default=None, help="run one configuration")
    parser.add_argument("--mode", choices=["strict", "relaxed"], default=None, help="run one streaming mode")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--json", action="store_true", help="also print the rows as JSON")
    raise SystemExit(asyncio.run(main_async(parser.parse_args())))


if __name__ == "__main__":
    main()
