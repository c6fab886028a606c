"""Per-rule evidence: how often each rule fires on a labeled corpus and on the project's own examples.

    python -m tools.rule_report --corpus ../shared/alignment/corpus [--rules DIR] [--only-kept]
    python -m tools.rule_report --on FILE [FILE ...] [--category JB] [--rules DIR] [--misses]

For every rule (the built-in rule files, or those under `--rules`): on the corpus's requests (input rules)
or answers (output rules), how many unsafe and safe items it fires on (through the normalizer and the
frames, as in production), its precision, and the sources of its true hits; then how many of the project's
own examples (tests/data/alignment/) it fires on. The last column says whether the rule meets the bar
docs/moderation.md sets for keeping a rule:

- precision >= 0.9 on the corpus with at least 5 true hits in more than one source that was not tuned on
  (the `devset_*` sources are the development sets the old rules were written against; the answers have
  a single source of harmful items, so one is enough there), or
- a strong rule for the unambiguous categories (S4 sexual content with minors, S11 first-person
  self-harm, S9 weapons of mass harm, JB jailbreak templates, JM chat markers, S14 sandbox abuse)
  with precision >= 0.9 on the corpus (or at most one safe item fired on, or none fired on at all); the
  corpus labels harm, not prompt injection, so JB and JM strong rules are kept whatever it says.

With `--on`, one category's input rules (JB by default) are counted on labeled request files instead:
per file and per `source` (or `category`) field, how many unsafe items any of the category's rules fires
on and how many safe ones — the figures docs/moderation.md gives for jailbreak templates. `--misses` also
lists the texts (missed unsafe, fired safe): for development sets only, never for a held-out file or the
corpus.

Prints corpus statistics only (counts, sources); no corpus text.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from core.alignment.normalize import normalize
from core.alignment.rules import (
    Frames,
    Rule,
    RuleMatch,
    RuleSet,
    RuleStage,
    Tier,
    builtin_frames,
    builtin_rules,
    decide,
    decide_output,
    load_fragments,
    load_frames,
    load_rule_file,
    rule_files,
)

ROOT = Path(__file__).resolve().parents[1]
UNAMBIGUOUS = {"S4", "S11", "S9", "JB", "JM", "S14"}
INJECTION = {"JB", "JM"}
# the safe items that look harmful (the over-blocking that matters): reported on their own
LOOKALIKE_SOURCES = {"coconot_contrast", "coconot_pref_prompts", "wildguardmix", "toxigen"}
TUNED_SOURCES = ("devset_",)
MIN_HITS = 5


@dataclass
class Tally:
    unsafe: int = 0
    safe: int = 0
    sources: Counter[str] = field(default_factory=Counter)
    lookalikes: int = 0
    own_unsafe: int = 0
    own_safe: int = 0

    @property
    def precision(self) -> float | None:
        return self.unsafe / (self.unsafe + self.safe) if self.unsafe + self.safe else None

    @property
    def fresh_sources(self) -> list[str]:
        return sorted(s for s in self.sources if not s.startswith(TUNED_SOURCES))


def keep(rule: Rule, t: Tally) -> bool:
    precision = t.precision
    fresh_hits = sum(n for s, n in t.sources.items() if not s.startswith(TUNED_SOURCES))
    # the answers have one source of harmful items (GPTFuzz), so "more than one source" cannot apply there
    enough_sources = len(t.fresh_sources) > 1 or rule.stage is RuleStage.OUTPUT
    if precision is not None and precision >= 0.9 and fresh_hits >= MIN_HITS and enough_sources:
        return True
    if rule.tier not in (Tier.STRONG, Tier.MARKER) or rule.category not in UNAMBIGUOUS:
        return False
    # the corpus labels harm, not injection: a "safe" request that says "forget all previous
    # instructions" is still a jailbreak template, so the corpus cannot judge JB and JM rules
    return rule.category in INJECTION or precision is None or precision >= 0.9 or t.safe <= 1


def load(rules_dir: Path | None) -> tuple[list[Rule], Frames]:
    if rules_dir is None:
        return list(builtin_rules()), builtin_frames()
    fragments = load_fragments(rules_dir / "vocabulary.yaml")
    seen: dict[str, Path] = {}
    rules = [
        r for p in rule_files(rules_dir) for r in load_rule_file(p, fragments, setting="--rules", seen=seen)
    ]
    return rules, load_frames(rules_dir / "frames.yaml", fragments)


def fired(ruleset: RuleSet, text: str, stage: RuleStage, book: Frames) -> list[str]:
    normalized = normalize(text)
    ids = []
    for m in ruleset.matches(normalized):
        single: list[RuleMatch] = [m]
        kept = (decide if stage is RuleStage.INPUT else decide_output)(single, normalized, book)
        if kept:
            ids.append(m.rule)
    return ids


def records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def count_on(paths: list[Path], rules: list[Rule], book: Frames, category: str, misses: bool) -> None:
    """How many unsafe and safe items of each file (and of each source in it) the category's rules fire on."""
    ruleset = RuleSet(r for r in rules if r.stage is RuleStage.INPUT and r.category == category)
    print(f"{'file / source':<48} {'unsafe hit':>12} {'safe hit':>12}")
    for path in paths:
        rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # unsafe hit, unsafe, safe hit, safe
        wrong: list[str] = []
        for rec in records(path):
            hit = bool(fired(ruleset, str(rec["text"]), RuleStage.INPUT, book))
            unsafe = bool(rec["unsafe"])
            for key in ("(all)", str(rec.get("source") or rec.get("category") or "-")):
                row = rows[key]
                row[0 if unsafe else 2] += hit
                row[1 if unsafe else 3] += 1
            if misses and hit != unsafe:
                wrong.append(f"  {'missed' if unsafe else 'FIRED '}  {rec['text']!r}")
        for key, (uh, un, sh, sn) in sorted(rows.items(), key=lambda kv: kv[0] != "(all)"):
            label = path.name if key == "(all)" else f"  {key}"
            print(f"{label:<48} {f'{uh}/{un}' if un else '-':>12} {f'{sh}/{sn}' if sn else '-':>12}")
        if wrong:
            print("\n".join(wrong))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.rule_report", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--corpus",
        type=Path,
        help="folder with input_train.jsonl, output_train.jsonl (and multilingual/input_multilingual.jsonl)",
    )
    parser.add_argument("--on", type=Path, nargs="+", help="count one category's rules on these files")
    parser.add_argument("--category", default="JB", help="with --on: the category whose rules count")
    parser.add_argument("--misses", action="store_true", help="with --on: list the wrong texts too")
    parser.add_argument("--rules", type=Path, help="a folder of rule files (default: the built-in ones)")
    parser.add_argument(
        "--own", type=Path, default=ROOT / "tests/data/alignment", help="the project's examples"
    )
    parser.add_argument("--only-kept", action="store_true", help="list only the rules that meet the bar")
    parser.add_argument("--json", action="store_true", help="one JSON object per rule instead of a table")
    args = parser.parse_args(argv)
    if args.on is None and args.corpus is None:
        parser.error("give --corpus (the per-rule report) or --on FILE (one category's counts)")

    rules, book = load(args.rules)
    if args.on is not None:
        count_on(args.on, rules, book, args.category, args.misses)
        return 0
    tallies: dict[str, Tally] = defaultdict(Tally)
    corpus = {
        RuleStage.INPUT: [
            args.corpus / "input_train.jsonl",
            args.corpus / "multilingual/input_multilingual.jsonl",
        ],
        RuleStage.OUTPUT: [args.corpus / "output_train.jsonl"],
    }
    for stage, paths in corpus.items():
        ruleset = RuleSet(r for r in rules if r.stage is stage)
        items = [rec for path in paths if path.exists() for rec in records(path)]
        for rec in items:
            for rule_id in fired(ruleset, str(rec["text"]), stage, book):
                t = tallies[rule_id]
                if rec["unsafe"]:
                    t.unsafe += 1
                    t.sources[str(rec["source"])] += 1
                else:
                    t.safe += 1
                    t.lookalikes += str(rec["source"]) in LOOKALIKE_SOURCES
        for path in sorted(args.own.glob("*.jsonl")):
            if (path.name.startswith("answers")) != (stage is RuleStage.OUTPUT):
                continue
            for rec in records(path):
                for rule_id in fired(ruleset, str(rec["text"]), stage, book):
                    if rec["unsafe"]:
                        tallies[rule_id].own_unsafe += 1
                    else:
                        tallies[rule_id].own_safe += 1

    kept = 0
    if not args.json:
        print(
            f"{'rule':<22} {'tier':<7} {'unsafe':>6} {'safe':>5} {'prec':>5} {'src':>3} {'look':>4} {'own+':>5} {'own-':>4}  verdict"
        )
    for rule in rules:
        t = tallies[rule.id]
        verdict = keep(rule, t)
        kept += verdict
        if args.only_kept and not verdict:
            continue
        precision = t.precision
        if args.json:
            row = {
                "rule": rule.id,
                "category": rule.category,
                "tier": rule.tier.value,
                "stage": rule.stage.value,
                "corpus_unsafe": t.unsafe,
                "corpus_safe": t.safe,
                "precision": precision,
                "sources": dict(t.sources),
                "lookalikes": t.lookalikes,
                "own_unsafe": t.own_unsafe,
                "own_safe": t.own_safe,
                "keep": verdict,
            }
            print(json.dumps(row))
            continue
        p = "-" if precision is None else f"{precision:.2f}"
        print(
            f"{rule.id:<22} {rule.tier.value:<7} {t.unsafe:>6} {t.safe:>5} {p:>5} {len(t.fresh_sources):>3} {t.lookalikes:>4} "
            f"{t.own_unsafe:>5} {t.own_safe:>4}  {'keep' if verdict else 'drop'}"
        )
    print(f"# {kept} of {len(rules)} rules meet the bar", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
