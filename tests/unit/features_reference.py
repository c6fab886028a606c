"""The feature extraction exactly as it was before its speed-up (commit 7836de2), frozen: the property tests
in test_features_equivalence.py check that core/alignment/features.py gives bit-for-bit the same vectors,
so that weights trained before and after stay valid. Do not edit (it is the reference), and do not import
it outside tests."""

from __future__ import annotations

import re
import unicodedata
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IndexArray = npt.NDArray[np.int64]

_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]"
)
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w+")
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_PRIME = np.uint64(0x100000001B3)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_OFFSET = 0xCBF29CE484222325


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


def char_hashes(text: str, sizes: tuple[int, ...], seed: int) -> npt.NDArray[np.uint64]:
    """64-bit hashes of every character n-gram of `text` (padded with a space at each end), for each n in
    `sizes`. Vectorised: a rolling polynomial over the code points, one numpy pass per n."""
    codes = _codes(f" {text} ")
    out = []
    with np.errstate(over="ignore"):
        for n in sizes:
            if len(codes) < n:
                continue
            h = np.full(len(codes) - n + 1, np.uint64((_OFFSET + seed * 1_000_003 + n) & 0xFFFFFFFFFFFFFFFF))
            for k in range(n):
                h = (h ^ codes[k : len(codes) - n + 1 + k]) * _PRIME
            out.append(_mix(h))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.uint64)


def word_hashes(text: str, sizes: tuple[int, ...], seed: int) -> npt.NDArray[np.uint64]:
    """64-bit hashes of the word n-grams (`\\w+` tokens) of `text`."""
    tokens = _WORD.findall(text)
    if not tokens:
        return np.zeros(0, dtype=np.uint64)
    with np.errstate(over="ignore"):
        # each token: CRC-32 of its UTF-8 (C speed, stable), then mixed; n-grams combine token hashes
        token_h = _mix(
            np.fromiter(
                (zlib.crc32(tok.encode("utf-8", "surrogatepass"), seed) for tok in tokens),
                dtype=np.uint64,
                count=len(tokens),
            )
        )
        out = []
        for n in sizes:
            if len(tokens) < n:
                continue
            h = np.full(len(tokens) - n + 1, np.uint64(n), dtype=np.uint64)
            for k in range(n):
                h = (h ^ token_h[k : len(tokens) - n + 1 + k]) * _PRIME
            out.append(_mix(h))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.uint64)


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


def _bucket_counts(hashes: npt.NDArray[np.uint64], bits: int) -> tuple[IndexArray, FloatArray]:
    buckets = (hashes >> np.uint64(64 - bits)).astype(np.int64)
    idx, counts = np.unique(buckets, return_counts=True)
    return idx, counts.astype(np.float32)


class Featurizer:
    """`transform(text, prefix=None)` → sparse (indices, values) of one text's vector."""

    def __init__(self, spec: FeatureSpec, idf: FloatArray | None = None) -> None:
        self.spec = spec
        if idf is not None and idf.shape != (spec.dim,):
            raise ValueError(f"idf has {idf.shape} entries, the feature spec needs ({spec.dim},)")
        self.idf = idf
        offsets = np.cumsum((0, *spec.block_sizes))
        self._offsets = [int(o) for o in offsets]

    def counts(self, text: str, prefix: str | None = None) -> list[tuple[IndexArray, FloatArray]]:
        """Raw term counts per block (global indices), before tf weighting: for idf in training."""
        spec = self.spec
        texts = [fold(text)]
        if spec.prefix:
            # a prefix weighed 0 adds nothing to a score: skip reading it
            texts.append(fold(prefix or "") if spec.prefix_weight else "")
        blocks: list[tuple[IndexArray, FloatArray]] = []
        for t_i, t in enumerate(texts):
            seed = 7 * t_i
            for b_i, (hashes, bits) in enumerate(
                (
                    (word_hashes(t, spec.word_ngrams, seed), spec.word_bits),
                    (char_hashes(t, spec.char_ngrams, seed + 1), spec.char_bits),
                )
            ):
                idx, cnt = _bucket_counts(hashes, bits)
                blocks.append((idx + self._offsets[2 * t_i + b_i], cnt))
        return blocks

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
