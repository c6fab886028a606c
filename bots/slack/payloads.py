"""What Slack sends, checked before bolt or a listener reads it (pure functions, no I/O).

A payload this app cannot handle is *dropped*: `check_payload()` and `check_frame()` return a `Dropped`
(the event type and a short reason, never the text), the intake (bots/slack/intake.py) logs it once as
`slack.event_dropped` and acknowledges it, and nothing is answered or stored. Without these checks a body
that is not JSON, an `event` that is not an object or a `user` that is a number raised inside bolt (a 500
and a traceback; in Socket Mode an envelope that was never acknowledged, so Slack sent it again), and an
event without `channel` or `ts`, or with a `text` that is not a string, was answered and stored under a
made-up conversation (`…:None`, `"42"`, `"['a']"`). JSON nested deeper than Python's recursion limit (a
signed body of 200,000 `[`) made the parser raise RecursionError: a 500 and a traceback; it is dropped too,
and so is JSON the parser could read but that is nested deeper than `MAX_DEPTH` (Slack's payloads are a few
levels deep): bolt and slack_sdk parse the same text again, deeper in the stack, where it could still fail.

What is checked is what the code reads: the fields bolt's context builder and middleware look into (they
assume Slack's types), and, for the events the app answers, the fields that make the conversation and the
message. Fields nothing reads (`blocks`, `files`, `attachments`, …) are not checked. A well-formed event the
app chooses not to answer (edits, joins, bots, any other subtype) is not dropped: the listeners ignore it
without a warning, as they always did.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_bolt.request.internals import parse_body

from bots.slack.translate import ANSWERED_SUBTYPES, installation_space

COMMAND = "/dolphin"
# The event types the app handles: what slack/manifest*.yml subscribe to (message.* all arrive as "message"),
# and what an install still on `assistant_view` is subscribed to (its manifest from before agent view).
LEGACY_EVENT_TYPES = frozenset({"assistant_thread_started"})
EVENT_TYPES = (
    frozenset({"app_mention", "message", "app_home_opened", "app_context_changed"}) | LEGACY_EVENT_TYPES
)
# Socket Mode envelopes that carry a payload and want an acknowledgement.
ENVELOPE_TYPES = frozenset({"events_api", "slash_commands", "interactive"})
NESTED_TOO_DEEPLY = "the JSON is nested too deeply"
MAX_DEPTH = 64  # objects and arrays inside one another; Slack's own payloads stay far below
_TS = re.compile(r"\d{1,12}\.\d{1,9}")
# Fields bolt reads as "a string or an object with an id"; a number or a list there raises inside bolt.
_ID_FIELDS = ("user", "channel", "team", "enterprise")
# Fields bolt reads as objects (and looks into for the ids above).
_OBJECT_FIELDS = ("message", "previous_message", "item", "assistant_thread", "view")


@dataclass(frozen=True, slots=True)
class Dropped:
    event_type: str  # the event's type, "slash_command", "request" (an HTTP body) or "frame" (Socket Mode)
    reason: str  # which field is wrong and how; never a field's value
    envelope_id: str | None = None  # Socket Mode: the envelope to acknowledge, so that Slack does not resend


def to_payload(text: str, content_type: str | None) -> dict[str, Any] | Dropped:
    """An HTTP request body, parsed the way bolt parses it (JSON, form fields, or `payload=` JSON)."""
    if not text.strip():
        return Dropped("request", "the body is empty")
    try:
        parsed: object = parse_body(text, content_type)
    except ValueError:  # json.JSONDecodeError
        return Dropped("request", "the body is not JSON")
    except RecursionError:  # a signed body nested deeper than the parser's recursion limit
        return Dropped("request", NESTED_TOO_DEEPLY)
    if not isinstance(parsed, dict):
        return Dropped("request", "the body is not a JSON object")
    if nested_deeper_than(parsed, MAX_DEPTH):
        return Dropped("request", NESTED_TOO_DEEPLY)
    return parsed


def nested_deeper_than(value: object, limit: int) -> bool:
    """Whether objects and arrays nest more than `limit` levels in `value` (without recursion)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def check_frame(raw: str) -> Dropped | None:
    """A Socket Mode frame: None when slack_sdk and bolt may have it (an envelope with a payload the app
    can handle, or one of slack_sdk's own frames: `hello`, `disconnect`)."""
    try:
        frame: object = json.loads(raw)
    except ValueError:
        return Dropped("frame", "not JSON")
    except RecursionError:
        return Dropped("frame", NESTED_TOO_DEEPLY)
    if not isinstance(frame, dict):
        return Dropped("frame", "not a JSON object")
    if nested_deeper_than(frame, MAX_DEPTH):
        return Dropped(str(frame.get("type")), NESTED_TOO_DEEPLY, _envelope_id(frame))
    kind, envelope_id = frame.get("type"), frame.get("envelope_id")
    if envelope_id is None:
        return Dropped(str(kind), "no envelope_id") if kind in ENVELOPE_TYPES else None
    if not isinstance(envelope_id, str) or not envelope_id:
        return Dropped(str(kind), "envelope_id is not a string")
    payload = frame.get("payload")
    if not isinstance(payload, dict):
        reason = "no payload" if payload is None else "payload is not an object"
        return Dropped(str(kind), reason, envelope_id)
    dropped = check_payload(payload)
    if dropped is None:
        return None
    return Dropped(dropped.event_type, dropped.reason, envelope_id)


def check_payload(payload: Mapping[str, Any]) -> Dropped | None:
    """None when bolt and the listeners can handle `payload`; else why not."""
    if "command" in payload:  # bolt's test for a slash command
        return _check_command(payload)
    kind = payload.get("type")
    if payload.get("ssl_check") == "1" or kind == "url_verification":
        return None  # answered by bolt itself
    if kind == "block_actions":
        return _check_block_actions(payload)
    if kind != "event_callback":
        return Dropped(str(kind) if isinstance(kind, str) else "unknown", "unhandled payload type")
    event = payload.get("event")
    if event is None:
        return Dropped("event_callback", "no event")
    if not isinstance(event, Mapping):
        return Dropped("event_callback", "event is not an object")
    event_type = event.get("type")
    if not isinstance(event_type, str) or not event_type:
        return Dropped("event_callback", "event.type is missing")
    problem = _envelope_problem(payload) or _bolt_problem(event, "event") or _event_problem(event)
    return Dropped(event_type, problem) if problem else None


def _check_command(payload: Mapping[str, Any]) -> Dropped | None:
    problem = (
        _strings(payload, ("command", "team_id", "channel_id", "user_id", "response_url"), "command")
        or _strings(payload, ("text",), "command", empty=True)
        or _optional_strings(payload, ("trigger_id", "user_name"), "command")
        or _bolt_problem(payload, "command")
    )
    if problem is None and payload["command"] != COMMAND:
        problem = "unknown command"
    return Dropped("slash_command", problem) if problem else None


def _check_block_actions(payload: Mapping[str, Any]) -> Dropped | None:
    """A click on a block element (the feedback buttons under an answer, bots/slack/report.py)."""
    problem = _bolt_problem(payload, "body")
    actions, user, container = payload.get("actions"), payload.get("user"), payload.get("container")
    if problem is None:
        if not isinstance(actions, list) or not actions or not all(isinstance(a, Mapping) for a in actions):
            problem = "body.actions is not a list of objects"
        else:
            problem = _strings(actions[0], ("action_id",), "actions[0]") or _optional_strings(
                actions[0], ("value",), "actions[0]"
            )
    if problem is None:
        if not isinstance(user, Mapping):
            problem = "body.user is not an object"
        else:
            problem = _strings(user, ("id",), "body.user") or _optional_strings(
                user, ("name", "username", "team_id"), "body.user"
            )
    if problem is None:
        if not isinstance(container, Mapping):
            problem = "body.container is not an object"
        else:
            problem = _optional_strings(
                container, ("channel_id", "message_ts", "thread_ts"), "body.container"
            )
    for name, fields in (("message", ("ts", "thread_ts", "user", "bot_id")), ("channel", ("id",))):
        part = payload.get(name)  # optional: read for the reported message when the container lacks it
        if problem is None and part is not None:
            if not isinstance(part, Mapping):
                problem = f"body.{name} is not an object"
            else:
                problem = _optional_strings(part, fields, f"body.{name}")
    return Dropped("block_actions", problem) if problem else None


def _envelope_problem(payload: Mapping[str, Any]) -> str | None:
    auths = payload.get("authorizations")
    if auths is not None and (not isinstance(auths, list) or not all(isinstance(a, Mapping) for a in auths)):
        return "authorizations is not a list of objects"
    for auth in auths or []:
        if problem := _optional_strings(auth, ("team_id", "enterprise_id", "user_id"), "authorizations"):
            return problem
    problem = _strings(payload, ("event_id",), "body") or _optional_strings(
        payload, ("team_id", "enterprise_id", "api_app_id"), "body"
    )
    if problem:
        return problem
    if not isinstance(payload.get("is_ext_shared_channel", False), bool):
        return "body.is_ext_shared_channel is not a boolean"
    if not installation_space(payload):
        return "no workspace (authorizations, team_id)"
    return _bolt_problem(payload, "body")


def _bolt_problem(obj: Mapping[str, Any], where: str, depth: int = 0) -> str | None:
    """The fields bolt reads without checking their type (bolt/request/internals.py)."""
    for name in _ID_FIELDS:
        value = obj.get(name)
        if value is not None and not isinstance(value, str | Mapping):
            return f"{where}.{name} is not a string"
    for name in ("thread_ts", "user_team", "bot_id", "subtype", "channel_type"):
        value = obj.get(name)
        if value is not None and not isinstance(value, str):
            return f"{where}.{name} is not a string"
    event = obj.get("event")
    if event is not None and not isinstance(event, Mapping):
        return f"{where}.event is not an object"
    urls = obj.get("response_urls")
    if urls is not None and (not isinstance(urls, list) or not all(isinstance(u, Mapping) for u in urls)):
        return f"{where}.response_urls is not a list of objects"
    for name in _OBJECT_FIELDS:
        value = obj.get(name)
        if value is None:
            continue
        if not isinstance(value, Mapping):
            return f"{where}.{name} is not an object"
        if depth < 2 and (problem := _bolt_problem(value, f"{where}.{name}", depth + 1)):
            return problem
    return None


def _event_problem(event: Mapping[str, Any]) -> str | None:
    kind = event["type"]
    if kind not in EVENT_TYPES:
        return "unhandled event type"
    if kind == "assistant_thread_started":
        thread = event.get("assistant_thread")
        if not isinstance(thread, Mapping):
            return "event.assistant_thread is missing"
        return _strings(thread, ("user_id", "channel_id", "thread_ts"), "event.assistant_thread")
    if kind == "app_home_opened":
        return _strings(event, ("user", "channel"), "event") or _optional_strings(event, ("tab",), "event")
    if kind == "app_context_changed":
        context = event.get("context")
        return None if context is None or isinstance(context, Mapping) else "event.context is not an object"
    if event.get("bot_id") or (kind == "message" and event.get("subtype") not in (None, *ANSWERED_SUBTYPES)):
        return None  # not a person's new message: the listener ignores it
    problem = _strings(event, ("user", "channel", "ts"), "event") or _strings(
        event, ("text",), "event", empty=True
    )
    if problem:
        return problem
    for name in ("ts", "thread_ts"):
        value = event.get(name)
        if value is not None and not _TS.fullmatch(value):
            return f"event.{name} is not a Slack timestamp"
    return None


def _strings(
    obj: Mapping[str, Any], names: tuple[str, ...], where: str, *, empty: bool = False
) -> str | None:
    for name in names:
        value = obj.get(name)
        if value is None:
            return f"{where}.{name} is missing"
        if not isinstance(value, str):
            return f"{where}.{name} is not a string"
        if not value and not empty:
            return f"{where}.{name} is empty"
    return None


def _optional_strings(obj: Mapping[str, Any], names: tuple[str, ...], where: str) -> str | None:
    for name in names:
        value = obj.get(name)
        if value is not None and not isinstance(value, str):
            return f"{where}.{name} is not a string"
    return None


def _envelope_id(frame: Mapping[str, Any]) -> str | None:
    envelope_id = frame.get("envelope_id")
    return envelope_id if isinstance(envelope_id, str) and envelope_id else None
