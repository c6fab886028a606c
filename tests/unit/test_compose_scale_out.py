"""deploy/compose.scale-out.yml, parsed and checked (no Docker engine here): three Slack replicas and
three Discord shards share one comma-separated TGI_URL of two model servers on two GPUs and a 3-master
Redis Cluster, with real setting names only."""

from __future__ import annotations

from pathlib import Path

import yaml

from core.settings import RedisSettings, Settings, TGISettings, tgi_urls

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "deploy" / "compose.scale-out.yml").read_text())
SERVICES = COMPOSE["services"]
BOTS = ["slack", "discord-0", "discord-1", "discord-2"]


def test_two_model_servers_on_two_gpus() -> None:
    base = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name, gpu in (("tgi-a", "0"), ("tgi-b", "1")):
        assert SERVICES[name]["extends"] == {"file": "../docker-compose.yml", "service": "tgi"}
        assert SERVICES[name]["environment"]["CUDA_VISIBLE_DEVICES"] == gpu
    assert "tgi" in base and "tgi-models" in COMPOSE["volumes"]


def test_a_three_master_cluster_formed_once() -> None:
    nodes = [f"redis-{i}" for i in range(3)]
    for node in nodes:
        command = SERVICES[node]["command"]
        assert command[command.index("--cluster-enabled") + 1] == "yes"
        assert command[command.index("--cluster-announce-hostname") + 1] == node
        assert SERVICES[node]["volumes"] == [f"{node}:/data"]
    job = SERVICES["redis-cluster"]
    script = job["command"][0]
    assert "--cluster create" in script and "--cluster-replicas 0" in script
    assert all(f"getent hosts {node}" in script for node in nodes) and "$$(" in script  # $$: not compose's
    assert set(job["depends_on"]) == set(nodes) and job["restart"] == "no"


def setting_names() -> set[str]:
    return {
        f"{group}_{name}".upper()
        for group, field in Settings.model_fields.items()
        for name in field.annotation.model_fields  # type: ignore[union-attr]
    }


def test_bots_share_both_model_servers_and_the_cluster() -> None:
    for bot in BOTS:
        env = SERVICES[bot]["environment"]
        assert set(env) <= setting_names(), set(env) - setting_names()
        urls = tgi_urls(TGISettings(url=env["TGI_URL"]))  # valid for the settings, two servers
        assert urls == ["http://tgi-a:80", "http://tgi-b:80"]
        assert RedisSettings(url=env["REDIS_URL"], cluster=env["REDIS_CLUSTER"]).cluster
        assert SERVICES[bot]["depends_on"]["redis-cluster"]["condition"] == "service_completed_successfully"
    assert SERVICES["slack"]["deploy"]["replicas"] == 3 and "ports" not in SERVICES["slack"]
    shards = sorted(SERVICES[f"discord-{i}"]["environment"]["DISCORD_SHARD_IDS"] for i in range(3))
    assert shards == ["0", "1", "2"]
    assert {SERVICES[f"discord-{i}"]["environment"]["DISCORD_SHARD_COUNT"] for i in range(3)} == {"3"}


def test_images_are_pinned() -> None:
    for name, svc in SERVICES.items():
        image = svc.get("image")
        if image is not None:
            assert ":" in image and not image.endswith(":latest"), name
