"""Latency of the local checks (normalizer + rules) per message: `python -m bench.rules_latency [FILE.jsonl …]`.

Each message is checked `--repeat` times at the input stage (and, with `--output`, at the output stage)
and its fastest time kept, so that a busy machine's stalls do not stand for the rules' own cost; prints
p50, p99 and max in milliseconds, also for a 4,000-character message made of the files' own text.
Default files: the shared development sets and tests/data/alignment/.

`--compare DIR` instead times the rules layer alone (normalizer, the input rules, frames) for the built-in
rule files and for those under DIR (e.g. another checkout's `core/alignment/rulefiles`), loaded side by
side in one process and run in turn, in CPU time (so that other jobs on a shared machine weigh less):
the cost of a rule change.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from core.alignment import rules
from core.alignment.moderator import PolicyModerator
from core.alignment.normalize import normalize
from core.alignment.policy import load_policy
from core.models import ConversationKey, IncomingMessage, Platform, Stage

ROOT = Path(__file__).resolve().parents[1]


def _texts(paths: list[Path]) -> list[str]:
    return [json.loads(line)["text"] for p in paths for line in p.read_text().splitlines() if line.strip()]


def _cpu_ms(ruleset: rules.RuleSet, book: rules.Frames, texts: list[str], repeat: int) -> tuple[float, float]:
    """p50 and p99 of the fastest of `repeat` CPU times per text, in milliseconds."""
    times = []
    for text in texts:
        best = float("inf")
        for _ in range(repeat):
            started = time.process_time()
            normalized = normalize(text)
            rules.decide(ruleset.matches(normalized), normalized, book)
            best = min(best, time.process_time() - started)
        times.append(best * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def compare(other: Path, texts: list[str], long_texts: list[str], repeat: int, rounds: int = 2) -> None:
    from tools.rule_report import load

    sets = {}
    for name, folder in (("built-in", None), (str(other), other)):
        loaded, book = load(folder)
        sets[name] = (rules.input_ruleset(loaded), book)
    for _ in range(rounds):
        for name, (ruleset, book) in sets.items():
            short = _cpu_ms(ruleset, book, texts, repeat)
            long = _cpu_ms(ruleset, book, long_texts, repeat)
            print(
                f"{name:<40} messages n={len(texts)} p50 {short[0]:.3f} p99 {short[1]:.3f} ms  "
                f"4,000 chars n={len(long_texts)} p50 {long[0]:.2f} p99 {long[1]:.2f} ms (CPU)"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rules_latency")
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--compare", type=Path, metavar="DIR", help="time these rule files against the built-in ones"
    )
    args = parser.parse_args(argv)
    files = args.files or [
        ROOT.parent / "shared/alignment/harmful_requests.jsonl",
        ROOT.parent / "shared/alignment/benign_requests.jsonl",
        *sorted((ROOT / "tests/data/alignment").glob("*.jsonl")),
    ]
    texts = _texts([f for f in files if f.exists()])
    joined = " ".join(texts)
    long_texts = [joined[i : i + 4000] for i in range(0, min(len(joined), 40 * 4000), 4000)]
    if args.compare is not None:
        compare(args.compare, texts, long_texts, args.repeat)
        return 0
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
