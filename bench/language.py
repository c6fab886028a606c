"""`python -m bench.language [--rounds N]`: what detecting the language of a message costs.

The real detector (core/alignment/language.py, py3langid): the one-time model load, then the time of one
`detect_language` call on short messages in six languages and on 4,000-character ones (of which only the
first DETECT_CHARS characters are read), each text a fresh string so that the per-text cache does not
answer. Figures are per call, in microseconds: median, 99th percentile and maximum of the wall-clock
time, and median and 99th percentile of the thread's CPU time (what the call cost, without the time
other processes of a busy host held the core).

`--corpus FILE.jsonl …`: also how often the detected language agrees with the records' `lang` field, per
language (the share detected as that language, as `und`, and as another language).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import statistics
import time

from core.alignment.language import DETECT_CHARS, detect_language, load_detector

SHORT = [
    "今日はいい天気ですね。",
    "明日の会議は何時からですか",
    "你能帮我写一首诗吗",
    "这个周末我们去哪里玩",
    "¿Cuál es la capital de Francia?",
    "Necesito ayuda con mi tarea de matemáticas",
    "Peux-tu m'aider à écrire une lettre ?",
    "Kannst du mir bei meinen Hausaufgaben helfen?",
    "Can you help me write a cover letter?",
    "What's the capital of France?",
    "ok",
    "👍",
]
LONG = [
    ("これは長いメッセージです。会議の議事録をまとめてください。" * 200)[:4000],
    ("Please summarise the minutes of the meeting for me. " * 100)[:4000],
    ("Résume-moi le compte rendu de la réunion, s'il te plaît. " * 100)[:4000],
]


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(texts: list[str], rounds: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU time of each call, in µs (CPU time leaves out the time other processes of a
    busy host took the core)."""
    wall, cpu = [], []
    for n in range(rounds):
        for text in texts:
            fresh = f"{n} {text}"  # a new string each round (its head too): no cache hit
            started, started_cpu = time.perf_counter(), time.thread_time()
            detect_language(fresh)
            cpu.append((time.thread_time() - started_cpu) * 1e6)
            wall.append((time.perf_counter() - started) * 1e6)
    return wall, cpu


def row(name: str, times: tuple[list[float], list[float]]) -> str:
    wall, cpu = times
    return (
        f"{name:<28} {len(wall):>7} {statistics.median(wall):>9.1f} {pct(wall, 0.99):>9.1f} "
        f"{max(wall):>9.1f} {statistics.median(cpu):>9.1f} {pct(cpu, 0.99):>9.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--corpus", nargs="*", default=[], help="JSONL records with `text` and `lang`")
    args = parser.parse_args()
    import numpy  # imported by the service anyway (mistral-common): not the detector's cost

    del numpy
    rss_before, peak_before = rss_mib(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    load_detector()
    load_s = time.perf_counter() - started
    rss_after, peak_after = rss_mib(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"cpus {os.cpu_count()}  load average {os.getloadavg()[0]:.1f}  model load {load_s:.2f} s  resident memory +{rss_after - rss_before:.0f} MiB "
        f"(peak while loading +{peak_after - peak_before:.0f} MiB)"
    )
    print(
        f"{'texts':<28} {'calls':>7} {'p50 µs':>9} {'p99 µs':>9} {'max µs':>9} {'cpu p50':>9} {'cpu p99':>9}"
    )
    print(row("short (6 languages, und)", timed(SHORT, args.rounds)))
    print(row(f"4,000 chars (reads {DETECT_CHARS})", timed(LONG, max(1, args.rounds // 4))))
    if args.corpus:
        agreement(args.corpus)


def agreement(paths: list[str]) -> None:
    total: collections.Counter[str] = collections.Counter()
    same: collections.Counter[str] = collections.Counter()
    und: collections.Counter[str] = collections.Counter()
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                record = json.loads(line)
                lang, found = record.get("lang"), detect_language(record["text"])
                if not isinstance(lang, str):
                    continue
                total[lang] += 1
                same[lang] += found == lang
                und[lang] += found == "und"
    print()
    print(f"{'lang':<6} {'n':>6} {'same':>7} {'und':>7} {'other':>7}")
    for lang in sorted(total):
        n = total[lang]
        other = n - same[lang] - und[lang]
        print(f"{lang:<6} {n:>6} {same[lang] / n:>7.3f} {und[lang] / n:>7.3f} {other / n:>7.3f}")


if __name__ == "__main__":
    main()
