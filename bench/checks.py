"""`python -m bench.checks [--rounds N] [--repeats R]`: latency of each local check (issue #13: p99 ≤ 5 ms on
2 cores, also for a 4,000-character message).

In-process, one thread, the shipped weights: the request classifier, the answer classifier (with the
request as context) and the whole local layer (normalizer + rules + classifier, `PolicyModerator.check_text`)
on a short and a 4,000-character request and answer; the multilingual request check and the local layers on a
short and a 4,000-character Japanese request. Each case runs `--rounds` times per repeat; the
machine is shared, so it repeats `--repeats` times and prints, per case, the best repeat's p50 / p99 and the
spread of p99 over the repeats (min … max).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import time
from collections.abc import Callable

from core.alignment.classifier import LocalChecks
from core.alignment.moderator import PolicyModerator
from core.alignment.policy import load_policy
from core.models import ConversationKey, IncomingMessage, Platform, Stage

SHORT_REQUEST = "Can you recommend a few board games for a family evening with two kids?"
SHORT_ANSWER = "Sure! Ticket to Ride, Carcassonne and Dixit all work well with kids from about eight."
PARAGRAPH = (
    "The history of the town begins with a small market by the river, where farmers traded grain, wool and "
    "salt. Over the centuries the market grew into a trading post, then into a walled town with a church, a "
    "guild hall and a bridge that was rebuilt three times after floods. Today visitors come for the old "
    "streets, the museum of local crafts and the walk along the embankment at sunset. "
)
LONG = (PARAGRAPH * (4000 // len(PARAGRAPH) + 1))[:4000]
# The multilingual request check (requests in ja, zh, es, fr, de): a Japanese paragraph, as long.
JA_SHORT = "週末に家族で楽しめるボードゲームをいくつか教えてください。"
JA_PARAGRAPH = (
    "町の歴史は川沿いの小さな市場から始まりました。農家は穀物や羊毛、塩を取引し、市場はやがて交易所になり、"
    "教会とギルドの会館、洪水のたびに三度架け替えられた橋のある城壁の町へと育ちました。今では古い街並みと"
    "地元の工芸の博物館、夕暮れの川沿いの散歩を目当てに人々が訪れます。"
)
JA_LONG = (JA_PARAGRAPH * (4000 // len(JA_PARAGRAPH) + 1))[:4000]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(fn: Callable[[], object], rounds: int) -> list[float]:
    for _ in range(20):  # warm-up
        fn()
    gc.collect()
    out = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.checks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    checks = LocalChecks.load()
    moderator = PolicyModerator(policy=load_policy(), checks=checks)
    key = ConversationKey(Platform.CONSOLE, "bench", "checks")

    def message(text: str) -> IncomingMessage:
        return IncomingMessage(key=key, message_id="-", author_id="b", author_name="b", text=text)

    short_msg, long_msg = message(SHORT_REQUEST), message(LONG)
    ja_short_msg, ja_long_msg = message(JA_SHORT), message(JA_LONG)
    multilingual = checks.request_check("ja")
    cases: dict[str, Callable[[], object]] = {
        "request classifier, short": lambda: checks.score_request(SHORT_REQUEST),
        "request classifier, 4,000 chars": lambda: checks.score_request(LONG),
        "answer classifier, short": lambda: checks.score_answer(SHORT_ANSWER, SHORT_REQUEST),
        "answer classifier, 4,000 chars": lambda: checks.score_answer(LONG, SHORT_REQUEST),
        "local layers on a request, short": lambda: moderator.check_text(
            SHORT_REQUEST, Stage.INPUT, short_msg
        ),
        "local layers on a request, 4,000 chars": lambda: moderator.check_text(LONG, Stage.INPUT, long_msg),
        "local layers on an answer, short": lambda: moderator.check_text(
            SHORT_ANSWER, Stage.OUTPUT, short_msg
        ),
        "local layers on an answer, 4,000 chars": lambda: moderator.check_text(LONG, Stage.OUTPUT, short_msg),
        "multilingual classifier, short (ja)": lambda: multilingual.score(JA_SHORT),
        "multilingual classifier, 4,000 chars (ja)": lambda: multilingual.score(JA_LONG),
        "local layers on a request, short (ja)": lambda: moderator.check_text(
            JA_SHORT, Stage.INPUT, ja_short_msg
        ),
        "local layers on a request, 4,000 chars (ja)": lambda: moderator.check_text(
            JA_LONG, Stage.INPUT, ja_long_msg
        ),
    }
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, {args.rounds} rounds x {args.repeats} repeats"
    )
    print(f"{'case':<42} {'p50 ms':>8} {'p99 ms':>8} {'p99 spread ms':>16}")
    for name, fn in cases.items():
        runs = [measure(fn, args.rounds) for _ in range(args.repeats)]
        p99s = [pct(r, 0.99) for r in runs]
        best = min(range(len(runs)), key=lambda i: p99s[i])
        print(
            f"{name:<42} {pct(runs[best], 0.5):>8.3f} {p99s[best]:>8.3f} "
            f"{min(p99s):>7.3f} … {max(p99s):>6.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
