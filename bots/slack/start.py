"""Slack start-up: the Web API client, and the tokens checked with Slack before anything connects (a wrong or
revoked token ends start-up with one line naming the setting, instead of a retry loop)."""

from __future__ import annotations

from typing import Any

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    async_default_handlers,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.sink import slack_error
from core.errors import ConfigurationError
from core.observability import Metrics
from core.settings import SlackSettings

log = structlog.get_logger(__name__)


class CountingRateLimitHandler(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 handling (wait `Retry-After`, then retry), each 429 counted per Web API method."""

    def __init__(self, *, max_retry_count: int, metrics: Metrics | None) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._metrics = metrics

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is not None and response.status_code == 429 and self._metrics is not None:
            method = request.url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
            self._metrics.platform_rate_limited.labels(platform="slack", route=method).inc()
        return await super().can_retry_async(state=state, request=request, response=response, error=error)


def build_client(settings: SlackSettings, *, metrics: Metrics | None = None) -> AsyncWebClient:
    """The one Web API client of the app (bolt's listeners and the Socket Mode client use it too): base URL
    SLACK_API_URL; slack_sdk's default connection-error retries plus 429s waited out (`Retry-After`), counted
    in `dolphin_relay_platform_rate_limited_total`."""
    assert settings.bot_token is not None
    return AsyncWebClient(
        token=settings.bot_token.get_secret_value(),
        base_url=settings.api_url,
        retry_handlers=[
            *async_default_handlers(),
            CountingRateLimitHandler(max_retry_count=3, metrics=metrics),
        ],
    )


def check_tokens(settings: SlackSettings, *, http_mode: bool) -> None:
    """The settings the mode needs are there and look like the right kind of token."""
    if settings.bot_token is None:
        raise ConfigurationError(
            "SLACK_BOT_TOKEN is not set: install the app (slack/manifest.yml) and copy its Bot User OAuth "
            "Token (xoxb-…) from OAuth & Permissions",
            setting="SLACK_BOT_TOKEN",
        )
    if not settings.bot_token.get_secret_value().startswith(("xoxb-", "xoxe.xoxb-")):
        raise ConfigurationError(
            "SLACK_BOT_TOKEN is not a bot token: copy the Bot User OAuth Token (it starts with xoxb-) from "
            "OAuth & Permissions",
            setting="SLACK_BOT_TOKEN",
        )
    if http_mode and settings.signing_secret is None:
        raise ConfigurationError(
            "SLACK_SIGNING_SECRET is required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode): copy it "
            "from Basic Information → App Credentials",
            setting="SLACK_SIGNING_SECRET",
        )


async def verify(client: AsyncWebClient, settings: SlackSettings) -> dict[str, Any]:
    """`auth.test` with the bot token: a rejected token or an unreachable SLACK_API_URL ends start-up
    with one line that names the setting."""
    try:
        auth = await client.auth_test()
    except SlackApiError as exc:
        error = slack_error(exc)
        raise ConfigurationError(
            f"Slack rejected SLACK_BOT_TOKEN ({error}): copy the Bot User OAuth Token (xoxb-…) from OAuth & "
            "Permissions, and reinstall the app if you changed its scopes",
            setting="SLACK_BOT_TOKEN",
        ) from None
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise unreachable(settings, exc) from None
    data = dict(auth.data) if isinstance(auth.data, dict) else {}
    log.info("slack.authenticated", team=data.get("team_id"), bot_user=data.get("user_id"))
    return data


def unreachable(settings: SlackSettings, exc: BaseException) -> ConfigurationError:
    return ConfigurationError(
        f"cannot reach the Slack Web API at {settings.api_url} ({type(exc).__name__}): check the "
        "network or SLACK_API_URL",
        setting="SLACK_API_URL",
    )


async def open_socket_url(client: AsyncWebClient, settings: SlackSettings, app_token: str) -> str:
    """`apps.connections.open` once with the app token: a wrong token fails here, with one line, instead
    of slack_sdk's endless reconnect loop."""
    if not app_token.startswith("xapp-"):
        raise ConfigurationError(
            "SLACK_APP_TOKEN is not an app-level token: generate one (it starts with xapp-) with the "
            "connections:write scope under Basic Information → App-Level Tokens",
            setting="SLACK_APP_TOKEN",
        )
    try:
        opened = await client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        raise ConfigurationError(
            f"Slack refused a Socket Mode connection for SLACK_APP_TOKEN ({slack_error(exc)}): generate an "
            "app-level token with connections:write (Basic Information → App-Level Tokens) and turn on "
            "Settings → Socket Mode",
            setting="SLACK_APP_TOKEN",
        ) from None
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise unreachable(settings, exc) from None
    return str(opened["url"])
