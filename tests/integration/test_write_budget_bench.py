"""The write-budget benchmark (`python -m bench.write_budget`) as CI runs it: a small Slack run across two bot
processes sharing one Redis, against the stand-in that answers 429 past Tier 3. The figures are in
docs/performance.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_25_answers_at_once_stay_within_slacks_tier_3_and_all_end_complete() -> None:
    # 25 short answers (about 2 s each) in one workspace: at one edit a second they would need about 100
    # chat.update calls in the minute; Slack allows 50.
    run = subprocess.run(
        [sys.executable, "-m", "bench.write_budget", "--platforms", "slack", "--counts", "25",
         "--processes", "2", "--words", "40", "--token-delay-s", "0.05", "--timeout-s", "90"],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    (result,) = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert result["complete"] == 25, result  # every answer ended with its whole text shown
    # never past the platform's limit, across both processes: so no final text waited out a Retry-After
    # (Slack's is up to a minute; without the budget this run's final-text p90 was about 63 s). How long the
    # final texts took is a figure of the benchmark (docs/performance.md), not asserted here.
    assert result["refused_429"] == 0, result
    assert result["updates_peak_per_min"] <= 50, result
