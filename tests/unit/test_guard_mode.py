"""ALIGNMENT_GUARD_MODE: which guard-model layer runs, and the errors that name the setting to fix."""

from __future__ import annotations

from typing import Any

import pytest

from core.alignment.moderator import judged_categories, resolve_guard
from core.alignment.policy import Policy, load_policy
from core.errors import ConfigurationError
from core.models import Stage
from core.settings import AlignmentSettings, load_settings


def policy_with_guard(**guard: Any) -> Policy:
    policy = load_policy()
    layer = policy.layers.guard.model_copy(update=guard)
    return policy.model_copy(update={"layers": policy.layers.model_copy(update={"guard": layer})})


@pytest.mark.parametrize(
    ("settings", "guard", "expected"),
    [
        ({}, {}, ("off", None)),
        # auto with a URL: the server is asked what it serves, at the first verdict
        ({"guard_url": "http://guard:80"}, {}, ("auto", "http://guard:80")),
        ({}, {"enabled": True, "url": "http://g:80"}, ("auto", "http://g:80")),
        # … unless ALIGNMENT_GUARD_MODEL says it
        (
            {"guard_url": "http://guard:8000", "guard_model": "Qwen/Qwen3Guard-Gen-0.6B"},
            {},
            ("qwen3guard", "http://guard:8000"),
        ),
        (
            {"guard_url": "http://lg:80", "guard_model": "meta-llama/Llama-Guard-3-1B"},
            {},
            ("llama-guard", "http://lg:80"),
        ),
        ({"guard_mode": "qwen3guard", "guard_url": "http://g:8000"}, {}, ("qwen3guard", "http://g:8000")),
        ({}, {"url": "http://g:80"}, ("off", None)),  # a URL in the policy counts with enabled: true
        ({"guard_mode": "self-check"}, {}, ("self-check", None)),
        ({"guard_mode": "self-check"}, {"enabled": True, "url": "http://g:80"}, ("self-check", None)),
        ({"guard_mode": "off", "guard_url": "http://guard:80"}, {}, ("off", None)),
        (
            {"guard_mode": "llama-guard", "guard_url": "http://guard:80"},
            {},
            ("llama-guard", "http://guard:80"),
        ),
    ],
)
def test_the_mode_and_its_server(
    settings: dict[str, Any], guard: dict[str, Any], expected: tuple[str, Any]
) -> None:
    assert resolve_guard(AlignmentSettings(**settings), policy_with_guard(**guard)) == expected


@pytest.mark.parametrize(
    ("settings", "guard", "setting", "says"),
    [
        ({"guard_mode": "llama-guard"}, {}, "ALIGNMENT_GUARD_URL", "needs ALIGNMENT_GUARD_URL"),
        ({"guard_mode": "qwen3guard"}, {}, "ALIGNMENT_GUARD_URL", "vLLM or SGLang serving Qwen3Guard-Gen"),
        (
            {"guard_url": "http://g:8000", "guard_model": "mistralai/Mistral-7B-Instruct-v0.2"},
            {},
            "ALIGNMENT_GUARD_MODEL",
            "neither Qwen3Guard-Gen nor Llama Guard",
        ),
        (
            {"guard_mode": "self-check", "guard_url": "http://guard:80"},
            {},
            "ALIGNMENT_GUARD_MODE",
            "unset ALIGNMENT_GUARD_URL",
        ),
        ({}, {"enabled": True}, "ALIGNMENT_GUARD_MODE", "ALIGNMENT_GUARD_MODE=self-check"),
    ],
)
def test_a_guard_that_cannot_run_stops_start_up_naming_the_setting(
    settings: dict[str, Any], guard: dict[str, Any], setting: str, says: str
) -> None:
    with pytest.raises(ConfigurationError) as err:
        resolve_guard(AlignmentSettings(**settings), policy_with_guard(**guard))
    assert err.value.setting == setting and says in str(err.value)


def test_the_mode_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIGNMENT_GUARD_MODE", "self-check")
    assert load_settings(env_file=None).alignment.guard_mode == "self-check"
    monkeypatch.setenv("ALIGNMENT_GUARD_MODE", "llamaguard")
    with pytest.raises(ConfigurationError, match="ALIGNMENT_GUARD_MODE"):
        load_settings(env_file=None)


def test_the_self_check_lists_jailbreaks_for_requests_only_and_never_what_the_policy_allows() -> None:
    policy = load_policy()
    requests, answers = judged_categories(policy, Stage.INPUT), judged_categories(policy, Stage.OUTPUT)
    assert "JB" in requests and "JB" not in answers
    assert not {"S6", "JM"} & (set(requests) | set(answers))  # S6 is `allow` by default; JM: the rules
    assert requests["S11"].name == "Suicide & Self-Harm" and "self-harm" in requests["S11"].description
