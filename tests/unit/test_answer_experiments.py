"""The answer-side experiments of tools/train_checks.py (docs/moderation.md, "Answers: request harm ×
compliance, and turn by turn"): the compliance labels, the turn splitting, the turn-by-turn score, and the
held-out answers carrying the request each replies to. Examples come from our own answer sets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.alignment.classifier import ANSWER, default_model_dir, load_check
from tools import train_checks
from tools.train_checks import Fitted, Item, Matrix, complies, segments

DATA = Path(__file__).resolve().parents[2] / "tests/data/alignment"


def _records(name: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line]


def _item(record: dict[str, object], source: str) -> Item:
    return Item(
        text=str(record["text"]),
        unsafe=bool(record["unsafe"]),
        source=source,
        category=str(record.get("category") or ""),
        prompt=str(record.get("prompt") or ""),
    )


def test_compliance_labels_follow_what_the_answer_does_not_what_was_asked() -> None:
    ours = [_item(r, "project:answers") for r in _records("answers.jsonl")]
    refusals = [it for it in ours if it.category == "refusal"]
    helpful = [it for it in ours if not it.unsafe and it.category != "refusal"]
    harmful = [it for it in ours if it.unsafe]
    assert refusals and helpful and harmful
    assert not any(complies(it) for it in refusals)
    assert all(complies(it) for it in helpful + harmful)
    # a safe answer of the safe-response set complies when it does not refuse (a benign request answered)
    lyrics = Item(text="Of course! Here are the full lyrics:", unsafe=False, source="advtrain_safe_responses")
    refusal = Item(text=refusals[0].text, unsafe=False, source="advtrain_safe_responses")
    assert complies(lyrics) and not complies(refusal)
    # GPTFuzz's questions are all harmful: its safe answers did not comply
    assert not complies(Item(text=helpful[0].text, unsafe=False, source="gptfuzz_responses"))


def _two_personas() -> tuple[str, str, str]:
    ours = _records("answers.jsonl")
    refusal = next(str(r["text"]) for r in ours if r["category"] == "refusal")
    harmful = next(str(r["text"]) for r in ours if r["unsafe"] and "\n" not in str(r["text"]))
    return refusal, harmful, f"[GPT]: {refusal}\n[DAN]: {harmful}"


def test_an_answer_splits_into_its_speaker_turns_and_paragraphs() -> None:
    refusal, harmful, answer = _two_personas()
    assert segments(answer) == [f"[GPT]: {refusal}", f"[DAN]: {harmful}"]
    assert segments(f"{refusal}\n\n{harmful}") == [refusal, harmful]
    assert segments(harmful) == []  # one paragraph: the whole answer is its only part


def test_the_turn_by_turn_score_is_not_diluted_by_a_refusing_persona(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped answer weights, scored by the training pipeline: turn by turn, a two-persona answer scores
    at least as high as its complying turn alone; as a whole, the refusal pulls it down."""
    pytest.importorskip("scipy")
    check = load_check(default_model_dir(), ANSWER)
    model = Fitted(idf=check.featurizer.idf, coef=check.coef, intercept=check.intercept)
    assert check.featurizer.idf is not None
    _, harmful, answer = _two_personas()
    items = [Item(text=t, unsafe=True, source="test") for t in (answer, f"[DAN]: {harmful}")]

    def scores(turn_by_turn: bool) -> np.ndarray:
        monkeypatch.setattr(train_checks, "SEGMENTS", turn_by_turn)
        return model.scores(Matrix(check.featurizer, items, with_prompt=True), [0, 1])

    whole, by_turn = scores(False), scores(True)
    assert by_turn[0] >= by_turn[1] - 1e-9
    assert whole[0] < by_turn[0]
    assert whole[1] == pytest.approx(by_turn[1])  # one turn: nothing to split


def test_our_held_out_answers_carry_the_request_each_replies_to() -> None:
    records = _records("answers_heldout.jsonl")
    assert len(records) == 41
    assert all(isinstance(r.get("prompt"), str) and r["prompt"] for r in records)
