"""tools/pick_hold_level.py picks the suspicion hold on fold models trained as the shipped answer check was."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core.alignment.features import FeatureSpec
from tools import train_checks as tc
from tools.pick_hold_level import hold_scores, shipped_recipe, shown_before_block

MODELS = Path(__file__).resolve().parents[2] / "core" / "alignment" / "models"


def test_fold_models_use_the_recipe_the_shipped_answer_check_was_trained_with() -> None:
    """The shipped weights were trained with the trainer's default answer recipe (no flag overrides it in
    the recorded command), and the fold models use that recipe and the weights' own features: a hold level
    picked with other models would describe another check."""
    figures = json.loads((MODELS / "figures.json").read_text(encoding="utf-8"))
    command = figures.get("answer_command", figures["command"]).split()
    for flag in ("--answer-source-power", "--answer-own-weight", "--answer-alpha", "--prefix-weight"):
        assert flag not in command, flag
    recipe = shipped_recipe()
    stored = json.loads((MODELS / "answer.json").read_text(encoding="utf-8"))
    assert recipe.spec == FeatureSpec.from_json(stored["features"])
    assert recipe.spec.prefix_weight == 0.0  # the request's blocks, as the trainer's default weighs them
    assert recipe.alpha == stored["alpha"] == figures["answer"]["alpha"]
    assert (recipe.source_power, recipe.own_weight) == (tc.ANSWER_SOURCE_POWER, tc.ANSWER_OWN_WEIGHT)
    assert recipe.balanced and recipe.with_prompt


def test_a_rising_score_holds_an_answer_turning_harmful_before_it_reaches_the_level() -> None:
    """`--hold-score rising` (as served): an answer whose partial score climbs from 0.1 to 0.6
    in one chunk is held at that check; the served prefix hold shows it up to there."""
    ends, scores, length = [650, 850, 1050, 1250], [0.1, 0.3, 0.6, 0.99], 3000
    args = argparse.Namespace(lookahead=600, hold_max_chars=2000)
    prefix = hold_scores("prefix", scores, "", None, ends, 600, 200, lambda pairs: [])
    rising = hold_scores("rising", scores, "", None, ends, 600, 200, lambda pairs: [])
    assert prefix == scores and max(rising[:2]) < 0.683 <= rising[2]
    assert shown_before_block([(ends, scores, prefix, length)], 0.683, 0.97, args).endswith("1 of 1")
    assert shown_before_block([(ends, scores, rising, length)], 0.683, 0.97, args).endswith("0 of 1")
