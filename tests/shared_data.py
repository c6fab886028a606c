"""The shared development sets (`../shared/alignment`), which live beside the checkout, not in it: CI
clones the repository into a folder with a copy of shared/ beside it; a helper's worktree sits one folder
further down. A test that needs them skips with a reason `-ra` shows when they are absent, except under CI,
where their absence fails the test: the quality targets must not go unmeasured there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def alignment_sets(root: Path) -> Path:
    """`shared/alignment` beside `root` or beside its parent; else skip, or fail when CI is set."""
    candidates = [root.parent / "shared" / "alignment", root.parent.parent / "shared" / "alignment"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    looked = " or ".join(str(c) for c in candidates)
    why = f"the shared development sets are not at {looked}: the moderation quality targets were not measured"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{why} (CI is set: put a copy of shared/ beside the checkout)", pytrace=False)
    pytest.skip(why)


def project_alignment_texts() -> list[str]:
    """Every request and answer text of the project's own sets (tests/data/alignment, its multilingual sets too)."""
    import json

    texts = []
    for path in sorted((Path(__file__).resolve().parent / "data" / "alignment").rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                texts.extend(str(record[k]) for k in ("text", "prompt") if record.get(k))
    return texts
