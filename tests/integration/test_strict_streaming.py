"""Strict streaming (ALIGNMENT_STREAM_MODE=strict) through the whole pipeline: real Redis (history, gate,
audit), the fake TGI streaming the answer, the real moderator with its rules, and a fake Llama Guard TGI
that records every text it was asked to judge. The sink records every visible update."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
import redis.asyncio as aioredis

from core.alignment.audit import AuditLog
from core.alignment.classifier import LocalChecks
from core.alignment.guard import LlamaGuardClient
from core.alignment.moderator import PolicyModerator, hold_rise
from core.alignment.policy import Audit, GuardLayer, load_policy
from core.builder import build_service, code_settings
from core.keys import KeySpace
from core.llm import TGIClient, build_model_session
from core.models import ConversationKey, HandleResult, IncomingMessage, Outcome, Platform
from core.settings import (
    AlignmentSettings,
    RedisSettings,
    TGISettings,
)
from tests.fakes.memory import RecordingSink
from tests.fakes.tgi import FakeReply, FakeTGI

KEYS = KeySpace("test")
KEY = ConversationKey(Platform.DISCORD, "g1", "c1")
LOOKAHEAD = 150
CHUNK = 60
_AGENT = re.compile(r"\n\nAgent: (.*)\n\n<END CONVERSATION>", re.DOTALL)


@dataclass
class GuardRecorder:
    """The fake Llama Guard's responder: records each answer text it judged; `unsafe` when it sees the
    word `yellowcake`."""

    judged: list[str] = field(default_factory=list)

    def __call__(self, prompt: str, params: dict[str, object]) -> str:
        m = _AGENT.search(prompt)
        if m is None:
            return "safe"  # the request's check
        self.judged.append(m.group(1))
        return "unsafe\nS9" if "yellowcake" in m.group(1) else "safe"


@dataclass
class Run:
    result: HandleResult
    sink: RecordingSink
    judged: list[str]
    model: FakeTGI


@pytest.fixture
async def guard() -> AsyncIterator[tuple[FakeTGI, GuardRecorder]]:
    recorder = GuardRecorder()
    # 20 ms per generated token: each verdict takes some time, as a real guard does.
    async with FakeTGI(
        model_id="meta-llama/Llama-Guard-3-1B", responder=recorder, token_delay_s=0.02
    ) as fake:
        yield fake, recorder


async def run(
    redis_client: aioredis.Redis,
    guard: tuple[FakeTGI, GuardRecorder],
    answer: str,
    *,
    failure_mode: str = "closed",
    guard_timeout_s: float = 2.0,
    mid: str = "m1",
    replies: list[FakeReply] | None = None,
    checks: LocalChecks | None = None,
    hold: bool = False,
    rising: bool = True,
    guarded: bool = True,
) -> Run:
    """`hold`: with the suspicion hold at its shipped level (and, unless not `rising`, on a rising score,
    as served); else without it (the shipped answer check scores these repetitive rock sentences
    0.70-0.80, around the hold level: these tests are about the look-ahead and the guard). Not `guarded`:
    the local layers only."""
    guard_tgi, recorder = guard
    for reply in replies or []:
        guard_tgi.enqueue(reply)
    cfg = TGISettings()
    alignment = AlignmentSettings(
        stream_mode="strict", stream_lookahead_chars=LOOKAHEAD, stream_chunk_chars=CHUNK
    )
    layer = GuardLayer(failure_mode=failure_mode, timeout_s=guard_timeout_s, cache_ttl_s=0)  # type: ignore[arg-type]
    async with (
        FakeTGI(token_delay_s=0.003) as tgi,
        build_model_session(cfg) as http,
        httpx.AsyncClient() as gh,
    ):
        tgi.enqueue(FakeReply(text=answer))
        policy = load_policy()
        if not hold:
            classifier = policy.layers.classifier.model_copy(update={"output_hold_threshold": None})
            policy = policy.model_copy(
                update={"layers": policy.layers.model_copy(update={"classifier": classifier})}
            )
        guard_client = LlamaGuardClient(
            http=gh, url=guard_tgi.url, layer=layer, categories={"S9": "Weapons."}
        )
        moderator = PolicyModerator(
            policy=policy,
            guard=guard_client if guarded else None,
            audit=AuditLog(redis=redis_client, keys=KEYS, audit=Audit()),
            guard_partial=True,
            checks=checks,
            hold_rise=hold_rise(alignment) if hold and rising else (0, 0),
        )
        service = build_service(
            code_settings(tgi=cfg, alignment=alignment, redis=RedisSettings(key_prefix="test")),
            redis=redis_client,
            generator=TGIClient(http=http, settings=cfg, base_url=tgi.url),
            moderator=moderator,
        )
        sink = RecordingSink(min_edit_interval_s=0.0)
        msg = IncomingMessage(
            key=KEY, message_id=mid, author_id="u1", author_name="Ann", text="tell me about rocks"
        )
        result = await service.handle(msg, sink)
    return Run(result, sink, recorder.judged, tgi)


def sentences(n: int, start: int = 0) -> str:
    return " ".join(
        f"Sentence number {i} is about granite, basalt and other rocks." for i in range(start, start + n)
    )


def assert_nothing_unchecked(r: Run) -> None:
    """Every visible update is a prefix of a text the guard judged, which went on `LOOKAHEAD` characters
    beyond it (the check saw what follows what is shown)."""
    for shown in r.sink.of("update"):
        assert any(t.startswith(shown) and len(t) >= len(shown) + LOOKAHEAD for t in r.judged), shown[-60:]


async def test_a_safe_answer_is_shown_only_after_it_was_checked_and_arrives_whole(
    redis_client: aioredis.Redis, guard: tuple[FakeTGI, GuardRecorder]
) -> None:
    answer = sentences(30)
    r = await run(redis_client, guard, answer)
    assert r.result.outcome is Outcome.ANSWERED
    updates = r.sink.of("update")
    assert len(updates) >= 3  # it streamed
    assert_nothing_unchecked(r)
    assert all(b.startswith(a) for a, b in itertools.pairwise(updates))  # shown text only grows
    assert r.sink.of("finish") == [answer] and r.judged[-1] == answer  # whole answer checked, then shown
    # The guard was called per chunk, not per token: ~len / CHUNK partial checks at most, plus the final.
    assert len(r.judged) <= len(answer) // CHUNK + 2
    stored = await redis_client.lrange(KEYS.turns(KEY.id), 0, -1)
    assert len(stored) == 1 and answer.encode() in stored[0]


async def test_a_harmful_answer_is_stopped_within_the_look_ahead(
    redis_client: aioredis.Redis, guard: tuple[FakeTGI, GuardRecorder]
) -> None:
    before = sentences(12)
    answer = before + " Then you refine the yellowcake into metal. " + sentences(20, start=100)
    at = answer.index("yellowcake")
    r = await run(redis_client, guard, answer)
    assert r.result.outcome is Outcome.BLOCKED_OUTPUT
    assert_nothing_unchecked(r)
    shown = max((len(t) for t in r.sink.of("update")), default=0)
    # Shown text was checked with LOOKAHEAD more characters, none of them the harmful word.
    assert shown <= at + len("yellowcake") - LOOKAHEAD
    assert shown < len(answer) * 0.3
    assert all("yellowcake" not in t for t in r.sink.of("update")) and r.sink.of("finish") == []
    assert r.sink.events[-1] == ("fail", load_policy().categories["S9"].notice)
    assert await redis_client.llen(KEYS.turns(KEY.id)) == 0  # never stored
    rows = await AuditLog(redis=redis_client, keys=KEYS, audit=Audit()).recent()
    assert rows[0]["action"] == "block" and rows[0]["stage"] == "output" and rows[0]["layer"] == "guard"
    assert "yellowcake" not in r.judged[0]  # it was caught mid-stream, not by the final check
    assert len(r.judged[-1]) < len(answer)


@pytest.mark.parametrize(("mode", "failure"), [("closed", "error"), ("closed", "slow"), ("open", "error")])
async def test_the_guard_failing_mid_stream_follows_its_failure_mode(
    redis_client: aioredis.Redis, guard: tuple[FakeTGI, GuardRecorder], mode: str, failure: str
) -> None:
    """The guard answers the request and the first chunk, then fails for the rest: HTTP 500, or no
    verdict within its timeout."""
    answer = sentences(30)
    bad = FakeReply(http_status=500) if failure == "error" else FakeReply(first_token_delay_s=2.0)
    replies = [FakeReply(), FakeReply()] + [bad] * 40
    r = await run(redis_client, guard, answer, failure_mode=mode, replies=replies, guard_timeout_s=0.5)
    stored = await redis_client.llen(KEYS.turns(KEY.id))
    if mode == "closed":
        assert_nothing_unchecked(r)  # nothing beyond what the guard judged before it failed
        assert r.result.outcome is Outcome.FAILED
        assert r.sink.events[-1][0] == "fail" and "unavailable" in r.sink.events[-1][1]
        assert r.sink.of("finish") == [] and stored == 0
        assert r.model.disconnects >= 1 or r.model.in_flight == 0  # the model's stream was closed
    else:  # the operator chose to answer without the guard's verdict: the rules alone checked the rest
        assert r.result.outcome is Outcome.ANSWERED and r.sink.of("finish") == [answer] and stored == 1


# ------------------------------------------------------------------------------------- the suspicion hold


class WordDensity(LocalChecks):
    """A stand-in answer check: the score rises with how often `uranium` occurs per 100 characters (as a
    linear check's does with the share of suspicious n-grams), capped below the block threshold; the
    request check is the shipped one."""

    def score_answer(self, text: str, prompt: str | None) -> float:
        return min(0.9, 150 * text.lower().count("uranium") / max(len(text), 1))


def word_density() -> WordDensity:
    shipped = LocalChecks.load()
    return WordDensity(request=shipped.request, answer=shipped.answer, multilingual=shipped.multilingual)


HOLD = load_policy().layers.classifier.output_hold_threshold


def test_the_stand_in_scores_around_the_shipped_hold_level() -> None:
    assert HOLD is not None
    checks = word_density()
    assert checks.score_answer("Uranium is a metal. " + "x" * 150, None) >= HOLD  # one in 170 characters
    assert checks.score_answer("Uranium is a metal. " + "x" * 250, None) < HOLD  # one in 270


async def test_a_harmful_answer_that_is_suspicious_early_shows_nothing_until_it_is_blocked(
    redis_client: aioredis.Redis, guard: tuple[FakeTGI, GuardRecorder]
) -> None:
    """Without the hold, the text up to the look-ahead before `yellowcake` would have been shown (the
    test above); suspicious from the first check, none of it is."""
    before = " ".join(f"Step {i}: the uranium ore is crushed and the uranium leached." for i in range(14))
    answer = before + " Then you refine the yellowcake into metal. " + sentences(20, start=100)
    r = await run(redis_client, guard, answer, checks=word_density(), hold=True)
    assert r.result.outcome is Outcome.BLOCKED_OUTPUT
    assert r.sink.of("update") == [] and r.sink.of("finish") == []
    assert r.sink.events[-1] == ("fail", load_policy().categories["S9"].notice)
    assert "yellowcake" not in r.judged[0] and len(r.judged[-1]) < len(answer)  # blocked mid-stream


async def test_a_safe_answer_briefly_suspicious_is_held_then_streams_and_arrives_whole(
    redis_client: aioredis.Redis, guard: tuple[FakeTGI, GuardRecorder]
) -> None:
    """One mention of uranium early: the first check (at LOOKAHEAD + CHUNK/4 characters) holds, the next
    ones (the mention diluted) let it stream."""
    answer = "Uranium is a metal found in rocks. " + sentences(30)
    held = word_density()
    first_check = LOOKAHEAD + CHUNK // 4
    assert HOLD is not None and held.score_answer(answer[:first_check], None) >= HOLD
    r = await run(redis_client, guard, answer, checks=held, hold=True)
    assert r.result.outcome is Outcome.ANSWERED and r.sink.of("finish") == [answer]
    updates = r.sink.of("update")
    assert len(updates) >= 2  # it still streamed
    assert_nothing_unchecked(r)
    # The first check held: the first visible text is more than it could have let through.
    assert len(r.judged[0]) < first_check + CHUNK
    assert len(updates[0]) > len(r.judged[0]) - LOOKAHEAD


class Turning(WordDensity):
    """The stand-in above, and the score at which the answer check blocks once `yellowcake` appears (the
    local layers alone block it, so that no guard's timing is involved)."""

    def score_answer(self, text: str, prompt: str | None) -> float:
        return 0.99 if "yellowcake" in text else super().score_answer(text, prompt)


def turning() -> Turning:
    shipped = LocalChecks.load()
    return Turning(request=shipped.request, answer=shipped.answer, multilingual=shipped.multilingual)


async def test_an_answer_turning_harmful_is_held_while_its_score_rises_before_it_reaches_the_level(
    redis_client: aioredis.Redis, guard: tuple[FakeTGI, GuardRecorder]
) -> None:
    """A harmless opening, then steps that mention uranium more and more (the score climbs with them, as
    a linear check's does once an answer turns), then the block. Holding only at the level shows the
    opening up to the check that reaches it; holding also while the score rises stops a chunk earlier."""
    steps = " ".join(f"Step {i}: the uranium ore is crushed." for i in range(12))
    answer = sentences(10) + " " + steps + " Then you refine the yellowcake into metal. " + sentences(10, 100)
    shown = {}
    for rising in (False, True):
        r = await run(
            redis_client,
            guard,
            answer,
            checks=turning(),
            hold=True,
            rising=rising,
            guarded=False,
            mid=str(rising),
        )
        assert r.result.outcome is Outcome.BLOCKED_OUTPUT and r.sink.of("finish") == []
        assert r.sink.events[-1][0] == "fail"
        shown[rising] = max((len(t) for t in r.sink.of("update")), default=0)
    assert 0 < shown[True] < shown[False]
