"""How requests reach bolt: the HTTP endpoint and the Socket Mode client, each checking what arrives first
(bots/slack/payloads.py) so that nothing malformed gets into bolt or a listener.

- HTTP (`http_app`): the signature first (401 as bolt answers, but without bolt's INFO line that quotes
  the whole body: with a wrong SLACK_SIGNING_SECRET that was every user's message in the logs);
  then a body that is not a JSON object gets 400 with `X-Slack-No-Retry: 1` (a resend would be the same),
  and a payload the app cannot handle gets 200: acknowledged and dropped, since Slack resends anything
  else up to three times and counts it as a failed delivery. The rest goes to bolt, as its own aiohttp
  adapter would pass it.
- Socket Mode (`CheckedSocketModeHandler`): every frame is checked before slack_sdk queues it; a malformed
  envelope is acknowledged (else Slack redelivers it) and dropped.

Each drop is one warning, `slack.event_dropped`, with the event type and the reason, never the text.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp
import structlog
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient

from bots.slack.payloads import Dropped, check_frame, check_payload, to_payload

log = structlog.get_logger(__name__)

EVENTS_PATH = "/slack/events"


def log_dropped(dropped: Dropped, *, transport: str) -> None:
    log.warning(
        "slack.event_dropped", event_type=dropped.event_type, reason=dropped.reason, transport=transport
    )


def is_signed(verifier: SignatureVerifier, body: bytes, headers: Mapping[str, str]) -> bool:
    """Slack's signature (HMAC-SHA256 of `v0:timestamp:body`, timestamp within five minutes)."""
    try:
        return verifier.is_valid(
            body=body,
            timestamp=headers.get("X-Slack-Request-Timestamp"),
            signature=headers.get("X-Slack-Signature"),
        )
    except ValueError:  # a timestamp that is not a number, a body that is not UTF-8: not from Slack
        return False


def http_app(app: AsyncApp, *, signing_secret: str, path: str = EVENTS_PATH) -> web.Application:
    verifier = SignatureVerifier(signing_secret)

    async def events(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        if not is_signed(verifier, raw, request.headers):
            log.info("slack.request_rejected", reason="bad or stale signature")
            return web.json_response({"error": "invalid request"}, status=401)
        text = raw.decode("utf-8")  # the signature was checked on this text
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip() or None
        payload = to_payload(text, content_type)
        if isinstance(payload, Dropped):
            log_dropped(payload, transport="http")
            return web.Response(status=400, headers={"X-Slack-No-Retry": "1"})
        dropped = check_payload(payload)
        if dropped is not None:
            log_dropped(dropped, transport="http")
            return web.Response(status=200)
        bolt_request = AsyncBoltRequest(
            body=text,
            query=request.query_string,
            headers=dict(request.headers),
        )
        return await to_aiohttp_response(await app.async_dispatch(bolt_request))

    web_app = web.Application()
    web_app.router.add_post(path, events)
    return web_app


class CheckedSocketModeClient(SocketModeClient):
    """slack_sdk's aiohttp Socket Mode client; each text frame is checked before it is queued."""

    async def enqueue_message(self, message: str) -> None:
        dropped = check_frame(message)
        if dropped is None:
            await super().enqueue_message(message)
            return
        log_dropped(dropped, transport="socket_mode")
        if dropped.envelope_id is not None:  # acknowledged: a redelivery would be just as malformed
            try:
                await self.send_socket_mode_response({"envelope_id": dropped.envelope_id})
            except (aiohttp.ClientError, ConnectionError) as exc:
                log.warning("slack.ack_failed", error=type(exc).__name__)


class CheckedSocketModeHandler(AsyncSocketModeHandler):
    """bolt's Socket Mode adapter on `CheckedSocketModeClient`."""

    def __init__(self, app: AsyncApp, app_token: str) -> None:
        # Not super().__init__(): that would build slack_sdk's plain client (with its own HTTP session and
        # queue task) only for it to be replaced. These are the lines it runs, with the checked client.
        self.app = app
        self.app_token = app_token
        self.client = CheckedSocketModeClient(
            app_token=app_token, logger=app.logger, web_client=app.client, ping_interval=10
        )
        self.client.socket_mode_request_listeners.append(self.handle)  # type: ignore[arg-type]
