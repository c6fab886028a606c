"""Discord's 429s counted per route in /metrics (bots/discord/app.py `count_rate_limits`): ids and the tokens
in interaction and webhook paths never become label values."""

from __future__ import annotations

from types import SimpleNamespace

from prometheus_client import CollectorRegistry
from yarl import URL

from bots.discord.app import count_rate_limits
from core.observability import Metrics

TOKEN = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OTpzZWNyZXQtdG9rZW4tdmFsdWU"  # an interaction token's shape


async def limited(metrics: Metrics, method: str, path: str) -> None:
    (on_end,) = count_rate_limits(metrics).on_request_end
    params = SimpleNamespace(
        method=method, url=URL(f"https://discord.com/api/v10{path}"), response=SimpleNamespace(status=429)
    )
    await on_end(None, None, params)


def routes(metrics: Metrics) -> set[str]:
    return {
        sample.labels["route"]
        for family in metrics.registry.collect()
        if family.name == "dolphin_relay_platform_rate_limited"
        for sample in family.samples
        if sample.name.endswith("_total")
    }


async def test_an_interaction_token_never_reaches_the_metrics() -> None:
    metrics = Metrics(CollectorRegistry())
    await limited(metrics, "PATCH", f"/webhooks/1122334455/{TOKEN}/messages/@original")
    await limited(metrics, "POST", f"/interactions/998877665544/{TOKEN}/callback")
    await limited(metrics, "POST", "/channels/123456789/messages")
    assert routes(metrics) == {
        "PATCH /webhooks/{id}/{token}/messages/@original",
        "POST /interactions/{id}/{token}/callback",
        "POST /channels/{id}/messages",
    }
