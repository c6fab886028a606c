"""A static sentence embedding (model2vec-style): WordPiece tokens → rows of a float16 table, mean-pooled and
L2-normalised, as written by tools/distill_embeddings.py (from sentence-transformers/all-MiniLM-L6-v2).

Used only by `python -m tools.train_checks --embedding DIR` to measure whether such features help the learned
checks (docs/moderation.md "What was tried": they did not pay, nothing of it ships). Needs the `tokenizers`
package (`pip install tokenizers`) besides the `train` extra."""

from __future__ import annotations

from pathlib import Path

import numpy as np

MAX_TOKENS = 512


class StaticEmbedding:
    def __init__(self, *, table: np.ndarray, tokenizer_json: str) -> None:
        from tokenizers import Tokenizer

        self._table = table.astype(np.float32)
        self._tok = Tokenizer.from_str(tokenizer_json)
        self._tok.no_padding()
        self._tok.no_truncation()
        self.dim = int(table.shape[1])

    @classmethod
    def load(cls, folder: Path) -> StaticEmbedding:
        with np.load(folder / "embedding.npz", allow_pickle=False) as z:
            table = z["table"]
        return cls(table=table, tokenizer_json=(folder / "tokenizer.json").read_text(encoding="utf-8"))

    def ids(self, text: str) -> list[int]:
        return list(self._tok.encode(text, add_special_tokens=False).ids[:MAX_TOKENS])

    def embed(self, text: str) -> np.ndarray:
        ids = self.ids(text)
        if not ids:
            return np.zeros(self.dim, dtype=np.float32)
        v = self._table[ids].mean(axis=0)
        n = float(np.linalg.norm(v))
        return v / n if n > 0 else v

    def embed_many(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, enc in enumerate(self._tok.encode_batch(texts, add_special_tokens=False)):
            ids = enc.ids[:MAX_TOKENS]
            if ids:
                v = self._table[ids].mean(axis=0)
                n = float(np.linalg.norm(v))
                out[i] = v / n if n > 0 else v
        return out
