"""Rule-layer verdicts on every text of the corpora, to show that a change to the engine or the normalizer
keeps them: `python -m tools.rule_equivalence dump OUT.jsonl` on each checkout, then
`python -m tools.rule_equivalence diff OLD.jsonl NEW.jsonl`.

For each text (and for 4,000-character windows of the texts joined) it records, at the input and the
output stage, the rule ids that match and the (category, tier, rule id) that count once frames apply.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.alignment import rules
from core.alignment.normalize import normalize

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared/alignment/corpus"


def sources(corpus: Path) -> list[Path]:
    files = [
        corpus / "input_train.jsonl",
        corpus / "output_train.jsonl",
        corpus / "multilingual/input_multilingual.jsonl",
        *sorted((ROOT / "tests/data/alignment").rglob("*.jsonl")),
        *sorted((ROOT / "tools/train_data").glob("*.jsonl")),
    ]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise SystemExit(f"missing {', '.join(missing)} (point --corpus at the shared corpus)")
    return files


def texts(corpus: Path) -> list[tuple[str, str]]:
    out = []
    for path in sources(corpus):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            if line.strip():
                row = json.loads(line)
                text = row.get("text") if isinstance(row, dict) else None
                if isinstance(text, str):
                    out.append((f"{path.name}:{n + 1}", text))
    joined = " ".join(t for _, t in out)
    out += [(f"window:{i // 4000}", joined[i : i + 4000]) for i in range(0, len(joined), 4000)]
    return out


def dump(out: Path, corpus: Path) -> None:
    loaded = rules.builtin_rules()
    stages = (
        ("input", rules.input_ruleset(loaded), rules.decide),
        ("output", rules.output_ruleset(loaded), rules.decide_output),
    )
    book = rules.builtin_frames()
    with out.open("w", encoding="utf-8") as f:
        for where, text in texts(corpus):
            normalized = normalize(text)
            row: dict[str, object] = {"where": where}
            for name, ruleset, decide in stages:
                found = ruleset.matches(normalized)
                row[name] = [m.rule for m in found]
                row[name + "_kept"] = [
                    [m.category, m.tier.value, m.rule] for m in decide(found, normalized, book)
                ]
            f.write(json.dumps(row) + "\n")


def diff(old: Path, new: Path) -> int:
    a = old.read_text().splitlines()
    b = new.read_text().splitlines()
    if len(a) != len(b):
        print(f"different numbers of texts: {len(a)} vs {len(b)}")
        return 1
    differ = 0
    counts = {"texts": 0, "windows": 0, "input blocked": 0, "output blocked": 0, "matched": 0}
    for x, y in zip(a, b, strict=True):
        rx, ry = json.loads(x), json.loads(y)
        counts["windows" if rx["where"].startswith("window:") else "texts"] += 1
        counts["input blocked"] += bool(rx["input_kept"])
        counts["output blocked"] += bool(rx["output_kept"])
        counts["matched"] += bool(rx["input"] or rx["output"])
        if rx != ry:
            differ += 1
            if differ <= 10:
                print("differs:", rx, ry)
    print(", ".join(f"{k} {v}" for k, v in counts.items()), f"; differing {differ}")
    return 1 if differ else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.rule_equivalence")
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump")
    d.add_argument("out", type=Path)
    d.add_argument("--corpus", type=Path, default=CORPUS, help="the shared corpus folder")
    c = sub.add_parser("diff")
    c.add_argument("old", type=Path)
    c.add_argument("new", type=Path)
    args = parser.parse_args(argv)
    if args.command == "dump":
        dump(args.out, args.corpus)
        return 0
    return diff(args.old, args.new)


if __name__ == "__main__":
    sys.exit(main())
