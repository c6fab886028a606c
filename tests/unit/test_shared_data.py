"""The development-set quality test runs whenever ../shared is there, says why when it is not, and cannot
be skipped under CI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEST = "tests/unit/test_alignment_rules.py::test_development_set_targets"


def run(checkout: Path, **env: str) -> tuple[int, str]:
    """pytest on the quality test of the checkout at `checkout`, with the -ra summary."""
    clean = {k: v for k, v in os.environ.items() if k != "CI"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-ra", TEST],
        cwd=checkout,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc.returncode, proc.stdout


def checkout_in(folder: Path) -> Path:
    """A copy of what the test needs of this checkout at `folder/relay`, so that ../shared is whatever
    `folder` holds."""
    copy = folder / "relay"
    ignore = shutil.ignore_patterns("__pycache__", ".hypothesis")
    for part in ("core", "bots", "tools", "tests"):
        shutil.copytree(ROOT / part, copy / part, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def test_without_the_shared_sets_it_skips_with_the_reason_and_fails_under_ci(tmp_path: Path) -> None:
    (tmp_path / "ci").mkdir()
    checkout = checkout_in(tmp_path / "ci")
    code, out = run(checkout)
    assert code == 0 and "1 skipped" in out
    assert "SKIPPED" in out and "the moderation quality targets were not measured" in out
    code, out = run(checkout, CI="true")
    assert code == 1 and "1 failed" in out and "CI is set: put a copy of shared/ beside the checkout" in out


def test_with_the_shared_sets_beside_the_clone_it_runs_under_ci(tmp_path: Path) -> None:
    """CI's layout: the clone in one folder, a copy of shared/ beside it."""
    real = next(
        (d / "shared" for d in (ROOT.parent, ROOT.parent.parent) if (d / "shared" / "alignment").is_dir()),
        None,
    )
    if real is None:
        pytest.skip("no shared/ beside this checkout to lay out as CI does")
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "alignment").symlink_to(real / "alignment", target_is_directory=True)
    code, out = run(checkout_in(tmp_path), CI="true")
    assert "1 passed" in out and "skipped" not in out, out
    assert code == 0
