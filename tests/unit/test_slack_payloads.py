"""The payload checks let every shape Slack really sends through (as documented on api.slack.com, trimmed)
and drop what bolt or a listener would choke on. The end-to-end side is tests/integration/test_slack_faults.py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bots.slack.payloads import Dropped, check_frame, check_payload, to_payload

AUTH = [
    {
        "enterprise_id": None,
        "team_id": "T1",
        "user_id": "UBOT",
        "is_bot": True,
        "is_enterprise_install": False,
    }
]


def callback(event: dict[str, Any], **body: Any) -> dict[str, Any]:
    return {
        "token": "x",
        "team_id": "T1",
        "api_app_id": "A1",
        "event": event,
        "type": "event_callback",
        "event_id": "Ev1",
        "event_time": 1700000001,
        "authorizations": AUTH,
        "is_ext_shared_channel": False,
        "event_context": "4-eyJldCI6...",
        **body,
    }


MESSAGE = {
    "type": "message",
    "user": "U1",
    "text": "hello",
    "ts": "1700000001.000100",
    "channel": "C1",
    "channel_type": "channel",
    "event_ts": "1700000001.000100",
    "client_msg_id": "5a3c…",
    "team": "T1",
    "blocks": [{"type": "rich_text", "block_id": "b", "elements": []}],
}

REAL = {
    "app_mention": callback(
        {**MESSAGE, "type": "app_mention", "text": "<@UBOT> hi", "user_profile": {"display_name": "Ann"}}
    ),
    "thread reply": callback({**MESSAGE, "thread_ts": "1700000000.000001", "parent_user_id": "UBOT"}),
    "direct message": callback({**MESSAGE, "channel": "D1", "channel_type": "im"}),
    "file share": callback(
        {**MESSAGE, "subtype": "file_share", "text": "", "files": [{"id": "F1"}], "upload": False}
    ),
    "thread broadcast": callback(
        {**MESSAGE, "subtype": "thread_broadcast", "thread_ts": "1700000000.000001", "root": {"ts": "1"}}
    ),
    "edit": callback(
        {
            "type": "message",
            "subtype": "message_changed",
            "hidden": True,
            "channel": "C1",
            "ts": "1700000002.000200",
            "event_ts": "1700000002.000200",
            "message": {**MESSAGE, "edited": {"user": "U1", "ts": "1700000002.000000"}},
            "previous_message": MESSAGE,
        }
    ),
    "deletion": callback(
        {
            "type": "message",
            "subtype": "message_deleted",
            "hidden": True,
            "channel": "C1",
            "ts": "1700000002.000200",
            "deleted_ts": "1700000001.000100",
            "previous_message": MESSAGE,
        }
    ),
    "bot message": callback(
        {
            "type": "message",
            "subtype": "bot_message",
            "bot_id": "B1",
            "username": "ci",
            "text": "built",
            "ts": "1.2",
        }
    ),
    "join": callback({**MESSAGE, "subtype": "channel_join", "text": "<@U1> has joined", "inviter": "U2"}),
    "assistant thread": callback(
        {
            "type": "assistant_thread_started",
            "assistant_thread": {
                "user_id": "U1",
                "context": {"channel_id": "C1", "team_id": "T1", "enterprise_id": "E1"},
                "channel_id": "D9",
                "thread_ts": "1700000005.000001",
            },
            "event_ts": "1700000005.000002",
        }
    ),
    # agent view (slack/manifest*.yml): the DM opened, what the member looks at, and a DM with that context
    "DM opened": callback(
        {
            "type": "app_home_opened",
            "user": "U1",
            "channel": "D1",
            "tab": "messages",
            "event_ts": "1700000005.000002",
            "context": {"entities": [{"type": "slack#/types/channel_id", "value": "C1", "team_id": "T1"}]},
        }
    ),
    "Home tab opened": callback(
        {
            "type": "app_home_opened",
            "user": "U1",
            "channel": "D1",
            "tab": "home",
            "view": {"id": "V1", "team_id": "T1", "type": "home", "blocks": []},
            "event_ts": "1700000005.000002",
        }
    ),
    "context changed": callback(
        {
            "type": "app_context_changed",
            "context": {"entities": [{"type": "slack#/types/channel_id", "value": "C1", "team_id": "T1"}]},
        }
    ),
    "context changed to nothing": callback({"type": "app_context_changed", "context": {}}),
    "DM with the member's context": callback(
        {**MESSAGE, "channel": "D1", "channel_type": "im", "context": {"entities": []}}
    ),
    "org-wide install on Enterprise Grid": callback(
        MESSAGE,
        enterprise_id="E1",
        authorizations=[
            {
                "enterprise_id": "E1",
                "team_id": None,
                "user_id": "UBOT",
                "is_bot": True,
                "is_enterprise_install": True,
            }
        ],
        context_team_id="T1",
        context_enterprise_id="E1",
    ),
    "Slack Connect channel": callback(
        {**MESSAGE, "user_team": "T9", "source_team": "T9"}, is_ext_shared_channel=True
    ),
    "slash command": {
        "token": "x",
        "team_id": "T1",
        "team_domain": "t1",
        "enterprise_id": "E1",
        "enterprise_name": "Org",
        "channel_id": "C1",
        "channel_name": "general",
        "user_id": "U1",
        "user_name": "ann",
        "command": "/dolphin",
        "text": "",
        "api_app_id": "A1",
        "is_enterprise_install": "false",
        "response_url": "https://hooks.slack.com/commands/T1/1/abc",
        "trigger_id": "1.2.abc",
    },
    "URL verification": {"token": "x", "challenge": "abc", "type": "url_verification"},
}


@pytest.mark.parametrize("payload", REAL.values(), ids=REAL.keys())
def test_what_slack_sends_is_never_dropped(payload: dict[str, Any]) -> None:
    assert check_payload(payload) is None
    assert check_frame(json.dumps({"envelope_id": "e", "type": "events_api", "payload": payload})) is None


def test_form_bodies_parse_like_bolt_parses_them() -> None:
    assert to_payload("command=%2Fdolphin&text=", "application/x-www-form-urlencoded") == {
        "command": "/dolphin",
        "text": "",
    }
    assert to_payload("ssl_check=1&token=x", "application/x-www-form-urlencoded") == {
        "ssl_check": "1",
        "token": "x",
    }
    assert to_payload('payload={"type": "block_actions"', "application/x-www-form-urlencoded") == Dropped(
        "request", "the body is not JSON"
    )


def test_slack_sdks_own_frames_pass_and_a_dropped_envelope_names_what_to_acknowledge() -> None:
    assert check_frame(json.dumps({"type": "hello", "num_connections": 1})) is None
    assert check_frame(json.dumps({"type": "disconnect", "reason": "refresh_requested"})) is None
    frame = {"envelope_id": "e9", "type": "events_api", "payload": callback({**MESSAGE, "text": 5})}
    assert check_frame(json.dumps(frame)) == Dropped("message", "event.text is not a string", "e9")


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"type": "app_home_opened", "channel": "D1", "tab": "messages"}, "event.user is missing"),
        (
            {"type": "app_home_opened", "user": "U1", "channel": 7, "tab": "messages"},
            "event.channel is not a string",
        ),
        (
            {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": ["messages"]},
            "event.tab is not a string",
        ),
        ({"type": "app_context_changed", "context": "C1"}, "event.context is not an object"),
    ],
)
def test_agent_view_events_the_app_cannot_read_are_dropped(event: dict[str, Any], reason: str) -> None:
    dropped = check_payload(callback(event))
    assert dropped is not None and (dropped.event_type, dropped.reason) == (event["type"], reason)


def _click() -> dict[str, Any]:
    """A click on an answer's feedback button, as Slack sends it (tests/fakes/slack_api.py `click`)."""
    return {
        "type": "block_actions",
        "user": {"id": "U2", "username": "u2", "name": "u2", "team_id": "T1"},
        "api_app_id": "A1",
        "token": "x",
        "container": {"type": "message", "message_ts": "1.2", "channel_id": "C1", "is_ephemeral": False},
        "trigger_id": "t",
        "team": {"id": "T1", "domain": "t1"},
        "channel": {"id": "C1", "name": "general"},
        "message": {"type": "message", "ts": "1.2", "user": "UBOT", "bot_id": "B1", "text": "hi"},
        "actions": [
            {"type": "feedback_buttons", "action_id": "a", "value": "report_answer", "action_ts": "1"}
        ],
    }


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda p: p.pop("actions"), "body.actions is not a list of objects"),
        (lambda p: p.update(actions=[]), "body.actions is not a list of objects"),
        (lambda p: p["actions"][0].update(action_id=7), "actions[0].action_id is not a string"),
        (lambda p: p["actions"][0].update(value=["x"]), "actions[0].value is not a string"),
        (lambda p: p.update(user="U2"), "body.user is not an object"),
        (lambda p: p["user"].pop("id"), "body.user.id is missing"),
        (lambda p: p.update(container=None), "body.container is not an object"),
        (lambda p: p["container"].update(message_ts=1.2), "body.container.message_ts is not a string"),
        (lambda p: p.update(channel=5), "body.channel is not a string"),
        (lambda p: p.update(channel="C1"), "body.channel is not an object"),
        (lambda p: p.update(message=["x"]), "body.message is not an object"),
        (lambda p: p["message"].update(ts=1.2), "body.message.ts is not a string"),
    ],
)
def test_a_click_is_checked_before_bolt_reads_it(change: Any, reason: str) -> None:
    assert check_payload(_click()) is None
    payload = _click()
    change(payload)
    assert check_payload(payload) == Dropped("block_actions", reason)
