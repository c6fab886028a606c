"""Logging: with LOG_FORMAT json every line is one JSON object, our own and the standard-library lines of
discord.py, slack_bolt, slack_sdk and aiohttp alike; library warnings that are wrong for this service are
not shown."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from core.observability import configure_logging
from core.settings import LogSettings


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    out = io.StringIO()
    configure_logging(LogSettings(level="INFO", format="json"), stream=out)
    yield out
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])
    structlog.reset_defaults()


def test_library_lines_are_json_like_ours(stream: io.StringIO) -> None:
    structlog.get_logger("core.service").warning("message.failed", error="ModelUnavailable")
    logging.getLogger("discord.gateway").warning("Shard ID %s has stopped responding to the gateway.", None)
    logging.getLogger("slack_sdk.socket_mode.aiohttp").info("A new session has been established")
    logging.getLogger("aiohttp.access").info('127.0.0.1 "POST /slack/events HTTP/1.1" 200')
    try:
        raise ConnectionResetError("peer went away")
    except ConnectionResetError:
        logging.getLogger("aiohttp.server").exception("Error handling request")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]  # each line parses as JSON
    assert [(x.get("logger"), x["level"], x["event"]) for x in lines] == [
        (None, "warning", "message.failed"),
        ("discord.gateway", "warning", "Shard ID None has stopped responding to the gateway."),
        ("slack_sdk.socket_mode.aiohttp", "info", "A new session has been established"),
        ("aiohttp.access", "info", '127.0.0.1 "POST /slack/events HTTP/1.1" 200'),
        ("aiohttp.server", "error", "Error handling request"),
    ]
    assert all("timestamp" in x for x in lines)
    assert "ConnectionResetError: peer went away" in lines[-1]["exception"]


def test_misleading_library_warnings_are_not_shown(stream: io.StringIO) -> None:
    # bolt reads SLACK_BOT_TOKEN itself; the token is used, by the client the app is given
    logging.getLogger("slack_bolt.AsyncApp").warning("As you gave `client` as well, `token` will be unused.")
    logging.getLogger("discord.client").warning("PyNaCl is not installed, voice will NOT be supported")
    logging.getLogger("slack_bolt.AsyncApp").warning("Unhandled request ({'type': 'event_callback'})")
    assert [json.loads(line)["event"] for line in stream.getvalue().splitlines()] == [
        "Unhandled request ({'type': 'event_callback'})"
    ]
