"""The learned checks' features after their speed-up (core/alignment/features.py) are bit-for-bit the
features before it (tests/unit/features_reference.py, the code of 7836de2 frozen): the same hashes in the
same order, the same counts and the same vectors, on the project's own request and answer sets and on
generated hostile text, for the shipped feature specs and for others that training could choose. Weights
trained on either stay valid. The incremental reading of a growing answer (`grow=True`) gives the same
counts as reading each version whole, whatever the steps, and the shipped checks the same scores."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.alignment import features
from core.alignment.classifier import LocalChecks
from core.alignment.features import FeatureSpec, Featurizer
from tests.shared_data import project_alignment_texts
from tests.strategies import hostile_text
from tests.unit import features_reference as reference

SPECS = [
    FeatureSpec(),  # the request check's
    FeatureSpec(prefix=True, prefix_weight=0.0),  # the answer check's
    FeatureSpec(prefix=True, prefix_weight=0.5),
    FeatureSpec(word_ngrams=(2, 1, 3), char_ngrams=(5, 2, 3), word_bits=12, char_bits=14),
    FeatureSpec(word_ngrams=(1,), char_ngrams=(4,)),
    FeatureSpec(char_ngrams=(1, 2, 3, 4), word_bits=16),  # the multilingual request check's
]


TEXTS = project_alignment_texts()


def _reference(spec: FeatureSpec) -> reference.Featurizer:
    return reference.Featurizer(reference.FeatureSpec(**{k: getattr(spec, k) for k in spec.to_json()}))


def _same_blocks(
    new: list[tuple[np.ndarray, np.ndarray]], old: list[tuple[np.ndarray, np.ndarray]], text: str
) -> None:
    assert len(new) == len(old), text
    for (idx, cnt), (ref_idx, ref_cnt) in zip(new, old, strict=True):
        assert idx.dtype == ref_idx.dtype and cnt.dtype == ref_cnt.dtype, text
        assert idx.tobytes() == ref_idx.tobytes() and cnt.tobytes() == ref_cnt.tobytes(), text


def _same_vector(spec: FeatureSpec, idf: np.ndarray | None, text: str, prefix: str | None) -> None:
    new = Featurizer(spec, idf).transform(text, prefix)
    old = reference.Featurizer(_reference(spec).spec, idf).transform(text, prefix)
    assert new[0].tobytes() == old[0].tobytes() and new[1].tobytes() == old[1].tobytes(), text


def test_the_project_sets_give_the_same_hashes_counts_and_vectors() -> None:
    assert len(TEXTS) > 1000  # the sets are there: this test compares something
    for spec in SPECS:
        new, old = Featurizer(spec), _reference(spec)
        for i, text in enumerate(TEXTS):
            prefix = TEXTS[(7 * i) % len(TEXTS)]
            folded = features.fold(text)
            for seed in (0, 1, 8):
                chars = features.char_hashes(folded, spec.char_ngrams, seed)
                assert chars.tobytes() == reference.char_hashes(folded, spec.char_ngrams, seed).tobytes()
                words = features.word_hashes(folded, spec.word_ngrams, seed)
                assert words.tobytes() == reference.word_hashes(folded, spec.word_ngrams, seed).tobytes()
            _same_blocks(new.counts(text, prefix), old.counts(text, prefix), text)


def test_the_shipped_weights_read_the_same_vectors_and_scores() -> None:
    checks = LocalChecks.load()
    shipped = [checks.request, checks.answer, *([checks.multilingual] if checks.multilingual else [])]
    for check in shipped:
        spec, idf = check.featurizer.spec, check.featurizer.idf
        old = reference.Featurizer(_reference(spec).spec, idf)
        for i, text in enumerate(TEXTS[::5]):
            prefix = TEXTS[(3 * i) % len(TEXTS)]
            _same_vector(spec, idf, text, prefix)
            idx, val = old.transform(text, prefix)
            expected = float(np.dot(check.coef[idx], val)) + check.intercept
            assert check.margin(text, prefix) == expected, text


@settings(max_examples=300, deadline=None)
@given(text=hostile_text, prefix=hostile_text, spec=st.sampled_from(SPECS))
def test_hostile_text_gives_the_same_vector(text: str, prefix: str, spec: FeatureSpec) -> None:
    _same_blocks(Featurizer(spec).counts(text, prefix), _reference(spec).counts(text, prefix), text)
    _same_vector(spec, None, text, prefix)


def _grown_equals_whole(spec: FeatureSpec, text: str, steps: list[int]) -> int:
    grown, whole = Featurizer(spec, grow=True), Featurizer(spec)
    end, compared = 0, 0
    for step in steps:
        end = min(len(text), end + step)
        part = text[:end]
        _same_blocks(grown.counts(part, "the request"), whole.counts(part, "the request"), part)
        compared += len(features.fold(part)) >= features.GROW_MIN_CHARS
        if end == len(text):
            break
    return compared


@pytest.mark.parametrize("spec", SPECS, ids=range(len(SPECS)))
def test_a_growing_answer_read_incrementally_counts_as_read_whole(spec: FeatureSpec) -> None:
    rng = random.Random(5)
    joined = "\n\n".join(TEXTS)  # the sets' texts are short: answers of 5,000 characters made of them
    stream_texts = [joined[i : i + 5000] for i in range(0, 40_000, 5000)]
    compared = 0
    for text in stream_texts:
        steps = [rng.choice((1, 2, 7, 30, 120, 400)) for _ in range(len(text))]
        compared += _grown_equals_whole(spec, text, steps)
    assert compared > 100  # the incremental path was taken


@settings(max_examples=60, deadline=None)
@given(
    pieces=st.lists(hostile_text, min_size=1, max_size=30),
    filler=st.sampled_from(["x" * 1600, "word " * 320, "日本語" * 530, " \u200b\n" * 540]),
)
def test_hostile_growth_counts_as_read_whole(pieces: list[str], filler: str) -> None:
    # A long start (past GROW_MIN_CHARS), then hostile pieces: combining marks, invisible characters,
    # spaces and words cut at any point; an edit that does not extend the text is read whole.
    grown, whole = Featurizer(SPECS[1], grow=True), Featurizer(SPECS[1])
    text = filler
    for piece in pieces:
        text += piece
        _same_blocks(grown.counts(text), whole.counts(text), text)
    edited = text[: len(text) // 2] + "edited"
    _same_blocks(grown.counts(edited), whole.counts(edited), edited)


def test_the_answer_check_scores_a_stream_as_a_whole_answer() -> None:
    checks = LocalChecks.load()
    fresh = LocalChecks.load(Path(features.__file__).parent / "models")  # a second load: its own memory
    answer = "\n".join(TEXTS[-200:])[:6000]
    scores = []
    for end in range(100, len(answer) + 1, 97):
        streamed = checks.score_answer(answer[:end], "the request")
        assert streamed == fresh.answer.score(answer[:end], "the request")
        scores.append(streamed)
    assert len(set(scores)) > 10  # the texts differed, so did their scores


def test_the_growth_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(features, "_GROW_MAX_BYTES", 200_000)
    grown = Featurizer(SPECS[1], grow=True)
    for i in range(40):
        grown.counts(f"answer {i:03d} " + "some words of a long answer " * 80)
    growth = grown._growth
    assert growth is not None
    assert 1 <= len(growth._known) < 40
    assert growth._bytes == sum(k.nbytes for k in growth._known.values()) <= 200_000
