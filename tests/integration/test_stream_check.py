"""The streaming benchmark (`python -m bench.stream_check`) as CI runs it: a small run that must show the
difference the modes make. The figures are in docs/moderation.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_small_stream_check_shows_strict_hides_what_relaxed_shows(tmp_path: Path) -> None:
    # Answers only the stand-in guard (which knows the labels) recognizes: the rules see nothing in them.
    data = tmp_path / "answers.jsonl"
    rows = [
        {"prompt": f"question {i}", "text": f"Sure, part {i}. " + "Then the next part follows as planned. " * 8,
         "unsafe": True}
        for i in range(4)
    ] + [
        {"prompt": f"question {i}", "text": f"Dolphins, note {i}. " + "They are mammals that live in the sea. " * 8,
         "unsafe": False}
        for i in range(4)
    ]  # fmt: skip
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = subprocess.run(
        [sys.executable, "-m", "bench.stream_check", "--data", str(data), "--harmful", "4", "--safe", "4",
         "--token-delay", "0.01", "--interval", "0.05", "--only", "guard", "--lookahead", "150",
         "--chunk", "60", "--guard-latency", "0.02", "--guard-detects-after", "40", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    result = {r["mode"]: r for r in json.loads(run.stdout.strip().splitlines()[-1])}
    for mode in ("relaxed", "strict"):
        assert result[mode]["harmful_blocked"] == "4/4" and result[mode]["safe_whole"] == "4/4", result[mode]
    # The stand-in guard knows after 40 characters; strict shows nothing a check has not seen 150 more of.
    assert result["strict"]["visible_max"] == 0.0
    # Relaxed lets the guard judge only the whole answer: most of each harmful answer was visible.
    assert result["relaxed"]["visible_mean"] > 0.3


def test_the_stream_check_lists_each_answer_that_showed_more_than_a_tenth_with_its_checks(
    tmp_path: Path,
) -> None:
    """A guard that needs 400 characters, with 150 of look-ahead: in strict mode each harmful answer shows
    some of itself first (the suspicion hold off). The bench names those answers and the checks that led there (lengths only)."""
    data = tmp_path / "answers.jsonl"
    rows = [
        {"prompt": f"question {i}", "text": f"Sure, part {i}. " + "Then the next part follows as planned. " * 16,
         "unsafe": True}
        for i in range(2)
    ] + [{"prompt": "question", "text": "Dolphins are mammals that live in the sea. " * 4, "unsafe": False}]  # fmt: skip
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = subprocess.run(
        [sys.executable, "-m", "bench.stream_check", "--data", str(data), "--harmful", "2", "--safe", "1",
         "--token-delay", "0.01", "--interval", "0.05", "--only", "guard", "--mode", "strict",
         "--lookahead", "150", "--chunk", "60", "--guard-latency", "0.02", "--guard-detects-after", "400",
         "--hold", "off",
         "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])[0]
    assert result["harmful_blocked"] == "2/2" and result["over_10pct"] == 2, result
    listed = [line for line in run.stdout.splitlines() if line.strip().startswith("> 10 %:")]
    assert len(listed) == 2, run.stdout
    for line in listed:
        # the partial checks before the guard knew were allowed; the one that blocked is named
        assert ": ok" in line and "blocked (guard)" in line, line
        assert "Then the next part" not in line  # lengths, never the answer's text
