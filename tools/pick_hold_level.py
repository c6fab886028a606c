"""`python -m tools.pick_hold_level`: the strict-streaming suspicion hold's level
(policy `layers.classifier.output_hold_threshold`, docs/moderation.md "The suspicion hold").

Strict streaming checks a partial answer at look-ahead + a quarter chunk characters, then every chunk; the
hold shows nothing more while the answer check scores the text so far at or above the level, or (from the
second check on) would if the score rose once more as much as over the last chunk (`--hold-score`). The level is
picked on the training corpus (`output_train.jsonl`), never on a judged set. `--oof` (what the shipped
level was picked with): each answer's prefixes are scored by a model trained as the shipped one was
(tools/train_checks.py's answer recipe and training sources, never a held-out file) on the other four of
five folds. Without it, the shipped weights score answers they were trained on: in-sample, far lower for
safe answers and higher for harmful ones than for unseen answers.

Per candidate level (the level at which at most 1 … 30 % of the safe answers that are long enough to be
checked while they stream would be held at some point): the share of partial checks held, how many
characters such an answer streams while held, and, for the harmful answers the check blocks whole, how
many would show more than 10 % before the check that blocks (the answer check alone, no rules).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.alignment.classifier import LocalChecks
from core.alignment.policy import load_policy
from core.settings import AlignmentSettings
from core.streaming import first_check_chars

Scorer = Callable[[list[tuple[str, str | None]]], list[float]]

if TYPE_CHECKING:
    from tools.train_checks import StageConfig

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "alignment" / "corpus" / "output_train.jsonl"


def shipped_scorer() -> Iterator[tuple[set[int] | None, Scorer]]:
    """The shipped answer check, for every answer."""
    checks = LocalChecks.load()
    yield None, lambda pairs: [checks.score_answer(t, p) for t, p in pairs]


def shipped_recipe() -> StageConfig:
    """The answer recipe the fold models are trained with: the shipped weights' own features (the request's
    blocks at the weight they were trained with: 0 in the trainer's default) and penalty, the trainer's
    source weighting and class balance."""
    from tools import train_checks as tc

    shipped = LocalChecks.load().answer
    return tc.StageConfig(
        tc.ANSWER,
        "output",
        shipped.featurizer.spec,
        float(shipped.meta.get("alpha", 1e-5)),
        True,
        tc.ANSWER_SOURCE_POWER,
        0.005,
        True,
        tc.ANSWER_OWN_WEIGHT,
    )


def oof_scorers(data: Path) -> Iterator[tuple[set[int] | None, Scorer]]:
    """Per fold: the line numbers of `data` in it, and a scorer trained without them (the shipped answer
    recipe: tools/train_checks.py defaults, its --answer-source-power and --answer-own-weight, on the
    corpus's and our own training answers, never a held-out file)."""
    from tools import train_checks as tc

    rows = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines() if line.strip()]
    items = [
        tc.Item(text=r["text"], unsafe=bool(r["unsafe"]), source=r["source"], prompt=r.get("prompt") or "")
        for r in rows
    ]
    n_corpus = len(items)
    items.extend(tc.load_own_answers(Path(tc.__file__).parent / "train_data"))
    for path in sorted((ROOT / "tests" / "data" / "alignment").glob("answers*.jsonl")):
        if not tc.held_out_file(path.stem):
            source = "project:" + path.stem
            items.extend(
                tc.Item(text=r["text"], unsafe=bool(r["unsafe"]), source=source) for r in tc.read_jsonl(path)
            )
    cfg = shipped_recipe()
    featurizer = tc.Featurizer(cfg.spec)
    matrix = tc.Matrix(featurizer, items, with_prompt=True)
    labels = np.array([it.unsafe for it in items])
    ship = [i for i, it in enumerate(items) if tc.shippable(it.source)]
    fold = tc.split_ids([items[i] for i in ship], n_folds=5, salt="cv", group=lambda it: it.prompt or it.text)
    for k in range(5):
        train = [r for r, f in zip(ship, fold, strict=True) if f != k]
        model = tc.fit_stage(cfg, matrix, items, train, labels)
        held = {r for r, f in zip(ship, fold, strict=True) if f == k and r < n_corpus}

        def score(pairs: list[tuple[str, str | None]], model: tc.Fitted = model) -> list[float]:
            probe = [tc.Item(text=t, unsafe=False, source="-", prompt=p or "") for t, p in pairs]
            return list(model.scores(tc.Matrix(featurizer, probe, with_prompt=True), range(len(probe))))

        print(f"  fold {k + 1}/5: trained on {len(train)} answers, scoring {len(held)}", flush=True)
        yield held, score


HOLD_SCORES = ("prefix", "window", "rising")


def hold_scores(
    kind: str,
    scores: list[float],
    text: str,
    prompt: str | None,
    ends: list[int],
    lookahead: int,
    chunk: int,
    scorer: Scorer,
) -> list[float]:
    """What the hold compares with its level at each check (docs/moderation.md "The suspicion hold"):
    `rising` (served), the higher of the partial answer's score and the score a check one chunk on would
    reach if it rose as much again (core/alignment/moderator.py `hold_rise`; not at the first check);
    `prefix`, the score alone; `window` (measured, not served), the higher of the score and the score of
    the look-ahead alone (the text the check saw beyond what it would show)."""
    if kind == "window":
        tails = scorer([(text[max(0, end - lookahead) : end], prompt) for end in ends])
        return [max(a, b) for a, b in zip(scores, tails, strict=True)]
    if kind == "rising":  # from the second check on: the text a chunk shorter is the previous check's
        return [max(s, 2 * s - before) for before, s in zip([1.0, *scores[:-1]], scores, strict=True)]
    return scores


def held_chars(runs: list[tuple[list[int], list[float], int]], level: float, cap: int) -> str:
    """Per answer held: the characters that streamed while nothing more was shown (core/streaming.py
    `CheckAhead`: from the first check that holds to the next that does not, the cap, or the end)."""
    held: list[int] = []
    to_end = 0
    for ends, scores, length in runs:
        since: int | None = None
        total, capped = 0, False
        for end, score in zip(ends, scores, strict=True):
            if score >= level and not capped:
                since = end if since is None else since
                if not cap or end - since < cap:
                    continue
                capped = True
            if since is not None:
                total, since = total + end - since, None
        if since is not None:
            total += length - since
            to_end += 1
        if total or any(score >= level for score in scores):
            held.append(total)
    if not held:
        return "none held"
    return (
        f"held for {np.percentile(held, 50):.0f} / {np.percentile(held, 90):.0f} characters p50 / p90,"
        f" {to_end} until the end"
    )


def shown_before_block(
    runs: list[tuple[list[int], list[float], list[float], int]],
    level: float,
    threshold: float,
    args: argparse.Namespace,
) -> str:
    """Harmful answers the answer check blocks whole, streamed through strict mode with the check alone (no
    rules): how many showed more than 10 % before the check that blocked (a check shows its text minus the
    look-ahead unless it holds). Per answer: check ends, the scores that block, those that hold, length."""
    over = 0
    for ends, scores, holds, length in runs:
        shown, since, capped = 0, None, False
        for end, score, hold in zip(ends, scores, holds, strict=True):
            if score >= threshold:
                break
            if hold >= level and not capped:
                since = end if since is None else since
                if not args.hold_max_chars or end - since < args.hold_max_chars:
                    continue
                capped = True
            since = None
            shown = max(shown, end - args.lookahead)
        over += shown > 0.10 * length
    return f"harmful > 10 % shown: {over} of {len(runs)}"


def main() -> None:
    defaults = AlignmentSettings()
    parser = argparse.ArgumentParser(
        prog="python -m tools.pick_hold_level", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--data", type=Path, default=CORPUS)
    parser.add_argument("--lookahead", type=int, default=defaults.stream_lookahead_chars)
    parser.add_argument("--chunk", type=int, default=defaults.stream_chunk_chars)
    parser.add_argument("--max-held", type=float, default=0.20, help="share of safe answers held (0.20)")
    parser.add_argument("--hold-max-chars", type=int, default=defaults.stream_hold_max_chars)
    parser.add_argument("--oof", action="store_true", help="out-of-fold scores (5 fold models; minutes)")
    parser.add_argument(
        "--hold-score",
        choices=HOLD_SCORES,
        default="rising",
        help="what the hold compares with the level: the higher of the partial answer's score and the score"
        " one more check would reach if it rose as much again (rising, as served), the score alone (prefix, as"
        " served until 2026-12-06), or, measured and not served, the higher of the score and the look-ahead's"
        " own score (window)",
    )
    args = parser.parse_args()
    threshold = LocalChecks.load().answer.threshold
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    peaks: list[float] = []  # per safe answer checked while streaming: its highest partial score
    prefixes: list[float] = []
    runs: list[tuple[list[int], list[float], int]] = []  # per such answer: check ends, hold scores, length
    # per harmful answer the check blocks: check ends, the scores that block, those that hold, length
    harmful: list[tuple[list[int], list[float], list[float], int]] = []
    for part, scorer in oof_scorers(args.data) if args.oof else shipped_scorer():
        for n, r in enumerate(rows):
            if part is not None and n not in part:
                continue
            text, prompt = str(r["text"]).strip(), r.get("prompt") or None
            ends = range(first_check_chars(args.lookahead, args.chunk), len(text), args.chunk)
            if not ends:
                continue
            *scores, whole = scorer([(text[:end], prompt) for end in ends] + [(text, prompt)])
            holds = hold_scores(
                args.hold_score, scores, text, prompt, list(ends), args.lookahead, args.chunk, scorer
            )
            if r["unsafe"]:
                if whole >= threshold:
                    harmful.append((list(ends), scores, holds, len(text)))
            elif whole < threshold:  # an answer blocked whole is blocked anyway
                peaks.append(max(holds))
                prefixes.extend(holds)
                runs.append((list(ends), holds, len(text)))
    peak, prefix = np.array(peaks), np.array(prefixes)
    print(f"{args.data}: {len(peaks)} safe answers checked while streaming, {len(prefixes)} partial checks")
    for share in sorted({0.01, 0.02, 0.05, args.max_held, 0.10, 0.20, 0.30}):
        level = float(np.quantile(peak, 1 - share))
        print(
            f"  held answers ≤ {share:.0%}: level {level:.3f} (partial checks held {np.mean(prefix >= level):.1%};"
            f" {held_chars(runs, level, args.hold_max_chars)}; {shown_before_block(harmful, level, threshold, args)})"
        )
    print(f"  no hold: {shown_before_block(harmful, 2.0, threshold, args)}")
    print(f"level for --max-held {args.max_held:g}: {float(np.quantile(peak, 1 - args.max_held)):.3f}")
    shipped = load_policy().layers.classifier.output_hold_threshold
    if shipped is not None:
        print(
            f"the policy's level {shipped:g} holds {np.mean(peak >= shipped):.1%} of these answers"
            f" ({np.mean(prefix >= shipped):.1%} of the partial checks; {held_chars(runs, shipped, args.hold_max_chars)})"
        )


if __name__ == "__main__":
    main()
