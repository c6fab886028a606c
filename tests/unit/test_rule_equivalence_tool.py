"""tools/rule_equivalence.py: the comparison that shows an engine change keeps the rule layer's verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import rule_equivalence


def _row(where: str, kept: list[list[str]]) -> str:
    rules = [k[2] for k in kept]
    return json.dumps({"where": where, "input": rules, "input_kept": kept, "output": [], "output_kept": []})


def test_a_changed_verdict_is_reported_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = tmp_path / "old.jsonl", tmp_path / "new.jsonl"
    old.write_text(_row("a:1", [["S9", "strong", "S9.strong.1"]]) + "\n" + _row("window:0", []) + "\n")
    new.write_text(_row("a:1", [["S9", "intent", "S9.strong.1"]]) + "\n" + _row("window:0", []) + "\n")
    assert rule_equivalence.main(["diff", str(old), str(new)]) == 1
    out = capsys.readouterr().out
    assert "texts 1, windows 1, input blocked 1" in out and "differing 1" in out
    assert rule_equivalence.main(["diff", str(old), str(old)]) == 0
    assert "differing 0" in capsys.readouterr().out
