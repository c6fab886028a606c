"""The soak (`python -m bench.soak`) as CI runs it: a short run with every kind of fault and a Redis
restart must end with its books balanced. The 10-minute figures are in docs/security.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_short_soak_with_faults_loses_nothing() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--minutes", "0.25", "--conversations", "24", "--seed", "11"],
        cwd=ROOT, capture_output=True, text=True, timeout=100,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    books = json.loads(run.stdout.strip().splitlines()[-1])
    assert books["redis_restarted"] and books["stored_before_restart"] > 0
    assert books["answered"] > 0 and books["notices"] > 0
    # the faults really happened: answers cut off, failures told, outputs stopped, replays ignored
    for outcome in ("cut_off", "failed", "blocked_input", "blocked_output", "too_long", "muted", "duplicate"):
        assert books["outcomes"].get(outcome, 0) > 0, outcome
    for figure in ("lost", "answered_twice", "orphaned_history_entries", "lost_on_restart", "forgotten"):
        assert books[figure] == 0, figure
