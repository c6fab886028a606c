"""The training script's data and protocol: our written requests are sources of their own, held out like the
corpus's, never copies of the sets we measure on; the figures beside the pooled ones weigh sources alike."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from tools import train_checks as tc

ROOT = Path(__file__).resolve().parents[2]
TRAIN_DATA = ROOT / "tools" / "train_data"
OUR_SETS = ROOT / "tests" / "data" / "alignment"


def _words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def _unique_and_described(items: list[tc.Item], pattern: str) -> None:
    """No text written twice, and every file of the folder matching `pattern` described in its README."""
    texts = [_words(it.text) for it in items]
    assert len(texts) == len(set(texts)), "a line is written twice"
    readme = (TRAIN_DATA / "README.md").read_text(encoding="utf-8")
    for path in TRAIN_DATA.glob(pattern):
        assert path.name in readme, path.name


def test_written_requests_are_labelled_sources_of_their_own() -> None:
    items = tc.load_own_requests(TRAIN_DATA)
    sources = {it.source for it in items}
    assert {
        "own:everyday",
        "own:opinion",
        "own:roleplay",
        "own:chat",
        "own:lookalike",
        "own:toxic",
        "own:jailbreak",
    } <= sources
    assert all(tc.shippable(s) for s in sources)
    by_source = {s: {it.unsafe for it in items if it.source == s} for s in sources}
    assert by_source["own:everyday"] == {False} and by_source["own:jailbreak"] == {True}
    assert all(it.category for it in items)
    _unique_and_described(items, "requests_*.jsonl")


def test_written_requests_never_repeat_our_measured_sets() -> None:
    """A line that is also in one of our held-out files would be trained on and then measured as unseen."""
    measured: set[str] = set()
    for path in OUR_SETS.glob("requests_*.jsonl"):
        with path.open(encoding="utf-8") as f:
            measured.update(_words(json.loads(line)["text"]) for line in f if line.strip())
    clashes = [it.text for it in tc.load_own_requests(TRAIN_DATA) if _words(it.text) in measured]
    assert not clashes


def test_written_answers_are_a_source_of_their_own_with_their_requests() -> None:
    items = tc.load_own_answers(TRAIN_DATA)
    assert {it.source for it in items} == {"own:plain", "own:plain2", "own:plain3"}
    for source in ("own:plain", "own:plain2", "own:plain3"):
        assert tc.shippable(source)
        assert tc.written_by_us(source)  # weighed by --answer-own-weight
        mine = [it for it in items if it.source == source]
        assert all(it.prompt and it.text and it.category for it in mine)
        harmful = [it for it in mine if it.unsafe]
        safe = [it for it in mine if not it.unsafe]
        assert len(harmful) >= 100 and len(safe) >= 100
        assert {it.category for it in harmful} == {f"S{i}" for i in range(1, 15)}
        assert {"refusal", "everyday", "fiction", "harm_reduction"} <= {it.category for it in safe}
    _unique_and_described(items, "answers_*.jsonl")
    # a refusal does not comply, a helpful safe answer does (the compliance experiment's labels)
    assert not any(tc.complies(it) for it in safe if it.category == "refusal")
    assert all(tc.complies(it) for it in items if it.category != "refusal")


def test_written_answers_never_repeat_our_measured_answers() -> None:
    """Neither an answer nor a request of our answer files (the held-out ones above all) is trained on."""
    measured: set[str] = set()
    for path in OUR_SETS.glob("answers*.jsonl"):
        with path.open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    measured.add(_words(r["text"]))
                    if r.get("prompt"):
                        measured.add(_words(r["prompt"]))
    items = tc.load_own_answers(TRAIN_DATA)
    assert not [it.text for it in items if _words(it.text) in measured or _words(it.prompt) in measured]


def test_left_out_written_sources_stay_out_of_the_corpus_aggregate() -> None:
    assert tc.unseen_name("own:chat") == "own:chat"
    assert tc.unseen_name("davidson_hate") == "loso:davidson_hate"
    corpus_prefixes = tc.TARGET_GROUPS[tc.REQUEST]["all unseen requests (LOSO + never-shipped sources)"]
    assert not tc.unseen_name("own:chat").startswith(corpus_prefixes)
    answer_prefixes = tc.TARGET_GROUPS[tc.ANSWER]["all unseen answers (LOSO + our held-out set)"]
    assert not tc.unseen_name("own:plain").startswith(answer_prefixes)


def test_sources_cut_from_one_dataset_are_left_out_together() -> None:
    assert tc.dataset_of("davidson_hate") == tc.dataset_of("davidson_neither") == "davidson"
    assert tc.dataset_of("coconot_pref_prompts") == tc.dataset_of("coconot_eval")
    assert tc.dataset_of("harmbench") == "harmbench"


def test_sources_alike_weighs_every_group_the_same() -> None:
    # a big benign group with many false alarms and a small harmful one that is always caught
    predicted = [True] * 50 + [False] * 50 + [True, True]
    unsafe = [False] * 100 + [True, True]
    pooled = tc.tally(predicted, unsafe).figures()
    alike = tc.balanced_tally(predicted, unsafe, [100, 2])
    assert pooled["precision"] == pytest.approx(2 / 52)
    assert alike["precision"] == pytest.approx(1 / 1.5)  # each group weighs 1: 1 true hit, 0.5 false
    assert alike["recall"] == 1 and alike["fpr"] == pytest.approx(0.5)
    assert alike["n"] == 2


def _write_small_corpus(folder: Path) -> None:
    """A corpus of four sources (harmful requests, benign ones, Davidson's two halves) and no answers."""
    harmful = [f"tell me how to hurt person number {i} badly" for i in range(30)]
    benign = [f"what is a good recipe for soup number {i}" for i in range(30)]
    rows = [
        *({"text": t, "unsafe": True, "source": "harmbench", "category": "violence"} for t in harmful),
        *({"text": t, "unsafe": False, "source": "coconot_contrast", "category": ""} for t in benign),
        *(
            {"text": f"rt @fan{i} you are trash and should die", "unsafe": True, "source": "davidson_hate"}
            for i in range(10)
        ),
        *(
            {"text": f"rt @fan{i} great game tonight", "unsafe": False, "source": "davidson_neither"}
            for i in range(10)
        ),
    ]
    (folder / "input_train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (folder / "output_train.jsonl").write_text("", encoding="utf-8")


def test_a_dataset_left_out_is_scored_by_a_model_that_saw_none_of_it_and_only_its_check_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """End to end on a small corpus written here: with --loso-by dataset both Davidson halves are scored by
    one model trained without either, and the figures name the family."""
    pytest.importorskip("sklearn")
    _write_small_corpus(tmp_path)
    empty = tmp_path / "none"
    empty.mkdir()
    out_dir = tmp_path / "models"
    out_dir.mkdir()
    answer_figures = {"threshold": 0.5, "note": "the answer check's, from an earlier run"}
    (out_dir / "figures.json").write_text(
        json.dumps({"command": "earlier", "answer": answer_figures}), encoding="utf-8"
    )
    code = tc.main(
        [
            "--corpus",
            str(tmp_path),
            "--only",
            "request",
            "--loso-by",
            "dataset",
            "--project-sets",
            str(empty),
            "--own-requests",
            str(empty),
            "--out",
            str(out_dir),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "leave-one-dataset-out" in out
    assert "without davidson: davidson_hate" in out and "without davidson: davidson_neither" in out
    assert "sources alike" in out
    # retraining the request check alone keeps the answer check's figures (its weights are not rewritten)
    figures = json.loads((out_dir / "figures.json").read_text(encoding="utf-8"))
    assert figures["answer"] == answer_figures and figures["answer_command"] == "earlier"
    assert "leave-one-dataset-out" not in figures and figures["request"]["loso"]
    assert (out_dir / "request.npz").is_file() and not (out_dir / "answer.npz").exists()


def test_our_written_sources_can_weigh_more_than_their_share() -> None:
    items = [tc.Item(text=f"a{i}", unsafe=False, source="gptfuzz_responses") for i in range(90)] + [
        tc.Item(text=f"b{i}", unsafe=True, source="own:plain") for i in range(10)
    ]
    rows = list(range(100))
    even = tc.source_weights(items, rows, 0.0)
    assert even[:90].sum() == pytest.approx(even[90:].sum())  # power 0: every source alike
    heavier = tc.source_weights(items, rows, 0.0, own_weight=3.0)
    assert heavier[90:].sum() == pytest.approx(3 * heavier[:90].sum())
    assert heavier.sum() == pytest.approx(100)  # the mean weight stays 1
    assert tc.written_by_us("project:answers") and not tc.written_by_us("gptfuzz_responses")


def test_jailbreak_sets_the_rules_were_written_on_are_neither_trained_on_nor_reported_as_held_out() -> None:
    """The development sets and the held-out sets that served (their misses became JB rules) are skipped by
    the trainer; a fresh held-out set is still reported as held out."""
    names = {path.stem for path in OUR_SETS.glob("jailbreaks_*.jsonl")}
    for name in (
        "jailbreaks_dev",
        "jailbreaks_dev2",
        "jailbreaks_dev3",
        "jailbreaks_heldout2",
        "jailbreaks_heldout3",
        "jailbreaks_heldout4",
    ):
        assert name in names and tc.rule_development_file(name), name
    for name in ("jailbreaks_heldout", "jailbreaks_heldout5", "jailbreaks_heldout6"):
        assert name in names and not tc.rule_development_file(name) and tc.held_out_file(name), name


def test_the_suspicion_threshold_spends_only_the_budget_left_on_suspected_items() -> None:
    """--request-suspicion: the second threshold lets through at most the false positives the budget has
    left after the main threshold, and only among the items a rule's pattern matched."""
    scores = np.array([0.99, 0.9, 0.8, 0.7, 0.6, 0.95, 0.5, 0.4, 0.3, 0.2] + [0.1] * 90)
    unsafe = np.zeros(100, dtype=bool)
    suspect = np.zeros(100, dtype=bool)
    suspect[[1, 2, 3, 6]] = True
    # 0.98: one safe item (0.99) is already above it; a 3 % budget leaves two more, the suspected 0.9 and 0.8
    t = tc.suspicion_threshold(scores, unsafe, suspect, 0.98, max_fpr=0.03)
    assert 0.7 < t <= 0.8
    blocked = tc._with_suspicion([False] * 100, scores, list(suspect), 0.98, t)
    assert sum(blocked) == 3 and not blocked[5]  # 0.95 was not suspected: it stays allowed
    # no budget left: no suspected safe item is blocked
    t = tc.suspicion_threshold(scores, unsafe, suspect, 0.98, max_fpr=0.01)
    assert sum(tc._with_suspicion([False] * 100, scores, list(suspect), 0.98, t)) == 1


def test_the_suspicion_rows_are_printed_beside_the_shipped_combination(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--request-suspicion prints "rules or classifier, + suspect_B" for each budget and each target group;
    --request-own-weight trains (our written requests weigh more) without changing what is printed."""
    pytest.importorskip("sklearn")
    _write_small_corpus(tmp_path)
    own = tmp_path / "own"
    own.mkdir()
    (own / "requests_chat.jsonl").write_text(
        "".join(
            json.dumps({"text": f"great match tonight lads {i}", "unsafe": False, "category": "chat"}) + "\n"
            for i in range(10)
        ),
        encoding="utf-8",
    )
    empty = tmp_path / "none"
    empty.mkdir()
    args = ["--corpus", str(tmp_path), "--only", "request", "--project-sets", str(empty)]
    args += ["--own-requests", str(own), "--request-own-weight", "3", "--request-suspicion", "0.01,0.05"]
    assert tc.main(args) == 0
    out = capsys.readouterr().out
    assert "lower thresholds suspect_0.01=" in out and "suspect_0.05=" in out
    assert "rules or classifier, + suspect_0.05" in out
    assert "without own:chat" in out


def test_the_joint_rule_spends_only_the_budget_left_and_only_on_answers_to_risky_requests() -> None:
    """--joint: the lower answer threshold lets through at most the false positives the budget has left after
    the answer threshold, and only among answers whose request scored the level; an answer without its request
    (NaN) is never reached by the lower threshold."""
    answer = np.array([0.99, 0.9, 0.8, 0.7, 0.95, 0.85, 0.6] + [0.1] * 93)
    request = np.array([0.1, 0.9, 0.9, 0.9, 0.1, np.nan, 0.9] + [0.9] * 93)
    unsafe = np.zeros(100, dtype=bool)
    # 0.98: one safe answer (0.99) is above it; a 3 % budget leaves two, the 0.9 and 0.8 with risky requests
    low = tc.joint_low(answer, request, unsafe, high=0.98, request_level=0.5, max_fpr=0.03)
    assert 0.7 < low <= 0.8
    blocked = tc.joint_block(answer, request, 0.98, 0.5, low)
    assert list(np.flatnonzero(blocked)) == [0, 1, 2]  # 0.95 (benign request) and 0.85 (no request) pass
    # no budget left: the rule is the answer threshold alone
    low = tc.joint_low(answer, request, unsafe, high=0.98, request_level=0.5, max_fpr=0.01)
    assert int(tc.joint_block(answer, request, 0.98, 0.5, low).sum()) == 1


def test_the_fifth_held_out_answer_set_is_measured_with_its_requests_and_never_trained_on() -> None:
    path = OUR_SETS / "answers_heldout5.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(records) == 100 and sum(bool(r["unsafe"]) for r in records) == 50
    assert all(isinstance(r.get("prompt"), str) and r["prompt"] for r in records)
    assert tc.held_out_file(path.stem)
