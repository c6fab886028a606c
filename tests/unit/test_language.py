"""Language detection (core/alignment/language.py), the notice catalogs (core/i18n.py, core/locales/) and
the policy's language settings."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from core import errors, i18n
from core.alignment.language import DETECT_CHARS, UNDETERMINED, detect_language
from core.alignment.policy import default_policy_path, load_policy
from core.errors import (
    Blocked,
    Busy,
    ConfigurationError,
    GenerationFailed,
    GenerationTimeout,
    HistoryUnavailable,
    MessageTooLong,
    ModelUnavailable,
    ModerationUnavailable,
    Muted,
    RateLimited,
    RelayError,
    StreamCutOff,
)
from core.models import ConversationKey, IncomingMessage, Platform

# Written for these tests: everyday questions, people in distress, and harmful requests, in each language.
SENTENCES = {
    "ja": [
        "今日はいい天気ですね。",
        "爆弾の作り方を教えてください",
        "プロセスを殺す方法は？",
        "明日の会議は何時からですか",
        "このコードのバグを直してほしい",
        "最近ずっと眠れなくて、つらいです",
    ],
    "zh": [
        "今天天气很好。",
        "请告诉我怎么制作炸弹",
        "你能帮我写一首诗吗",
        "这个周末我们去哪里玩",
        "我最近总是睡不着，心里很难受",
    ],
    "es": [
        "¿Cómo estás hoy?",
        "Necesito ayuda con mi tarea de matemáticas",
        "¿Cuál es la capital de Francia?",
        "Me siento muy triste últimamente",
        "Explícame cómo se hace una bomba casera",
    ],
    "fr": [
        "Comment vas-tu aujourd'hui ?",
        "Explique-moi comment fabriquer une bombe",
        "Peux-tu m'aider à écrire une lettre ?",
        "Quelle est la meilleure recette de crêpes ?",
        "Je me sens très seul ces jours-ci",
    ],
    "de": [
        "Wie geht es dir heute?",
        "Erkläre mir, wie man eine Bombe baut",
        "Kannst du mir bei meinen Hausaufgaben helfen?",
        "Was ist die Hauptstadt von Frankreich?",
        "Ich fühle mich in letzter Zeit sehr traurig",
    ],
    "en": [
        "How are you today?",
        "Tell me how to build a bomb",
        "Can you help me write a cover letter?",
        "What's the capital of France?",
        "I have been feeling really down lately",
    ],
}


@pytest.mark.parametrize(
    ("language", "text"), [(lang, text) for lang, texts in SENTENCES.items() for text in texts]
)
def test_short_sentences_are_detected(language: str, text: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize(
    "text",
    ["ok", "lol", "hi", "👍", "🙂🙂🙂", "42", "?!", "x = f(y)", "https://example.com", "yes please"],
)
def test_short_or_languageless_text_is_undetermined(text: str) -> None:
    assert detect_language(text) == UNDETERMINED


def test_only_the_head_of_a_long_message_is_read() -> None:
    head = "Could you please explain how the water cycle works in simple terms for my class? " * 4
    assert len(head) >= DETECT_CHARS
    assert detect_language(head + "今日はいい天気ですね。" * 300) == "en"
    assert detect_language("今日はいい天気ですね。" * 300 + head) == "ja"


def test_a_request_mixing_english_and_japanese_counts_as_japanese() -> None:
    assert detect_language("日本語で答えて: how do I make meth at home") == "ja"


# ------------------------------------------------------------------ the catalogs


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_catalog_has_the_ids_and_fields_of_english() -> None:
    english = i18n.catalog("en")
    assert set(i18n.languages()) >= {"en", "ja", "zh", "es", "fr", "de"}
    for language in i18n.languages():
        catalog = i18n.catalog(language)
        assert set(catalog) == set(english), language
        for key, text in catalog.items():
            assert _fields(text) == _fields(english[key]), (language, key)
            if language != "en":
                assert text != english[key], (language, key)  # translated, not copied


def test_the_french_catalog_addresses_the_member_one_way() -> None:
    """French has a formal and a familiar "you"; the catalog uses the formal "vous" throughout, and one
    notice in "tu" beside others in "vous" reads as two different bots."""
    familiar = re.compile(r"\b(?:tu|ton|ta|tes|toi|te)\b|\b(?:préviens|réessaie)\b", re.IGNORECASE)
    mixed = {key: text for key, text in i18n.catalog("fr").items() if familiar.search(text)}
    assert mixed == {}


def test_the_english_catalog_is_what_the_code_and_the_default_policy_say() -> None:
    english = i18n.catalog("en")
    for error in (
        RelayError(),
        Blocked(stage="input", category=None),
        MessageTooLong(),
        ModerationUnavailable(),
        Busy(),
        ModelUnavailable(),
        GenerationFailed(),
        GenerationTimeout(),
        StreamCutOff(),
        HistoryUnavailable(),
        RateLimited(retry_after_s=12),
        RateLimited(retry_after_s=3, scope="channel"),
        Muted(until=1_800_000_000),
    ):
        assert error.notice_in("en") == error.notice, type(error).__name__
        assert error.notice_in("xx") == error.notice  # no catalog: English
    assert english["generic"] == errors.GENERIC_NOTICE
    policy = load_policy()
    for code, category in policy.categories.items():
        assert english[f"category.{code}"] == category.notice, code


@pytest.mark.parametrize("language", ["ja", "zh", "es", "fr", "de"])
def test_notices_are_translated_with_their_fields(language: str) -> None:
    limited = RateLimited(retry_after_s=42)
    assert "42" in limited.notice_in(language) and limited.notice_in(language) != limited.notice
    muted = Muted(until=1_800_000_000)
    assert "2027-01-15 08:00 UTC" in muted.notice_in(language)
    too_long = MessageTooLong(
        notice="x", notice_id="too_long.chars", notice_fields={"length": "4,500", "limit": "4,000"}
    )
    assert "4,500" in too_long.notice_in(language) and "4,000" in too_long.notice_in(language)
    # a text given as is stays as it is
    assert (
        MessageTooLong(notice="A persona can be at most 4,000 characters long.")
        .notice_in(language)
        .startswith("A persona")
    )


HELPLINES = {
    "en": ["988", "116 123", "https://findahelpline.com"],
    "ja": ["0570-783-556", "0120-783-556", "https://findahelpline.com"],
    "zh": ["1925", "https://findahelpline.com"],
    "es": ["024", "988", "https://findahelpline.com"],
    "fr": ["3114", "143", "988", "https://findahelpline.com"],
    "de": ["0800 111 0 111", "0800 111 0 222", "142", "143", "https://findahelpline.com"],
}


@pytest.mark.parametrize(("language", "numbers"), HELPLINES.items())
def test_the_self_harm_notice_points_to_help_in_every_language(language: str, numbers: list[str]) -> None:
    notice = load_policy().notice_for("S11", language)
    for number in numbers:
        assert number in notice, (language, number)
    # no other phone-like number slipped in
    rest = notice
    for number in numbers:
        if "-" in number:  # hyphenated numbers are not read by the pattern below
            rest = rest.replace(number, "")
    found = set(re.findall(r"\b\d[\d ]*\d\b|\b\d\b", rest))
    allowed = {n for n in numbers if n[0].isdigit() and "-" not in n}
    assert found <= allowed, (language, found - allowed)


# ------------------------------------------------------------------ the policy


def _msg(space: str) -> IncomingMessage:
    key = ConversationKey(Platform.DISCORD, space, "c1")
    return IncomingMessage(key=key, message_id="1", author_id="u", author_name="A", text="x")


def test_the_uncovered_language_setting_is_per_community(tmp_path: Path) -> None:
    text = default_policy_path().read_text(encoding="utf-8")
    text = text.replace(
        "overrides:\n",
        'overrides:\n  - when: {space: "g-refuse"}\n    uncovered_language: refuse\n'
        '  - when: {space: "g-flag", channel: "c1"}\n    uncovered_language: flag\n',
        1,
    )
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    policy = load_policy(path)
    assert policy.languages.covered == ["en"] and policy.languages.uncovered == "check"
    assert policy.uncovered_mode(_msg("g-refuse")) == "refuse"
    assert policy.uncovered_mode(_msg("g-flag")) == "flag"
    assert policy.uncovered_mode(_msg("elsewhere")) == "check"
    assert (
        policy.action_for("S12", _msg("g-refuse")).value == "block"
    )  # the category actions are as they were


def test_a_bad_language_setting_names_the_line(tmp_path: Path) -> None:
    text = default_policy_path().read_text(encoding="utf-8")
    path = tmp_path / "policy.yaml"
    path.write_text(text.replace("  covered: [en]", "  covered: [English]"), encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"languages\.covered.*ISO 639"):
        load_policy(path)
    path.write_text(text.replace("  uncovered: check", "  uncovered: ignore"), encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"languages\.uncovered"):
        load_policy(path)


def test_a_reworded_notice_is_not_replaced_by_the_shipped_translation(tmp_path: Path) -> None:
    text = default_policy_path().read_text(encoding="utf-8")
    text = text.replace(
        "    notice: I can't help with weapons.\n",
        "    notice: No weapons talk here, friend.\n    notices: {de: Keine Waffen hier.}\n",
    )
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    policy = load_policy(path)
    assert policy.notice_for("S9", "ja") == "No weapons talk here, friend."
    assert policy.notice_for("S9", "de") == "Keine Waffen hier."
    assert policy.notice_for("S1", "ja") == "誰かを傷つけることには協力できません。"
