"""The write-budget benchmark (`python -m bench.write_budget`) as CI runs it: a small Slack run across two bot
processes sharing one Redis, against the stand-in that answers 429 past Tier 3. The figures are in
docs/performance.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_25_answers_at_once_stay_within_slacks_tier_3_and_all_end_on_time() -> None:
    # 25 short answers (about 2 s each) in one workspace: at one edit a second they would need about 100
    # chat.update calls in the minute; Slack allows 50.
    run = subprocess.run(
        [sys.executable, "-m", "bench.write_budget", "--platforms", "slack", "--counts", "25",
         "--processes", "2", "--words", "40", "--token-delay-s", "0.05", "--timeout-s", "90"],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    (result,) = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert result["complete"] == 25, result
    assert result["refused_429"] == 0, result  # never past the platform's limit, across both processes
    assert result["updates_peak_per_min"] <= 50, result
    # no final text waited out a Retry-After (Slack's is up to a minute; without the budget this run's p90 was
    # about 63 s): a bound far from both, so that a slow machine does not decide the test
    assert result["final_text_p90_s"] < 30, result
