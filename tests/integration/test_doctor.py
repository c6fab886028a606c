"""`dolphin-relay doctor` against loopback fakes: all green (and exit 0 from the real command), each failure
reported with its fix (and a non-zero exit), never a secret in the output, always finished in bounded time."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from aiohttp import web

import bots.doctor
from bots.doctor import MESSAGE_CONTENT_FLAGS, Check, diagnose, print_table
from core.settings import (
    AlignmentSettings,
    DiscordSettings,
    RedisSettings,
    Settings,
    SlackSettings,
    TGISettings,
)
from tests.fakes.guards import FakeOpenAIGuard, GuardReply, Rule, llama_guard_responder
from tests.fakes.tgi import FakeTGI
from tests.ports import refused_port

ROOT = Path(__file__).resolve().parents[2]
GOOD_DISCORD = "discord-good-token"
GOOD_BOT = "xoxb-good-bot-token"
GOOD_APP = "xapp-good-app-token"


class FakeDiscordAPI:
    """/gateway/bot and /oauth2/applications/@me, with a token check and settable application flags."""

    def __init__(self) -> None:
        self.flags = MESSAGE_CONTENT_FLAGS & (1 << 19)  # a small bot: GATEWAY_MESSAGE_CONTENT_LIMITED
        self.url = ""

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bot {GOOD_DISCORD}"

    async def gateway(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        return web.json_response({"url": "wss://gateway.discord.gg", "shards": 1})

    async def application(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        return web.json_response({"id": "1", "name": "dolphin", "flags": self.flags})


class FakeSlackAuth:
    """auth.test and apps.connections.open with Slack's answers for good and wrong tokens."""

    async def handle(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        method = request.match_info["method"]
        if method == "auth.test":
            if token == GOOD_BOT:
                return web.json_response({"ok": True, "user": "dolphin", "team": "Team", "user_id": "UBOT"})
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if method == "apps.connections.open":
            if token == GOOD_APP:
                return web.json_response({"ok": True, "url": "wss://wss-primary.slack.com/link/?ticket=x"})
            error = "not_allowed_token_type" if token.startswith("xoxb-") else "invalid_auth"
            return web.json_response({"ok": False, "error": error})
        return web.json_response({"ok": False, "error": "unknown_method"})


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def discord_api() -> AsyncIterator[tuple[FakeDiscordAPI, str]]:
    fake = FakeDiscordAPI()
    app = web.Application()
    app.router.add_get("/api/v10/gateway/bot", fake.gateway)
    app.router.add_get("/api/v10/oauth2/applications/@me", fake.application)
    runner, url = await serve(app)
    yield fake, f"{url}/api/v10"
    await runner.cleanup()


@pytest.fixture
async def slack_api() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/api/{method}", FakeSlackAuth().handle)
    runner, url = await serve(app)
    yield f"{url}/api/"
    await runner.cleanup()


@pytest.fixture
async def persistent_redis(redis_client: aioredis.Redis) -> AsyncIterator[aioredis.Redis]:
    """The session's throwaway Redis with an RDB snapshot rule, as a real deployment has."""
    before = (await redis_client.config_get("save"))["save"]
    await redis_client.config_set("save", "3600 1")
    yield redis_client
    await redis_client.config_set("save", before)


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def printed(checks: list[Check], capsys: pytest.CaptureFixture[str]) -> str:
    print_table(checks)
    return capsys.readouterr().out


async def test_all_green(
    redis_url: str,
    persistent_redis: aioredis.Redis,
    discord_api: tuple[FakeDiscordAPI, str],
    slack_api: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lg = llama_guard_responder([Rule("pipe bomb", categories=("S9", "S1"))])
    async with FakeTGI() as tgi, FakeTGI(model_id="meta-llama/Llama-Guard-3-1B", responder=lg) as guard:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            tgi=TGISettings(url=tgi.url),
            redis=RedisSettings(url=redis_url),
            discord=DiscordSettings(token=GOOD_DISCORD),  # type: ignore[arg-type]
            slack=SlackSettings(bot_token=GOOD_BOT, app_token=GOOD_APP, api_url=slack_api),  # type: ignore[arg-type]
            alignment=AlignmentSettings(guard_url=guard.url),
        )
        checks = await diagnose(settings, discord_api=discord_api[1])
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    names = set(by_name(checks))
    assert {"configuration", "redis", "discord", "discord intents", "slack", "slack mode"} <= names
    assert {"guard model", "moderation policy"} <= names
    model = next(c for c in checks if c.name.startswith("model server"))
    assert "dolphin-2.1-mistral-7b" in model.detail and "max_total_tokens=8192" in model.detail
    assert "Socket Mode" in by_name(checks)["slack mode"].detail
    out = printed(checks, capsys)
    assert "✗" not in out and out.count("✓") == len(checks) and f"{len(checks)} passed, 0 failed" in out
    for secret in (GOOD_DISCORD, GOOD_BOT, GOOD_APP):
        assert secret not in out


async def test_each_failure_names_its_fix(
    redis_url: str,
    discord_api: tuple[FakeDiscordAPI, str],
    slack_api: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with (
        FakeTGI(model_id="mistralai/Mistral-7B-Instruct-v0.2", tokenize=False) as wrong_model,
        FakeTGI(model_id="mistralai/Mistral-7B-Instruct-v0.2") as not_a_guard,
    ):
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            tgi=TGISettings(url=f"http://127.0.0.1:{refused_port()},{wrong_model.url}"),
            redis=RedisSettings(url=f"redis://:hunter2@127.0.0.1:{refused_port()}/0"),
            discord=DiscordSettings(token="bad-token"),  # type: ignore[arg-type]
            slack=SlackSettings(bot_token="xoxb-revoked", app_token="xoxb-pasted-twice", api_url=slack_api),  # type: ignore[arg-type]
            alignment=AlignmentSettings(guard_url=not_a_guard.url),
        )
        checks = await diagnose(settings, discord_api=discord_api[1])
    failed = {c.name: c for c in checks if not c.ok}
    assert "REDIS_URL" in failed["redis"].fix and "hunter2" not in failed["redis"].detail
    assert "Developer Portal" in failed["discord"].fix
    assert "invalid_auth" in failed["slack"].detail and "SLACK_BOT_TOKEN" in failed["slack"].fix
    assert "app-level token" in failed["slack mode"].detail and "SLACK_APP_TOKEN" in failed["slack mode"].fix
    assert (
        "Llama Guard" in failed["guard model"].detail and "ALIGNMENT_GUARD_URL" in failed["guard model"].fix
    )
    model_fixes = [c.fix for c in checks if c.name.startswith("model server") and not c.ok]
    assert len(model_fixes) == 2
    assert any("TGI_URL" in f for f in model_fixes) and any(
        "dolphin-2.1-mistral-7b" in f for f in model_fixes
    )
    out = printed(checks, capsys)
    n_failed = sum(not c.ok for c in checks)
    assert out.count("fix:") == n_failed and out.count("✗") == n_failed
    for secret in ("bad-token", "xoxb-revoked", "xoxb-pasted-twice", "hunter2"):
        assert secret not in out


async def test_configuration_mistakes_an_admin_makes(
    redis_url: str, redis_client: aioredis.Redis, discord_api: tuple[FakeDiscordAPI, str], slack_api: str
) -> None:
    """No platform at all; the Message Content intent left off; Slack's HTTP mode without its secret; the
    two Slack tokens swapped; a Redis that keeps nothing on disk; Dolphin with a short context."""
    fake_discord, discord_url = discord_api
    fake_discord.flags = 0
    await redis_client.config_set("save", "")
    async with FakeTGI(max_total_tokens=4096, max_input_tokens=3072) as short:
        base = Settings(_env_file=None, tgi=TGISettings(url=short.url), redis=RedisSettings(url=redis_url))  # type: ignore[call-arg]
        nothing = by_name(await diagnose(base, discord_api=discord_url))
        intents = by_name(
            await diagnose(
                base.model_copy(update={"discord": DiscordSettings(token=GOOD_DISCORD)}),  # type: ignore[arg-type]
                discord_api=discord_url,
            )
        )
        http_mode = by_name(
            await diagnose(
                base.model_copy(update={"slack": SlackSettings(bot_token=GOOD_BOT, api_url=slack_api)}),  # type: ignore[arg-type]
                discord_api=discord_url,
            )
        )
        swapped = by_name(
            await diagnose(
                base.model_copy(
                    update={"slack": SlackSettings(bot_token=GOOD_APP, app_token=GOOD_BOT, api_url=slack_api)}  # type: ignore[arg-type]
                ),
                discord_api=discord_url,
            )
        )
    assert not nothing["platforms"].ok and "DISCORD_TOKEN" in nothing["platforms"].fix
    assert "platforms" not in intents  # Discord alone is a complete setup …
    assert intents["discord"].ok and not intents["discord intents"].ok  # … but the intent is off
    assert "Message Content Intent" in intents["discord intents"].fix
    assert not http_mode["slack mode"].ok and "SLACK_SIGNING_SECRET" in http_mode["slack mode"].fix
    assert not swapped["slack"].ok and "xoxb-" in swapped["slack"].fix
    assert not nothing["redis"].ok and "--appendonly yes" in nothing["redis"].fix
    model = next(c for n, c in nothing.items() if n.startswith("model server"))
    assert not model.ok and "--max-total-tokens 8192" in model.fix


async def test_other_model_servers(redis_url: str, persistent_redis: aioredis.Redis) -> None:
    """The CPU profile's ChatML model passes (its tokenizer knows <|im_end|>); TGI_BACKEND=openai (vLLM,
    llama.cpp, Ollama) is checked through /v1/models, with the limits from settings."""
    # the fake's /info says 4096: seeing 8192 proves the openai path used /v1/models and the settings
    async with (
        FakeTGI(model_id="Qwen/Qwen2.5-0.5B-Instruct") as qwen,
        FakeTGI(max_total_tokens=4096) as openai,
    ):
        cpu = await diagnose(
            Settings(_env_file=None, tgi=TGISettings(url=qwen.url), redis=RedisSettings(url=redis_url))  # type: ignore[call-arg]
        )
        vllm = await diagnose(
            Settings(
                _env_file=None,  # type: ignore[call-arg]
                tgi=TGISettings(url=openai.url, backend="openai"),
                redis=RedisSettings(url=redis_url),
            )
        )
    qwen_check = next(c for c in cpu if c.name.startswith("model server"))
    assert qwen_check.ok and "knows ChatML" in qwen_check.detail
    vllm_check = next(c for c in vllm if c.name.startswith("model server"))
    assert vllm_check.ok and "max_total_tokens=8192" in vllm_check.detail
    assert "defaults: none reported" in vllm_check.detail  # this server reports no limit


@pytest.mark.parametrize(("engine", "name"), [("vllm", "vLLM"), ("sglang", "SGLang"), ("openai", "vLLM")])
async def test_doctor_names_the_engine_and_its_limits(
    engine: str, name: str, redis_url: str, persistent_redis: aioredis.Redis
) -> None:
    """vLLM and SGLang report their context on /v1/models: doctor shows the engine it found and the
    limits it read there (TGI_BACKEND=openai finds out it is vLLM); a short context is named with the fix."""
    dialect = "vllm" if engine == "openai" else engine
    async with FakeTGI(dialect=dialect) as full, FakeTGI(dialect=dialect, max_total_tokens=4096) as short:
        checks = {}
        for fake in (full, short):
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                tgi=TGISettings(url=fake.url, backend=engine),  # type: ignore[arg-type]
                redis=RedisSettings(url=redis_url),
            )
            checks[fake] = next(c for c in await diagnose(settings) if c.name.startswith("model server"))
    good, bad = checks[full], checks[short]
    assert good.ok and good.detail.startswith(f"{name}: cognitivecomputations/dolphin-2.1-mistral-7b")
    assert "max_input_tokens=8191, max_total_tokens=8192" in good.detail
    assert not bad.ok and "max_total_tokens=4096" in bad.detail
    assert bad.fix == f"run {name} with --max-model-len 8192 (Dolphin's trained context)"


async def test_a_silent_server_cannot_hang_the_doctor(
    redis_url: str, persistent_redis: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = asyncio.Event()
    unanswered: list[bytes] = []  # the first line of each request the server sat on

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        unanswered.append(await reader.readline())
        await release.wait()
        writer.close()
        await writer.wait_closed()

    monkeypatch.setattr(bots.doctor, "CHECK_TIMEOUT_S", 0.5)
    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            tgi=TGISettings(url=f"http://127.0.0.1:{port}"),
            redis=RedisSettings(url=redis_url),
            discord=DiscordSettings(token=GOOD_DISCORD),  # type: ignore[arg-type]
        )
        checks = await diagnose(settings, discord_api=f"http://127.0.0.1:{port}/api/v10")
        # The doctor gave its verdict while the server still sat on both requests: its own timeout ended them
        # (a hang would end the test at pytest's timeout instead).
        sat_on = [line.split(b" ")[1].decode() for line in unanswered]
        release.set()
    assert sorted(sat_on) == ["/api/v10/gateway/bot", "/info"], sat_on
    failed = {c.name: c for c in checks if not c.ok}
    assert "no answer within 0.5 s" in failed["model server"].detail
    assert "no answer within 0.5 s" in failed["discord"].detail


async def run_cli(env_file: Path, **env: str) -> tuple[int, str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "TGI_", "REDIS_"))
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bots", "--env-file", str(env_file), "doctor",
        cwd=ROOT, env={**clean, **env}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert not err.strip() or "Traceback" not in err.decode(), err.decode()
    return proc.returncode or 0, out.decode()


async def test_the_command_exits_0_when_green_and_1_on_any_failure(
    redis_url: str, persistent_redis: aioredis.Redis, slack_api: str, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    async with FakeTGI() as tgi:
        env_file.write_text(
            f"TGI_URL={tgi.url}\nREDIS_URL={redis_url}\n"
            f"SLACK_BOT_TOKEN={GOOD_BOT}\nSLACK_APP_TOKEN={GOOD_APP}\nSLACK_API_URL={slack_api}\n"
        )
        code, out = await run_cli(env_file)
        assert code == 0, out
        assert "0 failed" in out and GOOD_BOT not in out and GOOD_APP not in out
        # The report is the table alone: no log lines of the parts the doctor starts between its rows.
        assert all(line[:1] in ("✓", "✗", "!", " ", "") or "passed" in line for line in out.splitlines()), out

        env_file.write_text(env_file.read_text().replace(GOOD_BOT, "xoxb-wrong"))
        code, out = await run_cli(env_file)
        assert code == 1 and "✗ slack" in out and "fix:" in out and "xoxb-wrong" not in out

        env_file.write_text("TGI_TOP_P=1.0\n")
        code, out = await run_cli(env_file)
        assert code == 1 and "✗ configuration" in out and "TGI_TOP_P" in out


def test_every_failure_kind_is_printed_with_its_fix(capsys: pytest.CaptureFixture[str]) -> None:
    checks = [
        Check("a", True, "fine"),
        Check("b", False, "broken", "do this"),
        Check("c", False, "bad", "do that"),
    ]
    out = printed(checks, capsys)
    lines = out.splitlines()
    assert lines[0].startswith("✓ a") and lines[1].startswith("✗ b") and lines[2].strip() == "fix: do this"
    assert "1 passed, 2 failed" in out


def judge(verdict_for: dict[str, str]) -> object:
    """A fake model answering the self-check's prompt: the verdict of the first key in the judged text."""

    def respond(prompt: str, params: dict[str, object]) -> str:
        judged = prompt.split(">>>\n", 1)[-1].split("\n<<<END", 1)[0]
        return next((v for k, v in verdict_for.items() if k in judged), verdict_for.get("*", "safe"))

    return respond


@pytest.mark.parametrize(
    ("answers", "ok", "says"),
    [
        ({"pipe bomb": "unsafe\nS9,S1"}, True, "a harmful one unsafe (S9,S1)"),
        ({"*": "Sure! The text is safe."}, False, "answer not in the format"),
        ({"*": "safe"}, False, "judged an obviously harmful probe safe"),
        ({"*": "unsafe\nS1"}, False, "judged a harmless probe unsafe (S1)"),
    ],
)
async def test_the_self_check_mode_is_tried_on_the_main_model_server(
    redis_url: str, answers: dict[str, str], ok: bool, says: str
) -> None:
    async with FakeTGI(responder=judge(answers)) as tgi:  # type: ignore[arg-type]
        checks = await diagnose(
            Settings(
                _env_file=None,  # type: ignore[call-arg]
                tgi=TGISettings(url=tgi.url),
                redis=RedisSettings(url=redis_url),
                alignment=AlignmentSettings(guard_mode="self-check"),
            )
        )
    check = by_name(checks)["guard self-check"]
    assert check.ok is ok and says in check.detail, check
    if not ok:
        assert "ALIGNMENT_GUARD_MODE=llama-guard" in check.fix and "failure_mode" in check.fix
    assert "guard model: self-check" in by_name(checks)["moderation policy"].detail
    judged = [p for p in tgi.prompts if "<<<BEGIN USER MESSAGE" in p]
    assert len(judged) == (1 if "format" in says else 2)  # the probes, through the model client


async def test_a_guard_mode_that_cannot_run_is_named(redis_url: str) -> None:
    checks = await diagnose(
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            tgi=TGISettings(url=f"http://127.0.0.1:{refused_port()}"),
            redis=RedisSettings(url=redis_url),
            alignment=AlignmentSettings(guard_mode="llama-guard"),
        )
    )
    check = by_name(checks)["guard model"]
    assert not check.ok and "ALIGNMENT_GUARD_URL" in check.detail
    assert "misconfigured" in by_name(checks)["moderation policy"].detail


async def test_a_self_check_on_a_server_that_is_down_points_at_the_server(redis_url: str) -> None:
    checks = await diagnose(
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            tgi=TGISettings(url=f"http://127.0.0.1:{refused_port()}", retries=0),
            redis=RedisSettings(url=redis_url),
            alignment=AlignmentSettings(guard_mode="self-check"),
        )
    )
    check = by_name(checks)["guard self-check"]
    assert not check.ok and "ModelUnavailable" in check.detail and "TGI_URL" in check.fix


@pytest.mark.parametrize(
    ("rules", "reply", "ok", "says"),
    [
        ([Rule("pipe bomb", "Unsafe", ("Violent",))], None, True, "a harmful one unsafe (S1)"),
        ([], None, False, "judged an obviously harmful probe safe"),
        ([Rule("France", "Controversial", ("Politically Sensitive Topics",))], None, False, "harmless probe"),
        ([], GuardReply(text="Safety: fine"), False, "not in the format"),
        ([], GuardReply(http_status=500), False, "HTTP 500"),
    ],
)
async def test_the_qwen3guard_server_is_found_and_probed(
    redis_url: str, rules: list[Rule], reply: GuardReply | None, ok: bool, says: str
) -> None:
    async with FakeOpenAIGuard(rules=rules) as guard:
        if reply is not None:
            guard.enqueue(reply)
        checks = await diagnose(
            Settings(
                _env_file=None,  # type: ignore[call-arg]
                tgi=TGISettings(url=f"http://127.0.0.1:{refused_port()}", retries=0),
                redis=RedisSettings(url=redis_url),
                alignment=AlignmentSettings(guard_url=guard.url),  # auto: the server is asked
            )
        )
    check = by_name(checks)["guard model"]
    assert check.ok is ok and says in check.detail, check
    assert check.detail.startswith(f"qwen3guard: Qwen/Qwen3Guard-Gen-0.6B at {guard.url}")
    assert "guard model: auto" in by_name(checks)["moderation policy"].detail


async def test_a_guard_server_that_is_down_or_serves_the_wrong_guard_is_named(redis_url: str) -> None:
    def run(**alignment: object) -> Settings:
        return Settings(
            _env_file=None,  # type: ignore[call-arg]
            tgi=TGISettings(url=f"http://127.0.0.1:{refused_port()}", retries=0),
            redis=RedisSettings(url=redis_url),
            alignment=AlignmentSettings(**alignment),  # type: ignore[arg-type]
        )

    down = by_name(await diagnose(run(guard_url=f"http://127.0.0.1:{refused_port()}")))["guard model"]
    assert not down.ok and "ConnectError" in down.detail and "docker compose up -d guard" in down.fix
    async with FakeOpenAIGuard() as guard:
        wrong = await diagnose(run(guard_url=guard.url, guard_mode="llama-guard"))
    check = by_name(wrong)["guard model"]
    assert not check.ok and "serves Qwen/Qwen3Guard-Gen-0.6B (qwen3guard)" in check.detail
    assert "ALIGNMENT_GUARD_MODE=qwen3guard" in check.fix


async def test_names_that_are_not_settings_are_listed_as_warnings_never_failures(
    redis_url: str, persistent_redis: aioredis.Redis, slack_api: str, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    async with FakeTGI() as tgi:
        env_file.write_text(
            f"TGI_URL={tgi.url}\nREDIS_URL={redis_url}\nCOMPOSE_PROFILES=cpu\nSLACK_BOT_TOKNE=xoxb-typo\n"
            f"SLACK_BOT_TOKEN={GOOD_BOT}\nSLACK_APP_TOKEN={GOOD_APP}\nSLACK_API_URL={slack_api}\n"
        )
        code, out = await run_cli(env_file, REDIS_SERVICE_HOST="10.0.0.11")
    assert code == 0, out  # ignored names are warnings: the doctor still passes
    warning = re.search(r"^! unknown setting +(.*)$", out, re.M)
    assert (
        warning
        and warning[1]
        == f"SLACK_BOT_TOKNE in {env_file} is not a setting: ignored; did you mean SLACK_BOT_TOKEN?"
    )
    assert "fix: rename it to SLACK_BOT_TOKEN, or remove it" in out
    assert "COMPOSE_PROFILES" in out and "(Docker Compose sets it)" in out
    assert "REDIS_SERVICE_HOST in the environment" in out and "(Kubernetes sets it)" in out
    assert "1 warnings" in out and "xoxb-typo" not in out


@pytest.mark.parametrize("broken", ["model_dir", "rule_file"])
async def test_a_moderation_layer_that_would_stop_start_up_fails_the_policy_check(
    redis_url: str, tmp_path: Path, broken: str
) -> None:
    """The doctor loads the local layers as start-up does: a policy whose learned checks or rule files cannot
    load is not "✓ moderation policy" while the bots refuse to start on it."""
    from core.alignment.policy import default_policy_path

    text = default_policy_path().read_text(encoding="utf-8")
    if broken == "model_dir":
        text = text.replace("model_dir: null", f"model_dir: {tmp_path / 'nowhere'}", 1)
        says = "layers.classifier: cannot load the learned checks"
    else:
        (tmp_path / "mine.yaml").write_text(
            "category: S8\nstage: input\nrules:\n  - id: mine.1\n    tier: mighty\n    patterns: ['x']\n"
        )
        text = text.replace("rule_files: []", "rule_files: [mine.yaml]", 1)
        says = "rule mine.1: unknown tier 'mighty'"
    policy = tmp_path / "policy.yaml"
    policy.write_text(text, encoding="utf-8")
    async with FakeTGI() as tgi:
        checks = await diagnose(
            Settings(
                _env_file=None,  # type: ignore[call-arg]
                tgi=TGISettings(url=tgi.url),
                redis=RedisSettings(url=redis_url),
                alignment=AlignmentSettings(policy_file=policy),
            )
        )
    check = by_name(checks)["moderation policy"]
    assert not check.ok and says in check.detail, check
