"""The deployment files, parsed and checked (no Docker engine here): docker-compose.yml (services,
healthchecks, the GPU reservation, persistent volumes, pinned images and revision, profiles, only real
setting names), the Dockerfile, the Prometheus configuration and the Grafana dashboard, whose every PromQL
expression must name metrics and labels that core/observability.py really exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import Counter, Gauge, Histogram

from core.observability import Metrics
from core.settings import DeploySettings, RuntimeSettings, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
PROMETHEUS = yaml.safe_load((ROOT / "deploy/prometheus.yml").read_text())
DASHBOARD = json.loads((ROOT / "deploy/grafana/dashboards/dolphin-relay.json").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def setting_names() -> set[str]:
    names = set()
    for group, field in Settings.model_fields.items():
        for name in field.annotation.model_fields:  # type: ignore[union-attr]
            names.add(f"{group}_{name}".upper())
    return names


def arg(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def seconds(duration: str) -> float:
    value, unit = re.fullmatch(r"(\d+)(s|m)", duration).groups()  # type: ignore[union-attr]
    return float(value) * (60 if unit == "m" else 1)


def test_services_and_profiles() -> None:
    assert {"redis", "tgi", "guard", "discord", "slack"} <= set(SERVICES)
    for name in ("redis", "tgi", "guard", "discord", "slack"):  # `docker compose up -d` starts these
        assert "profiles" not in SERVICES[name], name
    assert SERVICES["llama-guard"]["profiles"] == ["llama-guard"]
    assert SERVICES["prometheus"]["profiles"] == ["monitoring"] and SERVICES["grafana"]["profiles"] == [
        "monitoring"
    ]
    assert SERVICES["tgi-cpu"]["profiles"] == ["cpu"]
    assert SERVICES["vllm"]["profiles"] == ["vllm"]


def test_images_are_pinned() -> None:
    for name, svc in SERVICES.items():
        image = svc.get("image", "")
        tag = image.rsplit(":", 1)[-1] if ":" in image else ""
        assert tag and tag != "latest" and re.search(r"\d+\.\d+", tag), (name, image)
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.\d+\.\d+-slim-\w+$", DOCKERFILE, re.MULTILINE)


def test_every_long_running_service_has_a_healthcheck() -> None:
    for name in ("redis", "tgi", "guard", "llama-guard", "tgi-cpu", "vllm", "prometheus", "grafana"):
        assert SERVICES[name]["healthcheck"]["test"], name
    assert "/health" in " ".join(SERVICES["guard"]["healthcheck"]["test"])
    assert seconds(SERVICES["tgi"]["healthcheck"]["start_period"]) >= 600  # the first model download
    assert "/health" in " ".join(SERVICES["tgi"]["healthcheck"]["test"])
    assert "PONG" in " ".join(SERVICES["redis"]["healthcheck"]["test"])  # not just "redis-cli answered"
    assert "HEALTHCHECK" in DOCKERFILE  # the bots' healthcheck is in their image


def test_tgi_serves_dolphin_on_a_gpu_at_a_pinned_revision() -> None:
    tgi = SERVICES["tgi"]
    args = tgi["command"]
    assert arg(args, "--model-id") == "cognitivecomputations/dolphin-2.1-mistral-7b"
    revision = re.fullmatch(r"\$\{DEPLOY_MODEL_REVISION:-([0-9a-f]+)\}", arg(args, "--revision"))
    assert revision and len(revision.group(1)) == 40  # a commit, not a branch that moves
    assert revision.group(1) == DeploySettings().model_revision  # .env.example documents the same one
    assert arg(args, "--max-input-tokens") == "7168"
    assert arg(args, "--max-total-tokens") == "8192"
    assert int(arg(args, "--max-concurrent-requests")) >= 1
    device = tgi["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert "HF_TOKEN" in tgi["environment"] and tgi["shm_size"]
    assert any(v.endswith(":/data") for v in tgi["volumes"])


def test_tgi_is_its_last_release() -> None:
    """TGI is in maintenance mode; 3.3.7 is its last release (docs/operations.md)."""
    assert SERVICES["tgi"]["image"] == "ghcr.io/huggingface/text-generation-inference:3.3.7"


def test_vllm_profile_serves_the_same_dolphin_and_leaves_room_for_a_guard() -> None:
    vllm = SERVICES["vllm"]
    image, tag = vllm["image"].rsplit(":", 1)
    assert image == "vllm/vllm-openai" and re.fullmatch(r"v\d+\.\d+\.\d+", tag)  # a release, not latest
    args = vllm["command"]
    assert arg(args, "--model") == arg(SERVICES["tgi"]["command"], "--model-id")
    assert arg(args, "--revision") == arg(SERVICES["tgi"]["command"], "--revision")  # the same pinned commit
    assert arg(args, "--max-model-len") == "8192"  # what the bots read from /v1/models
    share = re.fullmatch(
        r"\$\{DEPLOY_VLLM_GPU_MEMORY_UTILIZATION:-([0-9.]+)\}", arg(args, "--gpu-memory-utilization")
    )
    assert share and float(share.group(1)) == DeploySettings().vllm_gpu_memory_utilization
    assert float(share.group(1)) <= 0.75  # a guard model on the same GPU gets the rest
    assert "--enable-prefix-caching" in args
    assert "/health" in " ".join(vllm["healthcheck"]["test"]) and "8000" in " ".join(
        vllm["healthcheck"]["test"]
    )
    assert seconds(vllm["healthcheck"]["start_period"]) >= 600
    device = vllm["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert "HF_TOKEN" in vllm["environment"] and vllm["ipc"] == "host"
    volume = vllm["volumes"][0].split(":")[0]
    assert volume in COMPOSE["volumes"]
    # the header of the profile says how much GPU memory it needs and how to point the bots at it
    text = (ROOT / "docker-compose.yml").read_text()
    assert "TGI_BACKEND=vllm" in text and "DEPLOY_TGI_URL=http://vllm:8000" in text and "GB" in text


def default_of(value: str) -> float:
    """The default of a `${DEPLOY_X:-default}` value."""
    match = re.fullmatch(r"\$\{[A-Z_]+:-([0-9.]+)\}", value)
    assert match, value
    return float(match.group(1))


def test_the_default_guard_is_qwen3guard_on_vllm_sharing_dolphins_gpu() -> None:
    guard, tgi = SERVICES["guard"], SERVICES["tgi"]
    args = guard["command"]
    assert re.fullmatch(r"vllm/vllm-openai:v\d+\.\d+\.\d+", guard["image"])  # a release, not latest
    assert arg(args, "--model") == "Qwen/Qwen3Guard-Gen-0.6B"
    # the alignment layer sends a message and a whole answer: the guard's context must hold both
    assert int(arg(args, "--max-model-len")) >= 7168 + 1024
    device = guard["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert guard["depends_on"]["tgi"]["condition"] == "service_healthy"  # takes what Dolphin left
    # both shares, as shipped, fit on one GPU with room for two CUDA contexts
    dolphin = default_of(arg(tgi["command"], "--cuda-memory-fraction"))
    share = default_of(arg(args, "--gpu-memory-utilization"))
    assert dolphin + share <= 0.96 and share >= 0.1
    assert dolphin == DeploySettings().tgi_memory_fraction
    assert share == DeploySettings().guard_gpu_memory_utilization
    assert any(v.endswith(":/root/.cache/huggingface") for v in guard["volumes"])  # weights survive restarts


def test_the_vllm_profile_has_the_same_guard_started_after_dolphins_vllm() -> None:
    """Under --profile vllm, tgi is not started; `guard` waits for tgi, so the profile has its own copy."""
    guard, copy = SERVICES["guard"], SERVICES["guard-vllm"]
    assert copy["profiles"] == ["vllm"] and copy["depends_on"] == {"vllm": {"condition": "service_healthy"}}
    for key in ("image", "command", "volumes", "healthcheck", "deploy"):
        assert copy[key] == guard[key], key
    # what the docs tell the operator to start and where to point the bots
    text = (ROOT / "docs/operations.md").read_text()
    assert "DEPLOY_GUARD_URL=http://guard-vllm:8000" in text and "up -d redis vllm guard-vllm" in text
    # shares as shipped: Dolphin on vLLM and the guard fit one GPU with room for two CUDA contexts
    assert (
        DeploySettings().vllm_gpu_memory_utilization + DeploySettings().guard_gpu_memory_utilization <= 0.96
    )


def test_the_bots_ask_the_guard_service_by_default() -> None:
    port = arg(SERVICES["guard"]["command"], "--port")
    for name in ("discord", "slack"):
        url = SERVICES[name]["environment"]["ALIGNMENT_GUARD_URL"]
        assert url == f"${{DEPLOY_GUARD_URL-http://guard:{port}}}"  # empty DEPLOY_GUARD_URL: no guard
    assert DeploySettings().guard_url == f"http://guard:{port}"


def test_llama_guard_3_1b_runs_on_tgi_under_its_profile() -> None:
    lg = SERVICES["llama-guard"]
    args = lg["command"]
    assert lg["image"] == "ghcr.io/huggingface/text-generation-inference:3.3.7"
    assert arg(args, "--model-id") == "meta-llama/Llama-Guard-3-1B"
    assert "HF_TOKEN" in lg["environment"]  # the model is gated
    assert lg["depends_on"]["tgi"]["condition"] == "service_healthy"
    assert int(arg(args, "--max-input-tokens")) >= 7168
    share = default_of(arg(args, "--cuda-memory-fraction"))
    assert share == DeploySettings().llama_guard_memory_fraction
    # with this profile, docs/operations.md has Dolphin take 0.75 (DEPLOY_TGI_MEMORY_FRACTION)
    assert "DEPLOY_TGI_MEMORY_FRACTION=0.75" in (ROOT / "docs/operations.md").read_text()
    assert 0.75 + share <= 0.96


def test_cpu_profile_serves_a_small_chatml_model_on_the_cpu_image() -> None:
    cpu = SERVICES["tgi-cpu"]
    assert cpu["image"].endswith("-intel-cpu") and "deploy" not in cpu
    assert re.fullmatch(r"Qwen/Qwen2\.5-0\.5B-Instruct", arg(cpu["command"], "--model-id"))


def test_redis_persists_with_aof_on_a_named_volume() -> None:
    redis = SERVICES["redis"]
    assert arg(redis["command"], "--appendonly") == "yes"
    volume, path = redis["volumes"][0].split(":")
    assert volume in COMPOSE["volumes"] and path == "/data"


def test_bots_wait_for_redis_restart_and_stay_idle_when_unconfigured() -> None:
    for name in ("discord", "slack"):
        svc = SERVICES[name]
        assert svc["env_file"] == ".env"
        assert svc["depends_on"]["redis"]["condition"] == "service_healthy"
        assert svc["restart"] == "unless-stopped"
        assert svc["init"] is True
        # an admin who set up only one platform must not get a crash-looping container for the other
        assert svc["command"][0] == name and "--optional" in svc["command"]
        # Docker's SIGKILL must come after the bots' own drain deadline
        assert seconds(svc["stop_grace_period"]) > RuntimeSettings().shutdown_grace_s
        assert svc["environment"]["METRICS_PORT"] == "9100"


def test_environment_names_are_real_settings() -> None:
    names = setting_names()
    for name in ("discord", "slack"):
        for key in SERVICES[name]["environment"]:
            assert key in names, key
    for match in re.findall(r"\$\{([A-Z_]+)", (ROOT / "docker-compose.yml").read_text()):
        assert match in names, match


def test_monitoring_is_published_on_this_machine_only() -> None:
    for name in ("prometheus", "grafana"):
        for port in SERVICES[name]["ports"]:
            assert port.startswith("127.0.0.1:"), (name, port)


def test_prometheus_finds_every_bot_replica_and_the_model_servers() -> None:
    jobs = {job["job_name"]: job for job in PROMETHEUS["scrape_configs"]}
    bots = jobs["dolphin-relay"]["dns_sd_configs"][0]
    assert {"discord", "slack"} <= set(bots["names"]) and bots["port"] == 9100
    assert "tgi" in jobs["tgi"]["dns_sd_configs"][0]["names"]
    guards = {n: sd["port"] for sd in jobs["guard"]["dns_sd_configs"] for n in sd["names"]}
    assert guards == {"guard": int(arg(SERVICES["guard"]["command"], "--port")), "llama-guard": 80}
    assert jobs["vllm"]["dns_sd_configs"][0] == {"names": ["vllm"], "type": "A", "port": 8000}


def exported_metrics() -> dict[str, set[str]]:
    """Series names as Prometheus stores them → their label names, from the real Metrics class."""
    out: dict[str, set[str]] = {}
    for metric in vars(Metrics()).values():
        if not isinstance(metric, Counter | Gauge | Histogram):
            continue
        name, labels = metric._name, set(metric._labelnames)
        if isinstance(metric, Counter):
            out[f"{name}_total"] = labels
        elif isinstance(metric, Histogram):
            out[f"{name}_bucket"] = labels | {"le"}
            out[f"{name}_sum"] = out[f"{name}_count"] = labels
        else:
            out[name] = labels
    return out


# TGI's router exports these (router/src/…: gauge!("tgi_queue_size"), gauge!("tgi_batch_current_size")).
TGI_METRICS = {"tgi_queue_size", "tgi_batch_current_size"}
TARGET_LABELS = {"job", "instance", "service"}  # added by Prometheus and deploy/prometheus.yml


def test_every_dashboard_query_names_exported_metrics_and_labels() -> None:
    exported = exported_metrics()
    assert "dolphin_relay_messages_total" in exported  # the helper itself works
    for panel in DASHBOARD["panels"]:
        assert panel["datasource"]["uid"] == "prometheus"
        for target in panel["targets"]:
            expr: str = target["expr"]
            used = re.findall(r"\b((?:dolphin_relay|tgi)_[a-z_]+)\b(?:\{([^}]*)\})?", expr)
            assert used or "up" in expr, expr
            labels: set[str] = set(TARGET_LABELS)
            for name, matchers in used:
                if name.startswith("tgi_"):
                    assert name in TGI_METRICS, name
                    continue
                assert name in exported, f"{name} is not exported (panel {panel['title']!r})"
                labels |= exported[name]
                for label in re.findall(r"(\w+)\s*=~?", matchers):
                    assert label in exported[name] | TARGET_LABELS, (name, label)
            for group in re.findall(r"\bby\s*\(([^)]*)\)", expr):
                for label in (g.strip() for g in group.split(",")):
                    assert label in labels, (expr, label)
            for label in re.findall(r"\{\{(\w+)\}\}", target.get("legendFormat", "")):
                assert label in labels, (target["legendFormat"], label)


def test_dashboard_has_the_panels_an_admin_needs() -> None:
    titles = " | ".join(p["title"] for p in DASHBOARD["panels"])
    for wanted in (
        "Messages per minute by platform and outcome",
        "Time to first token",
        "Tokens per second",
        "Blocks by category and stage",
        "TGI queue size",
        "Errors",
    ):
        assert wanted in titles, wanted
    exprs = {p["title"]: " ".join(t["expr"] for t in p["targets"]) for p in DASHBOARD["panels"]}
    assert "by (platform, outcome)" in exprs["Messages per minute by platform and outcome"]
    blocks = next(e for t, e in exprs.items() if t.startswith("Blocks"))
    assert 'action="block"' in blocks and "by (stage, category)" in blocks


def dockerfile_stages() -> list[list[str]]:
    stages: list[list[str]] = []
    for line in DOCKERFILE.replace("\\\n", " ").splitlines():
        line = line.strip()
        if line.startswith("FROM "):
            stages.append([])
        if stages and line and not line.startswith("#"):
            stages[-1].append(line)
    return stages


def instruction(stage: list[str], name: str) -> list[str]:
    return [line for line in stage if line.split(" ", 1)[0] == name]


def test_dockerfile_runtime_image_is_slim_non_root_and_runs_dolphin_relay() -> None:
    _build, runtime = dockerfile_stages()
    user = instruction(runtime, "USER")
    assert user and user[-1].split()[1] not in ("root", "0")
    assert json.loads(instruction(runtime, "ENTRYPOINT")[0].split(" ", 1)[1]) == ["dolphin-relay"]
    assert json.loads(instruction(runtime, "CMD")[0].split(" ", 1)[1])[0] in ("discord", "slack", "all")
    healthcheck = instruction(runtime, "HEALTHCHECK")[0]
    assert "/healthz" in healthcheck and "METRICS_PORT" in healthcheck
    assert "curl" not in healthcheck and "wget" not in healthcheck  # neither is in the slim image
    # only the built environment reaches the runtime stage: no sources, wheels or build tools
    copies = instruction(runtime, "COPY")
    assert copies == ["COPY --from=build /opt/relay /opt/relay"]
    assert not instruction(runtime, "RUN") or all("pip" not in r for r in instruction(runtime, "RUN"))


def test_dockerfile_installs_dependencies_before_copying_the_sources() -> None:
    build, _runtime = dockerfile_stages()
    text = "\n".join(build)
    deps = text.index("pip install -r requirements.txt")
    assert text.index("COPY pyproject.toml") < deps < text.index("COPY core") < text.index("--no-deps .")


def test_dockerignore_lets_in_only_what_the_image_needs() -> None:
    lines = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line.removeprefix("!").rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "core", "bots"}  # never .env, tests or .git
    copied: set[str] = set()
    for line in dockerfile_stages()[0]:
        if line.startswith("COPY "):
            copied.update(p.rstrip("/").removeprefix("./") for p in line.split()[1:-1])
    assert copied <= allowed, copied - allowed


def test_the_image_healthcheck_probes_healthz_and_is_off_with_metrics_port_0() -> None:
    """The HEALTHCHECK command of the Dockerfile, run as Docker runs it (exit 0: healthy)."""
    import os
    import socket
    import subprocess
    import sys
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    _build, runtime = dockerfile_stages()
    command = json.loads(instruction(runtime, "HEALTHCHECK")[0].split(" CMD ", 1)[1])
    assert command[0] == "python"

    def probe(**env: str) -> int:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("METRICS_")}
        return subprocess.run(
            [sys.executable, *command[1:]], env={**clean, **env}, capture_output=True
        ).returncode

    class Healthz(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Healthz)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert probe(METRICS_PORT=str(server.server_address[1])) == 0
    finally:
        server.shutdown()
        server.server_close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    assert probe(METRICS_PORT=str(closed)) != 0  # nothing answers: unhealthy
    assert probe(METRICS_PORT="0") == 0  # the server is off: so is the probe
