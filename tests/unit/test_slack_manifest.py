"""The app manifests ask for exactly the scopes and events the code needs: every Web API method the Slack
adapter calls and every event it handles maps to a scope here, and no scope is asked for that nothing uses."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bots.slack.payloads import COMMAND, EVENT_TYPES, LEGACY_EVENT_TYPES

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = [ROOT / "slack" / "manifest.yml", ROOT / "slack" / "manifest-http.yml"]

# Web API methods (slack_sdk names) the adapter calls → the bot scope each needs (None: no scope).
METHOD_SCOPES: dict[str, str | None] = {
    "auth_test": None,
    "apps_connections_open": None,  # the app-level token's connections:write, not a bot scope
    "chat_postMessage": "chat:write",
    "chat_postEphemeral": "chat:write",  # the private reply to a click on the feedback buttons
    "chat_update": "chat:write",
    "chat_delete": "chat:write",
    "chat_getPermalink": None,
    "users_info": "users:read",  # with include_locale: the member's language
}
# bolt helpers the adapter calls and the method behind each
HELPER_SCOPES = {
    "set_status": "chat:write",  # assistant.threads.setStatus (chat:write since March 2026)
    "set_suggested_prompts": "assistant:write",  # assistant.threads.setSuggestedPrompts
    "say": "chat:write",
    "respond": None,  # the command's response_url
}
EVENT_SCOPES = {
    "app_context_changed": None,  # agent view; Slack's event reference lists no scope
    "app_home_opened": None,
    "app_mention": "app_mentions:read",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
    "message.mpim": "mpim:history",
}


def _code() -> str:
    return "\n".join(p.read_text() for p in sorted((ROOT / "bots" / "slack").glob("*.py")))


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def test_every_method_the_code_calls_is_known() -> None:
    called = set(re.findall(r"client\.(\w+)\(", _code()))
    assert called, "no Web API calls found: the pattern is stale"
    assert called <= METHOD_SCOPES.keys(), (
        f"add the scope of {called - METHOD_SCOPES.keys()} here and to the manifests"
    )


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_scopes_and_events_are_exactly_what_is_used(path: Path) -> None:
    manifest = _load(path)
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert set(events) == EVENT_SCOPES.keys()
    needed = {s for s in (*METHOD_SCOPES.values(), *HELPER_SCOPES.values(), *EVENT_SCOPES.values()) if s}
    needed.add("commands")
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == needed
    # the intake drops any other event type as malformed: it must accept every subscribed one, and the
    # events of installs still on assistant_view
    assert {e.split(".")[0] for e in events} == EVENT_TYPES - LEGACY_EVENT_TYPES
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == COMMAND
    # the agent messaging experience; assistant_view is on its way out and new apps cannot use it
    assert "assistant_view" not in manifest["features"]
    description = manifest["features"]["agent_view"]["agent_description"]
    assert (
        0 < len(description) <= 300
    )  # Slack's manifest schema    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
    assert manifest["features"]["app_home"]["messages_tab_read_only_enabled"] is False


def test_socket_and_http_manifests_differ_only_in_transport() -> None:
    socket, http = (_load(p) for p in MANIFESTS)
    assert (
        socket["settings"]["socket_mode_enabled"] is True and http["settings"]["socket_mode_enabled"] is False
    )
    assert "request_url" not in socket["settings"]["event_subscriptions"]
    url = http["settings"]["event_subscriptions"].pop("request_url")
    assert url.endswith("/slack/events") and http["features"]["slash_commands"][0].pop("url") == url
    # Clicks on the feedback buttons come over the socket, or to the same URL as events.
    assert "request_url" not in socket["settings"]["interactivity"]
    assert http["settings"]["interactivity"].pop("request_url") == url
    assert socket["settings"]["interactivity"]["is_enabled"] is True
    for m in (socket, http):
        m["settings"].pop("socket_mode_enabled")
    assert socket == http


def test_helpers_named_above_are_the_ones_the_code_uses() -> None:
    code = _code()
    for helper in HELPER_SCOPES:
        assert re.search(rf"\b_?{helper}\(", code), helper


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_the_command_hint_lists_every_subcommand(path: Path) -> None:
    """Slack shows `usage_hint` while a member types /dolphin: every subcommand the code routes is in it
    (`usage` was missing when the budgets landed)."""
    code = (ROOT / "bots" / "slack" / "commands.py").read_text()
    routed = set(re.findall(r'^\s+\("([a-z-]+)", "[a-z]*"\):', code, flags=re.M)) | {"ask", "help"}
    assert {"reset", "persona", "usage", "forget-me", "pause", "resume"} <= routed  # the parse still works
    (command,) = _load(path)["features"]["slash_commands"]
    hint = {part.split()[0] for part in command["usage_hint"].split("|")}
    assert routed <= hint, sorted(routed - hint)
