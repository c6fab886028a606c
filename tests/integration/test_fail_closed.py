"""Moderation fails closed at start-up: with ALIGNMENT_ENABLED, a moderation layer that cannot load stops the
bot with one line that names the setting, instead of running with every message allowed."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from bots.runtime import open_core
from core.alignment.base import AllowAll
from core.errors import ConfigurationError
from core.settings import AlignmentSettings, RedisSettings, Settings, TGISettings
from tests.fakes.tgi import FakeTGI
from tests.integration.processes import bot_env, start_bot

# The moderation package as a broken build would leave it: importing its moderator fails.
BROKEN = (
    "import sys; sys.modules['core.alignment.moderator'] = None; "
    "from bots.__main__ import main; sys.exit(main(sys.argv[1:]))"
)


def settings(redis_url: str, tgi_url: str, **alignment: object) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        tgi=TGISettings(url=tgi_url),
        redis=RedisSettings(url=redis_url),
        alignment=AlignmentSettings(**alignment),  # type: ignore[arg-type]
    )


async def test_a_moderation_layer_that_cannot_load_stops_start_up(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "core.alignment.moderator", None)  # type: ignore[arg-type]
    async with FakeTGI() as tgi:
        with pytest.raises(ConfigurationError) as err:
            async with open_core(settings(redis_url, tgi.url)):
                pass
        assert err.value.setting == "ALIGNMENT_ENABLED"
        assert "cannot load" in str(err.value) and "ALIGNMENT_ENABLED=false" in str(err.value)
        # only the operator's explicit choice runs without moderation
        async with open_core(settings(redis_url, tgi.url, enabled=False)) as core:
            assert isinstance(core.moderator, AllowAll)


async def test_the_bot_exits_with_one_line_naming_the_setting(redis_url: str) -> None:
    env = bot_env(REDIS_URL=redis_url, TGI_URL="http://127.0.0.1:9", METRICS_PORT="0")
    proc = await start_bot(
        sys.executable, "-c", BROKEN, "--env-file", os.devnull, "slack", "--optional", env=env
    )
    _out, err_bytes = await asyncio.wait_for(proc.communicate(), 60)
    err = err_bytes.decode()
    assert proc.returncode == 2, err[-2000:]
    lines = [line for line in err.splitlines() if line.startswith("dolphin-relay:")]
    assert len(lines) == 1 and "ALIGNMENT_ENABLED" in lines[0] and "Traceback" not in err


# The language detector as a broken install would leave it: importing its code fails.
NO_DETECTOR = (
    "import sys; sys.modules['py3langid.langid'] = None; "
    "from bots.__main__ import main; sys.exit(main(sys.argv[1:]))"
)


@pytest.mark.parametrize("enabled", ["true", "false"])
async def test_a_language_detector_that_cannot_load_stops_the_bot_with_one_line(
    redis_url: str, enabled: str
) -> None:
    """Every message needs its language (the notices, and which checks read it, moderation on or off): a
    detector that cannot load stops start-up with one line, not a traceback in its loading thread and
    another on every message."""
    async with FakeTGI() as tgi:
        env = bot_env(REDIS_URL=redis_url, TGI_URL=tgi.url, METRICS_PORT="0", ALIGNMENT_ENABLED=enabled)
        proc = await start_bot(
            sys.executable, "-c", NO_DETECTOR, "--env-file", os.devnull, "slack", "--optional", env=env
        )
        _out, err_bytes = await asyncio.wait_for(proc.communicate(), 60)
    err = err_bytes.decode()
    assert proc.returncode == 2, err[-2000:]
    lines = [line for line in err.splitlines() if line.startswith("dolphin-relay:")]
    assert len(lines) == 1 and "the language detector cannot load" in lines[0], err[-2000:]
    assert "reinstall dolphin-relay" in lines[0] and "Traceback" not in err
