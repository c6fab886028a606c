"""What the chat apps say before a question (core/greeting.py): Slack's limits on suggested prompts and
loading messages hold for any configuration and in every language; a Slack locale names its language."""

from __future__ import annotations

import pytest

from bots.slack.users import locale_language
from core import i18n
from core.greeting import (
    MAX_LOADING_MESSAGES,
    MAX_PROMPT_TITLE_CHARS,
    MAX_SUGGESTED_PROMPTS,
    greeting,
    progress,
    suggested_prompts,
)


def test_suggested_prompts_keep_to_slacks_limits() -> None:
    long = "Explain, step by step and with an example, " * 4
    prompts = suggested_prompts(["  ", "One", long, "Three", "Four", "Five"])
    assert [p.message for p in prompts] == ["One", long.strip(), "Three", "Four"]
    assert len(prompts) == MAX_SUGGESTED_PROMPTS
    assert all(len(p.title) <= MAX_PROMPT_TITLE_CHARS for p in prompts)
    assert suggested_prompts([]) == ()


@pytest.mark.parametrize("language", i18n.languages())
def test_every_language_has_a_greeting_a_status_and_loading_messages(language: str) -> None:
    assert "Dolphin" in greeting("Dolphin", language)
    shown = progress(language)
    assert shown.status and 2 <= len(shown.loading_messages) <= MAX_LOADING_MESSAGES
    if language != i18n.FALLBACK:  # translated, not the English fallback
        assert shown.status != progress(i18n.FALLBACK).status


@pytest.mark.parametrize(
    ("locale", "language"),
    [
        ("en-US", "en"),
        ("fr-FR", "fr"),
        ("ja-JP", "ja"),
        ("zh-CN", "zh"),
        ("", "en"),
        (None, "en"),
        ("42", "en"),
    ],
)
def test_a_slack_locale_names_its_language(locale: str | None, language: str) -> None:
    assert locale_language(locale) == language
