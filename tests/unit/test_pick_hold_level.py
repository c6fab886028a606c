"""tools/pick_hold_level.py picks the suspicion hold on fold models trained as the shipped answer check was."""

from __future__ import annotations

import json
from pathlib import Path

from core.alignment.features import FeatureSpec
from tools import train_checks as tc
from tools.pick_hold_level import shipped_recipe

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
