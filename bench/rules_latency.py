"""Latency of the local checks (normalizer + rules) per message: `python -m bench.rules_latency [FILE.jsonl …]`.

Each message is checked `--repeat` times at the input stage (and, with `--output`, at the output stage)
and its fastest time kept, so that a busy machine's stalls do not stand for the rules' own cost; prints
p50, p99 and max in milliseconds, also for a 4,000-character message made of the files' own text.
Default files: the shared development sets and tests/data/alignment/.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from core.alignment.moderator import PolicyModerator
from core.alignment.policy import load_policy
from core.models import ConversationKey, IncomingMessage, Platform, Stage

ROOT = Path(__file__).resolve().parents[1]


def _texts(paths: list[Path]) -> list[str]:
    return [json.loads(line)["text"] for p in paths for line in p.read_text().splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rules_latency")
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    files = args.files or [
        ROOT.parent / "shared/alignment/harmful_requests.jsonl",
        ROOT.parent / "shared/alignment/benign_requests.jsonl",
        *sorted((ROOT / "tests/data/alignment").glob("*.jsonl")),
    ]
    texts = _texts([f for f in files if f.exists()])
    joined = " ".join(texts)
    long_texts = [joined[i : i + 4000] for i in range(0, min(len(joined), 40 * 4000), 4000)]
    moderator = PolicyModerator(policy=load_policy())
    msg = IncomingMessage(
        key=ConversationKey(Platform.DISCORD, "g", "c"),
        message_id="m",
        author_id="u",
        author_name="U",
        text="",
    )
    for name, batch in (("messages", texts), ("4,000-character messages", long_texts)):
        for stage in (Stage.INPUT, Stage.OUTPUT):
            times = []
            for text in batch:
                best = float("inf")
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    moderator.check_text(text, stage, msg)
                    best = min(best, time.perf_counter() - started)
                times.append(best * 1000)
            times.sort()
            p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
            print(
                f"{name:<26} {stage.value:<6} n={len(times):<5} p50 {statistics.median(times):.3f} ms  "
                f"p99 {p99:.3f} ms  max {times[-1]:.3f} ms"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
