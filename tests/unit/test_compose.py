"""docker-compose.yml, parsed and checked (no Docker engine here): services, healthchecks, the GPU
reservation, persistent volumes, pinned images, profiles, and only real setting names."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def setting_names() -> set[str]:
    names = set()
    for group, field in Settings.model_fields.items():
        for name in field.annotation.model_fields:  # type: ignore[union-attr]
            names.add(f"{group}_{name}".upper())
    return names


def test_services_and_profiles() -> None:
    assert {"redis", "tgi", "discord", "slack"} <= set(SERVICES)
    for name in ("redis", "tgi", "discord", "slack"):
        assert "profiles" not in SERVICES[name], name
    assert SERVICES["guard"]["profiles"] == ["guard"]
    assert SERVICES["prometheus"]["profiles"] == ["monitoring"] and SERVICES["grafana"]["profiles"] == [
        "monitoring"
    ]
    assert SERVICES["tgi-cpu"]["profiles"] == ["cpu"]


def test_images_are_pinned() -> None:
    for name, svc in SERVICES.items():
        image = svc.get("image", "")
        tag = image.rsplit(":", 1)[-1] if ":" in image else ""
        assert tag and tag != "latest" and re.search(r"\d", tag), (name, image)


def test_every_long_running_service_has_a_healthcheck() -> None:
    for name in ("redis", "tgi", "guard", "tgi-cpu", "prometheus", "grafana"):
        assert SERVICES[name]["healthcheck"]["test"], name
    assert int(SERVICES["tgi"]["healthcheck"]["start_period"].rstrip("s")) >= 600
    assert "HEALTHCHECK" in (ROOT / "Dockerfile").read_text()  # the bots' healthcheck is in their image


def test_tgi_serves_dolphin_on_a_gpu() -> None:
    tgi = SERVICES["tgi"]
    args = tgi["command"]
    assert args[args.index("--model-id") + 1] == "cognitivecomputations/dolphin-2.1-mistral-7b"
    assert "--revision" in args
    assert args[args.index("--max-input-tokens") + 1] == "7168"
    assert args[args.index("--max-total-tokens") + 1] == "8192"
    assert "--max-concurrent-requests" in args
    device = tgi["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert "HF_TOKEN" in tgi["environment"] and tgi["shm_size"]
    assert any(v.endswith(":/data") for v in tgi["volumes"])


def test_redis_persists_with_aof_on_a_named_volume() -> None:
    redis = SERVICES["redis"]
    assert (
        "--appendonly" in redis["command"]
        and redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    )
    volume = redis["volumes"][0].split(":")[0]
    assert volume in COMPOSE["volumes"]


def test_bots_wait_for_redis_and_restart() -> None:
    for name in ("discord", "slack"):
        svc = SERVICES[name]
        assert svc["env_file"] == ".env"
        assert svc["depends_on"]["redis"]["condition"] == "service_healthy"
        assert svc["restart"] == "unless-stopped"
    assert SERVICES["discord"]["command"] == ["discord"] and SERVICES["slack"]["command"][0] == "slack"


def test_environment_names_are_real_settings() -> None:
    names = setting_names()
    for name in ("discord", "slack"):
        for key in SERVICES[name]["environment"]:
            assert key in names, key
    for match in re.findall(r"\$\{([A-Z_]+)", (ROOT / "docker-compose.yml").read_text()):
        assert match in names, match


def test_prometheus_scrapes_the_bots_and_grafana_has_the_dashboard() -> None:
    prom = yaml.safe_load((ROOT / "deploy/prometheus.yml").read_text())
    targets = [t for job in prom["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]]
    assert "discord:9100" in targets and "slack:9100" in targets and "tgi:80" in targets
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/dolphin-relay.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for metric in (
        "dolphin_relay_messages_total",
        "dolphin_relay_time_to_first_token_seconds_bucket",
        "dolphin_relay_generated_tokens_total",
        "dolphin_relay_moderation_verdicts_total",
        "tgi_queue_size",
        "dolphin_relay_errors_total",
    ):
        assert metric in exprs, metric
