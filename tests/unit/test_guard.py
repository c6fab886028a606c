"""The guard layer's frame, without a server: scores from top tokens, cache keys per stage."""

from __future__ import annotations

import math

import pytest

from core.alignment.guard import GuardError, GuardModel, GuardVerdict, parse_answer, unsafe_probability
from core.alignment.policy import GuardLayer


def lp(p: float) -> float:
    return math.log(p)


@pytest.mark.parametrize(
    ("top", "expected"),
    [
        ([("unsafe", lp(0.3)), ("safe", lp(0.7))], 0.3),  # Llama Guard: one token per word
        ([("un", lp(0.2)), ("safe", lp(0.6)), ("s", lp(0.2))], 0.2),  # Mistral splits `unsafe`
        ([("▁uns", lp(0.5)), ("▁safe", lp(0.5))], 0.5),  # SentencePiece word markers
        ([("Ġunsafe", lp(0.9)), ("\n", lp(0.1))], 1.0),  # byte-level BPE; whitespace does not count
        ([(" Safe", lp(0.8)), ("The", lp(0.2))], 0.0),
    ],
)
def test_the_probability_of_unsafe_from_the_first_tokens(
    top: list[tuple[str, float]], expected: float
) -> None:
    assert unsafe_probability(top) == pytest.approx(expected)


def test_no_score_when_no_top_token_starts_either_word() -> None:
    assert unsafe_probability([("Sure", lp(0.9)), ("I", lp(0.1))]) is None
    # the greedy answer decides then
    assert parse_answer("unsafe\nS1", [("Sure", lp(0.9))]).score == 1.0


class Counting(GuardModel):
    def __init__(self) -> None:
        super().__init__(layer=GuardLayer(failure_mode="open", cache_ttl_s=60))
        self.calls: list[tuple[str, str | None]] = []

    async def _judge(self, *, user: str, agent: str | None, variant: tuple[str, ...]) -> GuardVerdict:
        self.calls.append((user, agent))
        return GuardVerdict(agent is not None, (), 1.0)


async def test_a_requests_verdict_is_never_taken_for_an_answers() -> None:
    guard = Counting()
    assert not (await guard.classify(user="hi")).unsafe
    assert (await guard.classify(user="hi", agent="None")).unsafe  # the answer "None" to "hi"
    assert (await guard.classify(user="hi\x00", agent="")).unsafe
    assert not (await guard.classify(user="hi")).unsafe
    assert guard.calls == [("hi", None), ("hi", "None"), ("hi\x00", "")]


def test_the_logged_reason_a_guard_failed_never_shows_a_password_in_its_url() -> None:
    from core.alignment.moderator import _failure_reason

    exc = GuardError("ConnectError: cannot reach http://guard:s3cret-pw@10.0.0.5:8001/v1/chat/completions")
    reason = _failure_reason(exc)
    assert reason is not None and "ConnectError" in reason and "10.0.0.5" in reason
    assert "s3cret-pw" not in reason
