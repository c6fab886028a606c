"""`dolphin-relay policy check|eval|replay`: run the moderation policy over messages, without any chat platform.

- `policy check [--stage input|output] [--policy FILE]`: JSONL with a `text` field on standard input, one
  JSONL verdict per line on standard output (same order, flushed per line). With `--stage output` a record
  may carry the request the answer replies to as `prompt`: the answer checks read it as context.
- `policy eval FILE.jsonl … [--policy FILE]`: labeled `{"text", "unsafe"}` records (and `prompt` for
  answers); prints precision,
  recall, F1, false-positive rate and p50/p99 latency per file and overall; per language when records
  carry `lang` (or with `--by-language`, by detection).
- `policy replay --policy NEW.yaml [--days N]`: the decisions of the audit stream of the last N days (Redis
  at REDIS_URL) decided again with a changed policy; prints what would change: newly blocked and newly
  allowed, per category, with a few examples. Allowed decisions are in the stream only when the policy that
  recorded them had `audit.record_allowed` (docs/moderation.md). Members' reports of answers (core/reports.py)
  are replayed too: how many reported answers the changed policy would block or flag.
- `policy reports [--days N] [--output FILE]`: members' reports of the last N days as labeled JSONL (one
  record per reported answer: `text` the answer, `prompt` the request, `unsafe: true`, `reports` how many
  members reported it), the input of `policy eval --stage output`; review the labels first.

All use the local layers (normalizer + rules + the learned classifier); with `--guard-url` (a guard server: Qwen3Guard on vLLM or
SGLang, or Llama Guard on TGI; which one is asked from the server) or `--self-check URL` (the main model
judging) the guard-model layer joins in.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.alignment import language
from core.alignment.audit import AuditEvent, AuditLog
from core.alignment.autoguard import UnknownGuardModel
from core.alignment.language import detect_language
from core.alignment.moderator import PolicyModerator, build_moderator
from core.alignment.policy import Audit
from core.errors import ConfigurationError, ModerationUnavailable
from core.models import Action, ConversationKey, IncomingMessage, Platform
from core.reports import REPORT_ACTION
from core.settings import AlignmentSettings

_KEY = ConversationKey(Platform.CONSOLE, "local", "policy")


def add_policy_parser(subparsers: Any) -> None:
    policy = subparsers.add_parser("policy", help="check or evaluate the moderation policy on text")
    sub = policy.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    check = sub.add_parser(
        "check", help="JSONL {text[, prompt]} on stdin → one JSONL verdict per line on stdout"
    )
    check.add_argument("--stage", choices=["input", "output"], default="input")
    _common(check)
    check.set_defaults(handler=run_check)
    ev = sub.add_parser("eval", help="precision, recall, F1, FPR and latency on labeled JSONL files")
    ev.add_argument("files", nargs="+", type=Path, help='JSONL files of {"text": …, "unsafe": true|false}')
    ev.add_argument("--stage", choices=["input", "output"], default="input")
    ev.add_argument(
        "--by-category",
        action="store_true",
        help="also print one row per `category` field of the records (where they have one)",
    )
    ev.add_argument(
        "--by-language",
        action="store_true",
        help="also print one row per language: the records' `lang` field, else the detected language "
        "(printed anyway when records carry `lang`)",
    )
    ev.add_argument(
        "--errors",
        action="store_true",
        help="also list every wrong verdict (missed harmful, blocked benign) with the category it got",
    )
    _common(ev)
    ev.set_defaults(handler=run_eval)
    rp = sub.add_parser(
        "replay", help="decide the audit stream of the last N days again with a changed policy; print changes"
    )
    rp.add_argument("--days", type=_days, default=7.0, help="how far back to replay (default 7)")
    rp.add_argument("--examples", type=int, default=3, help="examples shown per change (default 3)")
    rp.add_argument("--json", action="store_true", help="print the summary as one JSON object instead")
    _common(rp)
    rp.set_defaults(handler=run_replay)
    reports = sub.add_parser(
        "reports", help="members' reports of answers as labeled JSONL for `policy eval --stage output`"
    )
    reports.add_argument("--days", type=_days, default=30.0, help="how far back to read (default 30)")
    reports.add_argument("--output", type=Path, default=None, help="write here (default: standard output)")
    reports.set_defaults(handler=run_reports)


def _days(value: str) -> float:
    """`--days`: a positive number of days (0 or less would read nothing and say so as if it were a result)."""
    try:
        days = float(value)
    except ValueError:
        days = float("nan")
    if not days > 0 or days == float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive number of days (e.g. 7 or 0.5)")
    return days


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", type=Path, default=None, help="policy YAML (default: the bundled one)")
    judge = parser.add_mutually_exclusive_group()
    judge.add_argument(
        "--guard-url",
        default=None,
        help="also ask a guard server (Qwen3Guard on vLLM/SGLang, Llama Guard on TGI)",
    )
    judge.add_argument(
        "--self-check",
        metavar="URL",
        default=None,
        help="also ask the main model server at URL to judge (ALIGNMENT_GUARD_MODE=self-check)",
    )
    parser.add_argument(
        "--backend",
        choices=["tgi", "vllm", "sglang", "openai"],
        default="tgi",
        help="the --self-check server's API (as TGI_BACKEND; default tgi)",
    )
    parser.add_argument("--adult", action="store_true", help="evaluate as an age-restricted channel")


def _message(text: str, adult: bool) -> IncomingMessage:
    return IncomingMessage(
        key=_KEY, message_id="-", author_id="policy", author_name="policy", text=text, adult_channel=adult
    )


def _json_line(line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at column {exc.colno})") from None


def _prompt(record: Any) -> str | None:
    prompt = record.get("prompt") if isinstance(record, dict) else None
    if prompt is not None and not isinstance(prompt, str):
        raise TypeError("prompt must be a string")
    return prompt


async def _verdict(
    moderator: PolicyModerator, text: str, stage: str, adult: bool, prompt: str | None = None
) -> dict[str, Any]:
    # an answer is checked as the service checks it: the message is the user's request (`prompt`)
    msg = _message(text if stage == "input" else (prompt or ""), adult)
    try:
        if stage == "input":
            v = await moderator.check_input(msg)
        else:
            v = await moderator.check_output(msg, text, final=True)
    except ModerationUnavailable as exc:
        error = exc.notice
        if isinstance(exc.__cause__, UnknownGuardModel):  # reachable, but not a guard: say so, not "down"
            error = str(exc.__cause__).replace("ALIGNMENT_GUARD_URL", "--guard-url")
        return {"action": "error", "category": None, "layer": None, "score": None, "error": error}
    return {"action": v.action.value, "category": v.category, "layer": v.layer, "score": v.score}


@contextlib.asynccontextmanager
async def _moderator(args: argparse.Namespace) -> AsyncIterator[PolicyModerator]:
    """The policy's moderator with the judge the options name: local layers only, Llama Guard, or the
    self-check through the project's own model client."""
    async with contextlib.AsyncExitStack() as stack:
        http = None
        generator = None
        if args.guard_url:
            import httpx

            http = await stack.enter_async_context(httpx.AsyncClient())
            try:
                settings = AlignmentSettings(policy_file=args.policy, guard_url=args.guard_url)
            except ValidationError as exc:
                raise _option_error("--guard-url", exc) from None
        elif args.self_check:
            from core.llm import build_generator, build_model_session
            from core.settings import TGISettings

            try:
                tgi = TGISettings(url=args.self_check, backend=args.backend)
            except ValidationError as exc:
                raise _option_error("--self-check", exc) from None
            session = await stack.enter_async_context(build_model_session(tgi))
            generator = await stack.enter_async_context(
                build_generator(http=session, settings=tgi, urls=[u.strip() for u in tgi.url.split(",")])
            )
            settings = AlignmentSettings(policy_file=args.policy, guard_mode="self-check")
        else:
            settings = AlignmentSettings(policy_file=args.policy)
        yield build_moderator(
            settings=settings, redis=None, http=http, key_prefix="policy", mute=None, generator=generator
        )


def _option_error(option: str, exc: ValidationError) -> ConfigurationError:
    """One line for a URL option the settings refused (pydantic's own text spans several lines)."""
    problems = "; ".join(err["msg"].removeprefix("Value error, ") for err in exc.errors())
    return ConfigurationError(f"{option}: {problems}", setting=option)


def run_check(args: argparse.Namespace) -> int:
    return _run(_check(args))


def run_eval(args: argparse.Namespace) -> int:
    return _run(_eval(args))


def run_replay(args: argparse.Namespace) -> int:
    return _run(_replay(args))


def run_reports(args: argparse.Namespace) -> int:
    return _run(_reports(args))


def _run(coro: Any) -> int:
    from core.observability import configure_logging
    from core.settings import LogSettings

    configure_logging(LogSettings(level="WARNING"))
    try:
        return int(asyncio.run(coro))
    except ConfigurationError as exc:
        message = str(exc)
        if exc.setting == "ALIGNMENT_POLICY_FILE":  # here the file came from --policy, not the setting
            message = message.removeprefix("ALIGNMENT_POLICY_FILE: ")
            message = message if message.startswith("--policy") else f"--policy: {message}"
        print(f"dolphin-relay: {message}", file=sys.stderr)
        return 2


async def _check(args: argparse.Namespace) -> int:
    async with _moderator(args) as moderator:
        for n, line in enumerate(sys.stdin, 1):
            if not line.strip():
                continue
            try:
                record = _json_line(line)
                if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                    raise TypeError('not a JSON object with a "text" string')
                text = record["text"]
                prompt = _prompt(record)
            except (ValueError, TypeError) as exc:
                out: dict[str, Any] = {"action": "error", "category": None, "error": f"line {n}: {exc}"}
            else:
                out = await _verdict(moderator, text, args.stage, args.adult, prompt)
            sys.stdout.write(json.dumps(out) + "\n")
            sys.stdout.flush()
    return 0


@dataclass
class _Tally:
    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def count(self, *, predicted: bool, unsafe: bool, elapsed_ms: float) -> None:
        self.tp += predicted and unsafe
        self.fp += predicted and not unsafe
        self.tn += (not predicted) and not unsafe
        self.fn += (not predicted) and unsafe
        self.latencies_ms.append(elapsed_ms)

    def add(self, other: _Tally) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.tn += other.tn
        self.fn += other.fn
        self.latencies_ms += other.latencies_ms

    def row(self, name: str) -> str:
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else float("nan")
        fpr = self.fp / (self.fp + self.tn) if self.fp + self.tn else float("nan")
        lat = sorted(self.latencies_ms) or [0.0]
        p50 = statistics.median(lat)
        p99 = lat[min(len(lat) - 1, round(0.99 * (len(lat) - 1)))]
        n = self.tp + self.fp + self.tn + self.fn
        return f"{name:<40} {n:>6} {_f(precision)} {_f(recall)} {_f(f1)} {_f(fpr)} {p50:>9.3f} {p99:>9.3f}"


def _f(x: float) -> str:
    return f"{x:>9.3f}" if x == x else f"{'—':>9}"


async def _eval(args: argparse.Namespace) -> int:
    async with _moderator(args) as moderator:
        return await _eval_with(moderator, args)


async def _eval_with(moderator: PolicyModerator, args: argparse.Namespace) -> int:
    total = _Tally()
    by_category: dict[str, _Tally] = {}
    by_language: dict[str, _Tally] = {}
    errors: list[str] = []
    texts = []
    for path in args.files:  # every file read before the table starts: a wrong name is the only output
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            print(f"dolphin-relay: cannot read {path}: {reason}", file=sys.stderr)
            return 2
    # The language detector's model loads in the background (about a second): wait for it here, or the
    # first record's latency would be the load's and p99 of a small file or row would say so.
    await asyncio.to_thread(language.load_detector)
    print(_HEADER)
    for path, text in zip(args.files, texts, strict=True):
        tally = _Tally()
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = _json_line(line)
                if not isinstance(record, dict):
                    raise TypeError('not a JSON object ({"text": …, "unsafe": true|false})')
                text, unsafe = record["text"], record["unsafe"]
                if not isinstance(text, str) or not isinstance(unsafe, bool):
                    raise TypeError('"text" must be a string and "unsafe" true or false')
                prompt = _prompt(record)
            except (ValueError, KeyError, TypeError) as exc:
                why = f'no "{exc.args[0]}" field' if isinstance(exc, KeyError) else str(exc)
                print(f"dolphin-relay: {path}:{n}: not a labeled record: {why}", file=sys.stderr)
                return 2
            started = time.perf_counter()
            verdict = await _verdict(moderator, text, args.stage, args.adult, prompt)
            elapsed_ms = (time.perf_counter() - started) * 1000
            if verdict["action"] == "error":  # counted, it would pass for an allow: the figures would lie
                why = (
                    f"({verdict['error']}): a layer failed, most often the judge of --guard-url or "
                    "--self-check; make it reachable and run again"
                    if verdict["error"] == ModerationUnavailable.notice
                    else f"({verdict['error']})"
                )
                print(f"dolphin-relay: {path}:{n}: no verdict {why}", file=sys.stderr)
                return 2
            predicted = verdict["action"] in (Action.BLOCK.value, Action.FLAG.value)
            tally.count(predicted=predicted, unsafe=unsafe, elapsed_ms=elapsed_ms)
            if args.by_category and isinstance(record.get("category"), str):
                label = f"{'unsafe' if unsafe else 'safe'}:{record['category']}"
                by_category.setdefault(label, _Tally()).count(
                    predicted=predicted, unsafe=unsafe, elapsed_ms=elapsed_ms
                )
            lang = record.get("lang")
            if isinstance(lang, str) or args.by_language:
                lang = lang if isinstance(lang, str) else detect_language(text)
                by_language.setdefault(lang, _Tally()).count(
                    predicted=predicted, unsafe=unsafe, elapsed_ms=elapsed_ms
                )
            if args.errors and predicted != unsafe:
                kind = "missed" if unsafe else f"{verdict['action']} {verdict['category']}"
                errors.append(f"{path.name}:{n}: {kind}: {text[:160]!r}")
        print(tally.row(str(path.name)))
        total.add(tally)
    if len(args.files) > 1:
        print(total.row("overall"))
    if by_category:
        print()
        print(_HEADER.replace("file", "category", 1))
        for label in sorted(by_category, key=_category_order):
            print(by_category[label].row(label))
    if by_language:
        print()
        print(_HEADER.replace("file", "language", 1))
        for lang in sorted(by_language):
            print(by_language[lang].row(lang))
    if errors:
        print()
        print("\n".join(errors))
    return 0


# ------------------------------------------------------------------------------------------------- replay


@dataclass
class _Change:
    count: int = 0
    by_stage: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    def add(self, stage: str, category: str, example: str, keep: int) -> None:
        self.count += 1
        self.by_stage[stage] = self.by_stage.get(stage, 0) + 1
        self.by_category[category] = self.by_category.get(category, 0) + 1
        if len(self.examples) < keep:
            self.examples.append(example)


# The layers a recorded verdict came from that `replay` can ask again only with --guard-url / --self-check.
_GUARD_LAYERS = frozenset({"guard", "self-check"})
_SEVERITY = (Action.ALLOW.value, Action.FLAG.value, Action.BLOCK.value)

_CHANGES = (
    ("newly blocked", "category now"),
    ("newly allowed", "category before"),
    ("newly flagged", "category now"),
    ("no longer flagged", "category before"),
)


def _change_of(before: str, after: str) -> str | None:
    if before == after:
        return None
    if after == Action.BLOCK.value:
        return "newly blocked"
    if before == Action.BLOCK.value:
        return "newly allowed"  # now allowed or only flagged: the user would get an answer
    return "newly flagged" if after == Action.FLAG.value else "no longer flagged"


def _replay_message(event: AuditEvent) -> IncomingMessage:
    try:
        platform = Platform(event.platform)
    except ValueError:
        platform = Platform.CONSOLE
    key = ConversationKey(platform, event.space, event.channel, event.thread or None)
    return IncomingMessage(
        key=key,
        message_id=event.message_id,
        author_id=event.user_id,
        author_name=event.author_name,
        text=(event.text or event.excerpt) if event.stage == "input" else event.prompt,
        adult_channel=event.adult_channel,
    )


@contextlib.asynccontextmanager
async def _trail(args: argparse.Namespace, audit: Audit) -> AsyncIterator[AuditLog]:
    """The audit stream at REDIS_URL (REDIS_KEY_PREFIX), read with the trail's own reader; its caps are not
    applied here (nothing is written)."""
    from bots.runtime import build_redis, check_redis
    from core.keys import KeySpace
    from core.settings import load_settings

    settings = load_settings(getattr(args, "env_file", ".env"))  # REDIS_URL, REDIS_KEY_PREFIX
    redis = build_redis(settings)
    try:
        await check_redis(redis, settings.redis.url)
        yield AuditLog(redis=redis, keys=KeySpace(settings.redis.key_prefix), audit=audit)
    finally:
        await redis.aclose()


async def _replay(args: argparse.Namespace) -> int:
    async with _moderator(args) as moderator, _trail(args, moderator.policy.audit) as trail:
        return await _replay_with(moderator, trail, args)


async def _reports(args: argparse.Namespace) -> int:
    async with _trail(args, Audit()) as trail:
        return await _reports_with(trail, args)


@dataclass
class _Reported:
    """One reported answer (its reports grouped by the message)."""

    event: AuditEvent
    reports: int = 0


async def reported_answers(trail: AuditLog, since: float) -> list[_Reported]:
    """The answers members reported since unix time `since`, oldest first, one per reported message."""
    found: dict[tuple[str, str, str, str], _Reported] = {}
    async for event in trail.since(since):
        if event.action == REPORT_ACTION:  # a Slack ts is unique within its channel only
            message = (event.platform, event.space, event.channel, event.message_id)
            found.setdefault(message, _Reported(event)).reports += 1
    return list(found.values())


async def _reports_with(trail: AuditLog, args: argparse.Namespace) -> int:
    reported = await reported_answers(trail, time.time() - args.days * 86400)
    lines, no_text = [], 0
    for item in reported:
        event = item.event
        if not event.text:
            no_text += 1  # recorded without text (audit.store_excerpt: false)
            continue
        record: dict[str, Any] = {
            "text": event.text,
            "prompt": event.prompt,
            "unsafe": True,  # a member's word: review before measuring with it
            "category": "reported",
            "reports": item.reports,
            "platform": event.platform,
            "time": round(event.time, 3),
        }
        if event.language:
            record["lang"] = event.language
        lines.append(json.dumps(record, ensure_ascii=False))
    out = "".join(f"{line}\n" for line in lines)
    if args.output is None:
        sys.stdout.write(out)
    else:
        try:
            args.output.write_text(out, encoding="utf-8")
        except OSError as exc:
            print(
                f"dolphin-relay: --output {args.output}: cannot write it ({exc.strerror}): "
                "give a path in a directory you can write to, or leave --output out for standard output",
                file=sys.stderr,
            )
            return 2
    print(f"{len(lines)} reported answers written", file=sys.stderr)
    if no_text:
        print(f"{no_text} skipped: recorded without text (audit.store_excerpt: false)", file=sys.stderr)
    return 0


async def _replay_with(moderator: PolicyModerator, trail: AuditLog, args: argparse.Namespace) -> int:
    since = time.time() - args.days * 86400
    changes = {name: _Change() for name, _ in _CHANGES}
    total = replayed = no_text = excerpt_only = unchanged = errors = guard_kept = 0
    policy = moderator.policy
    reports = _ReportTally()
    async for event in trail.since(since):
        if event.action == REPORT_ACTION:
            await reports.decide(moderator, event, args.examples)
            continue
        total += 1
        text = event.text or event.excerpt
        if not text:
            no_text += 1  # the policy that recorded it stored no text (store_excerpt: false)
            continue
        excerpt_only += not event.text
        msg = _replay_message(event)
        try:
            if event.stage == "input":
                verdict = await moderator.check_input(msg)
            else:
                verdict = await moderator.check_output(msg, text, final=True)
        except ModerationUnavailable:
            errors += 1
            continue
        replayed += 1
        action, category_now = verdict.action.value, verdict.category
        if moderator.guard is None and event.layer in _GUARD_LAYERS and event.category in policy.categories:
            # No guard to ask again: what it said then stands, with this policy's action for its category
            # (never stricter than then: a recorded flag may be a "controversial" verdict kept to a flag).
            guard_kept += 1
            then = _SEVERITY.index(event.action) if event.action in _SEVERITY else 0
            now = _SEVERITY.index(policy.action_for(event.category, msg).value)
            if min(then, now) > _SEVERITY.index(action):
                action, category_now = _SEVERITY[min(then, now)], event.category
        kind = _change_of(event.action, action)
        if kind is None:
            unchanged += 1
            continue
        now_side = kind in ("newly blocked", "newly flagged")
        category = (category_now if now_side else event.category) or "-"
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(event.time))
        line = " ".join(text.split())
        example = (
            f"{when} {event.platform} {event.stage:<6} {event.action}→{action} "
            f"{category}: {line[:100]!r}{'…' if len(line) > 100 else ''}"
        )
        changes[kind].add(event.stage, category, example, args.examples)
    if args.json:
        print(
            json.dumps(
                {
                    "days": args.days,
                    "recorded": total,
                    "replayed": replayed,
                    "unchanged": unchanged,
                    "skipped_no_text": no_text,
                    "excerpt_only": excerpt_only,
                    "errors": errors,
                    "guard_verdicts_kept": guard_kept,
                    "changes": {
                        name: {"count": c.count, "by_stage": c.by_stage, "by_category": c.by_category}
                        for name, c in changes.items()
                    },
                    "reported_answers": reports.summary(),
                }
            )
        )
        return 0
    print(
        f"{total} decisions recorded in the last {args.days:g} days; {replayed} decided again with "
        f"{args.policy or 'the bundled policy'} ({'with the guard model' if moderator.guard else 'local layers'})"
    )
    if no_text:
        print(f"{no_text} skipped: recorded without text (audit.store_excerpt: false)")
    if excerpt_only:
        print(
            f"{excerpt_only} decided on the {policy.audit.excerpt_chars}-character excerpt only (audit.replay_chars: 0)"
        )
    if errors:
        print(f"{errors} not decided: a layer failed closed")
    if guard_kept:
        print(
            f"{guard_kept} decided by the guard model when recorded: without --guard-url its verdict stands, "
            "with this policy's action for its category"
        )
    print(f"unchanged: {unchanged}")
    for name, side in _CHANGES:
        change = changes[name]
        stages = ", ".join(f"{stage} {n}" for stage, n in sorted(change.by_stage.items()))
        print(f"{name}: {change.count}" + (f" ({stages})" if stages else ""))
        for category, n in sorted(change.by_category.items(), key=lambda kv: (-kv[1], kv[0])):
            label = policy.categories[category].name if category in policy.categories else ""
            print(f"  {category:<4} {label:<28} {n:>6}   ({side})")
        for example in change.examples:
            print(f"    e.g. {example}")
    if changes["newly allowed"].by_stage.get("input"):
        print(
            "note: requests newly allowed were never answered; their answers are not in the stream to replay"
        )
    reports.print()
    return 0


@dataclass
class _ReportTally:
    """Members' reports in a replay: each reported answer decided again, once however many reported it."""

    actions: dict[str, int] = field(default_factory=dict)
    reports: int = 0
    no_text: int = 0
    still_allowed: list[str] = field(default_factory=list)
    _seen: set[tuple[str, str]] = field(default_factory=set)

    async def decide(self, moderator: PolicyModerator, event: AuditEvent, keep: int) -> None:
        self.reports += 1
        if (event.platform, event.message_id) in self._seen:
            return
        self._seen.add((event.platform, event.message_id))
        answer = event.text or event.excerpt
        if not answer:
            self.no_text += 1
            return
        try:
            verdict = await moderator.check_output(_replay_message(event), answer, final=True)
        except ModerationUnavailable:
            action = "error"
        else:
            action = verdict.action.value
        self.actions[action] = self.actions.get(action, 0) + 1
        if action == Action.ALLOW.value and len(self.still_allowed) < keep:
            when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(event.time))
            line = " ".join(answer.split())
            self.still_allowed.append(
                f"{when} {event.platform}: {line[:100]!r}{'…' if len(line) > 100 else ''}"
            )

    def summary(self) -> dict[str, Any]:
        return {
            "answers": len(self._seen),
            "reports": self.reports,
            "skipped_no_text": self.no_text,
            "now": dict(self.actions),
        }

    def print(self) -> None:
        if not self.reports:
            return
        decided = ", ".join(f"{action} {n}" for action, n in sorted(self.actions.items()))
        print(
            f"reported by members: {len(self._seen)} answers ({self.reports} reports); with this policy: "
            f"{decided or 'none decided'}"
        )
        if self.no_text:
            print(f"  {self.no_text} skipped: recorded without text (audit.store_excerpt: false)")
        for example in self.still_allowed:
            print(f"    still allowed, e.g. {example}")


_HEADER = (
    f"{'file':<40} {'n':>6} {'precision':>9} {'recall':>9} {'F1':>9} {'FPR':>9} {'p50 ms':>9} {'p99 ms':>9}"
)


def _category_order(label: str) -> tuple[int, int, str]:
    """Unsafe rows first, S1 … S14 in number order, then the rest by name."""
    kind, _, code = label.partition(":")
    number = int(code[1:]) if code[:1] == "S" and code[1:].isdigit() else 99
    return (0 if kind == "unsafe" else 1, number, code)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bots.policy_cli")
    sub = parser.add_subparsers(dest="command", required=True)
    add_policy_parser(sub)
    args = parser.parse_args(["policy", *(argv if argv is not None else sys.argv[1:])])
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
