"""`python -m tools.pick_hold_level`: the strict-streaming suspicion hold's level
(policy `layers.classifier.output_hold_threshold`, docs/moderation.md "The suspicion hold").

Strict streaming checks a partial answer at look-ahead + a quarter chunk characters, then every chunk; the
hold shows nothing more while the answer check scores the text so far at or above the level. The level is
picked on the safe answers of the training corpus (`output_train.jsonl`), never on a judged set: of those
the answer check allows whole and that are long enough to be checked while they stream, the share that
any of their checked prefixes would hold is at most `--max-held`. These are the answers the shipped
weights were trained on (in-sample): their scores are lower than an unseen safe answer's, so the level
comes out lower than out-of-fold scores would put it, and more unseen safe answers are held than
`--max-held` (the safe side: more held, never more shown).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from core.alignment.classifier import LocalChecks
from core.settings import AlignmentSettings

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "alignment" / "corpus" / "output_train.jsonl"


def main() -> None:
    defaults = AlignmentSettings()
    parser = argparse.ArgumentParser(
        prog="python -m tools.pick_hold_level", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--data", type=Path, default=CORPUS)
    parser.add_argument("--lookahead", type=int, default=defaults.stream_lookahead_chars)
    parser.add_argument("--chunk", type=int, default=defaults.stream_chunk_chars)
    parser.add_argument("--max-held", type=float, default=0.05, help="share of safe answers held (0.05)")
    args = parser.parse_args()
    checks = LocalChecks.load()
    threshold = checks.answer.threshold
    peaks: list[float] = []  # per safe answer checked while streaming: its highest partial score
    prefixes: list[float] = []
    for line in args.data.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        text, prompt = str(r["text"]).strip(), r.get("prompt") or None
        if r["unsafe"] or checks.score_answer(text, prompt) >= threshold:
            continue  # harmful, or blocked whole anyway
        ends = range(args.lookahead + max(1, args.chunk // 4), len(text), args.chunk)
        scores = [checks.score_answer(text[:n], prompt) for n in ends]
        if scores:
            peaks.append(max(scores))
            prefixes.extend(scores)
    peak, prefix = np.array(peaks), np.array(prefixes)
    print(f"{args.data}: {len(peaks)} safe answers checked while streaming, {len(prefixes)} partial checks")
    for share in sorted({0.01, 0.02, 0.03, args.max_held, 0.10}):
        level = float(np.quantile(peak, 1 - share))
        print(
            f"  held answers ≤ {share:.0%}: level {level:.3f} (partial checks held {np.mean(prefix >= level):.1%})"
        )
    print(f"level for --max-held {args.max_held:g}: {float(np.quantile(peak, 1 - args.max_held)):.3f}")


if __name__ == "__main__":
    main()
