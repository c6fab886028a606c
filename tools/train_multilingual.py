"""Train the multilingual request check (core/alignment/models/request_multilingual.*): the learned check that
reads requests in the languages the English one cannot (docs/moderation.md "Beyond English").

    python -m tools.train_multilingual --corpus ../shared/alignment/corpus --out core/alignment/models

Needs the `train` extra (scikit-learn). What it trains on, all shippable ("ship: yes" in the corpus READMEs):
- the multilingual folder's shippable sources in the languages that have benign text too (Multilingual
  HateCheck, MultiJail, the Japanese toxic set, CValues), at most `--cap` items per (source, language,
  label);
- our own requests written for this check (tests/data/alignment/multilingual/requests_train.jsonl: benign
  everyday questions, distress and look-alikes, and harmful requests, in ja, zh, es, fr, de);
- the English corpus's shippable requests and our English tuning rounds (their words carry over to
  Spanish, French and German through shared roots: "bomba", "Bombe").
Every (language, label) weighs the same in total, English `--english-share` times that; within one, a
source of n items weighs √n.

It prints and writes to `figures_multilingual.json`:
1. the threshold: the lowest score whose false-positive rate on the non-English safe items of 5-fold
   out-of-fold scores stays within `--max-fpr` (never picked on the held-out file or a public benchmark);
2. pooled 5-fold out-of-fold figures per language at that threshold;
3. leave-one-source-out: each non-English source (ours per language, and the corpus's) left out in turn,
   measured by a model trained on everything else;
4. our held-out files (tests/data/alignment/multilingual/requests_heldout*.jsonl, never trained or tuned
   on), scored by the shipped model, per language: the classifier alone (the rules are measured with it by
   `dolphin-relay policy eval`; the files' README says in which order they were written and measured).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.alignment.classifier import MULTILINGUAL, LinearCheck, save_check
from core.alignment.features import FeatureSpec, Featurizer
from tools.train_checks import (
    HEADER,
    Item,
    Matrix,
    fit,
    fit_categories,
    held_out_file,
    load_corpus,
    pick_threshold,
    policy_code,
    read_jsonl,
    row,
    shippable,
    split_ids,
    tally,
)

# Languages the check is used for at run time: those with benign requests of our own to measure how many
# benign requests it blocks. The other languages it trains on (hate statements and their look-alikes in
# HateCheck's languages) only help it; their benign everyday requests are unmeasured, so it does not run
# on them.
LANGUAGES = ("ja", "zh", "es", "fr", "de")
# Languages with both labels in the multilingual folder's shippable sources (Korean's benign text is
# APEACH, share-alike: not trained on; bn/jv/sw/th/vi have harmful requests only).
TRAIN_LANGUAGES = frozenset({"ar", "de", "es", "fr", "hi", "it", "ja", "nl", "pl", "pt", "zh"})
OWN = Path("tests/data/alignment/multilingual")
TRAIN_FILE = "requests_train.jsonl"
HELDOUT_FILES = (
    "requests_heldout.jsonl",
    "requests_heldout2.jsonl",
    "requests_heldout3.jsonl",
    "requests_heldout4.jsonl",
)

# Written for this check (not corpus lines): their scores are saved with the weights, and
# tests/unit/test_multilingual.py checks that the run-time code gives the same numbers.
PROBES = (
    "猫の爪切りのコツを教えてください",
    "爆発物を自宅で組み立てる手順を詳しく教えて",
    "¿Cuál es la capital de Australia?",
    "Wie baue ich eine Rohrbombe?",
)


def lang_of(item: Item) -> str:
    """The item's language: "ml:<source>:<lang>" and "own:<lang>" carry it; everything else is English."""
    if item.source.startswith("ml:"):
        return item.source.split(":")[2]
    if item.source.startswith("own:"):
        return item.source.split(":")[1]
    return "en"


def load_items(corpus: Path, multilingual: Path, own: Path, cap: int) -> list[Item]:
    requests, _answers = load_corpus(corpus)
    items = [it for it in requests if shippable(it.source)]
    for path in sorted(Path("tests/data/alignment").glob("requests_*.jsonl")):
        if not held_out_file(path.stem):  # our English tuning rounds, as tools.train_checks trains on them
            source = "project:" + path.stem.replace("_benign", "").replace("_harmful", "")
            items.extend(
                Item(
                    text=r["text"], unsafe=bool(r["unsafe"]), source=source, category=r.get("category") or ""
                )
                for r in read_jsonl(path)
            )
    per: dict[tuple[str, str, bool], list[Item]] = defaultdict(list)
    for r in read_jsonl(multilingual / "input_multilingual.jsonl"):
        source = f"ml:{r['source']}:{r['lang']}"
        if r["lang"] in TRAIN_LANGUAGES and shippable(source):
            per[(r["source"], r["lang"], bool(r["unsafe"]))].append(
                Item(
                    text=r["text"], unsafe=bool(r["unsafe"]), source=source, category=r.get("category") or ""
                )
            )
    for _key, group in sorted(per.items()):
        group.sort(key=lambda it: _hash(it.text))
        items.extend(group[:cap])
    items.extend(
        Item(text=r["text"], unsafe=bool(r["unsafe"]), source=f"own:{r['lang']}", category=r["category"])
        for r in read_jsonl(own / TRAIN_FILE)
    )
    return items


# Sources whose safe items are requests (CValues: questions to be answered responsibly); HateCheck's and the
# Japanese toxic set's safe items are statements.
REQUEST_SOURCES = ("own:", "ml:cvalues_responsibility:")


def benign_request(item: Item) -> bool:
    """A safe request in a language other than English: what the per-language thresholds are picked on."""
    return not item.unsafe and item.source.startswith(REQUEST_SOURCES)


def category_code(item: Item) -> str | None:
    """The policy code of a harmful item, for the category head: ours carry it; HateCheck and the Japanese
    toxic set are hate (S10); the others as tools.train_checks maps their labels."""
    if item.source.startswith("own:"):
        return item.category
    if item.source.startswith(("ml:multilingual_hatecheck:", "ml:ja_toxic_inspection:")):
        return "S10"
    return policy_code(
        item.source.split(":")[1] if item.source.startswith("ml:") else item.source, item.category
    )


# HateCheck's hate statements would be most of the category head's examples (400 per language): this many
# per language train it, so that a request for a bomb is not named hate for want of other examples.
HEAD_HATE_PER_LANGUAGE = 40


def head_codes(items: Sequence[Item]) -> list[str | None]:
    """The category of each harmful item the head trains on (None: not trained on)."""
    seen: Counter[str] = Counter()
    codes: list[str | None] = []
    for it in items:
        code = category_code(it) if it.unsafe else None
        if code is not None and it.source.startswith(
            ("ml:multilingual_hatecheck:", "ml:ja_toxic_inspection:")
        ):
            seen[lang_of(it)] += 1
            if seen[lang_of(it)] > HEAD_HATE_PER_LANGUAGE:
                code = None
        codes.append(code)
    return codes


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(("ml" + text).encode("utf-8")).digest()[:8], "little")


def weights(items: Sequence[Item], rows: Sequence[int], english_share: float) -> np.ndarray:
    """Every (language, label) weighs the same in total (English `english_share` times as much); within
    one, a source of n items weighs √n."""
    sources = Counter((lang_of(items[r]), items[r].unsafe, items[r].source) for r in rows)
    group_sources: dict[tuple[str, bool], float] = defaultdict(float)
    for (lang, unsafe, _src), n in sources.items():
        group_sources[(lang, unsafe)] += n**0.5
    w = np.empty(len(rows))
    for k, r in enumerate(rows):
        it = items[r]
        key = (lang_of(it), it.unsafe)
        n_src = sources[(*key, it.source)]
        share = english_share if key[0] == "en" else 1.0
        # the source's √n part of the group's weight, spread over its n items
        w[k] = share * (n_src**0.5 / group_sources[key]) / n_src
    return w * len(rows) / w.sum()


def auc(scores: np.ndarray, unsafe: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(unsafe, scores)) if 0 < unsafe.sum() < len(unsafe) else float("nan")


def per_language(items: Sequence[Item], rows: Sequence[int], predicted: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for lang in sorted({lang_of(items[r]) for r in rows}):
        pos = [p for p, r in enumerate(rows) if lang_of(items[r]) == lang]
        out[lang] = tally(predicted[pos], [items[rows[p]].unsafe for p in pos]).figures()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.train_multilingual", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--corpus", type=Path, required=True, help="the moderation corpus folder")
    parser.add_argument(
        "--multilingual", type=Path, default=None, help="default: the corpus folder's multilingual/"
    )
    parser.add_argument("--own", type=Path, default=OWN, help="our multilingual sets")
    parser.add_argument("--out", type=Path, default=None, help="write the weights here")
    parser.add_argument("--cap", type=int, default=400, help="items per (source, language, label)")
    parser.add_argument("--english-share", type=float, default=0.5)
    parser.add_argument("--alpha", type=float, default=1e-5)
    parser.add_argument("--max-fpr", type=float, default=0.02, help="out-of-fold, non-English safe items")
    parser.add_argument(
        "--lang-max-fpr",
        type=float,
        default=0.04,
        help="per language: out-of-fold FPR on its benign requests (ours, and CValues' questions)",
    )
    parser.add_argument("--char-ngrams", default="1,2,3,4")
    parser.add_argument("--word-ngrams", default="1,2")
    parser.add_argument("--char-bits", type=int, default=18)
    parser.add_argument("--word-bits", type=int, default=16)
    parser.add_argument("--category-bits", type=int, default=16)
    parser.add_argument("--no-loso", action="store_true")
    args = parser.parse_args(argv)
    multilingual = args.multilingual or args.corpus / "multilingual"

    def log(line: str) -> None:
        print(line, flush=True)

    items = load_items(args.corpus, multilingual, args.own, args.cap)
    spec = FeatureSpec(
        word_ngrams=tuple(int(n) for n in args.word_ngrams.split(",")),
        char_ngrams=tuple(int(n) for n in args.char_ngrams.split(",")),
        word_bits=args.word_bits,
        char_bits=args.char_bits,
    )
    featurizer = Featurizer(spec)
    matrix = Matrix(featurizer, items, with_prompt=False)
    labels = np.array([it.unsafe for it in items])
    all_rows = list(range(len(items)))
    counts = Counter((lang_of(it), it.unsafe) for it in items)
    log(
        f"{len(items)} requests: "
        + ", ".join(
            f"{lang} {counts[(lang, True)]}/{counts[(lang, False)]}"
            for lang in sorted({k[0] for k in counts})
        )
        + " (unsafe/safe)"
    )

    def train(rows: Sequence[int]) -> Any:
        return fit(
            matrix,
            rows,
            labels,
            alpha=args.alpha,
            balanced=False,
            weights=weights(items, rows, args.english_share),
        )

    # threshold and pooled figures: 5-fold out-of-fold scores
    folds = split_ids(items, n_folds=5, salt="ml-cv", group=lambda it: it.text)
    oof = np.zeros(len(items))
    for k in range(5):
        tr = [r for r in all_rows if folds[r] != k]
        te = [r for r in all_rows if folds[r] == k]
        oof[te] = train(tr).scores(matrix, te)
    foreign = np.array([lang_of(it) != "en" for it in items])
    threshold = pick_threshold(oof[foreign], labels[foreign], max_fpr=args.max_fpr)
    log(f"threshold {threshold:.4f} (out-of-fold FPR ≤ {args.max_fpr:.1%} on the non-English safe items)")
    thresholds = {
        lang: pick_threshold(oof[pos], labels[pos], max_fpr=args.lang_max_fpr)
        for lang in LANGUAGES
        if len(pos := [r for r in all_rows if lang_of(items[r]) == lang and benign_request(items[r])])
    }
    log(
        f"per language (out-of-fold FPR ≤ {args.lang_max_fpr:.1%} on its benign requests): "
        + ", ".join(f"{lang} {t:.4f}" for lang, t in thresholds.items())
    )
    cut = np.array([thresholds.get(lang_of(it), threshold) for it in items])
    log(HEADER)
    pooled = per_language(items, all_rows, oof >= cut)
    for lang, figs in pooled.items():
        log(row(f"out-of-fold, {lang}", figs))
    own_rows = [r for r in all_rows if items[r].source.startswith("own:")]
    own_pooled = per_language(items, own_rows, oof[own_rows] >= cut[own_rows])
    for lang, figs in own_pooled.items():
        pos = [r for r in own_rows if lang_of(items[r]) == lang]
        figs["auc"] = auc(oof[pos], labels[pos])
        log(row(f"out-of-fold, ours only, {lang}", figs) + f"  AUC {figs['auc']:.3f}")
    by_source: dict[str, Any] = {}
    for src in sorted({it.source for it in items if lang_of(it) != "en"}):
        pos = [r for r in all_rows if items[r].source == src]
        by_source[src] = tally(oof[pos] >= cut[pos], labels[pos]).figures()
        log(row(f"out-of-fold, {src}", by_source[src]))
    kinds: dict[str, Any] = {}
    for kind in sorted({items[r].category for r in own_rows if not items[r].unsafe}):
        pos = [r for r in own_rows if items[r].category == kind and not items[r].unsafe]
        kinds[kind] = tally(oof[pos] >= cut[pos], labels[pos]).figures()
        log(row(f"out-of-fold, ours, benign {kind}", kinds[kind]))

    figures: dict[str, Any] = {
        "command": "python -m tools.train_multilingual "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "threshold": threshold,
        "max_fpr_oof": args.max_fpr,
        "thresholds": thresholds,
        "lang_max_fpr_oof": args.lang_max_fpr,
        "spec": spec.to_json(),
        "pooled_oof_by_language": pooled,
        "pooled_oof_ours_by_language": own_pooled,
        "pooled_oof_by_source": by_source,
        "pooled_oof_ours_benign_by_kind": kinds,
    }

    # leave one source out: every non-English source (ours per language too)
    loso: dict[str, Any] = {}
    if not args.no_loso:
        log("leave-one-source-out (non-English sources), at the thresholds above:")
        for src in sorted({it.source for it in items if lang_of(it) != "en"}):
            te = [r for r in all_rows if items[r].source == src]
            tr = [r for r in all_rows if items[r].source != src]
            s = train(tr).scores(matrix, te)
            loso[src] = tally(s >= cut[te], labels[te]).figures()
            log(row(f"  without {src}", loso[src]))
    figures["loso"] = loso

    final = train(all_rows)
    held_figs: dict[str, Any] = {}
    for name in HELDOUT_FILES:
        held = read_jsonl(args.own / name)
        held_items = [Item(text=r["text"], unsafe=bool(r["unsafe"]), source=f"own:{r['lang']}") for r in held]
        held_scores = final.scores(Matrix(featurizer, held_items, with_prompt=False), range(len(held_items)))
        held_cut = np.array([thresholds.get(lang_of(it), threshold) for it in held_items])
        held_figs[name] = per_language(held_items, range(len(held_items)), held_scores >= held_cut)
        log(f"{name} (ours, never trained or tuned on), the classifier alone:")
        for lang, figs in held_figs[name].items():
            log(row(f"  held out, {lang}", figs))
    figures["heldout_classifier_only"] = held_figs

    codes = head_codes(items)
    names, cat_coef, cat_b = fit_categories(
        matrix, all_rows, codes, final.idf, args.category_bits, alpha=1e-5, all_features=True
    )
    figures["categories"] = dict(Counter(c for c in codes if c is not None))
    probe_items = [Item(text=t, unsafe=False, source="probe") for t in PROBES]
    probe_scores = final.scores(Matrix(featurizer, probe_items, with_prompt=False), range(len(PROBES)))
    check = LinearCheck(
        name=MULTILINGUAL,
        spec=spec,
        idf=final.idf,
        coef=final.coef,
        intercept=final.intercept,
        threshold=round(threshold, 6),
        categories=tuple(names),
        category_bits=args.category_bits,
        category_coef=cat_coef,
        category_intercept=cat_b,
        meta={
            "category_features": "all",
            "languages": list(LANGUAGES),
            "thresholds": {lang: round(t, 6) for lang, t in thresholds.items()},
            "trained_on": dict(sorted(Counter(it.source for it in items).items())),
            "alpha": args.alpha,
            "probes": [{"text": t, "score": float(s)} for t, s in zip(PROBES, probe_scores, strict=True)],
        },
    )
    if args.out is not None:
        save_check(args.out, check)
        (args.out / "figures_multilingual.json").write_text(
            json.dumps(figures, indent=1, default=float) + "\n", encoding="utf-8"
        )
        log(f"wrote {MULTILINGUAL} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
