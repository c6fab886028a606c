"""The one composition root and CLI: `dolphin-relay console|discord|slack|all|policy …`.

It reads `Settings` once, builds every client once (`bots.runtime.open_core`), runs the chosen adapters
until SIGTERM/SIGINT, then stops intake, drains in-flight answers within RUNTIME_SHUTDOWN_GRACE_S and
closes the clients. Expected conditions (bad configuration, Redis or TGI unreachable at start) end with one
line on stderr that names the setting, and a non-zero exit code — never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence

import structlog

from core.errors import ConfigurationError
from core.observability import configure_logging
from core.settings import Settings, load_settings

log = structlog.get_logger(__name__)

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dolphin-relay",
        description="Dolphin-2.1 (via TGI) in Discord and Slack, with history in Redis and moderation.",
    )
    parser.add_argument("--env-file", default=".env", help="settings file to read (default: .env if present)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    console = sub.add_parser("console", help="chat in the terminal through the same core")
    console.add_argument("--channel", default="console", help="conversation name (default: console)")
    console.add_argument("--user", default=None, help="your name in the conversation (default: login name)")

    sub.add_parser("discord", help="run the Discord bot (DISCORD_TOKEN)")
    slack = sub.add_parser("slack", help="run the Slack app (Socket Mode with SLACK_APP_TOKEN, else HTTP)")
    slack.add_argument("--port", type=int, default=3000, help="HTTP mode port (default 3000)")
    both = sub.add_parser("all", help="run the Discord and Slack adapters in one process")
    both.add_argument("--port", type=int, default=3000, help="Slack HTTP mode port (default 3000)")

    from bots.doctor import add_doctor_parser

    add_doctor_parser(sub)
    try:
        from bots.policy_cli import add_policy_parser
    except ImportError:  # pragma: no cover
        pass
    else:
        add_policy_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is not None:  # sub-commands that bring their own handler (policy check / eval)
        return handler(args)
    try:
        settings = load_settings(args.env_file)
        log_settings = settings.log
        if args.command == "console" and log_settings.level == "INFO":
            # The terminal is the chat: only warnings and errors go to stderr there.
            log_settings = log_settings.model_copy(update={"level": "WARNING"})
        configure_logging(log_settings)
        return asyncio.run(_run(args, settings))
    except ConfigurationError as exc:
        print(f"dolphin-relay: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from bots.runtime import open_core

    if args.command == "console":
        from bots.console import run_console
        from core.settings import LimitSettings

        # Rate limits protect shared channels; the console is one local user (who may pipe a whole file).
        settings = settings.model_copy(
            update={"limits": LimitSettings(user_per_minute=0, channel_per_minute=0)}
        )
        async with open_core(settings, require_model=True) as core:
            return await run_console(core, channel=args.channel, user=args.user)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    from core.health import HealthServer

    async with open_core(settings) as core, contextlib.AsyncExitStack() as stack:
        if settings.metrics.port:
            health = HealthServer(
                metrics=core.metrics,
                redis=core.redis,
                generator=core.generator,
                host=settings.metrics.host,
                port=settings.metrics.port,
            )
            await stack.enter_async_context(health)
            log.info("health.listening", url=health.url)
        runners: list[Awaitable[None]] = []
        if args.command in ("discord", "all"):
            from bots.discord.app import run_discord

            runners.append(run_discord(core, stop=stop))
        if args.command in ("slack", "all"):
            from bots.slack.app import run_slack

            runners.append(run_slack(core, stop=stop, port=args.port))
        tasks = [asyncio.ensure_future(r) for r in runners]
        try:
            # One adapter failing (a rejected token) stops the others too.
            for finished in asyncio.as_completed(tasks):
                try:
                    await finished
                except BaseException:
                    stop.set()
                    raise
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
        await core.tasks.drain(settings.runtime.shutdown_grace_s)
    log.info("shutdown.complete")
    return 0


if __name__ == "__main__":
    sys.exit(main())
