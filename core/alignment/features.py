"""Features of the learned checks: hashed word 1-2 grams and character n-grams, written once.

The training script (tools/train_checks.py) and the classifier layer (core/alignment/classifier.py) both
call `Featurizer.transform`, so what the model was trained on and what it reads at run time are the same
numbers by construction (tests/unit/test_classifier.py checks it on the shipped weights).

Text is folded first (NFKC, casefold, invisible characters removed, whitespace collapsed); this is the
feature extraction's own fold, not `normalize.py`'s, so that a change to the rules' normalizer cannot
silently shift the features the shipped weights were trained on.

Every feature is hashed into a fixed number of buckets with hashes that are the same on every platform
and in every process (Python's `hash()` of a string is not): character n-grams with a vectorised FNV-style
polynomial over the text's code points (numpy uint64 arithmetic), words with CRC-32 of their UTF-8, word
n-grams by combining their words' hashes. A text's vector is the
concatenation of a word block and a character block; each block is sublinear tf (1 + ln tf) times idf,
L2-normalised. With a `prefix` (the request an answer replies to) the prefix's blocks are hashed into
their own, separate buckets, so that the answer model can weigh "what was asked" apart from "what was
said".

Speed: all n-gram sizes are hashed in one numpy pass and all blocks counted with one sort; the answer
check (`grow=True`) reads a text that extends one it read before from where that one ended (`_Growth`).
The numbers are bit-for-bit those of the straightforward code, kept in tests/unit/features_reference.py
and compared in tests/unit/test_features_equivalence.py: weights trained before stay valid.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
import threading
import unicodedata
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IndexArray = npt.NDArray[np.int64]
U64Array = npt.NDArray[np.uint64]

_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]"
)
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w+")
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_PRIME = np.uint64(0x100000001B3)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_OFFSET = 0xCBF29CE484222325
_SHIFT31 = np.uint64(31)
_SHIFT29 = np.uint64(29)
_EMPTY: U64Array = np.zeros(0, dtype=np.uint64)
_EMPTY.flags.writeable = False


def fold(text: str) -> str:
    """The text the features are read from: NFKC, casefolded, invisible characters out, one space."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text).casefold()
    return _SPACE.sub(" ", text).strip()


def _codes(text: str) -> npt.NDArray[np.uint64]:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)


def _mix(h: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    h = h ^ (h >> np.uint64(31))
    h = h * _MIX
    return h ^ (h >> np.uint64(29))


@functools.lru_cache(maxsize=64)
def _plan(
    sizes: tuple[int, ...], starts: tuple[int, ...]
) -> tuple[tuple[int, ...], tuple[int, ...], U64Array]:
    """`_ngram_rows`' rows ordered by n (those still running at a step are then a suffix, and those a
    text is long enough for a prefix): their places in `sizes`, their n, and their start values."""
    order = tuple(sorted(range(len(sizes)), key=lambda r: sizes[r]))
    column = np.array([[starts[r] & 0xFFFFFFFFFFFFFFFF] for r in order], dtype=np.uint64)
    return order, tuple(sizes[r] for r in order), column


def _ngram_rows(values: U64Array, sizes: tuple[int, ...], starts: tuple[int, ...]) -> list[U64Array]:
    """For each n of `sizes` (with its start value), the mixed hash of every run of n consecutive `values`:
    `h = start; h = (h ^ v) * PRIME` for each v of the run, then `_mix(h)`. All sizes in one pass over a 2-D
    array (one row per n, the short rows padded), so a text costs a dozen numpy calls, not one per n and
    step; the rows are the same numbers as one n at a time (tests/unit/test_features_equivalence.py).
    (Integer arrays wrap around on overflow without a warning: no `np.errstate` needed here.)"""
    order, ns, column = _plan(sizes, starts)
    length = len(values)
    present = bisect.bisect_right(ns, length)  # the sizes this text is long enough for
    out = [_EMPTY] * len(sizes)
    if not present:
        return out
    shortest, longest = ns[0], ns[present - 1]
    width = length - shortest + 1
    if longest > shortest:
        values = np.concatenate((values, np.zeros(longest - shortest, dtype=np.uint64)))
    h = np.empty((present, width), dtype=np.uint64)
    h[:] = column[:present]
    first = 0
    for k in range(longest):
        while ns[first] <= k:
            first += 1
        rows = h[first:]
        np.bitwise_xor(rows, values[k : k + width], out=rows)
        np.multiply(rows, _PRIME, out=rows)
    h ^= h >> _SHIFT31
    h *= _MIX
    h ^= h >> _SHIFT29
    for i in range(present):
        out[order[i]] = h[i, : length - ns[i] + 1]
    return out


def _char_starts(sizes: tuple[int, ...], seed: int) -> tuple[int, ...]:
    return tuple(_OFFSET + seed * 1_000_003 + n for n in sizes)


def char_hashes(text: str, sizes: tuple[int, ...], seed: int) -> npt.NDArray[np.uint64]:
    """64-bit hashes of every character n-gram of `text` (padded with a space at each end), for each n in
    `sizes`. Vectorised: a rolling polynomial over the code points, all sizes at once (`_ngram_rows`)."""
    sizes = tuple(sizes)
    return _join(_ngram_rows(_codes(f" {text} "), sizes, _char_starts(sizes, seed)))


def _token_hashes(tokens: Sequence[str], seed: int) -> U64Array:
    # each token: CRC-32 of its UTF-8 (C speed, stable), then mixed; n-grams combine token hashes
    crc = np.array(
        [zlib.crc32(tok.encode("utf-8", "surrogatepass"), seed) for tok in tokens], dtype=np.uint64
    )
    return _mix(crc)


def word_hashes(text: str, sizes: tuple[int, ...], seed: int) -> npt.NDArray[np.uint64]:
    """64-bit hashes of the word n-grams (`\\w+` tokens) of `text`."""
    tokens = _WORD.findall(text)
    if not tokens:
        return _EMPTY
    sizes = tuple(sizes)
    return _join(_ngram_rows(_token_hashes(tokens, seed), sizes, sizes))


def _join(rows: list[U64Array]) -> U64Array:
    rows = [r for r in rows if len(r)]
    if not rows:
        return _EMPTY
    return rows[0] if len(rows) == 1 else np.concatenate(rows)


@dataclass(frozen=True, kw_only=True)
class FeatureSpec:
    """How text becomes a vector. Saved as JSON beside the weights; loading checks it."""

    word_ngrams: tuple[int, ...] = (1, 2)
    char_ngrams: tuple[int, ...] = (3, 4, 5)
    word_bits: int = 17
    char_bits: int = 18
    prefix: bool = False  # a second set of blocks for the request an answer replies to
    prefix_weight: float = 1.0  # the prefix blocks' vectors are scaled by this (their L2 norm)

    @property
    def block_sizes(self) -> tuple[int, ...]:
        base = (1 << self.word_bits, 1 << self.char_bits)
        return base * 2 if self.prefix else base

    @property
    def dim(self) -> int:
        return sum(self.block_sizes)

    def to_json(self) -> dict[str, Any]:
        return {
            "word_ngrams": list(self.word_ngrams),
            "char_ngrams": list(self.char_ngrams),
            "word_bits": self.word_bits,
            "char_bits": self.char_bits,
            "prefix": self.prefix,
            "prefix_weight": self.prefix_weight,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureSpec:
        return cls(
            word_ngrams=tuple(int(n) for n in data["word_ngrams"]),
            char_ngrams=tuple(int(n) for n in data["char_ngrams"]),
            word_bits=int(data["word_bits"]),
            char_bits=int(data["char_bits"]),
            prefix=bool(data["prefix"]),
            prefix_weight=float(data.get("prefix_weight", 1.0)),
        )


class Featurizer:
    """`transform(text, prefix=None)` → sparse (indices, values) of one text's vector.

    With `grow=True` (the answer check, which reads an answer again at each update while it streams), the
    counts of a text that extends one read before are read incrementally: only its new end is hashed
    (`_Growth`); the vector is the same as reading it whole."""

    def __init__(self, spec: FeatureSpec, idf: FloatArray | None = None, *, grow: bool = False) -> None:
        self.spec = spec
        if idf is not None and idf.shape != (spec.dim,):
            raise ValueError(f"idf has {idf.shape} entries, the feature spec needs ({spec.dim},)")
        self.idf = idf
        offsets = np.cumsum((0, *spec.block_sizes))
        self._offsets = [int(o) for o in offsets]
        self._growth = _Growth(self) if grow else None

    def counts(self, text: str, prefix: str | None = None) -> list[tuple[IndexArray, FloatArray]]:
        """Raw term counts per block (global indices), before tf weighting: for idf in training."""
        spec = self.spec
        folded = fold(text)
        # a prefix weighed 0 adds nothing to a score: skip reading it
        second = (fold(prefix or "") if spec.prefix_weight else "") if spec.prefix else None
        if self._growth is not None and len(folded) >= GROW_MIN_CHARS:
            blocks = self._growth.counts(folded)
            if second is not None:
                blocks += self.count(self.buckets(second, 1), first_block=2)
            return blocks
        parts = self.buckets(folded, 0)
        if second is not None:
            parts += self.buckets(second, 1)
        return self.count(parts)

    def buckets(self, folded: str, t_i: int) -> list[IndexArray]:
        """The global bucket index of every word n-gram and every character n-gram of a folded text: the
        request or answer (`t_i` 0) or the prefix (1)."""
        spec = self.spec
        seed = 7 * t_i
        words = word_hashes(folded, spec.word_ngrams, seed)
        chars = char_hashes(folded, spec.char_ngrams, seed + 1)
        return [
            self.to_index(words, 2 * t_i, spec.word_bits),
            self.to_index(chars, 2 * t_i + 1, spec.char_bits),
        ]

    def to_index(self, hashes: U64Array, block: int, bits: int) -> IndexArray:
        return (hashes >> np.uint64(64 - bits)).astype(np.int64) + self._offsets[block]

    def count(self, parts: list[IndexArray], first_block: int = 0) -> list[tuple[IndexArray, FloatArray]]:
        """Per block, its distinct indices (sorted) and how often each occurs: `parts` are the indices of
        consecutive blocks from `first_block`. One sort for all blocks (their index ranges follow each
        other), the same result as `np.unique(..., return_counts=True)` per block."""
        idx, cnt = _unique_counts(np.concatenate(parts))
        return self.split(idx, cnt.astype(np.float32), first_block, len(parts))

    def split(
        self, idx: IndexArray, cnt: FloatArray, first_block: int, blocks: int
    ) -> list[tuple[IndexArray, FloatArray]]:
        cuts = np.searchsorted(idx, self._offsets[first_block + 1 : first_block + blocks]).tolist()
        bounds = [0, *cuts, len(idx)]
        return [(idx[a:b], cnt[a:b]) for a, b in itertools.pairwise(bounds)]

    def transform(self, text: str, prefix: str | None = None) -> tuple[IndexArray, FloatArray]:
        """One text's vector as (indices, values): what the shipped model reads."""
        return self.weigh(self.counts(text, prefix))

    def weigh(self, blocks: list[tuple[IndexArray, FloatArray]]) -> tuple[IndexArray, FloatArray]:
        """Sublinear tf times idf, each block L2-normalised (training calls this on cached counts)."""
        idx_parts = []
        val_parts = []
        for b, (idx, cnt) in enumerate(blocks):
            if not len(idx):
                continue
            val = (1.0 + np.log(cnt)).astype(np.float32)
            if self.idf is not None:
                val = val * self.idf[idx]
            norm = float(np.sqrt(np.dot(val, val)))
            if norm > 0:
                val = val / np.float32(norm)
            if b >= 2:
                val = val * np.float32(self.spec.prefix_weight)
            idx_parts.append(idx)
            val_parts.append(val.astype(np.float32))
        if not idx_parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return np.concatenate(idx_parts), np.concatenate(val_parts)


def _unique_counts(values: IndexArray) -> tuple[IndexArray, npt.NDArray[np.int64]]:
    """Sorted distinct values and their counts (`np.unique(values, return_counts=True)` with less overhead)."""
    values = np.sort(values)
    if not len(values):
        return values, np.zeros(0, dtype=np.int64)
    first = np.empty(len(values), dtype=bool)
    first[0] = True
    np.not_equal(values[1:], values[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.empty(len(starts), dtype=np.int64)
    np.subtract(starts[1:], starts[:-1], out=counts[:-1])
    counts[-1] = len(values) - starts[-1]
    return values[starts], counts


def _merge_counts(
    idx: IndexArray, cnt: npt.NDArray[np.int64], more: IndexArray
) -> tuple[IndexArray, npt.NDArray[np.int64]]:
    """Counts (sorted distinct `idx`, `cnt`) with the indices `more` added: a merge, not a new sort."""
    if not len(more):
        return idx, cnt
    add, add_cnt = _unique_counts(more)
    pos = np.searchsorted(idx, add)
    found = pos < len(idx)
    found[found] = idx[pos[found]] == add[found]
    cnt = cnt.copy()
    cnt[pos[found]] += add_cnt[found]
    new = ~found
    return np.insert(idx, pos[new], add[new]), np.insert(cnt, pos[new], add_cnt[new])


def _remove_counts(
    idx: IndexArray, cnt: npt.NDArray[np.int64], less: IndexArray
) -> tuple[IndexArray, npt.NDArray[np.int64]]:
    """Counts (sorted distinct `idx`, `cnt`) with the indices `less` (all counted there) taken out."""
    sub, sub_cnt = _unique_counts(less)
    pos = np.searchsorted(idx, sub)
    cnt = cnt.copy()
    cnt[pos] -= sub_cnt
    gone = pos[cnt[pos] == 0]
    return (np.delete(idx, gone), np.delete(cnt, gone)) if len(gone) else (idx, cnt)


# Texts shorter than this are read whole (as fast as incrementally below ~1,500 characters, measured);
# longer ones through `_Growth` when enabled.
GROW_MIN_CHARS = 1500
# `_Growth` keeps what it knows of the texts it read last, keyed by their first characters, within a
# memory bound (an evicted text is read whole next time: slower, never different).
_GROW_KEY_CHARS = 64
_GROW_MAX_BYTES = 8 << 20


@dataclass(frozen=True, slots=True)
class _Known:
    """A folded text `text` read before, counted (`idx`, `cnt`: all its n-grams), with the n-grams that a
    text extending it would not have (`open_end`: those with the closing pad, and the word n-grams of a
    last token that may go on); the tokens from `cut` are read again (the last token may go on, where
    the text ends in a word character), and `last` holds the hashes of the last tokens before `cut`, for
    the word n-grams that the next tokens start with."""

    text: str
    idx: IndexArray
    cnt: npt.NDArray[np.int64]
    open_end: IndexArray
    cut: int
    last: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return int(self.idx.nbytes + self.cnt.nbytes + self.open_end.nbytes) + 4 * len(self.text) + 200


class _Growth:
    """Incremental counts of a text read again as it grows (an answer checked at each streamed update):
    the n-grams of the part already read are kept counted, and only the new end is hashed and merged in.
    The result is the same as `Featurizer.count(Featurizer.buckets(text, 0))`; a text that does not extend
    a known one (edited, or evicted) is read from the start."""

    def __init__(self, featurizer: Featurizer) -> None:
        self._f = featurizer
        self._known: OrderedDict[str, _Known] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def counts(self, folded: str) -> list[tuple[IndexArray, FloatArray]]:
        key = folded[:_GROW_KEY_CHARS]
        with self._lock:
            known = self._known.get(key)
        if known is None or not folded.startswith(known.text):
            grown, idx, cnt = self.start(folded)
        else:
            grown, idx, cnt = self.grow(known, folded)
        with self._lock:
            old = self._known.pop(key, None)
            self._bytes += grown.nbytes - (old.nbytes if old is not None else 0)
            self._known[key] = grown
            while self._bytes > _GROW_MAX_BYTES and len(self._known) > 1:
                self._bytes -= self._known.popitem(last=False)[1].nbytes
        return self._f.split(idx, cnt.astype(np.float32), 0, 2)

    def start(self, folded: str) -> tuple[_Known, IndexArray, npt.NDArray[np.int64]]:
        """`folded` read whole (as `Featurizer.buckets` reads it): what is known of it, and its counts."""
        f, spec = self._f, self._f.spec
        tokens = _WORD.findall(folded)
        hashes = _token_hashes(tokens, 0) if tokens else _EMPTY
        words = _ngram_rows(hashes, spec.word_ngrams, spec.word_ngrams)
        chars = char_hashes(folded, spec.char_ngrams, 1)
        parts = [f.to_index(_join(words), 0, spec.word_bits), f.to_index(chars, 1, spec.char_bits)]
        idx, cnt = _unique_counts(np.concatenate(parts))
        # The n-grams that end at the end of `folded` are not settled: those with the closing pad, and
        # the word n-grams of a last token that may go on.
        widest = max(spec.char_ngrams)
        tail = _ngram_rows(
            _codes(f" {folded} "[-widest:]), spec.char_ngrams, _char_starts(spec.char_ngrams, 1)
        )
        open_end = [f.to_index(_join([row[len(row) - 1 :] for row in tail]), 1, spec.char_bits)]
        last_word = _WORD.match(folded[::-1])  # the token `folded` ends in, if any (read backwards)
        ends_in_word = last_word is not None
        if ends_in_word:
            open_end.append(f.to_index(_join([row[len(row) - 1 :] for row in words]), 0, spec.word_bits))
        keep = max(spec.word_ngrams) - 1
        settled_tokens = hashes[:-1] if ends_in_word else hashes
        done = [int(h) for h in settled_tokens[max(0, len(settled_tokens) - keep) :]] if keep else []
        known = _Known(
            text=folded,
            idx=idx,
            cnt=cnt,
            open_end=np.concatenate(open_end),
            cut=len(folded) - last_word.end() if last_word is not None else len(folded),
            last=tuple(done),
        )
        return known, idx, cnt

    def grow(self, known: _Known, folded: str) -> tuple[_Known, IndexArray, npt.NDArray[np.int64]]:
        """`folded` (which starts with `known.text`): what is known of it, and all of its counts."""
        f, spec = self._f, self._f.spec
        # Characters: the n-grams of " " + folded + " " from the first one not known yet; `settled` are
        # those that no extension of `folded` changes, `open_end` those that end at its end.
        widest = max(spec.char_ngrams)
        seen = len(known.text) + 1  # " " + known.text
        base = max(0, seen - (widest - 1))
        rows = _ngram_rows(_codes(f" {folded} "[base:]), spec.char_ngrams, _char_starts(spec.char_ngrams, 1))
        settled_chars, open_chars = [], []
        for n, row in zip(spec.char_ngrams, rows, strict=True):
            settled_chars.append(row[max(0, seen - n + 1) - base : -1])
            open_chars.append(row[len(row) - 1 :])
        settled = [f.to_index(_join(settled_chars), 1, spec.char_bits)]
        open_end = [f.to_index(_join(open_chars), 1, spec.char_bits)]
        # Words: the tokens from `cut`, after the hashes of the last tokens before it.
        tail = folded[known.cut :]
        tokens = list(_WORD.finditer(tail))
        ends_in_word = bool(tokens) and tokens[-1].end() == len(tail)
        hashes = [int(h) for h in _token_hashes([m.group() for m in tokens], 0)] if tokens else []
        values = [*known.last, *hashes]
        if hashes:
            rows = _ngram_rows(np.array(values, dtype=np.uint64), spec.word_ngrams, spec.word_ngrams)
            rows = [
                row[max(0, len(known.last) - n + 1) :] for n, row in zip(spec.word_ngrams, rows, strict=True)
            ]
            if ends_in_word:
                settled.append(f.to_index(_join([row[:-1] for row in rows]), 0, spec.word_bits))
                open_end.append(f.to_index(_join([row[len(row) - 1 :] for row in rows]), 0, spec.word_bits))
            else:
                settled.append(f.to_index(_join(rows), 0, spec.word_bits))
        if ends_in_word:
            cut, done = known.cut + tokens[-1].start(), values[:-1]
        else:
            cut, done = len(folded), values
        keep = max(spec.word_ngrams) - 1
        ending = np.concatenate(open_end)
        idx, cnt = _merge_counts(known.idx, known.cnt, np.concatenate([*settled, ending]))
        idx, cnt = _remove_counts(idx, cnt, known.open_end)
        grown = _Known(
            text=folded,
            idx=idx,
            cnt=cnt,
            open_end=ending,
            cut=cut,
            last=tuple(done[-keep:]) if keep else (),
        )
        return grown, idx, cnt
