"""`python -m bench.hotpaths [--repeats R] [--json]`: the CPU time of the per-message hot paths that the
moderation layers and the model stream add, measured in-process on this machine.

Each case is timed with `time.process_time()` (the CPU this process spent, so that other processes of a
shared host count less than in wall-clock time), `--repeats` times; the best repeat is printed, in
microseconds per call. The cases: the learned request check on a short question, the answer check on the
throughput benchmark's 289-character answer and on a 4,000-character answer read once, the local layers
(normalizer, rules and the learned check: `PolicyModerator.check_text`) on each, 51 server-sent events decoded and parsed (one 50-token TGI
answer), and a relaxed stream of a 4,000-character answer: the output check (rules, answer check,
language) at each of 33 visible updates 120 characters apart, then on the whole answer.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import time
from collections.abc import Callable

from bench.checks import LONG, SHORT_REQUEST
from core.alignment.classifier import LocalChecks
from core.alignment.language import load_detector
from core.alignment.moderator import PolicyModerator
from core.alignment.policy import load_policy
from core.dialects import TGIDialect
from core.models import ConversationKey, IncomingMessage, Platform, Stage
from core.sse import SSEDecoder

ANSWER = " ".join(f"tok{i}" for i in range(50))  # what the fake model answers in `python -m bench`
REQUEST = "Tell me something nice about dolphins."  # what `python -m bench` asks
UPDATE_CHARS = 120


def best_us(fn: Callable[[], object], calls: int, repeats: int) -> float:
    for _ in range(min(calls, 20)):  # warm-up
        fn()
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        for _ in range(calls):
            fn()
        best = min(best, (time.process_time() - started) / calls * 1e6)
    return round(best, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hotpaths", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    load_detector()
    checks = LocalChecks.load()
    moderator = PolicyModerator(policy=load_policy(), checks=checks)
    key = ConversationKey(Platform.CONSOLE, "bench", "hotpaths")
    msg = IncomingMessage(key=key, message_id="-", author_id="b", author_name="b", text=REQUEST)
    # a different 4,000-character text at each call: nothing is answered from a cache
    long_texts = itertools.cycle([LONG[i:] + LONG[:i] for i in range(0, len(LONG), 7)])
    event = {"index": 3, "token": {"id": 3, "text": " tok3", "logprob": -0.1, "special": False}}
    stream = f"data:{json.dumps({**event, 'generated_text': None, 'details': None})}\n\n".encode() * 51
    dialect = TGIDialect()
    loop = asyncio.new_event_loop()

    def read_stream() -> None:
        for sse in SSEDecoder().feed(stream):
            dialect.parse_event(sse.data)

    def relaxed_stream() -> None:
        text = next(long_texts)
        for end in range(UPDATE_CHARS, len(text) + 1, UPDATE_CHARS):
            loop.run_until_complete(moderator.check_output(msg, text[:end], final=False))
        loop.run_until_complete(moderator.check_output(msg, text, final=True))

    cases: dict[str, tuple[Callable[[], object], int]] = {
        "request check, short question": (lambda: checks.score_request(SHORT_REQUEST), 2000),
        "answer check, 289-char answer": (lambda: checks.score_answer(ANSWER, REQUEST), 2000),
        "answer check, 4,000 chars read once": (lambda: checks.score_answer(next(long_texts), REQUEST), 200),
        "local layers, short question": (lambda: moderator.check_text(SHORT_REQUEST, Stage.INPUT, msg), 2000),
        "local layers, 289-char answer": (lambda: moderator.check_text(ANSWER, Stage.OUTPUT, msg), 2000),
        "local layers, 4,000-char answer": (
            lambda: moderator.check_text(next(long_texts), Stage.OUTPUT, msg),
            200,
        ),
        "51 stream events decoded and parsed": (read_stream, 500),
        "relaxed stream of 4,000 chars (33 updates + whole)": (relaxed_stream, 3),
    }
    figures = {name: best_us(fn, calls, args.repeats) for name, (fn, calls) in cases.items()}
    loop.close()
    if args.json:
        print(json.dumps(figures))
        return 0
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, best of {args.repeats} repeats, CPU µs per call"
    )
    for name, value in figures.items():
        print(f"{name:<52} {value:>10.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
