"""The numpy BERT of tools/contextual_encoder.py (measure only: `train_checks --encoder`), on a tiny random
model written here: an embedding does not depend on the batch it is padded in, a text longer than the
token limit reads as its first tokens, GELU's erf is exact enough; and the "stack" variant's threshold is
picked on the mean of the two runs' out-of-fold scores."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from tools import train_checks as tc
from tools.contextual_encoder import CachedEncoder, Encoder, _erf

WORDS = ["the", "cat", "sat", "on", "mat", "dog", "ran", "##s", "a", "big", "red", "hat"]


def _tiny_bert(folder: Path, *, layers: int = 2, dim: int = 8, heads: int = 2, positions: int = 16) -> Path:
    from safetensors.numpy import save_file
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS])}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tok.save(str(folder / "tokenizer.json"))
    rng = np.random.default_rng(0)

    def r(*shape: int) -> np.ndarray:
        return rng.normal(0, 0.5, shape).astype(np.float32)

    w = {
        "embeddings.word_embeddings.weight": r(len(vocab), dim),
        "embeddings.position_embeddings.weight": r(positions, dim),
        "embeddings.token_type_embeddings.weight": r(2, dim),
        "embeddings.LayerNorm.weight": 1 + r(dim),
        "embeddings.LayerNorm.bias": r(dim),
        "embeddings.position_ids": np.arange(positions, dtype=np.int64)[None],
    }
    for i in range(layers):
        p = f"encoder.layer.{i}."
        for name in ("query", "key", "value"):
            w[p + f"attention.self.{name}.weight"] = r(dim, dim)
            w[p + f"attention.self.{name}.bias"] = r(dim)
        w[p + "attention.output.dense.weight"] = r(dim, dim)
        w[p + "attention.output.dense.bias"] = r(dim)
        w[p + "intermediate.dense.weight"] = r(4 * dim, dim)
        w[p + "intermediate.dense.bias"] = r(4 * dim)
        w[p + "output.dense.weight"] = r(dim, 4 * dim)
        w[p + "output.dense.bias"] = r(dim)
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[p + ln + ".weight"] = 1 + r(dim)
            w[p + ln + ".bias"] = r(dim)
    save_file(w, str(folder / "model.safetensors"))
    config = {
        "hidden_act": "gelu",
        "hidden_size": dim,
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "max_position_embeddings": positions,
        "position_embedding_type": "absolute",
    }
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def test_an_embedding_does_not_depend_on_the_batch_it_is_padded_in(tmp_path: Path) -> None:
    enc = Encoder(_tiny_bert(tmp_path))
    short, long = "the cat sat", "a big red dog ran on the mat"
    alone = enc.encode([short])
    together = enc.encode([long, short])
    assert np.allclose(together[1], alone[0], atol=1e-5)
    assert np.allclose(np.linalg.norm(together, axis=1), 1, atol=1e-5)
    # and the padding is what is masked: a different text gives a different vector
    assert not np.allclose(together[0], together[1], atol=1e-2)


def test_a_text_beyond_the_token_limit_reads_as_its_first_tokens(tmp_path: Path) -> None:
    enc = Encoder(_tiny_bert(tmp_path), max_tokens=6)
    # [CLS] the cat sat on [SEP]: what follows the fourth word is cut
    head, longer = enc.encode(["the cat sat on", "the cat sat on the mat and a big red hat"])
    assert np.allclose(head, longer, atol=1e-6)


def test_the_cache_returns_what_the_encoder_gave_and_keeps_it_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    enc = Encoder(_tiny_bert(tmp_path))
    cache = tmp_path / "cache" / "e.npz"
    first = CachedEncoder(enc, cache).embed_many(["the cat", "a dog ran", "the cat"])
    assert cache.is_file()
    assert np.array_equal(first[0], first[2])
    again = CachedEncoder(enc, cache)

    def miss(*_: object, **__: object) -> None:
        raise AssertionError("encoded again")

    monkeypatch.setattr(enc, "encode", miss)  # everything comes from the file
    assert np.array_equal(again.embed_many(["a dog ran", "the cat"]), first[[1, 0]])


def test_gelu_erf_is_within_two_ten_millionths_of_math_erf() -> None:
    x = np.linspace(-6, 6, 2001, dtype=np.float64)
    ref = np.array([math.erf(v) for v in x])
    assert np.abs(_erf(x) - ref).max() < 2e-7


def test_the_stack_threshold_is_picked_on_the_mean_of_both_runs_out_of_fold_scores() -> None:
    cfg = tc.StageConfig(tc.REQUEST, "input", tc.FeatureSpec(), 1e-5, True, 0.3, 0.25, False)
    unsafe = np.array([False] * 4 + [True] * 4)
    items = [tc.Item(text=str(i), unsafe=i < 2, source="s") for i in range(4)]

    def run(oof: list[float], unseen: list[float]) -> tc.StageResult:
        return tc.StageResult(
            final=None,  # type: ignore[arg-type]
            threshold=0.5,
            figures={},
            matrix=None,  # type: ignore[arg-type]
            ship_rows=[],
            alternatives={},
            unseen=[("loso:s", items, np.array(unseen))],
            oof=np.array(oof),
            oof_unsafe=unsafe,
        )

    # out of fold: safe items 0.875, 0.125, 0.125, 0.125 in one run, 0.125, 0.625, 0.125, 0.125 in the other
    a = run([0.875, 0.125, 0.125, 0.125, 0.875, 0.875, 0.875, 0.875], [0.875, 0.25, 0.5, 0.125])
    b = run([0.125, 0.625, 0.125, 0.125, 0.875, 0.875, 0.875, 0.875], [0.25, 0.875, 0.125, 0.125])
    s = tc.stacked(a, b, cfg)
    # means of the safe items: 0.5, 0.375, 0.125, 0.125; one in four (25 %) may be flagged: just above 0.375
    assert 0.375 < s.threshold < 0.38
    assert s.figures["loso"]["s"]["recall"] == 1.0  # 0.5625 and 0.5625 on the harmful items
    assert s.figures["loso"]["s"]["fpr"] == 0.0  # 0.3125 and 0.125 on the safe ones
